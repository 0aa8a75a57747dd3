/**
 * Consumer group assignors: the pure functions a group leader's client runs to split the
 * subscribed topics' partitions among the members, and the consumer protocol bytes they read and
 * write. No I/O; the consumer (and the Kafka listener's tests) call these.
 */
export {
  AssignorName,
  CONSUMER_PROTOCOL_TYPE,
  NO_GENERATION,
  RebalanceProtocol,
  type Assignor,
  type GroupAssignment,
  type MemberAssignment,
  type MemberSubscription,
  type OwnedState,
  type Subscription,
  type TopicInfo,
  type TopicMetadata,
  type TopicPartitions,
} from './types.js';
export {
  ASSIGNMENT_VERSION_DEFAULT,
  ASSIGNMENT_VERSION_MAX,
  SUBSCRIPTION_VERSION_MAX,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  memberSubscription,
  type DecodedAssignment,
  type DecodedSubscription,
} from './consumer-protocol.js';
export { decodeCooperativeUserData, decodeStickyUserData, encodeCooperativeUserData, encodeStickyUserData } from './sticky-user-data.js';
export { compareMembers } from './group-view.js';
export { assignRange, rangeAssignor } from './range.js';
export { assignRoundRobin, roundRobinAssignor } from './round-robin.js';
export { assignSticky, stickyAssignor } from './sticky.js';
export { assignCooperativeSticky, cooperativeStickyAssignor } from './cooperative-sticky.js';
export { assignorByName, rebalanceProtocolFor } from './registry.js';
