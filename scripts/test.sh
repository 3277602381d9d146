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
results=$(mktemp -d)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/main.json" || status=$?
npx vitest run --config test/chaos/vitest.config.ts --project chaos --reporter=default --reporter=json --outputFile.json="$results/chaos.json" || status=$?
# One closing line for the whole suite: "N passed, N failed".
node -e '
  const fs = require("fs"); let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + (r.success === false && r.numFailedTests === 0 ? 1 : 0);
    skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`\n${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results/main.json" "$results/chaos.json"
rm -rf "$results"
exit "$status"
