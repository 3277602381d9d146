#!/usr/bin/env bash
# Builds dist/ (tsc -p tsconfig.build.json) only when it is missing or older than a source file, so
# `npm start`, `npm test` and the test setup can call it every time (about 0.1 s when fresh).
# `--force` always builds.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/.tsbuildinfo
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] &&
  [ -z "$(find src fake-llm package.json tsconfig.json tsconfig.build.json -newer "$stamp" -type f ! -name '*.test.ts' ! -name '*.test-support.ts' -print -quit)" ]; then
  exit 0
fi
# --force starts clean: no output of a deleted source survives into the package.
[ "${1:-}" = "--force" ] && rm -rf dist
printf '[build] compiling src/ and fake-llm/ to dist/ (tsc -p tsconfig.build.json)\n' >&2
npx tsc -p tsconfig.build.json
touch "$stamp"
