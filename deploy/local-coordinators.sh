#!/usr/bin/env bash
# Runs a local three-node coordinator group for development: node N listens on 127.0.0.N, all on
# the same ports (coordinator API 9094, Raft 9095), so the addresses read like three machines.
# deploy/local-cluster.sh runs the same group plus three brokers.
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
#   STREAMBUS_LOCAL_API_PORT (9094), STREAMBUS_LOCAL_RAFT_PORT (9095), STREAMBUS_LOCAL_REGISTRY_PORT (8081),
#   STREAMBUS_LOCAL_START_TIMEOUT and STREAMBUS_LOCAL_STOP_TIMEOUT (seconds: 30 and 15), NODE (node).
# The layout and the start/stop functions live in deploy/lib/local.sh.
set -euo pipefail
# shellcheck source=lib/local.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/local.sh"

cmd_start() {
  require_cli
  local id
  id="$(cluster_id)"
  if ! start_coordinators "$id"; then
    echo "start failed; '$0 stop' stops the nodes that did start" >&2
    exit 1
  fi
  echo "cluster $id: streambus cluster status --coordinators $(coordinators)"
}

# Exit 0 only when every node runs and the group has a leader; 3 when a node is down.
cmd_status() {
  local running
  print_status coordinator
  running="$(running_count coordinator)"
  if ((running == 0)); then exit 3; fi
  echo
  streambus cluster status --coordinators "$(coordinators)" --wait-ms 5000
  if ((running < ${#NODES[@]})); then exit 3; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) stop_role coordinator ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
