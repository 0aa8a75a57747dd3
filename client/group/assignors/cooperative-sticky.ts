/**
 * The `cooperative-sticky` assignor (Kafka's CooperativeStickyAssignor, KIP-429): the sticky
 * assignment, handed out in two steps so no partition is ever consumed by two members at once
 * and partitions that do not move never stop being consumed.
 *
 * Members rejoin holding their partitions and list them in the subscription's owned partitions.
 * The leader computes the same balanced, sticky target as `sticky`, but leaves out every partition
 * that goes to a member other than the one holding it (GroupAssignment.pendingRevocation). The
 * holder sees the partition missing from its assignment and revokes it, then rejoins; in that
 * follow-up round nobody holds the partition any more and it goes to its new owner. Members that
 * keep their partitions keep consuming throughout.
 *
 * The generation of the owned partitions comes from the subscription (v2 and later), else from the
 * user data (CooperativeStickyAssignorUserData, for older subscriptions); unreadable user data
 * counts as no generation, as in Kafka.
 *
 * Pure: no node:* imports.
 */
import { StreamBusError } from '../../../proto/errors.js';
import { groupView } from './group-view.js';
import { decodeCooperativeUserData, encodeCooperativeUserData } from './sticky-user-data.js';
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

/** Assigns stickily, withholding partitions that must first be revoked (see the file header). */
export function assignCooperativeSticky(members: readonly MemberSubscription[], metadata: TopicMetadata): GroupAssignment {
  return planToAssignment(planSticky(groupView(members, metadata), cooperativePrevious), true);
}

export const cooperativeStickyAssignor: Assignor = {
  name: AssignorName.COOPERATIVE_STICKY,
  // Listed in Kafka's order of preference: a group of members that all allow cooperative uses it.
  protocols: [RebalanceProtocol.COOPERATIVE, RebalanceProtocol.EAGER],
  subscriptionUserData: (state) => encodeCooperativeUserData(state.generation),
  assign: assignCooperativeSticky,
};

function cooperativePrevious(member: MemberSubscription): OwnedState {
  return { ownedPartitions: member.ownedPartitions, generation: member.generation >= 0 ? member.generation : userDataGeneration(member.userData) };
}

function userDataGeneration(userData: Uint8Array | null): number {
  if (userData === null) return NO_GENERATION;
  try {
    return decodeCooperativeUserData(userData);
  } catch (error) {
    if (error instanceof StreamBusError) return NO_GENERATION;
    throw error;
  }
}
