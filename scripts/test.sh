#!/usr/bin/env bash
# The whole test suite: typecheck and lint, unit tests, then integration tests against the real
# PostgreSQL and Kafka that scripts/services.sh installs and starts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-node-modules.sh
echo "[test] typecheck and lint" >&2
npx tsc -p tsconfig.json --noEmit
npx eslint . --max-warnings 0
# layers point down, no import cycle between module folders, no file in src/ over 300 lines
npm run -s check:architecture
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
# --forceExit is a guard only: every suite, run alone with --detectOpenHandles, exits by itself (the
# last handle found was a test's uncleared 30 s timer in capture-shutdown.int), but a failing test can
# skip its cleanup and a red run must still end. Every suite awaits what it asserts on, so nothing is
# cut short. To look for a leak: npx jest <suite> --runInBand --detectOpenHandles.
exec npx jest --runInBand --forceExit "$@"
