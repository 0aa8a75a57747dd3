#!/usr/bin/env bash
# Runs a local three-node coordinator group for development: node N listens on 127.0.0.N, all on
# the same ports (coordinator API 9094, Raft 9095), so the addresses read like three machines.
#
#   deploy/local-coordinators.sh start    start the three nodes, wait until each logs "ready"
#   deploy/local-coordinators.sh status   which nodes run, then `streambus cluster status`
#   deploy/local-coordinators.sh stop     SIGTERM each node and wait for it to exit
#
# Everything lives under ${STREAMBUS_LOCAL_DIR:-./data/local-cluster}: the cluster id (generated on
# the first start and kept in cluster-id, so restarts rejoin the same cluster), and per node
# coordinator-N/ with its data directory (data/), its log (coordinator.log, the previous run's in
# coordinator.log.1) and its pid file (coordinator.pid). Delete the folder to start from scratch.
#
# Needs the compiled CLI (npm run build). Other knobs, all optional:
#   STREAMBUS_LOCAL_API_PORT (9094), STREAMBUS_LOCAL_RAFT_PORT (9095),
#   STREAMBUS_LOCAL_START_TIMEOUT and STREAMBUS_LOCAL_STOP_TIMEOUT (seconds: 30 and 15), NODE (node).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$ROOT/dist/cli/main.js"
NODE_BIN="${NODE:-node}"
DIR="${STREAMBUS_LOCAL_DIR:-./data/local-cluster}"
API_PORT="${STREAMBUS_LOCAL_API_PORT:-9094}"
RAFT_PORT="${STREAMBUS_LOCAL_RAFT_PORT:-9095}"
START_TIMEOUT="${STREAMBUS_LOCAL_START_TIMEOUT:-30}"
STOP_TIMEOUT="${STREAMBUS_LOCAL_STOP_TIMEOUT:-15}"
NODES=(1 2 3)

host_of() { echo "127.0.0.$1"; }
node_dir() { echo "$DIR/coordinator-$1"; }
pid_of() {
  local file
  file="$(node_dir "$1")/coordinator.pid"
  [[ -f "$file" ]] && cat "$file"
}
is_running() {
  local pid
  pid="$(pid_of "$1" || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}
coordinators() {
  local list="" n
  for n in "${NODES[@]}"; do list+="${list:+,}$(host_of "$n"):$API_PORT"; done
  echo "$list"
}
voters() {
  local list="" n
  for n in "${NODES[@]}"; do list+="${list:+,}$n@$(host_of "$n"):$RAFT_PORT"; done
  echo "$list"
}
# The CLI reads STREAMBUS_* variables as settings: keep this script's own out of its environment.
streambus() {
  env -u STREAMBUS_LOCAL_DIR -u STREAMBUS_LOCAL_API_PORT -u STREAMBUS_LOCAL_RAFT_PORT \
    -u STREAMBUS_LOCAL_START_TIMEOUT -u STREAMBUS_LOCAL_STOP_TIMEOUT "$NODE_BIN" "$CLI" "$@"
}

cluster_id() {
  local file="$DIR/cluster-id"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$DIR"
    "$NODE_BIN" -e "process.stdout.write(require('node:crypto').randomBytes(16).toString('base64url'))" >"$file.tmp"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}

start_node() {
  local n="$1" id="$2" dir log
  dir="$(node_dir "$n")"
  log="$dir/coordinator.log"
  mkdir -p "$dir/data"
  [[ -f "$log" ]] && mv "$log" "$log.1"
  nohup env -u STREAMBUS_LOCAL_DIR -u STREAMBUS_LOCAL_API_PORT -u STREAMBUS_LOCAL_RAFT_PORT \
    -u STREAMBUS_LOCAL_START_TIMEOUT -u STREAMBUS_LOCAL_STOP_TIMEOUT \
    "$NODE_BIN" "$CLI" coordinator \
    --set "node.id=$n" \
    --set "cluster.id=$id" \
    --set "coordinator.voters=$(voters)" \
    --set "raft.host=$(host_of "$n")" --set "raft.port=$RAFT_PORT" \
    --set "coordinator.host=$(host_of "$n")" --set "coordinator.port=$API_PORT" \
    --set "data.dir=$dir/data" \
    --set "log.format=json" \
    >"$log" 2>&1 </dev/null &
  echo $! >"$dir/coordinator.pid"
}

# Waits for the node's JSON "ready" line; fails early if the process dies.
wait_ready() {
  local n="$1" log deadline
  log="$(node_dir "$n")/coordinator.log"
  deadline=$((SECONDS + START_TIMEOUT))
  until grep -qE '"msg":"[^"]*ready"' "$log" 2>/dev/null; do
    if ! is_running "$n"; then
      echo "coordinator $n exited during start-up; the end of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "coordinator $n was not ready within ${START_TIMEOUT}s; see $log" >&2
      return 1
    fi
    sleep 0.2
  done
}

cmd_start() {
  if [[ ! -f "$CLI" ]]; then
    echo "$CLI is missing: run 'npm run build' first" >&2
    exit 1
  fi
  local id n failed=0
  id="$(cluster_id)"
  for n in "${NODES[@]}"; do
    if is_running "$n"; then
      echo "coordinator $n is already running (pid $(pid_of "$n"))"
    else
      start_node "$n" "$id"
    fi
  done
  for n in "${NODES[@]}"; do
    if wait_ready "$n"; then
      echo "coordinator $n ready: api $(host_of "$n"):$API_PORT, raft $(host_of "$n"):$RAFT_PORT, pid $(pid_of "$n")"
    else
      failed=1
    fi
  done
  if ((failed)); then
    echo "start failed; '$0 stop' stops the nodes that did start" >&2
    exit 1
  fi
  echo "cluster $id: streambus cluster status --coordinators $(coordinators)"
}

cmd_stop() {
  local n pid deadline
  for n in "${NODES[@]}"; do
    if ! is_running "$n"; then
      rm -f "$(node_dir "$n")/coordinator.pid"
      echo "coordinator $n is not running"
      continue
    fi
    pid="$(pid_of "$n")"
    kill -TERM "$pid"
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        echo "coordinator $n (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
    rm -f "$(node_dir "$n")/coordinator.pid"
    echo "coordinator $n stopped"
  done
}

# Exit 0 only when every node runs and the group has a leader.
cmd_status() {
  local n running=0
  for n in "${NODES[@]}"; do
    if is_running "$n"; then
      running=$((running + 1))
      echo "coordinator $n running (pid $(pid_of "$n")), api $(host_of "$n"):$API_PORT"
    else
      echo "coordinator $n not running"
    fi
  done
  if ((running == 0)); then exit 3; fi
  echo
  streambus cluster status --coordinators "$(coordinators)" --wait-ms 5000
  if ((running < ${#NODES[@]})); then exit 3; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
