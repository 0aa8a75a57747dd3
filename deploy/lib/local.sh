# Shared by deploy/local-coordinators.sh and deploy/local-cluster.sh (sourced, never run): the
# layout of a local multi-process cluster and the functions that start, wait for and stop its
# processes, so both scripts run the very same coordinators and keep their files in one place.
#
# Node N of each role listens on 127.0.0.N, every node of a role on the same ports, so the
# addresses read like machines. Under ${STREAMBUS_LOCAL_DIR:-./data/local-cluster}:
#   cluster-id                 generated on the first start, kept so restarts rejoin the cluster
#   coordinator-N/, broker-N/  per process: data/ (its data.dir), <role>.log (the previous run's in
#                              <role>.log.1) and <role>.pid while it runs
#
# Knobs, all optional: STREAMBUS_LOCAL_DIR, STREAMBUS_LOCAL_API_PORT (9094),
# STREAMBUS_LOCAL_RAFT_PORT (9095), STREAMBUS_LOCAL_NATIVE_PORT (9093), STREAMBUS_LOCAL_KAFKA_PORT
# (9092, the brokers' Kafka listeners), STREAMBUS_LOCAL_ADMIN_PORT
# (9644, the brokers'), STREAMBUS_LOCAL_COORDINATOR_ADMIN_PORT (9645: coordinator N shares 127.0.0.N
# with broker N, so their admin ports differ), STREAMBUS_LOCAL_REGISTRY_PORT (8081, the coordinators'
# schema registry), STREAMBUS_LOCAL_START_TIMEOUT and
# STREAMBUS_LOCAL_STOP_TIMEOUT (seconds: 30 and 15), NODE. The other ports default to the settings'
# own defaults (cli/config/schema.ts).

LOCAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLI="$LOCAL_ROOT/dist/cli/main.js"
NODE_BIN="${NODE:-node}"
DIR="${STREAMBUS_LOCAL_DIR:-./data/local-cluster}"
API_PORT="${STREAMBUS_LOCAL_API_PORT:-9094}"
RAFT_PORT="${STREAMBUS_LOCAL_RAFT_PORT:-9095}"
NATIVE_PORT="${STREAMBUS_LOCAL_NATIVE_PORT:-9093}"
KAFKA_PORT="${STREAMBUS_LOCAL_KAFKA_PORT:-9092}"
ADMIN_PORT="${STREAMBUS_LOCAL_ADMIN_PORT:-9644}"
COORDINATOR_ADMIN_PORT="${STREAMBUS_LOCAL_COORDINATOR_ADMIN_PORT:-9645}"
REGISTRY_PORT="${STREAMBUS_LOCAL_REGISTRY_PORT:-8081}"
START_TIMEOUT="${STREAMBUS_LOCAL_START_TIMEOUT:-30}"
STOP_TIMEOUT="${STREAMBUS_LOCAL_STOP_TIMEOUT:-15}"
NODES=(1 2 3)
# Brokers take node ids 101-103: coordinator ids 1-3 are Raft voters, and keeping the two apart
# makes every id in a log or a `topic describe` say which kind of process it is.
BROKER_ID_BASE=100

host_of() { echo "127.0.0.$1"; }
node_dir() { echo "$DIR/$1-$2"; }
log_of() { echo "$(node_dir "$1" "$2")/$1.log"; }
pid_of() {
  local file
  file="$(node_dir "$1" "$2")/$1.pid"
  [[ -f "$file" ]] && cat "$file"
}
is_running() {
  local pid
  pid="$(pid_of "$1" "$2" || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}
broker_id() { echo $((BROKER_ID_BASE + $1)); }

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
bootstrap() {
  local list="" n
  for n in "${NODES[@]}"; do list+="${list:+,}$(host_of "$n"):$NATIVE_PORT"; done
  echo "$list"
}

# The CLI reads STREAMBUS_* variables as settings: keep these scripts' own out of its environment.
CLEAN_ENV=(env)
for _name in $(compgen -e); do
  if [[ "$_name" == STREAMBUS_LOCAL_* ]]; then CLEAN_ENV+=(-u "$_name"); fi
done
unset _name
streambus() { "${CLEAN_ENV[@]}" "$NODE_BIN" "$CLI" "$@"; }

require_cli() {
  if [[ ! -f "$CLI" ]]; then
    echo "$CLI is missing: run 'npm run build' first" >&2
    exit 1
  fi
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

# start_process ROLE N SETTING... : runs `streambus ROLE --set SETTING...` in the background with
# its output in ROLE.log and its pid in ROLE.pid.
start_process() {
  local role="$1" n="$2" dir log setting
  shift 2
  local -a args=()
  for setting in "$@"; do args+=(--set "$setting"); done
  dir="$(node_dir "$role" "$n")"
  log="$(log_of "$role" "$n")"
  mkdir -p "$dir/data"
  [[ -f "$log" ]] && mv "$log" "$log.1"
  nohup "${CLEAN_ENV[@]}" "$NODE_BIN" "$CLI" "$role" "${args[@]}" \
    --set "data.dir=$dir/data" --set "log.format=json" >"$log" 2>&1 </dev/null &
  echo $! >"$dir/$role.pid"
}

# Waits for the process's JSON "ready" line; fails early if it dies.
wait_ready() {
  local role="$1" n="$2" log deadline
  log="$(log_of "$role" "$n")"
  deadline=$((SECONDS + START_TIMEOUT))
  until grep -qE '"msg":"[^"]*ready"' "$log" 2>/dev/null; do
    if ! is_running "$role" "$n"; then
      echo "$role $n exited during start-up; the end of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$role $n was not ready within ${START_TIMEOUT}s; see $log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# stop_role ROLE: SIGTERM to every running process of the role at once, then waits for each (and
# SIGKILLs one that outlives STOP_TIMEOUT).
stop_role() {
  local role="$1" n pid deadline
  local -a stopping=()
  for n in "${NODES[@]}"; do
    if is_running "$role" "$n"; then
      kill -TERM "$(pid_of "$role" "$n")"
      stopping+=("$n")
    else
      rm -f "$(node_dir "$role" "$n")/$role.pid"
      echo "$role $n is not running"
    fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for n in "${stopping[@]}"; do
    pid="$(pid_of "$role" "$n")"
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        echo "$role $n (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
    rm -f "$(node_dir "$role" "$n")/$role.pid"
    echo "$role $n stopped"
  done
}

# Starts the coordinators that are not running and waits for all three; returns 1 if one failed.
start_coordinators() {
  local id="$1" n failed=0
  for n in "${NODES[@]}"; do
    if is_running coordinator "$n"; then
      echo "coordinator $n is already running (pid $(pid_of coordinator "$n"))"
    else
      start_process coordinator "$n" "node.id=$n" "cluster.id=$id" "coordinator.voters=$(voters)" \
        "raft.host=$(host_of "$n")" "raft.port=$RAFT_PORT" \
        "coordinator.host=$(host_of "$n")" "coordinator.port=$API_PORT" \
        "admin.host=$(host_of "$n")" "admin.port=$COORDINATOR_ADMIN_PORT" \
        "schema.registry.host=$(host_of "$n")" "schema.registry.port=$REGISTRY_PORT"
    fi
  done
  for n in "${NODES[@]}"; do
    if wait_ready coordinator "$n"; then
      echo "coordinator $n ready: api $(host_of "$n"):$API_PORT, raft $(host_of "$n"):$RAFT_PORT, admin http://$(host_of "$n"):$COORDINATOR_ADMIN_PORT, pid $(pid_of coordinator "$n")"
    else
      failed=1
    fi
  done
  return "$failed"
}

# Starts the brokers that are not running and waits for all three; returns 1 if one failed. A
# broker is ready once the coordinator leader has registered and unfenced it.
start_brokers() {
  local id="$1" n failed=0
  for n in "${NODES[@]}"; do
    if is_running broker "$n"; then
      echo "broker $n is already running (pid $(pid_of broker "$n"))"
    else
      start_process broker "$n" "node.id=$(broker_id "$n")" "cluster.id=$id" "coordinators=$(coordinators)" \
        "native.host=$(host_of "$n")" "native.port=$NATIVE_PORT" \
        "kafka.host=$(host_of "$n")" "kafka.port=$KAFKA_PORT" \
        "admin.host=$(host_of "$n")" "admin.port=$ADMIN_PORT"
    fi
  done
  for n in "${NODES[@]}"; do
    if wait_ready broker "$n"; then
      echo "broker $n ready: node $(broker_id "$n"), native $(host_of "$n"):$NATIVE_PORT, admin http://$(host_of "$n"):$ADMIN_PORT, pid $(pid_of broker "$n")"
    else
      failed=1
    fi
  done
  return "$failed"
}

# print_status ROLE: one line per process of the role.
print_status() {
  local role="$1" n
  for n in "${NODES[@]}"; do
    if is_running "$role" "$n"; then
      echo "$role $n running (pid $(pid_of "$role" "$n")), $(role_address "$role" "$n")"
    else
      echo "$role $n not running"
    fi
  done
}
role_address() {
  if [[ "$1" == coordinator ]]; then
    echo "api $(host_of "$2"):$API_PORT"
  else
    echo "node $(broker_id "$2"), native $(host_of "$2"):$NATIVE_PORT"
  fi
}

# running_count ROLE: how many processes of the role run.
running_count() {
  local n count=0
  for n in "${NODES[@]}"; do
    if is_running "$1" "$n"; then count=$((count + 1)); fi
  done
  echo "$count"
}
