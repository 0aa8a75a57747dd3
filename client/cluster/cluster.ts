/**
 * The cluster as the client sees it: bootstrap, a metadata cache for the topics in use, and one
 * connection per broker address.
 *
 * Metadata refreshes are single-flight: concurrent callers share the refresh in flight, and a
 * caller that needs a topic the running refresh did not ask for gets exactly one follow-up refresh
 * (shared with everyone else who arrived meanwhile). A refresh asks for every topic in use, so the
 * cache never forgets a topic some producer or consumer still needs.
 *
 * Connections are keyed by "host:port": the bootstrap connection is reused as that broker's node
 * connection when the broker advertises the same address. A connection that failed (its
 * `connected` turned false) is replaced on next use.
 */
import type { ApiName, RequestOf, ResponseOf } from '../../proto/index.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type { Connection, ConnectionOptions } from '../network/types.js';
import { decideRetry, type ResolvedRetryOptions } from '../policy/retry.js';
import type { Random } from '../policy/random.js';
import { delay, throwIfAborted } from '../signal.js';
import {
  brokersFromWire,
  parseBrokerAddress,
  topicFromWire,
  type BrokerMetadata,
  type MetadataSnapshot,
  type TopicMetadata,
} from './metadata.js';

export type ConnectFn = (options: ConnectionOptions) => Promise<Connection>;

export interface ClusterOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Metadata older than this is refreshed on next use. */
  readonly metadataMaxAgeMs: number;
  readonly retry: ResolvedRetryOptions;
  readonly random: Random;
  readonly connect: ConnectFn;
  readonly now: () => number;
  /** Requests in flight per connection (the transport's own limit). */
  readonly maxInFlightPerConnection: number;
}

/** Topic errors that mean "ask again soon": the topic is being created or a leader is moving. */
/** Sent in ApiVersions so operators can tell client libraries apart. */
const CLIENT_SOFTWARE = 'streambus-js';

const RETRIABLE_METADATA_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
]);

/** Whether an error from a request or a partition result calls for a metadata refresh. */
export function isStaleMetadataError(code: number): boolean {
  return RETRIABLE_METADATA_ERRORS.has(code) || code === ErrorCode.NETWORK_EXCEPTION || code === ErrorCode.NOT_CONTROLLER;
}

export interface RequestTargetOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

interface Refresh {
  readonly promise: Promise<void>;
  readonly topics: ReadonlySet<string>;
}

export class Cluster {
  readonly #options: ClusterOptions;
  readonly #bootstrap: { host: string; port: number }[];
  readonly #connections = new Map<string, Promise<Connection>>();
  /** Topics some producer, consumer or admin call needs → how many users hold them. */
  readonly #tracked = new Map<string, number>();
  readonly #topics = new Map<string, TopicMetadata>();
  readonly #topicErrors = new Map<string, StreamBusError>();
  #snapshot: MetadataSnapshot = { clusterId: '', controllerId: -1, brokers: new Map(), metadataOffset: -1 };
  #refreshedMs = Number.NEGATIVE_INFINITY;
  #refresh: Refresh | undefined;
  #followUp: Promise<void> | undefined;
  #bootstrapIndex = 0;
  #closed = false;
  readonly #listeners = new Set<() => void>();

  constructor(options: ClusterOptions) {
    if (options.brokers.length === 0) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'brokers must list at least one "host:port" address');
    }
    this.#options = options;
    this.#bootstrap = options.brokers.map((address) => {
      const parsed = parseBrokerAddress(address);
      if (parsed === undefined) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `broker address "${address}" is not "host:port"`);
      }
      return parsed;
    });
    // Spread many clients' first connections over the bootstrap list.
    this.#bootstrapIndex = Math.floor(options.random() * this.#bootstrap.length);
  }

  get options(): ClusterOptions {
    return this.#options;
  }

  get snapshot(): MetadataSnapshot {
    return this.#snapshot;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Cached metadata of a topic, or undefined if not (yet) known. */
  topic(name: string): TopicMetadata | undefined {
    return this.#topics.get(name);
  }

  /** The leader's node id, or undefined when unknown or leaderless. */
  leaderOf(topic: string, partition: number): number | undefined {
    const leader = this.#topics.get(topic)?.partitions[partition]?.leader;
    return leader === undefined || leader < 0 ? undefined : leader;
  }

  broker(nodeId: number): BrokerMetadata | undefined {
    return this.#snapshot.brokers.get(nodeId);
  }

  /** Called after every metadata update (producers re-drain, consumers re-route fetches). */
  onMetadata(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds topics to the set every refresh asks for. Pair with untrack(). */
  track(topics: Iterable<string>): void {
    for (const topic of topics) this.#tracked.set(topic, (this.#tracked.get(topic) ?? 0) + 1);
  }

  untrack(topics: Iterable<string>): void {
    for (const topic of topics) {
      const count = (this.#tracked.get(topic) ?? 0) - 1;
      if (count > 0) this.#tracked.set(topic, count);
      else this.#tracked.delete(topic);
    }
  }

  /** True when the cache is older than metadataMaxAgeMs. */
  get stale(): boolean {
    return this.#options.now() - this.#refreshedMs >= this.#options.metadataMaxAgeMs;
  }

  /**
   * Refreshes metadata for every tracked topic. Single-flight: joins the refresh in flight when it
   * covers the tracked topics, else shares one follow-up refresh.
   */
  refreshMetadata(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const running = this.#refresh;
    if (running !== undefined) {
      let covered = true;
      for (const topic of this.#tracked.keys()) {
        if (!running.topics.has(topic)) {
          covered = false;
          break;
        }
      }
      if (covered) return running.promise;
      this.#followUp ??= running.promise
        .catch(() => undefined)
        .then(() => {
          this.#followUp = undefined;
          return this.refreshMetadata();
        });
      return this.#followUp;
    }
    const topics = new Set(this.#tracked.keys());
    const promise = this.#runRefresh(topics).finally(() => {
      if (this.#refresh?.promise === promise) this.#refresh = undefined;
    });
    this.#refresh = { promise, topics };
    return promise;
  }

  /**
   * Metadata of one topic, fetched if not cached. Retriable topic errors (the topic is being
   * created, a leader is moving) are retried with backoff until `deadlineMs`; then, or for a
   * non-retriable error, rejects with the topic's StreamBusError.
   */
  async topicMetadata(
    name: string,
    options: { signal?: AbortSignal | undefined; deadlineMs?: number | undefined; allowAutoCreate?: boolean } = {},
  ): Promise<TopicMetadata> {
    const cached = this.#topics.get(name);
    if (cached !== undefined) return cached;
    const deadlineMs = options.deadlineMs ?? this.#options.now() + this.#options.requestTimeoutMs;
    if (!this.#tracked.has(name)) {
      // Tracked for as long as the cache holds it; users that need it long-term track it too.
      this.track([name]);
    }
    if (options.allowAutoCreate === true) {
      // One lookup of this topic alone may create it (a producer about to write to it). The
      // shared refreshes below never ask for creation, so a topic deleted while this client
      // still remembers it stays deleted.
      const connection = await this.anyConnection();
      const response = await connection.request('METADATA', { topics: [name], allTopics: false, allowAutoTopicCreation: true }, options.signal === undefined ? {} : { signal: options.signal });
      this.applyMetadata(response, new Set([name]));
      const created = this.#topics.get(name);
      if (created !== undefined) return created;
    }
    for (let retriesDone = 0; ; retriesDone++) {
      let failure: StreamBusError;
      try {
        await this.refreshMetadata(options.signal);
        const topic = this.#topics.get(name);
        if (topic !== undefined) return topic;
        failure =
          this.#topicErrors.get(name) ??
          new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" is not in the metadata`, { context: { topic: name } });
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        failure = error;
      }
      const decision = decideRetry(
        { retriesDone, retriable: failure.retriable, nowMs: this.#options.now(), deadlineMs },
        this.#options.retry,
        this.#options.random,
      );
      if (!decision.retry) throw failure;
      await delay(decision.delayMs, options.signal);
    }
  }

  /** The error the last metadata answer gave for a topic, if any. */
  topicError(name: string): StreamBusError | undefined {
    return this.#topicErrors.get(name);
  }

  /** The connection to a broker node; connects (or reconnects) as needed. */
  connection(nodeId: number, signal?: AbortSignal): Promise<Connection> {
    const broker = this.#snapshot.brokers.get(nodeId);
    if (broker === undefined) {
      return Promise.reject(
        new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${nodeId} is not in the metadata`, { context: { broker: String(nodeId) } }),
      );
    }
    return this.#connectTo(broker.host, broker.port, signal);
  }

  /**
   * Sends a request to a node picked by `target` (called again on every attempt, so it sees fresh
   * metadata), retrying retriable failures (connection errors, NOT_CONTROLLER, timeouts) with
   * backoff until the deadline. Errors inside the response body are the caller's to judge.
   */
  async requestWithRetry<A extends ApiName>(
    api: A,
    body: RequestOf<A>,
    target: 'any' | 'controller' | (() => number | undefined),
    options: RequestTargetOptions & { deadlineMs?: number | undefined } = {},
  ): Promise<ResponseOf<A>> {
    const deadlineMs = options.deadlineMs ?? this.#options.now() + this.#options.requestTimeoutMs;
    for (let retriesDone = 0; ; retriesDone++) {
      throwIfAborted(options.signal);
      let failure: StreamBusError;
      try {
        const connection = await this.#targetConnection(target, options.signal);
        return await connection.request(api, body, requestOptions(options));
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        failure = error;
      }
      const decision = decideRetry(
        { retriesDone, retriable: failure.retriable, nowMs: this.#options.now(), deadlineMs },
        this.#options.retry,
        this.#options.random,
      );
      if (!decision.retry) throw failure;
      if (isStaleMetadataError(failure.code)) this.refreshMetadata().catch(() => undefined);
      await delay(decision.delayMs, options.signal);
    }
  }

  /** Any live connection: a connected node first, else a known broker, else the bootstrap list. */
  async anyConnection(signal?: AbortSignal): Promise<Connection> {
    for (const pending of this.#connections.values()) {
      const connection = await pending.catch(() => undefined);
      if (connection?.connected === true) return connection;
    }
    const candidates = [...this.#snapshot.brokers.values()].map((b) => ({ host: b.host, port: b.port }));
    for (let i = 0; i < this.#bootstrap.length; i++) {
      candidates.push(this.#bootstrap[(this.#bootstrapIndex + i) % this.#bootstrap.length]!);
    }
    let lastError: unknown;
    for (const { host, port } of candidates) {
      throwIfAborted(signal);
      try {
        return await this.#connectTo(host, port, signal);
      } catch (error) {
        lastError = error;
      }
    }
    this.#bootstrapIndex++;
    throw new StreamBusError(
      ErrorCode.NETWORK_EXCEPTION,
      `could not connect to any broker (tried ${candidates.map((c) => `${c.host}:${c.port}`).join(', ')})`,
      { cause: lastError },
    );
  }

  /** Closes every connection. Pending requests fail with NETWORK_EXCEPTION. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(pending.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }

  async #targetConnection(target: 'any' | 'controller' | (() => number | undefined), signal?: AbortSignal): Promise<Connection> {
    if (target === 'any') return this.anyConnection(signal);
    if (target === 'controller') {
      const controllerId = this.#snapshot.controllerId;
      if (controllerId >= 0 && this.#snapshot.brokers.has(controllerId)) return this.connection(controllerId, signal);
      return this.anyConnection(signal);
    }
    const nodeId = target();
    if (nodeId === undefined) {
      throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, 'no leader is known for the request\'s partitions');
    }
    return this.connection(nodeId, signal);
  }

  #connectTo(host: string, port: number, signal?: AbortSignal): Promise<Connection> {
    if (this.#closed) return Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client is closed'));
    const key = `${host}:${port}`;
    const existing = this.#connections.get(key);
    if (existing !== undefined) {
      return existing.then((connection) => {
        if (connection.connected) return connection;
        if (this.#connections.get(key) === existing) this.#connections.delete(key);
        return this.#connectTo(host, port, signal);
      });
    }
    const options: ConnectionOptions = {
      host,
      port,
      clientId: this.#options.clientId,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      maxInFlight: this.#options.maxInFlightPerConnection,
    };
    const pending = this.#options.connect(options).then(
      (connection) => {
        if (this.#closed) {
          void connection.close();
          throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client is closed');
        }
        // The first request on a connection names the client, so the broker's logs and request
        // contexts carry its id. It is pipelined, not awaited: requests queued behind it reach the
        // broker after it, and nothing depends on its answer yet.
        connection
          .request('API_VERSIONS', { clientId: this.#options.clientId, clientSoftware: CLIENT_SOFTWARE })
          .catch(() => undefined);
        return connection;
      },
      (error: unknown) => {
        if (this.#connections.get(key) === pending) this.#connections.delete(key);
        if (error instanceof StreamBusError) throw error;
        throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `could not connect to ${key}`, { cause: error, context: { broker: key } });
      },
    );
    this.#connections.set(key, pending);
    return pending;
  }

  async #runRefresh(topics: ReadonlySet<string>): Promise<void> {
    const connection = await this.anyConnection();
    let response: ResponseOf<'METADATA'>;
    try {
      response = await connection.request('METADATA', { topics: [...topics], allTopics: false, allowAutoTopicCreation: false });
    } catch (error) {
      if (error instanceof StreamBusError && error.code === ErrorCode.NETWORK_EXCEPTION) {
        // The next refresh starts from another broker.
        this.#bootstrapIndex++;
      }
      throw error;
    }
    this.applyMetadata(response, topics);
  }

  /**
   * Folds a metadata answer into the cache. `asked` lists the topics requested, so a topic the
   * answer leaves out is recorded as unknown rather than silently kept.
   */
  applyMetadata(response: ResponseOf<'METADATA'>, asked?: ReadonlySet<string>): void {
    const offset = response.metadataOffset;
    const brokers = brokersFromWire(response);
    // Brokers answer from their own copy of the metadata log; never step back to an older view.
    if (offset >= this.#snapshot.metadataOffset || this.#snapshot.brokers.size === 0) {
      this.#snapshot = {
        clusterId: response.clusterId,
        controllerId: response.controllerId,
        brokers,
        metadataOffset: Math.max(offset, this.#snapshot.metadataOffset),
      };
    } else if (offset < this.#snapshot.metadataOffset) {
      return;
    }
    const seen = new Set<string>();
    for (const wire of response.topics) {
      const name = wire.name;
      seen.add(name);
      const topic = topicFromWire(wire);
      if (topic !== undefined) {
        this.#topics.set(name, topic);
        this.#topicErrors.delete(name);
      } else {
        const error =
          errorFromCode(wire.errorCode, wire.errorMessage, { topic: name }) ??
          new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, undefined, { context: { topic: name } });
        this.#topicErrors.set(name, error);
        this.#topics.delete(name);
      }
    }
    if (asked !== undefined) {
      for (const name of asked) {
        if (seen.has(name)) continue;
        this.#topics.delete(name);
        this.#topicErrors.set(
          name,
          new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" is not in the metadata`, { context: { topic: name } }),
        );
      }
    }
    this.#refreshedMs = this.#options.now();
    for (const listener of this.#listeners) listener();
  }
}

function requestOptions(options: RequestTargetOptions): { signal?: AbortSignal; timeoutMs?: number } {
  const out: { signal?: AbortSignal; timeoutMs?: number } = {};
  if (options.signal !== undefined) out.signal = options.signal;
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs;
  return out;
}
