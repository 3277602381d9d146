#!/usr/bin/env bash
# The whole test suite: type-check, unit, integration (real RabbitMQ), browser e2e, then the single-node failure suite.
# Arguments are passed to vitest instead (e.g. `npm test -- --project unit`).
# Ensures the broker (and its plugins) first, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/ensure-rabbitmq.sh
# The management-UI browser test needs Debian's chromium (installed with apt-get when missing).
bash scripts/ensure-chromium.sh
npx tsc -p tsconfig.json --noEmit
if [ $# -gt 0 ]; then
  exec npx vitest run "$@"
fi
# Unit, integration and browser e2e projects (vitest.config.ts), then the single-node failure suite.
npx vitest run
npx vitest run --config test/chaos/vitest.config.ts --project chaos
