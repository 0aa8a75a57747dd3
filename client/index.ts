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
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { Admin } from './admin/admin.js';
import { Cluster, type ConnectFn } from './cluster/cluster.js';
import { Consumer, type ConsumerOptions } from './consumer/consumer.js';
import { connect as defaultConnect } from './network/connection.js';
import type { Random } from './policy/random.js';
import { resolveRetryOptions } from './policy/retry.js';
import { Producer, type ProducerOptions } from './producer/producer.js';
import { raceSignal } from './signal.js';
import type { CallOptions } from './types.js';

export { ErrorCode, StreamBusError, errorFromCode, type ErrorName, type StreamBusErrorContext } from '../proto/errors.js';
export { AdminError, type ItemFailure } from './errors.js';
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
} from './coordinator/types.js';
export { murmur2, partitionForKey, toPositive } from './policy/murmur2.js';
export type { Connection, ConnectionOptions } from './network/types.js';
export { connect } from './network/connection.js';

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
  /** Random source for jitter and sticky partitions; pass a seeded one to make runs reproducible. Default Math.random. */
  readonly random?: Random;
  /** Opens a connection; replace it to run the client over a simulated network. */
  readonly connect?: ConnectFn;
}

interface Closable {
  close(options?: CallOptions): Promise<void>;
}

/**
 * A client of one StreamBus cluster. It owns one connection per broker, shared by every producer,
 * consumer and admin it creates, and a metadata cache that is refreshed on demand for the topics
 * in use (single-flight: concurrent needs share one request) and whenever a broker reports stale
 * leadership.
 */
export class StreamBus {
  readonly #cluster: Cluster;
  readonly #random: Random;
  readonly #requestTimeoutMs: number;
  readonly #children = new Set<Closable>();
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
    this.#random = options.random ?? Math.random;
    this.#requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 30_000);
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
    });
  }

  /**
   * A new producer. With the default acks 'all', a send() promise resolves once the record is
   * durable on every in-sync replica; see ProducerOptions for batching, buffering and retries.
   */
  producer(options: ProducerOptions = {}): Producer {
    this.#assertOpen();
    const producer = new Producer({ cluster: this.#cluster, random: this.#random, now: Date.now, requestTimeoutMs: this.#requestTimeoutMs }, options);
    this.#children.add(producer);
    return producer;
  }

  /** A new consumer with manual partition assignment (assign/seek); it fetches nothing until assigned. */
  consumer(options: ConsumerOptions = {}): Consumer {
    this.#assertOpen();
    const consumer = new Consumer({ cluster: this.#cluster, random: this.#random, now: Date.now, requestTimeoutMs: this.#requestTimeoutMs }, options);
    this.#children.add(consumer);
    return consumer;
  }

  /** The admin client. Cheap: it shares this client's connections and holds no state of its own. */
  admin(): Admin {
    this.#assertOpen();
    return new Admin({ cluster: this.#cluster, now: Date.now, requestTimeoutMs: this.#requestTimeoutMs });
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
