/**
 * The `roundrobin` assignor (Kafka's RoundRobinAssignor): all partitions of the subscribed topics,
 * sorted by topic and then partition, are dealt one at a time to the members in canonical order,
 * going round in a circle; a member not subscribed to a partition's topic is skipped for that
 * partition, and the deal goes on from the member after the one that took it.
 *
 * When every member subscribes to the same topics, the counts differ by at most one across the
 * whole group (unlike range, which is balanced per topic only). With different subscriptions it can
 * be lopsided; the sticky assignors balance those cases better.
 *
 * Pure: no node:* imports.
 */
import { AssignmentBuilder, groupView, partitionCount } from './group-view.js';
import { AssignorName, RebalanceProtocol, type Assignor, type GroupAssignment, type MemberSubscription, type TopicMetadata } from './types.js';

/** Deals the sorted partitions round the sorted members (see the file header). */
export function assignRoundRobin(members: readonly MemberSubscription[], metadata: TopicMetadata): GroupAssignment {
  const view = groupView(members, metadata);
  const builder = new AssignmentBuilder(view);
  const memberCount = view.members.length;
  let next = 0;
  for (const topic of view.topics) {
    const count = partitionCount(view, topic);
    for (let partition = 0; partition < count; partition++) {
      // Some member subscribes to every topic in play, so this finds one within one full circle.
      while (view.subscribed[next]?.has(topic) !== true) next = (next + 1) % memberCount;
      builder.add(next, topic, partition);
      next = (next + 1) % memberCount;
    }
  }
  return builder.build();
}

export const roundRobinAssignor: Assignor = {
  name: AssignorName.ROUND_ROBIN,
  protocols: [RebalanceProtocol.EAGER],
  subscriptionUserData: () => null,
  assign: assignRoundRobin,
};
