#!/usr/bin/env bash
# Makes a local RabbitMQ available for warren, and does nothing (fast) when one already answers.
#
#   1. AMQP and the management API answer     -> only make sure plugins and feature flags are on.
#   2. a Docker engine runs (`docker info`)    -> `docker compose up -d rabbitmq` (docker-compose.yml).
#   3. rabbitmq-server is installed            -> `rabbitmq-server -detached`.
#   4. otherwise (Debian/Ubuntu)               -> `apt-get install -y rabbitmq-server`, then 3.
# Then it enables the management, shovel, shovel_management and prometheus plugins and waits (bounded)
# until AMQP and `GET /api/overview` answer.
#
# Environment (all optional):
#   WARREN_RABBITMQ_HOST       host to probe (default 127.0.0.1)
#   WARREN_RABBITMQ_AMQP_PORT  AMQP port (default 5672)
#   WARREN_RABBITMQ_MGMT_PORT  management port (default 15672)
#   WARREN_RABBITMQ_USER/PASS  management credentials (default guest/guest; warren/warren for the compose broker)
#   WARREN_RABBITMQ_WAIT       seconds to wait for the broker to answer (default 90)
#   WARREN_RABBITMQ_NO_DOCKER  set to 1 to never use Docker even where an engine runs
set -euo pipefail

HOST="${WARREN_RABBITMQ_HOST:-127.0.0.1}"
AMQP_PORT="${WARREN_RABBITMQ_AMQP_PORT:-5672}"
MGMT_PORT="${WARREN_RABBITMQ_MGMT_PORT:-15672}"
MGMT_USER="${WARREN_RABBITMQ_USER:-guest}"
MGMT_PASS="${WARREN_RABBITMQ_PASS:-guest}"
WAIT_SECONDS="${WARREN_RABBITMQ_WAIT:-90}"
PLUGINS=(rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management rabbitmq_prometheus)
# Ordered routes (docs/ordered-routes.md) expand into an x-consistent-hash exchange.
PLUGINS+=(rabbitmq_consistent_hash_exchange)
# Feature flags warren's topology depends on (quorum and stream queues, vhost metadata).
REQUIRED_FLAGS=(quorum_queue stream_queue virtual_host_metadata)

ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
MGMT_URL="http://${HOST}:${MGMT_PORT}"

log() { printf '[ensure-rabbitmq] %s\n' "$*"; }
die() {
  printf '[ensure-rabbitmq] ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- probes (cheap, no Erlang VM)

amqp_up() { timeout 2 bash -c "exec 3<>/dev/tcp/${HOST}/${AMQP_PORT}" 2>/dev/null; }

# GET on the management API with the current credentials; prints the body.
# Exit status: 0 answered 2xx, 22 answered with an HTTP error (e.g. 401), anything else unreachable.
mgmt_request() {
  local path="$1"
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 3 -u "${MGMT_USER}:${MGMT_PASS}" "${MGMT_URL}${path}" 2>/dev/null
  else
    node -e '
      const [url, user, pass] = process.argv.slice(1);
      const auth = "Basic " + Buffer.from(user + ":" + pass).toString("base64");
      fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(3000) })
        .then(async (r) => { if (!r.ok) process.exit(22); process.stdout.write(await r.text()); })
        .catch(() => process.exit(7));
    ' "${MGMT_URL}${path}" "$MGMT_USER" "$MGMT_PASS" 2>/dev/null
  fi
}

mgmt_get() { mgmt_request "$1"; }

# Credentials to try when none are given: the local broker's guest, then the compose broker's user
# (guest may only log in from localhost, so docker-compose.yml defines warren/warren).
if [ -n "${WARREN_RABBITMQ_USER:-}" ]; then
  CANDIDATE_CREDS=("${MGMT_USER}:${MGMT_PASS}")
else
  CANDIDATE_CREDS=("guest:guest" "warren:warren")
fi

# True when GET /api/overview answers 2xx with one of the candidate credentials (and keeps those).
# Dies when the API answers but refuses every candidate: waiting would not help.
mgmt_up() {
  local cred rc refused=0
  for cred in "${CANDIDATE_CREDS[@]}"; do
    MGMT_USER="${cred%%:*}"
    MGMT_PASS="${cred#*:}"
    rc=0
    mgmt_request /api/overview >/dev/null || rc=$?
    [ "$rc" -eq 0 ] && return 0
    [ "$rc" -eq 22 ] && refused=1
  done
  if [ "$refused" -eq 1 ] && [ "${MGMT_REFUSAL_FATAL:-1}" = "1" ]; then
    die "the management API at ${MGMT_URL} answers but refuses the credentials (tried: ${CANDIDATE_CREDS[*]%%:*}); set WARREN_RABBITMQ_USER / WARREN_RABBITMQ_PASS."
  fi
  return 1
}

# Names from a JSON body that are missing from a wanted list; uses node to parse (jq may be absent).
missing_from_json() {
  local kind="$1" body="$2"
  shift 2
  node -e '
    const [kind, body, ...wanted] = process.argv.slice(1);
    let have = [];
    try {
      const data = JSON.parse(body);
      if (kind === "plugins") {
        // absent until the node has published its first stats
        if (!Array.isArray(data[0] && data[0].enabled_plugins)) process.exit(3);
        have = data[0].enabled_plugins;
      }
      else have = data.filter((f) => f.state === "enabled").map((f) => f.name);
    } catch { process.exit(2); }
    process.stdout.write(wanted.filter((w) => !have.includes(w)).join(" "));
  ' "$kind" "$body" "$@"
}

# ---------------------------------------------------------------- privilege and CLI access

SUDO=""
need_root() {
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1; then
    # -n when nobody can type a password (CI), so it fails at once instead of hanging.
    if [ -t 0 ]; then SUDO="sudo"; else SUDO="sudo -n"; fi
  else
    die "this step needs root (apt-get / rabbitmq CLI) and sudo is not installed; run as root or start RabbitMQ yourself."
  fi
}

docker_engine_up() {
  [ "${WARREN_RABBITMQ_NO_DOCKER:-0}" != "1" ] || return 1
  command -v docker >/dev/null 2>&1 || return 1
  timeout 10 docker info >/dev/null 2>&1 || return 1
  compose_cmd >/dev/null
}

# Prints the compose command available (plugin or v1 binary), or fails.
compose_cmd() {
  if docker compose version >/dev/null 2>&1; then
    echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then
    echo "docker-compose"
  else
    return 1
  fi
}

compose_rabbitmq_running() {
  local cc
  cc="$(compose_cmd)" || return 1
  [ -n "$(cd "$ROOT_DIR" && $cc ps -q rabbitmq 2>/dev/null)" ]
}

# Runs a RabbitMQ CLI tool (rabbitmqctl / rabbitmq-plugins) against the broker that answers:
# the compose container when this script started it, else the local installation, else the container.
STARTED_WITH_DOCKER=0
rmq_cli() {
  if [ "$STARTED_WITH_DOCKER" = 0 ] && command -v rabbitmqctl >/dev/null 2>&1; then
    need_root
    # Debian's wrappers run the tools as root or rabbitmq only; as root they read the node's cookie.
    $SUDO "$@"
  elif docker_engine_up && compose_rabbitmq_running; then
    local cc
    cc="$(compose_cmd)"
    (cd "$ROOT_DIR" && $cc exec -T rabbitmq "$@")
  else
    return 127
  fi
}

# ---------------------------------------------------------------- plugins and feature flags

# Plugins (of PLUGINS) that are not enabled. The node lists them in GET /api/nodes, but only once its
# first stats are in (a few seconds after boot); until then ask the plugins' own endpoints.
missing_plugins() {
  local body missing rc=0
  body="$(mgmt_get /api/nodes || true)"
  if [ -n "$body" ]; then
    missing="$(missing_from_json plugins "$body" "${PLUGINS[@]}")" || rc=$?
    if [ "$rc" -eq 0 ]; then
      echo "$missing"
      return 0
    fi
  fi
  missing=""
  mgmt_get /api/shovels >/dev/null || missing="rabbitmq_shovel rabbitmq_shovel_management"
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 3 -o /dev/null "http://${HOST}:15692/metrics" 2>/dev/null || missing="${missing} rabbitmq_prometheus"
  fi
  mgmt_get /api/overview 2>/dev/null | grep -q 'x-consistent-hash' || missing="${missing} rabbitmq_consistent_hash_exchange"
  echo "$missing"
}

enable_plugins_online() {
  local missing
  missing="$(missing_plugins)"
  missing="${missing# }"
  [ -n "$missing" ] || return 0
  log "enabling plugins: ${missing}"
  # shellcheck disable=SC2086
  if ! rmq_cli rabbitmq-plugins enable $missing >/dev/null; then
    die "could not enable plugins (${missing}); run: rabbitmq-plugins enable ${PLUGINS[*]}"
  fi
  fix_enabled_plugins_permissions
}

# Before a local start: write the plugins file offline so the node boots with them.
enable_plugins_offline() {
  command -v rabbitmq-plugins >/dev/null 2>&1 || return 0
  need_root
  log "enabling plugins (offline): ${PLUGINS[*]}"
  $SUDO rabbitmq-plugins enable --offline "${PLUGINS[@]}" >/dev/null ||
    die "could not write the enabled plugins file; run: rabbitmq-plugins enable --offline ${PLUGINS[*]}"
  fix_enabled_plugins_permissions
}

# rabbitmq-plugins writes the file as the caller (root) with the caller's umask; the broker runs as
# the rabbitmq user and must be able to read it.
fix_enabled_plugins_permissions() {
  local file=/etc/rabbitmq/enabled_plugins
  if [ -f "$file" ] && id rabbitmq >/dev/null 2>&1; then
    $SUDO chmod a+r "$file" 2>/dev/null || true
  fi
}

enable_feature_flags() {
  local body missing
  body="$(mgmt_get /api/feature-flags || true)"
  [ -n "$body" ] || return 0
  missing="$(missing_from_json flags "$body" "${REQUIRED_FLAGS[@]}" || true)"
  [ -n "$missing" ] || return 0
  log "enabling feature flags (missing: ${missing})"
  if ! rmq_cli rabbitmqctl enable_feature_flag all >/dev/null 2>&1; then
    local f
    for f in $missing; do
      rmq_cli rabbitmqctl enable_feature_flag "$f" >/dev/null 2>&1 ||
        log "warning: could not enable feature flag ${f}; quorum/stream queues may be refused"
    done
  fi
}

# ---------------------------------------------------------------- starting a broker

# True when the local node process is up (it may still be booting). Asks the node itself: a process
# scan would also match short-lived CLI VMs or a node that is halting.
rabbit_node_running() {
  command -v rabbitmq-diagnostics >/dev/null 2>&1 || return 1
  need_root
  $SUDO rabbitmq-diagnostics -q ping -t 5 >/dev/null 2>&1
}

STARTED_LOCALLY=0
start_with_docker() {
  local cc
  cc="$(compose_cmd)"
  log "no broker answers; Docker engine found: ${cc} up -d rabbitmq"
  (cd "$ROOT_DIR" && $cc up -d rabbitmq) || die "'${cc} up -d rabbitmq' failed (see above)."
  STARTED_WITH_DOCKER=1
}

start_local() {
  STARTED_LOCALLY=1
  if rabbit_node_running; then
    log "a RabbitMQ node process is already running (still booting?); not starting another"
    return 0
  fi
  enable_plugins_offline
  log "starting the installed broker: rabbitmq-server -detached"
  need_root
  # Same command the machine images use; Debian's wrapper switches to the rabbitmq user itself.
  $SUDO rabbitmq-server -detached || die "'rabbitmq-server -detached' failed; see /var/log/rabbitmq/."
  STARTED_LOCALLY=1
}

install_with_apt() {
  command -v apt-get >/dev/null 2>&1 ||
    die "no broker answers on ${HOST}:${AMQP_PORT}, no Docker engine runs and rabbitmq-server is not installed; install RabbitMQ (https://www.rabbitmq.com/docs/download) or start Docker, then re-run."
  need_root
  log "rabbitmq-server is not installed; installing Debian's package (apt-get)"
  $SUDO apt-get update -q || die "apt-get update failed"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server ||
    die "apt-get install rabbitmq-server failed"
  # A fresh node is named rabbit@<hostname>; where the hostname does not resolve (containers) it
  # cannot boot, so pin it to localhost as the project's machines do.
  local env_file=/etc/rabbitmq/rabbitmq-env.conf
  if ! getent hosts "$(hostname -s 2>/dev/null || hostname)" >/dev/null 2>&1 &&
    ! grep -qs '^NODENAME=' "$env_file"; then
    log "hostname does not resolve; setting NODENAME=rabbit@localhost in ${env_file}"
    echo 'NODENAME=rabbit@localhost' | $SUDO tee -a "$env_file" >/dev/null
  fi
}

# ---------------------------------------------------------------- waiting

wait_for_broker() {
  local start now elapsed amqp mgmt last_report=-5 retried=0
  start=$(date +%s)
  while true; do
    amqp=no
    mgmt=no
    amqp_up && amqp=yes
    # A booting node may refuse logins for a moment; only the deadline ends the wait.
    MGMT_REFUSAL_FATAL=0 mgmt_up && mgmt=yes
    if [ "$amqp" = yes ] && [ "$mgmt" = yes ]; then
      return 0
    fi
    now=$(date +%s)
    elapsed=$((now - start))
    if [ "$elapsed" -ge "$WAIT_SECONDS" ]; then
      printf '[ensure-rabbitmq] ERROR: RabbitMQ did not answer within %ss (AMQP %s:%s %s, management %s %s).\n' \
        "$WAIT_SECONDS" "$HOST" "$AMQP_PORT" "$amqp" "$MGMT_URL" "$mgmt" >&2
      printf '[ensure-rabbitmq] Look at /var/log/rabbitmq/ (local broker) or "docker compose logs rabbitmq".\n' >&2
      exit 1
    fi
    # -detached forks before the node boots, so a start that lost a race with a halting node fails
    # silently; start once more if nothing runs at all after a while.
    if [ "$STARTED_LOCALLY" = 1 ] && [ "$retried" = 0 ] && [ "$elapsed" -ge 15 ] && [ "$amqp" = no ]; then
      retried=1
      if ! rabbit_node_running; then
        log "no RabbitMQ node is running after ${elapsed}s; starting it again"
        $SUDO rabbitmq-server -detached || true
      fi
    fi
    if [ $((elapsed - last_report)) -ge 5 ]; then
      log "waiting for RabbitMQ (${elapsed}s/${WAIT_SECONDS}s): AMQP ${HOST}:${AMQP_PORT} ${amqp}, management ${MGMT_URL}/api/overview ${mgmt}"
      last_report=$elapsed
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------- main

if amqp_up && mgmt_up; then
  enable_plugins_online
  enable_feature_flags
  log "RabbitMQ answers on amqp://${HOST}:${AMQP_PORT} and ${MGMT_URL} (plugins enabled)"
  exit 0
fi

if amqp_up; then
  # Broker runs but its management API does not answer: most often the plugin is off.
  log "AMQP answers on ${HOST}:${AMQP_PORT} but the management API (${MGMT_URL}) does not; enabling plugins"
  rmq_cli rabbitmq-plugins enable "${PLUGINS[@]}" >/dev/null ||
    die "the broker on ${HOST}:${AMQP_PORT} has no management API and no rabbitmq CLI can reach it; run: rabbitmq-plugins enable ${PLUGINS[*]}"
  fix_enabled_plugins_permissions
elif docker_engine_up && [ -f "$ROOT_DIR/docker-compose.yml" ]; then
  start_with_docker
elif command -v rabbitmq-server >/dev/null 2>&1; then
  start_local
else
  install_with_apt
  # The package's post-install may already have started it (where an init system runs).
  if amqp_up && mgmt_up; then :; elif amqp_up; then
    rmq_cli rabbitmq-plugins enable "${PLUGINS[@]}" >/dev/null || die "could not enable plugins"
    fix_enabled_plugins_permissions
  else
    start_local
  fi
fi

wait_for_broker
enable_plugins_online
enable_feature_flags
log "RabbitMQ is ready: amqp://${HOST}:${AMQP_PORT}, management ${MGMT_URL} (plugins: ${PLUGINS[*]})"
