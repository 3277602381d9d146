#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on this one machine, without Docker, from the installed rabbitmq-server
# (Debian's package or the generic Unix build). Used by the cluster failure suite and for trying
# warren against a cluster locally.
#
#   scripts/cluster.sh start          start the cluster (or the nodes of it that are down, with their data),
#                                     join it, wait, print the URLs
#   scripts/cluster.sh stop           stop every node and delete the cluster's data
#   scripts/cluster.sh status         which nodes run, cluster members, URLs
#   scripts/cluster.sh node-stop N    stop node N gracefully, keeping its data (it stays a member)
#   scripts/cluster.sh node-kill N    SIGKILL node N (a crash), keeping its data
#   scripts/cluster.sh node-start N   start node N again; it rejoins the cluster with its data
#   scripts/cluster.sh urls           print the AMQP URLs, comma-separated (WARREN_AMQP_URL=$(scripts/cluster.sh urls))
#
# Node N (1..3) is <prefix>-N@localhost with AMQP on 5680+N, management on 15680+N, Prometheus on
# 15790+N and Erlang distribution on 25680+N, all bound to 127.0.0.1. Each node has its own data,
# log, config and enabled-plugins files under $WARREN_CLUSTER_DIR/node-N, and the nodes share an
# Erlang cookie kept in $WARREN_CLUSTER_DIR: nothing of a broker already running on this machine
# (its node, ports, /etc/rabbitmq files, /var/lib/rabbitmq) is read or touched, except the shared
# epmd daemon every Erlang node on a host registers with (started if absent, never stopped).
#
# Environment (all optional):
#   WARREN_CLUSTER_DIR        work dir (default /tmp/warren-cluster)
#   WARREN_CLUSTER_PREFIX     node name prefix (default warren -> warren-1@localhost)
#   WARREN_CLUSTER_AMQP_BASE  AMQP port of node N is base+N (default 5680)
#   WARREN_CLUSTER_MGMT_BASE  management port base (default 15680)
#   WARREN_CLUSTER_PROM_BASE  Prometheus port base (default 15790)
#   WARREN_CLUSTER_DIST_BASE  Erlang distribution port base (default 25680)
#   WARREN_CLUSTER_WAIT       seconds a start may take before giving up (default 120)
#   RABBITMQ_SCRIPTS_BIN      directory holding rabbitmq-server and rabbitmqctl (auto-detected)
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${WARREN_CLUSTER_DIR:-/tmp/warren-cluster}"
PREFIX="${WARREN_CLUSTER_PREFIX:-warren}"
AMQP_BASE="${WARREN_CLUSTER_AMQP_BASE:-5680}"
MGMT_BASE="${WARREN_CLUSTER_MGMT_BASE:-15680}"
PROM_BASE="${WARREN_CLUSTER_PROM_BASE:-15790}"
DIST_BASE="${WARREN_CLUSTER_DIST_BASE:-25680}"
WAIT_SECONDS="${WARREN_CLUSTER_WAIT:-120}"
NODES=(1 2 3)
MARKER=".warren-cluster"
TEMPLATE="$ROOT_DIR/deploy/cluster/rabbitmq-local.conf.template"
PLUGINS_FILE="$ROOT_DIR/deploy/cluster/enabled_plugins"

log() { printf '[cluster] %s\n' "$*"; }
die() {
  printf '[cluster] ERROR: %s\n' "$*" >&2
  exit 1
}

# Debian's /usr/sbin wrappers switch to the rabbitmq user and its cookie; the scripts behind them
# run as whoever calls them, which is what gives this cluster its own cookie and files.
detect_bin() {
  if [ -n "${RABBITMQ_SCRIPTS_BIN:-}" ]; then
    BIN="$RABBITMQ_SCRIPTS_BIN"
  elif [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    BIN=/usr/lib/rabbitmq/bin
  elif command -v rabbitmq-server >/dev/null 2>&1; then
    BIN="$(dirname "$(readlink -f "$(command -v rabbitmq-server)")")"
  else
    die "rabbitmq-server is not installed (Debian/Ubuntu: apt-get install rabbitmq-server); or set RABBITMQ_SCRIPTS_BIN."
  fi
  [ -x "$BIN/rabbitmqctl" ] || die "no rabbitmqctl next to rabbitmq-server in $BIN"
}

node_name() { echo "${PREFIX}-$1@localhost"; }
amqp_port() { echo $((AMQP_BASE + $1)); }
mgmt_port() { echo $((MGMT_BASE + $1)); }
prom_port() { echo $((PROM_BASE + $1)); }
dist_port() { echo $((DIST_BASE + $1)); }
node_dir() { echo "$DIR/node-$1"; }

check_node_arg() {
  case "${1:-}" in
    1 | 2 | 3) ;;
    *) die "node number must be 1, 2 or 3 (got '${1:-}')" ;;
  esac
}

# Runs a command with node N's environment: its own files, its own env file (so the system's
# /etc/rabbitmq/rabbitmq-env.conf, which names the default node, is never read) and this cluster's cookie.
with_node_env() {
  local n="$1"
  shift
  local d
  d="$(node_dir "$n")"
  env HOME="$DIR" \
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" \
    RABBITMQ_NODENAME="$(node_name "$n")" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$(amqp_port "$n")" \
    RABBITMQ_DIST_PORT="$(dist_port "$n")" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" \
    RABBITMQ_LOG_BASE="$d/log" \
    RABBITMQ_PID_FILE="$d/rabbitmq.pid" \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "$@"
}

# rabbitmqctl against node N, bounded in time (an unreachable node must not hang the script).
ctl() {
  local n="$1" secs="$2"
  shift 2
  with_node_env "$n" timeout "$secs" "$BIN/rabbitmqctl" -n "$(node_name "$n")" "$@"
}

node_pid() {
  local f
  f="$(node_dir "$1")/rabbitmq.pid"
  [ -s "$f" ] && cat "$f"
}

# The VM runs when its pid file names a live beam process (cheap: no Erlang CLI start-up).
node_running() {
  local pid
  pid="$(node_pid "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa beam "/proc/$pid/cmdline" 2>/dev/null
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# curl where installed; otherwise Node (always there for warren), so a fresh machine needs nothing more.
mgmt_ok() {
  local url
  url="http://127.0.0.1:$(mgmt_port "$1")/api/overview"
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 3 -u guest:guest "$url" >/dev/null 2>&1
  else
    node -e 'fetch(process.argv[1], { headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") }, signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$url" >/dev/null 2>&1
  fi
}

any_running() {
  local n
  for n in "${NODES[@]}"; do node_running "$n" && return 0; done
  return 1
}

# ---------------------------------------------------------------- preparing files

ensure_cookie() {
  local cookie="$DIR/.erlang.cookie"
  if [ ! -s "$cookie" ]; then
    # Erlang wants a cookie readable by its owner only.
    (umask 077 && head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32 | tr 'a-f' 'A-F' >"$cookie")
    chmod 400 "$cookie"
  fi
}

prepare_node() {
  local n="$1" d
  d="$(node_dir "$n")"
  mkdir -p "$d/mnesia" "$d/log"
  sed -e "s/@AMQP_PORT@/$(amqp_port "$n")/" \
    -e "s/@MGMT_PORT@/$(mgmt_port "$n")/" \
    -e "s/@PROM_PORT@/$(prom_port "$n")/" \
    -e "s/@CLUSTER_NAME@/${PREFIX}-cluster/" \
    "$TEMPLATE" >"$d/rabbitmq.conf"
  cp "$PLUGINS_FILE" "$d/enabled_plugins"
  printf '[].\n' >"$d/advanced.config"
  # Read instead of /etc/rabbitmq/rabbitmq-env.conf; the real settings come from the environment.
  printf '# node %s of the warren local cluster: settings are passed as RABBITMQ_* variables by scripts/cluster.sh\n' \
    "$(node_name "$n")" >"$d/rabbitmq-env.conf"
}

check_ports_free() {
  local n="$1" p
  for p in "$(amqp_port "$n")" "$(mgmt_port "$n")" "$(prom_port "$n")" "$(dist_port "$n")"; do
    if port_open "$p"; then
      die "port $p (node $n) is already in use by another process; set WARREN_CLUSTER_*_BASE to free ports."
    fi
  done
}

# ---------------------------------------------------------------- start / wait / join

launch_node() {
  local n="$1"
  if node_running "$n"; then
    return 0
  fi
  check_ports_free "$n"
  prepare_node "$n"
  rm -f "$(node_dir "$n")/rabbitmq.pid"
  log "starting $(node_name "$n") (AMQP $(amqp_port "$n"), management $(mgmt_port "$n"))"
  # -detached returns at once; readiness is awaited below with a deadline.
  (cd "$DIR" && with_node_env "$n" "$BIN/rabbitmq-server" -detached \
    >>"$(node_dir "$n")/log/startup.log" 2>&1) ||
    die "rabbitmq-server -detached failed for node $n; see $(node_dir "$n")/log/"
}

seconds_left() { echo $((DEADLINE - $(date +%s))); }

await_node() {
  local n="$1" left
  while true; do
    left="$(seconds_left)"
    if [ "$left" -le 0 ]; then
      # The log folder goes with the cluster when a test run cleans up: show its end here, where the failure is reported.
      tail -n 40 "$(node_dir "$n")/log/$(node_name "$n").log" >&2 2>/dev/null || true
      die "$(node_name "$n") did not start within ${WAIT_SECONDS}s; see $(node_dir "$n")/log/$(node_name "$n").log"
    fi
    if [ -s "$(node_dir "$n")/rabbitmq.pid" ] && ! node_running "$n"; then
      die "$(node_name "$n") exited while starting; see $(node_dir "$n")/log/$(node_name "$n").log and startup.log"
    fi
    if [ -s "$(node_dir "$n")/rabbitmq.pid" ] &&
      ctl "$n" "$((left < 30 ? left : 30))" await_startup --timeout "$((left < 25 ? left : 25))" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
}

# Names of the disc nodes node N knows as cluster members, space-separated.
cluster_members() {
  ctl "$1" 30 cluster_status --formatter json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);process.stdout.write((j.disk_nodes||[]).join(" "))}catch{process.exit(1)}})'
}

running_members() {
  ctl "$1" 30 cluster_status --formatter json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);process.stdout.write((j.running_nodes||[]).join(" "))}catch{process.exit(1)}})'
}

join_node() {
  local n="$1" seed
  seed="$(node_name 1)"
  if cluster_members 1 | tr ' ' '\n' | grep -qx "$(node_name "$n")"; then
    return 0
  fi
  log "joining $(node_name "$n") to $seed"
  ctl "$n" 60 stop_app >/dev/null
  ctl "$n" 60 join_cluster "$seed" >/dev/null || die "join_cluster $seed failed for node $n"
  ctl "$n" 60 start_app >/dev/null
}

await_management() {
  local n
  for n in "${NODES[@]}"; do
    while ! mgmt_ok "$n"; do
      [ "$(seconds_left)" -gt 0 ] || die "management API of node $n (http://127.0.0.1:$(mgmt_port "$n")) did not answer within ${WAIT_SECONDS}s"
      sleep 1
    done
  done
}

print_urls() {
  local n amqp=() mgmt=()
  for n in "${NODES[@]}"; do
    amqp+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")")
    mgmt+=("http://guest:guest@127.0.0.1:$(mgmt_port "$n")")
  done
  echo "AMQP:        ${amqp[*]}"
  echo "Management:  ${mgmt[*]}"
  echo "Prometheus:  http://127.0.0.1:$(prom_port 1)/metrics http://127.0.0.1:$(prom_port 2)/metrics http://127.0.0.1:$(prom_port 3)/metrics"
  echo "For warren:  WARREN_AMQP_URL=$(
    IFS=,
    echo "${amqp[*]}"
  )"
}

cmd_start() {
  detect_bin
  DEADLINE=$(($(date +%s) + WAIT_SECONDS))
  if [ -d "$DIR" ] && [ ! -f "$DIR/$MARKER" ]; then
    die "$DIR exists and was not created by this script; set WARREN_CLUSTER_DIR to another directory."
  fi
  local restart=0
  if [ -d "$DIR/node-1/mnesia" ] && ! any_running; then
    # Every node was stopped (node-stop, a reboot): they come back with their data and find each other.
    log "restarting the stopped cluster in $DIR with its data (scripts/cluster.sh stop deletes it)"
    restart=1
  fi
  mkdir -p "$DIR"
  touch "$DIR/$MARKER"
  ensure_cookie
  local n
  if [ "$restart" = 1 ]; then
    # The seed first, alone (it is the last node stopped, so it boots without waiting for peers), then the members:
    # on RabbitMQ 3.10 a member that syncs its feature flags with a seed still booting can crash its boot
    # (incompatible_feature_flags, badmap) and never come up.
    launch_node 1
    await_node 1
  fi
  # All (other) nodes boot in parallel: a restarted member waits for its peers before it finishes booting.
  for n in "${NODES[@]}"; do launch_node "$n"; done
  for n in "${NODES[@]}"; do await_node "$n"; done
  for n in 2 3; do join_node "$n"; done
  ctl 1 60 await_online_nodes 3 --timeout "$(($(seconds_left) > 1 ? $(seconds_left) : 1))" >/dev/null ||
    die "the cluster did not reach 3 running nodes within ${WAIT_SECONDS}s"
  await_management
  log "cluster ${PREFIX}-cluster is up: $(running_members 1)"
  print_urls
}

# Pids of Erlang VMs started for node N of this cluster directory, found by the data directory in their
# environment (unique to this cluster): a node that is still booting has no pid file yet.
node_vm_pids() {
  local want="RABBITMQ_MNESIA_BASE=$(node_dir "$1")/mnesia" f pid
  for f in /proc/[0-9]*/environ; do
    pid="${f#/proc/}"
    pid="${pid%/environ}"
    grep -qa beam "/proc/$pid/cmdline" 2>/dev/null || continue
    tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF "$want" && echo "$pid"
  done
  return 0
}

stop_node() {
  local n="$1" pid i stray
  if ! node_running "$n"; then
    # Stopped while booting (a failed start): no pid file yet, but the VM may be there.
    for stray in $(node_vm_pids "$n"); do
      log "killing $(node_name "$n") (pid $stray), stopped while still starting"
      kill -KILL "$stray" 2>/dev/null || true
    done
    return 0
  fi
  pid="$(node_pid "$n")"
  log "stopping $(node_name "$n")"
  # `stop <pidfile>` returns once the VM has exited.
  ctl "$n" 60 stop "$(node_dir "$n")/rabbitmq.pid" >/dev/null 2>&1 || true
  for i in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || return 0
    [ "$i" -eq 10 ] && kill -TERM "$pid" 2>/dev/null
    sleep 1
  done
  log "$(node_name "$n") (pid $pid) did not stop; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

kill_node() {
  local n="$1" pid
  node_running "$n" || {
    log "$(node_name "$n") is not running"
    return 0
  }
  pid="$(node_pid "$n")"
  log "killing $(node_name "$n") (pid $pid) with SIGKILL"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}

cmd_stop() {
  detect_bin
  if [ ! -d "$DIR" ]; then
    log "no cluster in $DIR"
    return 0
  fi
  [ -f "$DIR/$MARKER" ] || die "$DIR was not created by this script; not touching it."
  local n
  # Members last: stopping the seed first would make the others wait for it on a restart (not an issue
  # here since the data goes, but keeps a graceful order).
  for n in 3 2 1; do stop_node "$n"; done
  rm -rf "$DIR"
  log "cluster stopped and its data removed"
}

cmd_status() {
  detect_bin
  local n state any=1
  for n in "${NODES[@]}"; do
    if node_running "$n"; then
      state="running (pid $(node_pid "$n"))"
      any=0
      port_open "$(amqp_port "$n")" && state="$state, AMQP up" || state="$state, AMQP down"
    else
      state="stopped"
    fi
    printf '  %-22s %s\n' "$(node_name "$n")" "$state"
  done
  if [ "$any" -eq 0 ]; then
    for n in "${NODES[@]}"; do
      if node_running "$n"; then
        echo "  members:         $(cluster_members "$n")"
        echo "  running members: $(running_members "$n")"
        break
      fi
    done
    print_urls
  fi
  return "$any"
}

cmd_node_start() {
  check_node_arg "${1:-}"
  detect_bin
  [ -f "$DIR/$MARKER" ] || die "no cluster in $DIR; run: scripts/cluster.sh start"
  DEADLINE=$(($(date +%s) + WAIT_SECONDS))
  launch_node "$1"
  await_node "$1"
  log "$(node_name "$1") is running; members running: $(running_members "$1")"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  node-stop)
    check_node_arg "${2:-}"
    detect_bin
    stop_node "$2"
    ;;
  node-kill)
    check_node_arg "${2:-}"
    detect_bin
    kill_node "$2"
    ;;
  node-start) cmd_node_start "${2:-}" ;;
  urls)
    for n in "${NODES[@]}"; do printf '%s' "$([ "$n" -gt 1 ] && echo ,)amqp://guest:guest@127.0.0.1:$(amqp_port "$n")"; done
    echo
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
