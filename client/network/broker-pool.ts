/**
 * The connections of one client to one broker address: a small pool with health checks and a
 * circuit breaker. It implements Connection, so the layers above send requests to "the broker"
 * and never hold a socket that may have died.
 *
 * Pool. Up to `connections` connections (default 1: a native connection pipelines, so one is
 * usually enough), opened lazily; a request goes to the connection with the fewest requests in
 * flight, and a new connection is opened in the background while every open one is busy. Opening
 * is single-flight: requests that arrive while a connect is under way wait for that one. Every new
 * connection first sends API_VERSIONS with the client id, so the broker's logs name the client.
 *
 * Health. A connection idle for `healthCheckIntervalMs` is pinged with API_VERSIONS; one that does
 * not answer within the request timeout (or min(timeout, interval)) is closed, so the next request
 * opens a fresh one instead of finding out the hard way. Half-open TCP connections (a broker host
 * that vanished without a FIN) are the case this catches.
 *
 * Breaker (../policy/circuit-breaker.ts). What counts as a failure: a connect that fails, and a
 * connection that fails, once per connection (it dropped, or a request on it got no answer in
 * time), so twenty requests pipelined on one connection that drops count once. A request that got
 * no answer in time closes its connection (as Kafka's client does): a broker that does not answer
 * one request will not answer those behind it. A successful TCP connect does not count as success
 * (a stopped process's kernel still accepts connections); an answer does, error answers included.
 * While the circuit is open, requests reject at once with BrokerUnavailableError; after the
 * cool-down one probe request goes out.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { ApiName, RequestOf, ResponseOf } from '../../proto/index.js';
import { BrokerUnavailableError, RequestTimeoutError } from '../errors.js';
import { Admission, BreakerState, CircuitBreaker, type CircuitBreakerOptions } from '../policy/circuit-breaker.js';
import { raceSignal } from '../signal.js';
import type { ConnectFn, Connection, ConnectionOptions, RequestOptions } from './types.js';

/** Sent in ApiVersions so operators can tell client libraries apart. */
const CLIENT_SOFTWARE = 'streambus-js';

export interface BrokerPoolOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly connect: ConnectFn;
  readonly connectTimeoutMs: number;
  /** Default timeout of a request (callers may pass their own per request). */
  readonly requestTimeoutMs: number;
  /** Requests in flight per connection (the transport's own limit). */
  readonly maxInFlightPerConnection: number;
  /** Connections kept open to this broker. Default 1. */
  readonly connections?: number;
  /** Idle connections are pinged this often; 0 turns health checks off. Default 30 000. */
  readonly healthCheckIntervalMs?: number;
  readonly breaker?: CircuitBreakerOptions;
  /** The clock; injected so tests can drive the breaker's cool-down. Default Date.now. */
  readonly now?: () => number;
}

/** One broker's pool as `StreamBus.brokerHealth()` reports it. */
export interface BrokerHealth {
  /** -1 for a bootstrap address not (yet) matched to a broker in the metadata. */
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  /** Open connections. */
  readonly connections: number;
  /** Requests sent and not yet answered, over all connections. */
  readonly inFlight: number;
}

interface Entry {
  readonly connection: Connection;
  inFlight: number;
  lastUsedMs: number;
  /** This connection's failure was counted by the breaker already (count once per connection). */
  failed: boolean;
  pinging: boolean;
}

export class BrokerPool implements Connection {
  readonly host: string;
  readonly port: number;
  /** The broker's node id once the metadata names it; -1 before. Used in error messages. */
  nodeId = -1;
  readonly #options: BrokerPoolOptions;
  readonly #now: () => number;
  readonly #size: number;
  readonly #healthCheckIntervalMs: number;
  readonly #breaker: CircuitBreaker;
  #entries: Entry[] = [];
  #opening: Promise<Entry> | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: BrokerPoolOptions) {
    const size = options.connections ?? 1;
    const interval = options.healthCheckIntervalMs ?? 30_000;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`connections must be a positive integer, got ${String(size)}`);
    if (!Number.isFinite(interval) || interval < 0) throw new RangeError(`healthCheckIntervalMs must be a non-negative number, got ${String(interval)}`);
    this.host = options.host;
    this.port = options.port;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#size = size;
    this.#healthCheckIntervalMs = interval;
    this.#breaker = new CircuitBreaker(options.breaker);
  }

  /** "broker 102 (127.0.0.1:9093)", or "broker 127.0.0.1:9093" before the node id is known. */
  get label(): string {
    const address = `${this.host}:${this.port}`;
    return this.nodeId >= 0 ? `broker ${this.nodeId} (${address})` : `broker ${address}`;
  }

  /** True while the pool is open, the circuit is not open, and at least one connection is up. */
  get connected(): boolean {
    if (this.#closed || this.#breaker.state(this.#now()) === BreakerState.OPEN) return false;
    return this.#entries.some((entry) => entry.connection.connected && !entry.failed);
  }

  /** Requests sent on this pool's connections and not yet answered. */
  get inFlight(): number {
    let total = 0;
    for (const entry of this.#entries) total += entry.inFlight;
    return total;
  }

  health(): BrokerHealth {
    const nowMs = this.#now();
    return {
      nodeId: this.nodeId,
      host: this.host,
      port: this.port,
      state: this.#breaker.state(nowMs),
      consecutiveFailures: this.#breaker.consecutiveFailures,
      connections: this.#live().length,
      inFlight: this.inFlight,
    };
  }

  /**
   * Resolves once a connection is open (opening one if needed). Rejects with BrokerUnavailableError
   * while the circuit is open, or with the connect error (NETWORK_EXCEPTION naming the broker).
   */
  async ready(signal?: AbortSignal): Promise<void> {
    if (this.#live().length > 0) return;
    const admission = this.#admit('CONNECT');
    try {
      await this.#acquire(signal);
    } finally {
      // A connect says nothing about whether the broker answers; a probe stays for a real request.
      this.#breaker.onAbandon(admission);
    }
  }

  /**
   * Sends one request on the least busy connection. Rejects with BrokerUnavailableError (circuit
   * open, nothing sent), NETWORK_EXCEPTION (connect failed or the connection dropped),
   * RequestTimeoutError (no answer in time), the broker's error response, or the signal's reason.
   */
  async request<A extends ApiName>(api: A, body: RequestOf<A>, options: RequestOptions = {}): Promise<ResponseOf<A>> {
    const admission = this.#admit(api);
    let entry: Entry;
    try {
      entry = await this.#acquire(options.signal);
    } catch (error) {
      this.#breaker.onAbandon(admission);
      throw error;
    }
    entry.inFlight++;
    entry.lastUsedMs = this.#now();
    try {
      const response = await entry.connection.request(api, body, options);
      this.#breaker.onSuccess();
      return response;
    } catch (error) {
      throw this.#judge(entry, api, options, admission, error);
    } finally {
      entry.inFlight--;
      entry.lastUsedMs = this.#now();
    }
  }

  /** Writes a request whose answer nobody awaits (produce with acks=0). Same errors as request(). */
  async send<A extends ApiName>(api: A, body: RequestOf<A>, options: RequestOptions = {}): Promise<void> {
    const admission = this.#admit(api);
    let entry: Entry;
    try {
      entry = await this.#acquire(options.signal);
    } catch (error) {
      this.#breaker.onAbandon(admission);
      throw error;
    }
    entry.lastUsedMs = this.#now();
    try {
      await entry.connection.send(api, body, options);
      // Written is not answered: the breaker learns nothing, and a probe stays available.
      this.#breaker.onAbandon(admission);
    } catch (error) {
      throw this.#judge(entry, api, options, admission, error, true);
    }
  }

  /** Closes every connection: requests in flight fail with NETWORK_EXCEPTION. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopHealthChecks();
    const entries = this.#entries;
    this.#entries = [];
    const opening = this.#opening;
    await Promise.all([
      ...entries.map((entry) => entry.connection.close().catch(() => undefined)),
      opening?.then((entry) => entry.connection.close()).catch(() => undefined),
    ]);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Throws when the pool is closed or the circuit rejects; else the admission to report back. */
  #admit(api: string): Admission {
    if (this.#closed) throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `${api} not sent: the client is closed`, { context: { broker: this.#address() } });
    const nowMs = this.#now();
    const admission = this.#breaker.admit(nowMs);
    if (admission === Admission.REJECT) {
      const retryInMs = this.#breaker.retryInMs(nowMs);
      throw new BrokerUnavailableError(api, this.label, this.#breaker.consecutiveFailures, retryInMs, this.#breaker.lastFailure, this.#address());
    }
    return admission;
  }

  /**
   * Turns a failed request into the error to throw, and tells the breaker what it means: the
   * caller aborted (nothing), no answer in time (a failure; the connection is closed), the
   * connection dropped (a failure, once per connection), or the broker answered with an error
   * (a success: it is alive). `written`: the call was a send(), whose timeout is the write's.
   */
  #judge(entry: Entry, api: ApiName, options: RequestOptions, admission: Admission, error: unknown, written = false): unknown {
    if (options.signal?.aborted === true) {
      this.#breaker.onAbandon(admission);
      return error;
    }
    // A request with no answer in time, or (send) a frame the socket did not take in time.
    const timedOut = error instanceof RequestTimeoutError || (written && error instanceof StreamBusError && error.code === ErrorCode.REQUEST_TIMED_OUT);
    if (timedOut) {
      const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs;
      const typed = error instanceof RequestTimeoutError ? new RequestTimeoutError(api, this.label, timeoutMs, this.#address()) : error;
      this.#connectionFailed(entry, typed, admission);
      void entry.connection.close().catch(() => undefined);
      return typed;
    }
    if (error instanceof StreamBusError && error.code === ErrorCode.NETWORK_EXCEPTION && !entry.connection.connected) {
      this.#connectionFailed(entry, error, admission);
      return error;
    }
    this.#breaker.onSuccess();
    return error;
  }

  #connectionFailed(entry: Entry, error: unknown, admission: Admission): void {
    this.#entries = this.#entries.filter((e) => e !== entry);
    if (entry.failed) {
      this.#breaker.onAbandon(admission);
      return;
    }
    entry.failed = true;
    this.#breaker.onFailure(this.#now(), error);
  }

  #address(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Open, unfailed connections; forgets the ones that closed since. A connection the broker closed
   * while nothing was in flight on it is not counted as a failure (brokers close idle
   * connections); if the broker is really gone, the reconnect fails and that counts.
   */
  #live(): Entry[] {
    // Called on every request: allocate only when a connection has gone.
    for (const entry of this.#entries) {
      if (entry.connection.connected && !entry.failed) continue;
      this.#entries = this.#entries.filter((e) => e.connection.connected && !e.failed);
      break;
    }
    return this.#entries;
  }

  /** The least busy open connection; opens one when there is none, or in the background when all are busy. */
  #acquire(signal: AbortSignal | undefined): Promise<Entry> {
    const live = this.#live();
    let best: Entry | undefined;
    for (const entry of live) if (best === undefined || entry.inFlight < best.inFlight) best = entry;
    if (best !== undefined) {
      if (best.inFlight > 0 && live.length < this.#size && this.#opening === undefined) void this.#open().catch(() => undefined);
      return Promise.resolve(best);
    }
    return raceSignal(this.#open(), signal);
  }

  /** Single-flight connect: every caller waiting for a connection shares one attempt. */
  #open(): Promise<Entry> {
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #connect(): Promise<Entry> {
    const options: ConnectionOptions = {
      host: this.host,
      port: this.port,
      clientId: this.#options.clientId,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      maxInFlight: this.#options.maxInFlightPerConnection,
    };
    let connection: Connection;
    try {
      connection = await this.#options.connect(options);
    } catch (error) {
      const failure =
        error instanceof StreamBusError
          ? error
          : new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `could not connect to ${this.label}`, { cause: error, context: { broker: this.#address() } });
      if (!this.#closed) this.#breaker.onFailure(this.#now(), failure);
      throw failure;
    }
    if (this.#closed) {
      void connection.close().catch(() => undefined);
      throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'the client is closed', { context: { broker: this.#address() } });
    }
    // The first request on a connection names the client, so the broker's logs and request
    // contexts carry its id. Pipelined, not awaited: requests queued behind it reach the broker
    // after it, and nothing depends on its answer.
    connection.request('API_VERSIONS', { clientId: this.#options.clientId, clientSoftware: CLIENT_SOFTWARE }).catch(() => undefined);
    const entry: Entry = { connection, inFlight: 0, lastUsedMs: this.#now(), failed: false, pinging: false };
    this.#entries.push(entry);
    this.#startHealthChecks();
    return entry;
  }

  #startHealthChecks(): void {
    if (this.#healthTimer !== undefined || this.#healthCheckIntervalMs === 0 || this.#closed) return;
    this.#healthTimer = setInterval(() => this.#checkHealth(), this.#healthCheckIntervalMs);
    // Health checks alone never keep a process alive.
    this.#healthTimer.unref();
  }

  #stopHealthChecks(): void {
    if (this.#healthTimer !== undefined) clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
  }

  /** Pings every connection idle for a whole interval; closes the ones that do not answer. */
  #checkHealth(): void {
    const live = this.#live();
    if (live.length === 0) {
      this.#stopHealthChecks();
      return;
    }
    const nowMs = this.#now();
    const timeoutMs = Math.min(this.#options.requestTimeoutMs, this.#healthCheckIntervalMs);
    for (const entry of live) {
      if (entry.inFlight > 0 || entry.pinging || nowMs - entry.lastUsedMs < this.#healthCheckIntervalMs) continue;
      entry.pinging = true;
      entry.connection.request('API_VERSIONS', { clientId: this.#options.clientId, clientSoftware: CLIENT_SOFTWARE }, { timeoutMs }).then(
        () => {
          entry.pinging = false;
          entry.lastUsedMs = this.#now();
          this.#breaker.onSuccess();
        },
        (error: unknown) => {
          entry.pinging = false;
          if (this.#closed) return;
          if (error instanceof RequestTimeoutError) {
            this.#connectionFailed(entry, new RequestTimeoutError('API_VERSIONS', this.label, timeoutMs, this.#address()), Admission.ALLOW);
            void entry.connection.close().catch(() => undefined);
          } else if (!entry.connection.connected) {
            this.#connectionFailed(entry, error, Admission.ALLOW);
          } else {
            // An error answer: the broker is there.
            this.#breaker.onSuccess();
          }
        },
      );
    }
  }
}
