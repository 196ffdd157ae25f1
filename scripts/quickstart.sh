#!/usr/bin/env bash
# The demo migration, end to end on the local services: npm run quickstart
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/with-services.sh node -r ts-node/register/transpile-only scripts/quickstart/demo.ts "$@"
