#!/usr/bin/env bash
# Runs a local cluster of separate processes for development: three coordinators (the Raft group
# that owns the metadata, as deploy/local-coordinators.sh runs it) and three brokers, node N of
# each on 127.0.0.N so the addresses read like three machines.
#
#   deploy/local-cluster.sh start    start the coordinators, wait for each; then the brokers, wait
#                                    until each is registered and unfenced; print the bootstrap list
#   deploy/local-cluster.sh status   which processes run, each broker's /readyz, the coordinator group
#   deploy/local-cluster.sh stop     SIGTERM the brokers first (each asks the coordinators to fence
#                                    it while they can still answer), then the coordinators
#
# Ports, the same on every address: broker native protocol 9093 and HTTP admin 9644 (node ids
# 101-103), coordinator API 9094 and Raft 9095 (node ids 1-3). Everything lives under
# ${STREAMBUS_LOCAL_DIR:-./data/local-cluster}: cluster-id, then coordinator-N/ and broker-N/ with
# each process's data/, log and pid file. Delete the folder to start from scratch.
#
# Needs the compiled CLI (npm run build). On macOS, 127.0.0.2 and 127.0.0.3 need loopback aliases
# first (sudo ifconfig lo0 alias 127.0.0.2 up). Knobs: see deploy/lib/local.sh.
set -euo pipefail
# shellcheck source=lib/local.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/local.sh"

cmd_start() {
  require_cli
  local id
  id="$(cluster_id)"
  if ! start_coordinators "$id" || ! start_brokers "$id"; then
    echo "start failed; '$0 stop' stops the processes that did start" >&2
    exit 1
  fi
  echo "cluster $id"
  echo "bootstrap: $(bootstrap)"
  echo "  streambus topic create orders --partitions 3 --replication-factor 3 --brokers $(bootstrap)"
}

# Asks a broker's admin port whether it is ready; prints the answer's body.
broker_ready() {
  "$NODE_BIN" -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then(
      async (r) => { process.stdout.write((await r.text()).trim()); process.exit(r.ok ? 0 : 1); },
      (e) => { process.stdout.write(String(e.message)); process.exit(1); });
  ' "http://$(host_of "$1"):$ADMIN_PORT/readyz"
}

# Exit 0 only when all six processes run, every broker is ready and the coordinators have a
# leader; 3 when a process is down; 1 when a broker is not ready or there is no leader.
cmd_status() {
  local n answer brokers coordinators_up unready=0
  print_status broker
  brokers="$(running_count broker)"
  print_status coordinator
  coordinators_up="$(running_count coordinator)"
  if ((brokers + coordinators_up == 0)); then exit 3; fi
  echo
  for n in "${NODES[@]}"; do
    is_running broker "$n" || continue
    answer="$(broker_ready "$n")" || unready=1
    echo "broker $n /readyz: $answer"
  done
  if ((coordinators_up > 0)); then
    echo
    streambus cluster status --coordinators "$(coordinators)" --wait-ms 5000
  fi
  if ((brokers < ${#NODES[@]} || coordinators_up < ${#NODES[@]})); then exit 3; fi
  if ((unready)); then exit 1; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    stop_role broker
    stop_role coordinator
    ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
