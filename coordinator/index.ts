/**
 * The coordinator part's public entry: cluster metadata (topic configs, the command log, the state
 * machine, the controller), the metadata log and its single-node implementation, the broker-side
 * MetadataCache, and the Coordinator service.
 */
export {
  Coordinator,
  type AdminOptions,
  type AdminOutcome,
  type BrokerHeartbeatResult,
  type BrokerRegistrationOutcome,
  type CoordinatorOptions,
  type CreateTopicsOptions,
  type ValidateOnlyOptions,
} from './coordinator.js';
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
  type CreatePartitionsCommand,
  type CreateTopicCommand,
  type DeleteTopicCommand,
  type FenceBrokerCommand,
  type InitClusterCommand,
  type MetadataCommand,
  type MetadataRecord,
  type NoOpCommand,
  type PartitionAssignment,
  type RegisterBrokerCommand,
  type UnfenceBrokerCommand,
} from './metadata/commands.js';
export {
  METADATA_SNAPSHOT_VERSION,
  MetadataEventType,
  MetadataState,
  type BrokerRegistration,
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
export { LocalMetadataLog, type LocalMetadataLogOptions } from './metadata-log/local-metadata-log.js';
export { MemoryMetadataLog } from './metadata-log/memory-metadata-log.js';
