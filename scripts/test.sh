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
bash scripts/install.sh test >&2 # chromium (status-page browser test) and openssl (TLS test)
eval "$(bash scripts/services.sh env)"
# The CLI children the tests start run compiled JavaScript: ts-node would compile the sources anew
# in every child (seconds of CPU each, hundreds of children).
# (Into .tandem/, not dist/: bin/tandem.js would prefer a dist/ left behind over newer sources.)
echo "[test] compiling the CLI into .tandem/test-dist" >&2
rm -rf .tandem/test-dist
npx tsc -p tsconfig.build.json --outDir .tandem/test-dist
export TANDEM_TEST_CLI_JS="$PWD/.tandem/test-dist/cli/main.js"
echo "[test] unit, integration and e2e tests" >&2
# --forceExit: a Kafka client some test leaves open (kafkajs keeps a 1 ms timer per connection) kept
# jest alive after a green run; every suite closes what it asserts on, so nothing is cut short.
exec npx jest --runInBand --forceExit "$@"
