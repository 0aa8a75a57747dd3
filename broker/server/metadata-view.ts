/**
 * What the broker needs to know about the cluster, and whom it asks to change it.
 *
 * The broker reads metadata through `MetadataView` (a local, followed copy of the coordinator's
 * committed log) and sends admin requests through `ControllerGateway`. In `streambus dev` both
 * are in the same process; with separate coordinator processes they become a log follower and an
 * RPC client. The broker does not care which.
 */
import type * as M from '../../proto/messages.js';
import type {
  BrokerHeartbeatRequest,
  BrokerHeartbeatResult,
  BrokerRegistrationOutcome,
  BrokerRegistrationRequest,
  ResolvedTopicConfig,
  TopicConfigEntry,
} from '../../coordinator/index.js';

export interface PartitionView {
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** The compare-and-set token of ISR changes (AlterPartition); absent: the leader never asks for one. */
  readonly partitionEpoch?: number;
}

export interface TopicView {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: readonly PartitionView[];
  /** The topic's own overrides (validated, canonical). */
  readonly configs: Readonly<Record<string, string>>;
}

export interface BrokerView {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

export interface MetadataView {
  readonly clusterId: string;
  readonly controllerId: number;
  /** Offset of the last metadata record applied to this view; -1 before any. */
  readonly offset: number;
  topic(name: string): TopicView | undefined;
  topics(): Iterable<TopicView>;
  brokers(): Iterable<BrokerView>;
  /** Called after each batch of records is applied. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Admin results carry the metadata offset at which their effect is visible. */
export interface AdminResult<T> {
  readonly results: T[];
  readonly metadataOffset: number;
}

export interface ControllerGateway {
  createTopics(request: M.CreateTopicsRequest, defaults: TopicDefaults): Promise<AdminResult<M.TopicResult>>;
  deleteTopics(request: M.DeleteTopicsRequest): Promise<AdminResult<M.TopicResult>>;
  alterConfigs(request: M.AlterConfigsRequest): Promise<AdminResult<M.TopicResult>>;
  createPartitions(request: M.CreatePartitionsRequest): Promise<AdminResult<M.TopicResult>>;
  /**
   * Registers this broker process (a fresh incarnation id per start) and resolves with its broker
   * epoch; the registration starts fenced. Rejects with the coordinator's StreamBusError.
   */
  registerBroker(request: BrokerRegistrationRequest): Promise<BrokerRegistrationOutcome>;
  /**
   * Sends one heartbeat; resolves with whether the broker is now fenced. Rejects with
   * STALE_BROKER_EPOCH or BROKER_ID_NOT_REGISTERED when the broker must register again.
   */
  brokerHeartbeat(request: BrokerHeartbeatRequest): Promise<BrokerHeartbeatResult>;
}

export interface TopicDefaults {
  readonly numPartitions: number;
  readonly replicationFactor: number;
}

/** Turns a topic's overrides (plus broker-wide defaults) into typed settings and described entries. */
export interface TopicConfigResolver {
  resolve(overrides: Readonly<Record<string, string>>): ResolvedTopicConfig;
  describe(overrides: Readonly<Record<string, string>>): TopicConfigEntry[];
}
