#!/usr/bin/env bash
# The whole test suite: typecheck and lint, unit tests, then integration tests against the real
# PostgreSQL and Kafka that scripts/services.sh installs and starts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-node-modules.sh
echo "[test] typecheck and lint" >&2
npx tsc -p tsconfig.json --noEmit
npx eslint . --max-warnings 0
bash scripts/services.sh start >&2
eval "$(bash scripts/services.sh env)"
echo "[test] unit, integration and e2e tests" >&2
exec npx jest --runInBand "$@"
