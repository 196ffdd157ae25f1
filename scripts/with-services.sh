#!/usr/bin/env bash
# Runs a command with the local services started (or the user's own, when TANDEM_* are set)
# and their addresses exported: bash scripts/with-services.sh COMMAND...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-node-modules.sh
bash scripts/services.sh start >&2
eval "$(bash scripts/services.sh env)"
exec "$@"
