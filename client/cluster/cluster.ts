/**
 * The cluster as the client sees it: bootstrap, a metadata cache for the topics in use, and one
 * connection per broker address.
 *
 * Metadata refreshes are single-flight: concurrent callers share the refresh in flight, and a
 * caller that needs a topic the running refresh did not ask for gets exactly one follow-up refresh
 * (shared with everyone else who arrived meanwhile). A refresh asks for every topic in use, so the
 * cache never forgets a topic some producer or consumer still needs.
 *
 * Metadata is also refreshed every metadataMaxAgeMs while some topic is in use (a timer that never
 * keeps the process alive), and on demand when a broker says the client's view is stale. A refresh
 * asks one broker, but not a dead one: brokers with a live connection first, then the known
 * brokers and the bootstrap list, any whose circuit is open last, and on a network failure or
 * timeout it moves on to the next candidate within the same refresh.
 *
 * Pools (../network/broker-pool.ts) are keyed by "host:port": the bootstrap pool is reused as that
 * broker's node pool when the broker advertises the same address. A pool reconnects by itself; a
 * pool whose address no broker advertises any more (a broker restarted on another port) and that
 * is not a bootstrap address is closed once nothing is in flight on it.
 */
import type { ApiName, RequestOf, ResponseOf } from '../../proto/index.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import { BrokerPool, type BrokerHealth } from '../network/broker-pool.js';
import type { ConnectFn, Connection } from '../network/types.js';
import { BreakerState, type CircuitBreakerOptions } from '../policy/circuit-breaker.js';
import { decideRetry, refreshesMetadata, type ResolvedRetryOptions } from '../policy/retry.js';
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

export type { ConnectFn } from '../network/types.js';

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
  /** Connections per broker. Default 1. */
  readonly connectionsPerBroker?: number;
  /** Idle connections are pinged this often (0: never). Default 30 000. */
  readonly healthCheckIntervalMs?: number;
  /** Per-broker circuit breaker settings. Defaults: 3 failures, 1000 ms cool-down. */
  readonly breaker?: CircuitBreakerOptions;
}

/**
 * Whether an error from a request or a partition result calls for a metadata refresh (a leader
 * moved, a broker is gone or not answering): see RetryClass in ../policy/retry.ts.
 */
export function isStaleMetadataError(code: number): boolean {
  return refreshesMetadata(code);
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
  readonly #pools = new Map<string, BrokerPool>();
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
  #ageTimer: NodeJS.Timeout | undefined;

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
    if (this.#tracked.size > 0) this.#startAgeTimer();
  }

  untrack(topics: Iterable<string>): void {
    for (const topic of topics) {
      const count = (this.#tracked.get(topic) ?? 0) - 1;
      if (count > 0) this.#tracked.set(topic, count);
      else this.#tracked.delete(topic);
    }
    if (this.#tracked.size === 0) this.#stopAgeTimer();
  }

  /** The health of every broker pool: circuit state, consecutive failures, connections, requests in flight. */
  brokerHealth(): BrokerHealth[] {
    return [...this.#pools.values()].map((pool) => pool.health());
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

  /**
   * The pool of a broker node (a Connection that reconnects by itself). Rejects with
   * LEADER_NOT_AVAILABLE when the node is not in the metadata. Connecting happens on the first
   * request; its failure is that request's.
   */
  connection(nodeId: number, _signal?: AbortSignal): Promise<Connection> {
    const broker = this.#snapshot.brokers.get(nodeId);
    if (broker === undefined) {
      return Promise.reject(
        new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${nodeId} is not in the metadata`, { context: { broker: String(nodeId) } }),
      );
    }
    if (this.#closed) return Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client is closed'));
    const pool = this.#pool(broker.host, broker.port);
    pool.nodeId = nodeId;
    return Promise.resolve(pool);
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

  /**
   * Any live broker: one with an open connection first, else a known broker, else the bootstrap
   * list (from a rotating start); brokers whose circuit is open last. Rejects with
   * NETWORK_EXCEPTION naming every address tried when none can be reached.
   */
  async anyConnection(signal?: AbortSignal): Promise<Connection> {
    if (this.#closed) throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client is closed');
    let lastError: unknown;
    const candidates = this.#candidates();
    for (const pool of candidates) {
      throwIfAborted(signal);
      try {
        await pool.ready(signal);
        return pool;
      } catch (error) {
        throwIfAborted(signal);
        lastError = error;
      }
    }
    this.#bootstrapIndex++;
    throw new StreamBusError(
      ErrorCode.NETWORK_EXCEPTION,
      `could not connect to any broker (tried ${candidates.map((pool) => `${pool.host}:${pool.port}`).join(', ')})`,
      { cause: lastError },
    );
  }

  /**
   * Every broker worth asking for metadata, best first: connected pools, then known brokers, then
   * the bootstrap list; pools whose circuit is open go last (they fail fast, but one may be all
   * there is).
   */
  #candidates(): BrokerPool[] {
    const ordered: BrokerPool[] = [];
    const add = (pool: BrokerPool): void => {
      if (!ordered.includes(pool)) ordered.push(pool);
    };
    for (const pool of this.#pools.values()) if (pool.connected) add(pool);
    for (const broker of this.#snapshot.brokers.values()) {
      const pool = this.#pool(broker.host, broker.port);
      pool.nodeId = broker.nodeId;
      add(pool);
    }
    for (let i = 0; i < this.#bootstrap.length; i++) {
      const { host, port } = this.#bootstrap[(this.#bootstrapIndex + i) % this.#bootstrap.length]!;
      add(this.#pool(host, port));
    }
    const open = (pool: BrokerPool): boolean => pool.health().state === BreakerState.OPEN;
    return [...ordered.filter((pool) => !open(pool)), ...ordered.filter(open)];
  }

  /** Closes every connection. Pending requests fail with NETWORK_EXCEPTION. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopAgeTimer();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
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

  /** The pool of an address, created on first use. */
  #pool(host: string, port: number): BrokerPool {
    const key = `${host}:${port}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      const options = this.#options;
      pool = new BrokerPool({
        host,
        port,
        clientId: options.clientId,
        connect: options.connect,
        connectTimeoutMs: options.connectTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
        maxInFlightPerConnection: options.maxInFlightPerConnection,
        now: options.now,
        ...(options.connectionsPerBroker === undefined ? {} : { connections: options.connectionsPerBroker }),
        ...(options.healthCheckIntervalMs === undefined ? {} : { healthCheckIntervalMs: options.healthCheckIntervalMs }),
        ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /**
   * Closes pools that no broker advertises any more (a broker restarted on another address) and
   * that are not bootstrap addresses, once nothing is in flight on them.
   */
  #prunePools(): void {
    const wanted = new Set<string>();
    for (const broker of this.#snapshot.brokers.values()) wanted.add(`${broker.host}:${broker.port}`);
    for (const { host, port } of this.#bootstrap) wanted.add(`${host}:${port}`);
    for (const [key, pool] of this.#pools) {
      if (wanted.has(key) || pool.inFlight > 0) continue;
      this.#pools.delete(key);
      void pool.close();
    }
  }

  /** Refreshes the metadata every metadataMaxAgeMs while some topic is in use. */
  #startAgeTimer(): void {
    if (this.#ageTimer !== undefined || this.#closed) return;
    const periodMs = this.#options.metadataMaxAgeMs;
    this.#ageTimer = setInterval(() => {
      if (this.stale) this.refreshMetadata().catch(() => undefined);
    }, periodMs);
    this.#ageTimer.unref();
  }

  #stopAgeTimer(): void {
    if (this.#ageTimer !== undefined) clearInterval(this.#ageTimer);
    this.#ageTimer = undefined;
  }

  /**
   * One metadata request, to the best candidate that answers: a network failure or a timeout moves
   * on to the next broker (each is tried at most once per refresh); any other error ends it.
   */
  async #runRefresh(topics: ReadonlySet<string>): Promise<void> {
    if (this.#closed) throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client is closed');
    const body = { topics: [...topics], allTopics: false, allowAutoTopicCreation: false };
    const tried: string[] = [];
    let lastError: unknown;
    for (const pool of this.#candidates()) {
      tried.push(`${pool.host}:${pool.port}`);
      let response: ResponseOf<'METADATA'>;
      try {
        response = await pool.request('METADATA', body);
      } catch (error) {
        if (!(error instanceof StreamBusError) || (error.code !== ErrorCode.NETWORK_EXCEPTION && error.code !== ErrorCode.REQUEST_TIMED_OUT)) throw error;
        lastError = error;
        continue;
      }
      this.applyMetadata(response, topics);
      return;
    }
    // The next refresh starts the bootstrap list elsewhere.
    this.#bootstrapIndex++;
    throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `could not refresh metadata from any broker (tried ${tried.join(', ')})`, { cause: lastError });
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
    this.#prunePools();
    for (const listener of this.#listeners) listener();
  }
}

function requestOptions(options: RequestTargetOptions): { signal?: AbortSignal; timeoutMs?: number } {
  const out: { signal?: AbortSignal; timeoutMs?: number } = {};
  if (options.signal !== undefined) out.signal = options.signal;
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs;
  return out;
}
