#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.tandem-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then exit 0; fi
echo "[setup] installing npm dependencies" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
