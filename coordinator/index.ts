/**
 * The coordinator part's public entry: cluster metadata (topic configs, the command log, the state
 * machine, the controller), the metadata logs (the Raft-replicated one, and an in-memory one for
 * tests), the broker-side MetadataCache, the Coordinator service on Raft, the node that assembles
 * it with its metrics and health checks, and its protocol handler.
 */
export {
  Coordinator,
  type AdminOptions,
  type AdminOutcome,
  type BrokerHeartbeatResult,
  type BrokerRegistrationOutcome,
  type ControllerSettings,
  type CoordinatorOptions,
  type CreateTopicsOptions,
  type HeartbeatOptions,
  type ValidateOnlyOptions,
} from './coordinator.js';
// Consumer groups and committed offsets, served by the coordinator leader.
export * from './groups/index.js';
// Producer ids and transactions, served by the coordinator leader.
export * from './transactions/index.js';
// The Confluent-compatible schema registry, its store in the metadata and its REST API.
export * from './schema-registry/index.js';
export { CoordinatorNode, type CoordinatorNodeOptions, type NodeHealth, type RaftSettings } from './service/coordinator-node.js';
export { CoordinatorMetrics, type CoordinatorMetricsOptions, type CoordinatorMetricsSource } from './service/coordinator-metrics.js';
export {
  CoordinatorHandler,
  configOpFromWire,
  coordinatorNodeApis,
  electLeadersFromWire,
  createTopicFromWire,
  membershipFromWire,
  topicResultToWire,
  type CoordinatorHandlerOptions,
  type CoordinatorNodeApi,
} from './service/handler.js';
export { META_PROPERTIES_FILE, checkClusterId, newClusterId, resolveIdentity, type NodeIdentity } from './service/meta-properties.js';
export { formatVoters, parseVoters } from './service/voters.js';
export type {
  BrokerConnection,
  BrokerHeartbeatOutcome as CoordinatorHeartbeatOutcome,
  BrokerHeartbeatRequest as CoordinatorHeartbeatRequest,
  CoordinatorApi,
  CoordinatorMemberStatus,
  CoordinatorNodeStatus,
  Endpoint,
  MembershipChangeRequest,
  MetadataFetchResult,
} from './service/coordinator-api.js';
export { type Logger, silentLogger } from './logger.js';

export {
  TopicConfigSource,
  TopicConfigType,
  describeTopicConfigs,
  isTopicConfigName,
  resolveTopicConfig,
  suggestTopicConfigName,
  topicConfigDefinitions,
  topicConfigKeyProblem,
  validateTopicConfigs,
  type ResolvedTopicConfig,
  type TimestampType,
  type TopicConfigDefinition,
  type TopicConfigEntry,
  type TopicConfigName,
} from './metadata/topic-config.js';
export { TOPIC_NAME_MAX_LENGTH, topicCollisionKey, topicNameProblem, validateTopicName } from './metadata/topic-name.js';

export {
  METADATA_ENVELOPE_VERSION,
  MetadataCommandType,
  decodeMetadataCommand,
  encodeMetadataCommand,
  type AlterTopicConfigsCommand,
  type BrokerListener,
  type ChangePartitionCommand,
  type CreatePartitionsCommand,
  type CreateTopicCommand,
  type DeleteTopicCommand,
  type FenceBrokerCommand,
  type InitClusterCommand,
  type MetadataCommand,
  type MetadataRecord,
  type NoOpCommand,
  type CoordinatorEndpoint,
  type PartitionAssignment,
  type RegisterBrokerCommand,
  type RegisterCoordinatorCommand,
  type UnfenceBrokerCommand,
} from './metadata/commands.js';
export {
  METADATA_SNAPSHOT_VERSION,
  MetadataEventType,
  MetadataState,
  type BrokerRegistration,
  type CoordinatorRegistration,
  type MetadataEvent,
  type MetadataSnapshot,
  type MetadataStateView,
  type TopicImage,
} from './metadata/state.js';
export { MetadataAssertionError } from './metadata/assert.js';
export { type RandomSource, randomClusterId, randomUuid, seededRandomSource } from './metadata/random.js';
export {
  DEFAULT_MAX_PARTITIONS_PER_TOPIC,
  alterConfigs,
  brokerHeartbeat,
  createPartitions,
  createTopics,
  deleteTopics,
  describeConfigs,
  fenceBroker,
  placeReplicas,
  placementBrokers,
  registerBroker,
  type AlterConfigsRequest,
  type BrokerHeartbeatOutcome,
  type BrokerHeartbeatRequest,
  type BrokerRegistrationRequest,
  type ConfigOp,
  type ControllerOutcome,
  type CreatePartitionsOptions,
  type CreatePartitionsRequest,
  type CreateTopicRequest,
  type CreateTopicResult,
  type CreateTopicsOptions as ControllerCreateTopicsOptions,
  type DescribeConfigsResult,
  type PlacementBroker,
  type RegisterBrokerOutcome,
  type TopicDefaults,
  type TopicResult,
} from './metadata/controller.js';
export {
  ElectionType,
  brokerReturns,
  electLeaders,
  preferredRebalance,
  removeBrokers,
  uncleanAllowed,
  type ElectLeadersRequest,
  type ElectionResult,
  type LeaderElectionOptions,
} from './metadata/leader-election.js';
export {
  afterChange,
  alterPartition,
  liveBrokerIds,
  partitionChange,
  type AlterPartitionItem,
  type AlterPartitionRequest,
  type AlterPartitionResult,
  type PartitionTarget,
} from './metadata/partition-change.js';
export {
  alterPartitionReassignments,
  listPartitionReassignments,
  type OngoingReassignment,
  type ReassignmentListRequest,
  type ReassignmentRequest,
  type ReassignmentResult,
} from './metadata/reassignment.js';
export { proposeReassignment, type PlannedPartition } from './metadata/reassignment-plan.js';
export { brokerMaintenance, type BrokerMaintenanceOutcome, type BrokerMaintenanceRequest } from './metadata/maintenance.js';
export {
  brokerStates,
  completion,
  drainHandover,
  eligibleLeader,
  isReassigning,
  reassignmentOrigin,
  reassignmentTarget,
  settle,
  type BrokerStates,
} from './metadata/partition-rules.js';
export {
  BrokerSessions,
  DEFAULT_BROKER_SESSION_TIMEOUT_MS,
  type BrokerSession,
  type BrokerSessionsOptions,
} from './metadata/broker-sessions.js';
export {
  MetadataCache,
  type FollowableLog,
  type MetadataFollowOptions,
  type MetadataFollower,
  type MetadataUpdate,
} from './metadata/cache.js';

export {
  MAX_READ_RECORDS,
  type MetadataAppendOptions,
  type MetadataLog,
  type MetadataLogSnapshot,
} from './metadata-log/metadata-log.js';
export { MemoryMetadataLog } from './metadata-log/memory-metadata-log.js';
export {
  RaftMetadataLog,
  decodeEntryPayload,
  encodeEntryPayload,
  type RaftMetadataLogOptions,
  type RaftProposer,
} from './metadata-log/raft-metadata-log.js';
export { coordinatorRecord, raftPeers } from './metadata/coordinator-endpoints.js';
