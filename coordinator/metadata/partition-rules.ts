/**
 * The rules that move a partition on by themselves once its state allows, shared by every
 * controller path that changes partitions (AlterPartition, reassignments, maintenance, elections):
 *
 * - Leader choice: among a list of replicas in order, the first that is in the ISR and live, a
 *   broker that is not draining before one that is (a draining broker leads only when nothing else
 *   can: availability first, as in Redpanda's maintenance mode).
 * - Completing a reassignment (Kafka's KIP-455): once every replica it adds is in the ISR, the
 *   replica set becomes the target, the ISR keeps its members in the target, and a replica of the
 *   target that is in sync and live leads if the old leader is removed. Until a target replica can
 *   lead, the reassignment waits: completing would leave the partition offline.
 * - Handing a draining broker's leadership over: to the first other replica that is in the ISR,
 *   live and not draining. Without one, the draining broker keeps leading.
 *
 * Pure: (partition, which brokers are live and draining) → what the partition should become.
 */
import type { PartitionAssignment } from './commands.js';
import type { PartitionTarget } from './partition-change.js';
import type { MetadataStateView } from './state.js';

/** Which brokers may lead or join an ISR (live: registered, unfenced), and which are draining. */
export interface BrokerStates {
  readonly live: ReadonlySet<number>;
  readonly draining: ReadonlySet<number>;
}

/** The live and draining brokers of a metadata state. */
export function brokerStates(state: MetadataStateView): BrokerStates {
  const live = new Set<number>();
  const draining = new Set<number>();
  for (const broker of state.brokers()) {
    if (!broker.fenced) live.add(broker.nodeId);
    if (broker.draining === true) draining.add(broker.nodeId);
  }
  return { live, draining };
}

/**
 * The first broker of `order` that is in `isr` and live, preferring one that is not draining;
 * undefined when none is in sync and live.
 */
export function eligibleLeader(order: readonly number[], isr: readonly number[], brokers: BrokerStates): number | undefined {
  const inSync = order.filter((id) => isr.includes(id) && brokers.live.has(id));
  return inSync.find((id) => !brokers.draining.has(id)) ?? inSync[0];
}

/** Whether a reassignment of the partition is in progress. */
export function isReassigning(p: PartitionAssignment): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0;
}

/** The replica set a reassignment goes to: the replicas without those it removes (target order). */
export function reassignmentTarget(p: PartitionAssignment): number[] {
  const removing = p.removingReplicas ?? [];
  return p.replicas.filter((id) => !removing.includes(id));
}

/** The replica set before the reassignment: the replicas without those it adds. */
export function reassignmentOrigin(p: PartitionAssignment): number[] {
  const adding = p.addingReplicas ?? [];
  return p.replicas.filter((id) => !adding.includes(id));
}

/**
 * What completes the partition's reassignment now, or undefined when none is in progress or it
 * cannot complete yet: a replica it adds is not in the ISR, no ISR member is in the target, or the
 * leader is removed and no replica of the target is in sync and live to take over.
 */
export function completion(p: PartitionAssignment, brokers: BrokerStates): PartitionTarget | undefined {
  if (!isReassigning(p)) return undefined;
  if (!(p.addingReplicas ?? []).every((id) => p.isr.includes(id))) return undefined;
  const target = reassignmentTarget(p);
  const isr = p.isr.filter((id) => target.includes(id));
  if (isr.length === 0) return undefined;
  const leader = target.includes(p.leader) ? p.leader : eligibleLeader(target, isr, brokers);
  if (leader === undefined) return undefined;
  return { leader, isr, replicas: { replicas: target } };
}

/** The replica a draining leader hands the partition to, or undefined (not draining, or none can take it). */
export function drainHandover(p: PartitionAssignment, brokers: BrokerStates): number | undefined {
  if (p.leader < 0 || !brokers.draining.has(p.leader)) return undefined;
  return p.replicas.find((id) => id !== p.leader && p.isr.includes(id) && brokers.live.has(id) && !brokers.draining.has(id));
}

/**
 * Where `p` goes once the rules above have run on it: its reassignment completed if it can, then
 * its leadership handed over if its leader drains. Undefined when neither applies. The target names
 * every field it changes, so partitionChange(…, p, target) is the one command for both.
 */
export function settle(p: PartitionAssignment, brokers: BrokerStates): PartitionTarget | undefined {
  const completed = completion(p, brokers);
  const after = completed === undefined ? p : applied(p, completed);
  const handover = drainHandover(after, brokers);
  if (handover === undefined) return completed;
  return { ...completed, leader: handover };
}

/**
 * `target` followed by whatever settle() does to the result, as one target relative to `current`:
 * the fields the second step sets win, the others keep the first step's values.
 */
export function settled(current: PartitionAssignment, target: PartitionTarget, brokers: BrokerStates): PartitionTarget {
  const after = applied(current, target);
  const next = settle(after, brokers);
  if (next === undefined) return target;
  return {
    leader: next.leader ?? after.leader,
    isr: next.isr ?? after.isr,
    ...(next.replicas !== undefined ? { replicas: next.replicas } : target.replicas !== undefined ? { replicas: target.replicas } : {}),
  };
}

/** The partition with `target` applied, epochs aside (the rules above never read them). */
function applied(p: PartitionAssignment, target: PartitionTarget): PartitionAssignment {
  const set = target.replicas;
  if (set === undefined) return { ...p, leader: target.leader ?? p.leader, isr: target.isr ?? p.isr };
  return {
    partition: p.partition,
    replicas: set.replicas,
    isr: target.isr ?? p.isr,
    leader: target.leader ?? p.leader,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    ...(set.addingReplicas === undefined || set.addingReplicas.length === 0 ? {} : { addingReplicas: set.addingReplicas }),
    ...(set.removingReplicas === undefined || set.removingReplicas.length === 0 ? {} : { removingReplicas: set.removingReplicas }),
  };
}
