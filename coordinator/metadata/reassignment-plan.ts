/**
 * Proposes a balanced reassignment plan (`streambus partitions reassign --generate`, Kafka's
 * kafka-reassign-partitions --generate): new replica lists for every partition of some topics,
 * spread over a given set of brokers, moving as little as it can.
 *
 * Each partition keeps its replication factor. Every broker gets a quota of the replicas planned
 * here: ⌊replicas / brokers⌋, one more for as many brokers as the division leaves over (those that
 * hold the most of these replicas now, so fewer move). Walking the partitions in order (topics by
 * name, partitions by number), a partition keeps the replicas it has on brokers still under their
 * quota, and takes the brokers with the most quota left (then the fewest replicas, then the lowest
 * id) for the rest. Its preferred leader stays first while that broker leads fewer than
 * ⌈partitions / brokers⌉ of them; otherwise the replica with the fewest leaderships goes first.
 * Racks are not considered.
 *
 * Pure and deterministic: the same metadata and brokers give the same plan.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { reassignmentTarget } from './partition-rules.js';
import type { TopicImage } from './state.js';

export interface PlannedPartition {
  readonly topic: string;
  readonly partition: number;
  /** The replicas, the preferred leader first. */
  readonly replicas: readonly number[];
}

function bump(counts: Map<number, number>, id: number): void {
  counts.set(id, (counts.get(id) ?? 0) + 1);
}

/**
 * A replica list for every partition of `topics` over `brokerIds`. Throws INVALID_REQUEST for an
 * empty or repeated broker list, INVALID_REPLICATION_FACTOR when a partition has more replicas than
 * there are brokers.
 */
export function proposeReassignment(topics: readonly TopicImage[], brokerIds: readonly number[]): PlannedPartition[] {
  if (brokerIds.length === 0) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'a plan needs at least one broker');
  const twice = brokerIds.find((id, i) => brokerIds.indexOf(id) !== i);
  if (twice !== undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `broker ${twice} is listed more than once`);
  const brokers = [...brokerIds].sort((a, b) => a - b);
  const ordered = [...topics].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let replicaCount = 0;
  let partitionCount = 0;
  for (const topic of ordered) {
    for (const p of topic.partitions) {
      const rf = reassignmentTarget(p).length;
      if (rf > brokers.length) {
        throw new StreamBusError(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `${topic.name}-${p.partition} has ${rf} replicas, more than the ${brokers.length} brokers to place them on`,
          { context: { topic: topic.name, partition: p.partition } },
        );
      }
      replicaCount += rf;
      partitionCount++;
    }
  }
  const quota = quotas(ordered, brokers, replicaCount);
  const leaderCap = Math.ceil(partitionCount / brokers.length);
  const load = new Map<number, number>();
  const left = (id: number): number => (quota.get(id) ?? 0) - (load.get(id) ?? 0);
  const leads = new Map<number, number>();
  const plan: PlannedPartition[] = [];
  for (const topic of ordered) {
    for (const p of topic.partitions) {
      const current = reassignmentTarget(p);
      const chosen = current.filter((id) => brokers.includes(id) && left(id) > 0);
      const spare = brokers
        .filter((id) => !chosen.includes(id))
        .sort((a, b) => left(b) - left(a) || (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b);
      chosen.push(...spare.slice(0, current.length - chosen.length));
      const preferred = current[0];
      const leader =
        preferred !== undefined && chosen.includes(preferred) && (leads.get(preferred) ?? 0) < leaderCap
          ? preferred
          : chosen.reduce((best, id) => ((leads.get(id) ?? 0) < (leads.get(best) ?? 0) ? id : best));
      const replicas = [leader, ...chosen.filter((id) => id !== leader)];
      for (const id of replicas) bump(load, id);
      bump(leads, leader);
      plan.push({ topic: topic.name, partition: p.partition, replicas });
    }
  }
  return plan;
}

/**
 * Each broker's share of `total` replicas: the even split, plus one for the brokers that hold the
 * most of the planned partitions' replicas now (then the lowest ids) while the remainder lasts.
 */
function quotas(topics: readonly TopicImage[], brokers: readonly number[], total: number): Map<number, number> {
  const held = new Map<number, number>();
  for (const topic of topics) for (const p of topic.partitions) for (const id of reassignmentTarget(p)) bump(held, id);
  const base = Math.floor(total / brokers.length);
  let extra = total - base * brokers.length;
  const quota = new Map<number, number>();
  for (const id of [...brokers].sort((a, b) => (held.get(b) ?? 0) - (held.get(a) ?? 0) || a - b)) {
    quota.set(id, base + (extra > 0 ? 1 : 0));
    extra--;
  }
  return quota;
}
