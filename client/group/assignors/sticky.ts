/**
 * The `sticky` assignor (Kafka's StickyAssignor), for the eager protocol: balanced like round-robin
 * when subscriptions agree, and keeping as many partitions as possible with the member that had
 * them (see sticky-core.ts). Fewer moves mean fewer caches and local state stores rebuilt after a
 * rebalance, even though under eager every member still stops consuming while the group rebalances.
 *
 * Under eager a member revokes everything before it rejoins, so its subscription carries no owned
 * partitions; it remembers them in its user data instead (StickyAssignorUserData, the layout the
 * Java client and librdkafka write). A member whose user data is empty is read from its
 * subscription's owned partitions and generation. User data that cannot be parsed is ignored, as
 * Kafka ignores it: one member's odd bytes must not stop the whole group from rebalancing; that
 * member simply starts with no history.
 *
 * Pure: no node:* imports.
 */
import { StreamBusError } from '../../../proto/errors.js';
import { groupView } from './group-view.js';
import { decodeStickyUserData, encodeStickyUserData } from './sticky-user-data.js';
import { planSticky, planToAssignment } from './sticky-core.js';
import {
  AssignorName,
  NO_GENERATION,
  RebalanceProtocol,
  type Assignor,
  type GroupAssignment,
  type MemberSubscription,
  type OwnedState,
  type TopicMetadata,
} from './types.js';

/** Assigns stickily from the members' remembered assignments (see the file header). */
export function assignSticky(members: readonly MemberSubscription[], metadata: TopicMetadata): GroupAssignment {
  return planToAssignment(planSticky(groupView(members, metadata), stickyPrevious), false);
}

export const stickyAssignor: Assignor = {
  name: AssignorName.STICKY,
  protocols: [RebalanceProtocol.EAGER],
  subscriptionUserData: encodeStickyUserData,
  assign: assignSticky,
};

/** What a member had before: from its sticky user data, else from its subscription's fields. */
function stickyPrevious(member: MemberSubscription): OwnedState {
  if (member.userData === null || member.userData.length === 0) {
    return { ownedPartitions: member.ownedPartitions, generation: member.generation };
  }
  try {
    return decodeStickyUserData(member.userData);
  } catch (error) {
    if (error instanceof StreamBusError) return { ownedPartitions: [], generation: NO_GENERATION };
    throw error;
  }
}
