/**
 * Consumer groups on the coordinator: the pure group state machine (group.ts), the log commands
 * and applied state of groups and offsets (group-commands.ts, group-store.ts), the offset-commit
 * batcher (offset-batcher.ts), the leader's shell (group-coordinator.ts) and the group APIs of the
 * native protocol (group-api.ts). docs/groups.md explains the design.
 */
export { Group, type GroupAction, type GroupContext } from './group.js';
export {
  DEFAULT_GROUP_COORDINATOR_SETTINGS,
  GroupCoordinator,
  groupCoordinatorSettings,
  type CoordinatorPhase,
  type GroupCallOptions,
  type GroupCoordinatorApi,
  type GroupCoordinatorOptions,
  type GroupCoordinatorSettings,
  type ListGroupsFilter,
} from './group-coordinator.js';
export { findCoordinator, groupApis, groupHandlers, type GroupApi } from './group-api.js';
export {
  GroupCommandType,
  MAX_GROUP_ID_LENGTH,
  isGroupCommand,
  commitOffsetsCommand,
  type CommitOffsetsCommand,
  type CommittedPartition,
  type GroupOffsetCommits,
  type DeleteGroupCommand,
  type DeleteOffsetsCommand,
  type ExpireOffsetsCommand,
  type GroupCommand,
  type OffsetCommitEntry,
  type OffsetKey,
  type StoreGroupCommand,
  type StoredGroup,
  type StoredMember,
} from './group-commands.js';
export { GroupStore, type GroupImage, type GroupStoreView, type PartitionOffsetImage, type TopicOffsetsImage } from './group-store.js';
export { OffsetBatcher, type OffsetBatcherOptions, type OffsetBatcherStats } from './offset-batcher.js';
export { encodeSubscription, subscribedTopics } from './consumer-protocol.js';
export * from './group-types.js';
