/**
 * StreamBus client library: `import { StreamBus } from 'streambus'`.
 *
 * ```ts
 * const bus = new StreamBus({ brokers: ['127.0.0.1:9093'] });
 * const producer = bus.producer();
 * const { partition, offset } = await producer.send({ topic: 'orders', key: 'o-17', value: '{"total":12}' });
 *
 * const consumer = bus.consumer({ autoOffsetReset: 'earliest' });
 * consumer.assign([{ topic: 'orders', partition: 0 }]);
 * for await (const message of consumer) console.log(message.offset, message.value?.toString());
 *
 * await bus.close();
 * ```
 *
 * Every operating error is a `StreamBusError` with a stable `code` (see `ErrorCode`) and a
 * `retriable` flag; admin calls over several topics reject with `AdminError`, which lists the
 * failed items. Every public async call accepts `{ signal?: AbortSignal }`.
 *
 * Failover (docs/clients.md): producers and consumers carry on by themselves when a partition's
 * leader moves or a broker dies: they refresh metadata and retry on the new leader, within
 * deliveryTimeoutMs for records. Each broker gets a connection pool with health checks and a
 * circuit breaker, so a dead broker costs one fast failure (BrokerUnavailableError) rather than a
 * timeout per request; requests that get no answer reject with RequestTimeoutError naming the
 * broker and the API.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { Admin } from './admin/admin.js';
import { Cluster } from './cluster/cluster.js';
import { Consumer, type ConsumerOptions } from './consumer/consumer.js';
import { CoordinatorClient } from './coordinator/coordinator-client.js';
import { GroupConsumer, type GroupConsumerOptions } from './group/group-consumer.js';
import type { BrokerHealth } from './network/broker-pool.js';
import { connect as defaultConnect } from './network/connection.js';
import type { ConnectFn } from './network/types.js';
import type { Random } from './policy/random.js';
import { resolveRetryOptions } from './policy/retry.js';
import { Producer, type ProducerOptions } from './producer/producer.js';
import { raceSignal } from './signal.js';
import type { CallOptions } from './types.js';

export { ErrorCode, StreamBusError, errorFromCode, type ErrorName, type StreamBusErrorContext } from '../proto/errors.js';
export { AdminError, BrokerUnavailableError, DeliveryTimeoutError, ProducerFencedError, RequestTimeoutError, type ItemFailure } from './errors.js';
export { BrokerPool, type BrokerHealth, type BrokerPoolOptions } from './network/broker-pool.js';
export { Admission, BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './policy/circuit-breaker.js';
export type {
  Bytes,
  CallOptions,
  Message,
  MessageHeader,
  ProducerRecord,
  RecordHeaders,
  RecordMetadata,
  TopicPartition,
} from './types.js';
export { Producer, type Acks, type ProducerOptions } from './producer/producer.js';
export type { ConsumerGroupMetadata, SendOffsetsSpec, Transaction } from './producer/transaction.js';
export { runTransactional, type RunTransactionalOptions } from './pipeline/run-transactional.js';
export { visibleBatches, controlType, ControlType } from './consumer/transaction-filter.js';
export {
  TRANSACTION_STATES,
  TxnCalls,
  type InitProducerIdSpec,
  type ProducerIdGrant,
  type TransactionDescription,
  type TransactionListing,
  type TransactionState,
  type TxnMember,
  type TxnOffset,
  type TxnOffsetCommitSpec,
} from './coordinator/txn-calls.js';
export {
  Consumer,
  type AssignedPartition,
  type ConsumerOptions,
  type MessageBatch,
  type OffsetReset,
  type RunOptions,
} from './consumer/consumer.js';
export {
  Admin,
  type AdminCallOptions,
  type ClusterDescription,
  type ConfigChange,
  type ConfigDescription,
  type CreatedTopic,
  type DeletedRecords,
  type ListTopicsOptions,
  type NewTopicSpec,
  type OffsetQuery,
  type OffsetResult,
  type OffsetSpec,
  type PartitionDescription,
  type PartitionProducers,
  type ProducerState,
  type PartitionIncrease,
  type RecordDeletion,
  type TopicConfigDescription,
  type TopicDescription,
  type ValidateOptions,
} from './admin/admin.js';
export type { BrokerMetadata } from './cluster/metadata.js';
export { CoordinatorClient } from './coordinator/coordinator-client.js';
export { formatEndpoint, toEndpoint } from './coordinator/endpoints.js';
export type {
  BrokerHeartbeatResult,
  BrokerHeartbeatSpec,
  BrokerListenerSpec,
  BrokerRegistration,
  BrokerRegistrationSpec,
  CoordinatorCallOptions,
  CoordinatorClientLogger,
  CoordinatorClientOptions,
  CoordinatorMember,
  CoordinatorRole,
  CoordinatorStatus,
  CoordinatorValidateOptions,
  CreatedTopics,
  Endpoint,
  FollowMetadataOptions,
  LeadershipTransfer,
  MembershipChange,
  MetadataUpdate,
  MetadataWrite,
  BrokerMaintenanceOutcome,
  PartitionReassignment,
  PartitionReassignmentSpec,
  PartitionReassignments,
  ReassignmentOutcome,
  ReassignPartitionsOutcome,
} from './coordinator/types.js';
export type { GroupCalls } from './coordinator/group-calls.js';
export type * from './coordinator/group-types.js';
export { murmur2, partitionForKey, toPositive } from './policy/murmur2.js';
export * from './group/assignors/index.js';
export {
  GroupConsumer,
  type GroupConsumerOptions,
  type GroupRunOptions,
  type MemberState,
  type RebalanceListener,
} from './group/group-consumer.js';
export { CommitTracker, diffAssignment, type AssignmentDiff, type TrackedOffset } from './group/commit-tracker.js';
export { groupLagSummary, partitionLag, type PartitionLag, type PartitionLagInput } from './group/group-lag.js';
export type { ConnectFn, Connection, ConnectionOptions } from './network/types.js';
export { connect } from './network/connection.js';
export * from './serdes/index.js';

export interface ClientOptions {
  /** Bootstrap brokers as "host:port"; the rest of the cluster is learned from metadata. */
  readonly brokers: readonly string[];
  /** Sent to brokers for their logs and metrics. Default 'streambus-client'. */
  readonly clientId?: string;
  /** How long a request may wait for its answer (produce and fetch add their own waits). Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** How long a TCP connection may take to open. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Metadata older than this is refreshed on next use. Default 300 000. */
  readonly metadataMaxAgeMs?: number;
  /** First backoff between retries of metadata and admin requests. Default 100. */
  readonly retryBackoffMs?: number;
  /** Largest backoff. Default 1000. */
  readonly retryBackoffMaxMs?: number;
  /** Requests in flight per broker connection (all producers and consumers share it). Default 32. */
  readonly maxInFlightPerConnection?: number;
  /** Connections kept to each broker; requests go to the least busy one. Default 1 (requests pipeline). */
  readonly connectionsPerBroker?: number;
  /** A connection idle this long is pinged (ApiVersions) and closed if it does not answer; 0 turns pings off. Default 30 000. */
  readonly healthCheckIntervalMs?: number;
  /** Consecutive failures (connects, dropped connections, timeouts) that open a broker's circuit. Default 3. */
  readonly breakerFailureThreshold?: number;
  /** How long an open circuit fails requests at once before one probe is let through. Default 1000. */
  readonly breakerCooldownMs?: number;
  /**
   * How long UNKNOWN_TOPIC_OR_PARTITION is retried, from its first occurrence, before producers
   * and consumers give up on it: right after a create some brokers have not applied the new
   * metadata yet. Default 10 000.
   */
  readonly unknownTopicRetryMs?: number;
  /** Random source for jitter and sticky partitions; pass a seeded one to make runs reproducible. Default Math.random. */
  readonly random?: Random;
  /** Opens a connection; replace it to run the client over a simulated network. */
  readonly connect?: ConnectFn;
  /**
   * Coordinator API addresses ("host:port") for consumer groups; one reachable node is enough.
   * Default: the brokers, which is right for `streambus dev` (one process serves both).
   */
  readonly coordinators?: readonly string[];
}

interface Closable {
  close(options?: CallOptions): Promise<void>;
}

/**
 * A client of one StreamBus cluster. It owns a connection pool per broker (one connection by
 * default, health-checked, behind a circuit breaker), shared by every producer, consumer and admin
 * it creates, and a metadata cache that is refreshed on demand for the topics in use
 * (single-flight: concurrent needs share one request), every metadataMaxAgeMs, and whenever a
 * broker reports stale leadership or stops answering.
 */
export class StreamBus {
  readonly #cluster: Cluster;
  readonly #random: Random;
  readonly #requestTimeoutMs: number;
  readonly #unknownTopicRetryMs: number;
  readonly #coordinators: readonly string[];
  readonly #clientId: string;
  /** A replaced ConnectFn (a simulated network) reaches the coordinators too. */
  readonly #connect: ConnectFn | undefined;
  readonly #children = new Set<Closable>();
  /** The coordinator client producers (producer ids, transactions) and the admin share; made on first use. */
  #coordinatorClient: CoordinatorClient | undefined;
  #closed: Promise<void> | undefined;

  /**
   * Validates the options; connects lazily, on first use. Throws StreamBusError INVALID_REQUEST
   * for a malformed broker address and INVALID_CONFIG for an out-of-range option.
   */
  constructor(options: ClientOptions) {
    if (options === null || typeof options !== 'object' || !Array.isArray(options.brokers)) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'StreamBus needs { brokers: ["host:port", ...] }');
    }
    const positive = (name: string, value: number | undefined, fallback: number): number => {
      const v = value ?? fallback;
      if (!Number.isFinite(v) || v <= 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive number, got ${String(value)}`);
      return v;
    };
    const count = (name: string, value: number | undefined, fallback: number, min: number): number => {
      const v = value ?? fallback;
      if (!Number.isSafeInteger(v) || v < min) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be an integer >= ${min}, got ${String(value)}`);
      return v;
    };
    this.#random = options.random ?? Math.random;
    this.#requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 30_000);
    this.#unknownTopicRetryMs = count('unknownTopicRetryMs', options.unknownTopicRetryMs, 10_000, 0);
    this.#coordinators = options.coordinators ?? options.brokers;
    this.#clientId = options.clientId ?? 'streambus-client';
    this.#connect = options.connect;
    this.#cluster = new Cluster({
      brokers: options.brokers,
      clientId: options.clientId ?? 'streambus-client',
      requestTimeoutMs: this.#requestTimeoutMs,
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
      metadataMaxAgeMs: positive('metadataMaxAgeMs', options.metadataMaxAgeMs, 300_000),
      retry: resolveRetryOptions({
        backoffMs: positive('retryBackoffMs', options.retryBackoffMs, 100),
        backoffMaxMs: positive('retryBackoffMaxMs', options.retryBackoffMaxMs, 1000),
      }),
      random: this.#random,
      connect: options.connect ?? defaultConnect,
      now: Date.now,
      maxInFlightPerConnection: positive('maxInFlightPerConnection', options.maxInFlightPerConnection, 32),
      connectionsPerBroker: count('connectionsPerBroker', options.connectionsPerBroker, 1, 1),
      healthCheckIntervalMs: count('healthCheckIntervalMs', options.healthCheckIntervalMs, 30_000, 0),
      breaker: {
        failureThreshold: count('breakerFailureThreshold', options.breakerFailureThreshold, 3, 1),
        cooldownMs: count('breakerCooldownMs', options.breakerCooldownMs, 1000, 0),
      },
    });
  }

  /**
   * The health of this client's connection pool to each broker address it has used or knows:
   * circuit state ('closed', 'open', 'half-open'), consecutive failures, open connections and
   * requests in flight.
   */
  brokerHealth(): BrokerHealth[] {
    return this.#cluster.brokerHealth();
  }

  /**
   * A new producer. With the default acks 'all', a send() promise resolves once the record is
   * durable on every in-sync replica; it is idempotent by default (retries never duplicate a
   * record), and with a `transactionalId` it runs transactions (producer.transaction()). See
   * ProducerOptions for batching, buffering and retries.
   */
  producer(options: ProducerOptions = {}): Producer {
    this.#assertOpen();
    const producer = new Producer(
      {
        cluster: this.#cluster,
        random: this.#random,
        now: Date.now,
        requestTimeoutMs: this.#requestTimeoutMs,
        unknownTopicRetryMs: this.#unknownTopicRetryMs,
        transactions: this.#coordinatorsShared().transactions,
      },
      options,
    );
    this.#children.add(producer);
    return producer;
  }

  /**
   * A new consumer. With `groupId` it is a member of that consumer group (subscribe(), run(),
   * commit(): see GroupConsumer and docs/groups.md); without, it has manual partition assignment
   * (assign/seek) and fetches nothing until assigned.
   */
  consumer(options: GroupConsumerOptions): GroupConsumer;
  consumer(options?: ConsumerOptions): Consumer;
  consumer(options: ConsumerOptions | GroupConsumerOptions = {}): Consumer | GroupConsumer {
    this.#assertOpen();
    if ('groupId' in options) return this.#groupConsumer(options);
    const consumer = new Consumer(
      { cluster: this.#cluster, random: this.#random, now: Date.now, requestTimeoutMs: this.#requestTimeoutMs, unknownTopicRetryMs: this.#unknownTopicRetryMs },
      options,
    );
    this.#children.add(consumer);
    return consumer;
  }

  #groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    const { groupId: _g, groupInstanceId: _i, assignors: _a, sessionTimeoutMs: _s, rebalanceTimeoutMs: _r, heartbeatIntervalMs: _h, autoCommit: _c, autoCommitIntervalMs: _ci, topicRefreshMs: _t, ...consumerOptions } = options;
    const consumer = new Consumer(
      { cluster: this.#cluster, random: this.#random, now: Date.now, requestTimeoutMs: this.#requestTimeoutMs, unknownTopicRetryMs: this.#unknownTopicRetryMs },
      consumerOptions,
    );
    const coordinators = new CoordinatorClient({ bootstrap: this.#coordinators, clientId: this.#clientId, requestTimeoutMs: this.#requestTimeoutMs, random: this.#random });
    const admin = this.admin();
    let group: GroupConsumer;
    try {
      group = new GroupConsumer(
        {
          cluster: this.#cluster,
          consumer,
          groups: coordinators.groups,
          listTopics: (signal) => admin.listTopics({ signal }),
          onClose: () => coordinators.close(),
          clientRack: options.clientRack,
        },
        options,
      );
    } catch (error) {
      void consumer.close();
      void coordinators.close();
      throw error;
    }
    this.#children.add(group);
    return group;
  }

  /** The admin client. Cheap: it shares this client's connections and holds no state of its own. */
  admin(): Admin {
    this.#assertOpen();
    return new Admin({ cluster: this.#cluster, now: Date.now, requestTimeoutMs: this.#requestTimeoutMs, transactions: () => this.#coordinatorsShared().transactions });
  }

  #coordinatorsShared(): CoordinatorClient {
    this.#coordinatorClient ??= new CoordinatorClient({
      bootstrap: this.#coordinators,
      clientId: this.#clientId,
      requestTimeoutMs: this.#requestTimeoutMs,
      random: this.#random,
      ...(this.#connect === undefined ? {} : { connect: this.#connect }),
    });
    return this.#coordinatorClient;
  }

  /**
   * Closes every producer (flushing: pending records get their outcome first), every consumer
   * (iterators end), then the connections. Aborting the signal stops waiting for the flush:
   * records still pending fail with NETWORK_EXCEPTION. Idempotent.
   */
  close(options: CallOptions = {}): Promise<void> {
    this.#closed ??= this.#close(options.signal);
    return this.#closed;
  }

  async #close(signal?: AbortSignal): Promise<void> {
    const children = [...this.#children];
    this.#children.clear();
    try {
      const closing = Promise.allSettled(children.map((child) => child.close(signal === undefined ? {} : { signal })));
      await raceSignal(closing, signal).catch(() => undefined);
    } finally {
      await this.#coordinatorClient?.close();
      await this.#cluster.close();
    }
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'the StreamBus client is closed');
  }
}

/** Same as `new StreamBus(options)`. */
export function createClient(options: ClientOptions): StreamBus {
  return new StreamBus(options);
}
