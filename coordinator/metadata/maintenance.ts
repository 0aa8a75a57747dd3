/**
 * Broker maintenance (Redpanda's maintenance mode, `streambus broker drain|undrain`): draining a
 * broker before it is stopped, upgraded or removed, without moving its data.
 *
 * Enabling logs a broker-maintenance record and, in the same entry, moves every leadership the
 * broker holds to another replica that is in the ISR, live and not draining (the first in replica
 * order). A partition with no such replica keeps its leader: draining never takes a partition
 * offline; its leadership moves as soon as another replica can take it (partition-rules.ts, on the
 * next AlterPartition). The broker keeps its replicas and stays in the ISRs (it still follows and
 * acknowledges, so acks=all and min.insync.replicas are unchanged); preferred election, the
 * automatic rebalance and new placements skip it, and failover picks it only when no other
 * replica can lead.
 *
 * Disabling logs the record only: leaderships come back with the next preferred election (the
 * automatic rebalance, or `streambus partitions elect-leaders --type preferred`).
 *
 * Maintenance belongs to the node id and outlives a restart of the broker process. Pure.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, MetadataCommandType } from './commands.js';
import { partitionChange } from './partition-change.js';
import { type BrokerStates, brokerStates, settle } from './partition-rules.js';
import type { MetadataStateView } from './state.js';

export interface BrokerMaintenanceRequest {
  readonly nodeId: number;
  /** true: drain; false: end maintenance. */
  readonly enable: boolean;
}

export interface BrokerMaintenanceOutcome {
  readonly commands: MetadataCommand[];
  /** Partitions whose leadership moves off the broker. */
  readonly leadersMoved: number;
  /** Partitions the broker keeps leading: no other replica is in sync, live and not draining. */
  readonly leadersKept: readonly { readonly topic: string; readonly partition: number }[];
}

/**
 * The commands that put broker `nodeId` in or out of maintenance. Enabling again moves any
 * leadership the broker has taken since (a failover with no other choice). Throws
 * BROKER_ID_NOT_REGISTERED for a node id no broker registered.
 */
export function brokerMaintenance(state: MetadataStateView, request: BrokerMaintenanceRequest): BrokerMaintenanceOutcome {
  const broker = state.broker(request.nodeId);
  if (broker === undefined) {
    throw new StreamBusError(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${request.nodeId} is not registered`, { context: { broker: String(request.nodeId) } });
  }
  const commands: MetadataCommand[] = [];
  if ((broker.draining === true) !== request.enable) {
    commands.push({ type: MetadataCommandType.BROKER_MAINTENANCE, nodeId: request.nodeId, draining: request.enable });
  }
  if (!request.enable) return { commands, leadersMoved: 0, leadersKept: [] };
  const current = brokerStates(state);
  const brokers: BrokerStates = { live: current.live, draining: new Set([...current.draining, request.nodeId]) };
  const leadersKept: { topic: string; partition: number }[] = [];
  let leadersMoved = 0;
  for (const topic of state.topics()) {
    for (const p of topic.partitions) {
      if (p.leader !== request.nodeId) continue;
      const target = settle(p, brokers);
      const change = target === undefined ? null : partitionChange(topic.topicId, p, target);
      if (change?.leader !== undefined && change.leader !== request.nodeId) {
        commands.push(change);
        leadersMoved++;
      } else {
        leadersKept.push({ topic: topic.name, partition: p.partition });
      }
    }
  }
  return { commands, leadersMoved, leadersKept };
}
