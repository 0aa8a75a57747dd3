/**
 * Where coordinator nodes listen: the decisions the coordinator makes from register-coordinator
 * records. Pure.
 *
 * Two sources know a coordinator node's Raft address: the `coordinator.voters` setting (the
 * founding voters, like KRaft's controller.quorum.voters) and the register-coordinator records in
 * the metadata log (every node records itself when it first leads, and the leader records a node
 * before adding it as a voter). The config is enough to start a new group; the records follow the
 * group as it changes, so a node added later is known to every member without editing the config
 * of each. A record wins over the config for the same node: it is newer.
 */
import { ErrorCode } from '../../proto/errors.js';
import { type CoordinatorEndpoint, type RegisterCoordinatorCommand, MetadataCommandType, readMetadataCommand } from './commands.js';
import { ShapeReader } from './shape.js';
import type { MetadataStateView } from './state.js';

function sameEndpoint(a: CoordinatorEndpoint | null | undefined, b: CoordinatorEndpoint | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  return a.host === b.host && a.port === b.port;
}

/**
 * The register-coordinator command that records `nodeId` at these addresses, or null when the
 * state already says exactly that. Throws StreamBusError INVALID_REQUEST for a node id below 1, an
 * empty host or a port outside 1..65535, naming the field.
 */
export function coordinatorRecord(
  state: MetadataStateView,
  nodeId: number,
  raft: CoordinatorEndpoint,
  api: CoordinatorEndpoint | null,
): RegisterCoordinatorCommand | null {
  const shape = new ShapeReader(ErrorCode.INVALID_REQUEST, 'coordinator registration');
  const command = readMetadataCommand(shape, { type: MetadataCommandType.REGISTER_COORDINATOR, nodeId, raft, api });
  if (command.type !== MetadataCommandType.REGISTER_COORDINATOR) return null;
  const known = state.coordinator(nodeId);
  if (known !== undefined && sameEndpoint(known.raft, command.raft) && sameEndpoint(known.api, command.api)) return null;
  return command;
}

/**
 * The Raft peers of node `selfId`: the founding voters from its config, and every current voter
 * the log has an address for (that address winning), without the node itself.
 */
export function raftPeers(
  selfId: number,
  configured: ReadonlyMap<number, CoordinatorEndpoint>,
  voters: readonly number[],
  state: MetadataStateView,
): Map<number, CoordinatorEndpoint> {
  const peers = new Map<number, CoordinatorEndpoint>();
  for (const [id, endpoint] of configured) if (id !== selfId) peers.set(id, endpoint);
  for (const id of voters) {
    const recorded = state.coordinator(id);
    if (id !== selfId && recorded !== undefined) peers.set(id, recorded.raft);
  }
  return peers;
}

/** Whether two peer maps name the same nodes at the same addresses. */
export function samePeers(a: ReadonlyMap<number, CoordinatorEndpoint>, b: ReadonlyMap<number, CoordinatorEndpoint>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, endpoint] of a) if (!sameEndpoint(endpoint, b.get(id))) return false;
  return true;
}
