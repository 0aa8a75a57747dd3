/**
 * The `range` assignor (Kafka's RangeAssignor): topic by topic, the members subscribed to the topic
 * in canonical order each get one contiguous range of its partitions; with n partitions and c
 * members, the first n % c members get floor(n / c) + 1 and the rest floor(n / c).
 *
 * Because each topic is split the same way, partition i of two topics with the same partition count
 * and the same subscribers goes to the same member ("co-partitioning"), which joins on a key rely
 * on. The price is imbalance across topics: the first members get one extra partition of every
 * topic whose count does not divide evenly.
 *
 * Rack awareness (KIP-881), in a simplified form: when every member subscribed to a topic has a
 * rack, the topic's replica racks are known, and some partition has no replica in some member's
 * rack, the same per-member quotas are filled in two passes, first with partitions that have a
 * replica in the member's rack, then with whatever is left, each pass taking members in canonical
 * order and partitions in ascending order. Unlike Kafka's, this works one topic at a time, so with
 * racks, co-partitioning across topics holds only when the topics' replicas sit on the same racks;
 * members without a rack turn rack awareness off for the topics they subscribe to.
 *
 * Pure: no node:* imports.
 */
import { AssignmentBuilder, groupView, partitionCount } from './group-view.js';
import { AssignorName, RebalanceProtocol, type Assignor, type GroupAssignment, type MemberSubscription, type TopicMetadata } from './types.js';

/** Assigns each topic's partitions in contiguous ranges (see the file header). */
export function assignRange(members: readonly MemberSubscription[], metadata: TopicMetadata): GroupAssignment {
  const view = groupView(members, metadata);
  const builder = new AssignmentBuilder(view);
  for (const topic of view.topics) {
    const consumers = view.members.flatMap((_, index) => (view.subscribed[index]?.has(topic) === true ? [index] : []));
    const count = partitionCount(view, topic);
    const partitionRacks = metadata.get(topic)?.partitionRacks;
    const racks = rackMatching(consumers.map((index) => view.members[index]?.rackId ?? null), partitionRacks);
    const owners = racks === undefined || partitionRacks === undefined ? plainRanges(count, consumers.length) : rackAwareRanges(count, racks, partitionRacks);
    owners.forEach((position, partition) => builder.add(consumers[position] ?? -1, topic, partition));
  }
  return builder.build();
}

export const rangeAssignor: Assignor = {
  name: AssignorName.RANGE,
  protocols: [RebalanceProtocol.EAGER],
  subscriptionUserData: () => null,
  assign: assignRange,
};

/** owners[p] = the position (among the topic's consumers) of the one that gets partition p. */
function plainRanges(count: number, consumers: number): number[] {
  const perConsumer = Math.floor(count / consumers);
  const withExtra = count % consumers;
  const owners = new Array<number>(count);
  for (let position = 0; position < consumers; position++) {
    const start = position * perConsumer + Math.min(position, withExtra);
    const length = perConsumer + (position < withExtra ? 1 : 0);
    owners.fill(position, start, start + length);
  }
  return owners;
}

/**
 * The consumers' racks when rack matching could change anything: every consumer has a rack and
 * some partition has no replica in some consumer's rack. Undefined otherwise.
 */
function rackMatching(racks: readonly (string | null)[], partitionRacks: readonly (readonly string[])[] | undefined): readonly string[] | undefined {
  if (partitionRacks === undefined || racks.length === 0) return undefined;
  const known = racks.filter((rack): rack is string => rack !== null);
  if (known.length !== racks.length) return undefined;
  return partitionRacks.some((replicaRacks) => known.some((rack) => !replicaRacks.includes(rack))) ? known : undefined;
}

/** The same quotas as plainRanges, filled with rack-local partitions first. */
function rackAwareRanges(count: number, racks: readonly string[], partitionRacks: readonly (readonly string[])[]): number[] {
  const consumers = racks.length;
  const perConsumer = Math.floor(count / consumers);
  let extrasLeft = count % consumers;
  const owners = new Array<number>(count).fill(-1);
  const assigned = new Array<number>(consumers).fill(0);
  const fill = (matches: (position: number, partition: number) => boolean): void => {
    for (let position = 0; position < consumers; position++) {
      const before = assigned[position] ?? 0;
      // A member may reach perConsumer + 1 only while some of the count % consumers extras are left.
      const quota = perConsumer + (extrasLeft > 0 ? 1 : 0);
      let has = before;
      for (let partition = 0; partition < count && has < quota; partition++) {
        if (owners[partition] !== -1 || !matches(position, partition)) continue;
        owners[partition] = position;
        has++;
      }
      assigned[position] = has;
      if (before <= perConsumer && has === perConsumer + 1) extrasLeft--;
    }
  };
  fill((position, partition) => partitionRacks[partition]?.includes(racks[position] ?? '') === true);
  fill(() => true);
  return owners;
}
