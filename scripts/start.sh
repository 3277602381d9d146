#!/usr/bin/env bash
# The quick start in one command: installs dependencies, makes sure a RabbitMQ answers, then runs
# `warren start all` (HTTP API + workers; the topology is applied on boot; without OPENAI_API_KEY the
# built-in fake LLM answers). Extra arguments are passed to `warren start all`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[start] %s\n' "$*"; }

# Install when node_modules is missing or older than the lockfile (e.g. after a git pull).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

# bin/warren.js runs the compiled dist/: build it when missing or older than the sources.
bash scripts/build.sh

bash scripts/ensure-rabbitmq.sh

# The docker-compose broker has no guest login from the host (RabbitMQ lets guest in from localhost
# only), it defines warren/warren; point warren at it unless the user chose URLs already.
if [ -z "${WARREN_AMQP_URL:-}" ] && command -v curl >/dev/null 2>&1 &&
  ! curl -fsS -m 3 -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null &&
  curl -fsS -m 3 -o /dev/null -u warren:warren http://127.0.0.1:15672/api/overview 2>/dev/null; then
  log "broker refuses guest but accepts warren/warren (docker compose broker); using those credentials"
  export WARREN_AMQP_URL="amqp://warren:warren@127.0.0.1:5672"
  export WARREN_MANAGEMENT_URL="http://warren:warren@127.0.0.1:15672"
fi

if [ ! -f bin/warren.js ]; then
  printf '[start] ERROR: bin/warren.js not found; is this a complete checkout of warren?\n' >&2
  exit 1
fi

# A laptop quick start needs no API keys: the API listens on 127.0.0.1 only. Anything else must
# configure keys (WARREN_API_KEYS / WARREN_API_KEYS_FILE) or opt out explicitly.
if [ -z "${WARREN_API_KEYS:-}" ] && [ -z "${WARREN_API_KEYS_FILE:-}" ] && [ -z "${WARREN_AUTH:-}" ]; then
  case "${WARREN_API_HOST:-127.0.0.1}" in
    127.0.0.1 | localhost | ::1)
      log "no WARREN_API_KEYS set: running the API without authentication on ${WARREN_API_HOST:-127.0.0.1} (WARREN_AUTH=none)"
      export WARREN_AUTH=none
      ;;
  esac
fi

log "starting warren (API + workers): node bin/warren.js start all $*"
exec node bin/warren.js start all "$@"
