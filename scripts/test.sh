#!/usr/bin/env bash
# The whole test suite: type-check, unit tests, then integration tests against a real RabbitMQ.
# Ensures the broker (and its plugins) first, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/ensure-rabbitmq.sh
# The management-UI browser test needs Debian's chromium (installed with apt-get when missing).
bash scripts/ensure-chromium.sh
npx tsc -p tsconfig.json --noEmit
npx vitest run "$@"
