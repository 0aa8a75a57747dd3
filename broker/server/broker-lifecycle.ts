/**
 * The broker's side of its session with the coordinator: register, then heartbeat until closed.
 *
 * As in Kafka's KRaft, a broker registers once per process start (a fresh incarnation id) and gets
 * a broker epoch; the registration starts fenced. Each heartbeat reports the offset of the
 * metadata the broker has applied; the coordinator unfences the broker once that offset reaches the
 * broker's own registration record, and fences it again if heartbeats stop for longer than the
 * session timeout. While fenced the broker heartbeats more often (every 100 ms at most), so a
 * starting broker is unfenced as soon as it has caught up rather than one interval later.
 *
 * A heartbeat answered with STALE_BROKER_EPOCH (a newer registration of this node id exists) or
 * BROKER_ID_NOT_REGISTERED (the coordinator has no registration for it) makes the broker register
 * again at once. Any other failure (the coordinator unreachable, busy or shutting down) is logged
 * and the next heartbeat goes out on schedule; the coordinator fences the broker if that lasts.
 * close() is the controlled shutdown: it stops the heartbeats and sends one last heartbeat asking to
 * be fenced. The coordinator moves the broker's partition leaderships to other in-sync replicas and
 * takes it out of every ISR in the same metadata entry that fences it; close() then waits (bounded
 * by controlledShutdownTimeoutMs, Kafka's controlled.shutdown.timeout.ms) until the followed
 * metadata shows this broker leads nothing, so clients are redirected while it still answers, and
 * only then lets the broker stop. One heartbeat is in flight at a time.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type BrokerRegistrationRequest, type Logger, silentLogger } from '../../coordinator/index.js';
import type { ControllerGateway } from './metadata-view.js';
import { Waiters } from './waiters.js';

/** Kafka's broker.heartbeat.interval.ms default. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2000;
/** The heartbeat period while the broker is fenced (if shorter than the normal interval). */
const FENCED_HEARTBEAT_INTERVAL_MS = 100;
/** Kafka's controlled.shutdown.timeout.ms default (30 s). */
export const DEFAULT_CONTROLLED_SHUTDOWN_TIMEOUT_MS = 30_000;

/** What controlled shutdown watches: how many partitions the followed metadata says this broker leads. */
export interface LeadershipView {
  /** Partitions the followed metadata names this broker leader of. */
  leaderships(): number;
  /** Calls `listener` after each metadata change; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

export interface BrokerLifecycleOptions {
  readonly controller: Pick<ControllerGateway, 'registerBroker' | 'brokerHeartbeat'>;
  /** What the broker registers; incarnationId must be new for every process start. */
  readonly registration: BrokerRegistrationRequest;
  /** The offset of the last metadata record this broker has applied (its followed metadata). */
  readonly metadataOffset: () => number;
  /** Kafka's broker.heartbeat.interval.ms. Default 2000. */
  readonly heartbeatIntervalMs?: number;
  /** What close() waits on for controlled shutdown; absent: close() only asks to be fenced. */
  readonly leadership?: LeadershipView;
  /** The longest close() waits for the fence and for its leaderships to move. Default 30 000. */
  readonly controlledShutdownTimeoutMs?: number;
  readonly logger?: Logger;
}

function needsRegistration(error: unknown): boolean {
  return (
    error instanceof StreamBusError &&
    (error.code === ErrorCode.STALE_BROKER_EPOCH || error.code === ErrorCode.BROKER_ID_NOT_REGISTERED)
  );
}

/** `work`, or a REQUEST_TIMED_OUT saying `reason` when `signal` aborts first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, reason: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, reason));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class BrokerLifecycle {
  readonly nodeId: number;
  readonly heartbeatIntervalMs: number;
  readonly #options: BrokerLifecycleOptions;
  readonly #logger: Logger;
  #brokerEpoch: number | undefined;
  #fenced = true;
  #started = false;
  #closing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  /** Set while heartbeats fail for a reason other than registration, so the streak is logged once. */
  #failing = false;
  /** The coordinator asked for a new registration: do it on the next turn, not after an interval. */
  #registerNow = false;
  readonly #waiters = new Waiters();

  /** Throws StreamBusError INVALID_CONFIG for a heartbeat interval that is not a whole number ≥ 1. */
  constructor(options: BrokerLifecycleOptions) {
    const interval = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `heartbeatIntervalMs must be a whole number ≥ 1, got ${interval}`);
    }
    this.nodeId = options.registration.nodeId;
    this.heartbeatIntervalMs = interval;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The epoch of the current registration; undefined before the first and while registering again. */
  get brokerEpoch(): number | undefined {
    return this.#brokerEpoch;
  }

  /** As the last heartbeat answer said; true until the first heartbeat unfences the broker. */
  get fenced(): boolean {
    return this.#fenced;
  }

  /**
   * Registers, sends the first heartbeat and starts heartbeating. Resolves once registered (the
   * broker may still be fenced: see waitUntilUnfenced). Rejects with the registration's error
   * (INVALID_REQUEST for a malformed registration, or a coordinator failure), with SHUTTING_DOWN
   * after close(), and with INVALID_REQUEST when called twice; nothing keeps running on failure.
   */
  async start(): Promise<void> {
    if (this.#closing !== undefined) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the broker lifecycle is closed');
    if (this.#started) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'the broker lifecycle is already started');
    this.#started = true;
    await this.#register();
    this.#inFlight = this.#heartbeat();
    await this.#inFlight;
  }

  /**
   * Resolves once a heartbeat answer says the broker is unfenced (at once if the last one did).
   * Rejects with the signal's reason on abort and with SHUTTING_DOWN on close().
   */
  waitUntilUnfenced(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the broker lifecycle is closed'));
    if (this.#brokerEpoch !== undefined && !this.#fenced) return Promise.resolve();
    const signal = options.signal;
    return this.#waiters.wait(signal);
  }

  /**
   * Controlled shutdown: stops heartbeating, waits for a heartbeat in flight, asks once to be fenced
   * (the coordinator moves this broker's leaderships away in the same step), then waits until the
   * followed metadata has that change and shows this broker leading nothing. All of it is bounded
   * by controlledShutdownTimeoutMs; a failure or the deadline is logged, not thrown (the session
   * expiry, or the closed connection, fences the broker anyway). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#timer);
      await this.#inFlight;
      const shutdown = new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the broker lifecycle is closed');
      this.#waiters.rejectAll(shutdown);
      const brokerEpoch = this.#brokerEpoch;
      if (brokerEpoch === undefined) return;
      const timeoutMs = this.#options.controlledShutdownTimeoutMs ?? DEFAULT_CONTROLLED_SHUTDOWN_TIMEOUT_MS;
      const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
      const startedMs = performance.now();
      try {
        const heartbeat = this.#options.controller.brokerHeartbeat({
          nodeId: this.nodeId,
          brokerEpoch,
          metadataOffset: this.#options.metadataOffset(),
          wantFence: true,
        });
        const answer = await untilAborted(heartbeat, deadline, `the fence request got no answer within ${timeoutMs} ms`);
        this.#fenced = answer.fenced;
        this.#logger.info({ nodeId: this.nodeId, brokerEpoch, metadataOffset: answer.metadataOffset }, 'broker fenced for shutdown');
        await this.#leadNothing(answer.metadataOffset, deadline, timeoutMs);
        this.#logger.info({ nodeId: this.nodeId, brokerEpoch, tookMs: Math.round(performance.now() - startedMs) }, 'controlled shutdown: broker fenced and leads no partition');
      } catch (error) {
        this.#logger.warn({ err: error, nodeId: this.nodeId }, `controlled shutdown did not finish: ${describe(error)}; stopping anyway`);
      }
    })();
    return this.#closing;
  }

  /** Resolves once the followed metadata reaches `metadataOffset` and names this broker leader of nothing. */
  #leadNothing(metadataOffset: number, deadline: AbortSignal, timeoutMs: number): Promise<void> {
    const leadership = this.#options.leadership;
    if (leadership === undefined) return Promise.resolve();
    const done = (): boolean => this.#options.metadataOffset() >= metadataOffset && leadership.leaderships() === 0;
    if (done()) return Promise.resolve();
    let unsubscribe = (): void => undefined;
    const moved = new Promise<void>((resolve) => {
      unsubscribe = leadership.onChange(() => {
        if (done()) resolve();
      });
    });
    const reason = `the metadata still named this broker leader of ${leadership.leaderships()} partition(s) after ${timeoutMs} ms`;
    return untilAborted(moved, deadline, reason).finally(unsubscribe);
  }

  async #register(): Promise<void> {
    this.#brokerEpoch = undefined;
    this.#fenced = true;
    const { brokerEpoch } = await this.#options.controller.registerBroker(this.#options.registration);
    this.#brokerEpoch = brokerEpoch;
    this.#logger.info({ nodeId: this.nodeId, brokerEpoch }, 'broker registered; fenced until it has caught up with the metadata');
  }

  /** One heartbeat (or registration, when one is needed); never rejects. Schedules the next. */
  async #heartbeat(): Promise<void> {
    try {
      if (this.#brokerEpoch === undefined) await this.#register();
      const brokerEpoch = this.#brokerEpoch;
      if (brokerEpoch === undefined || this.#closing !== undefined) return;
      const answer = await this.#options.controller.brokerHeartbeat({
        nodeId: this.nodeId,
        brokerEpoch,
        metadataOffset: this.#options.metadataOffset(),
      });
      if (this.#failing) this.#logger.info({ nodeId: this.nodeId }, 'heartbeats reach the coordinator again');
      this.#failing = false;
      this.#setFenced(answer.fenced);
    } catch (error) {
      this.#onFailure(error);
    } finally {
      this.#schedule();
    }
  }

  #onFailure(error: unknown): void {
    if (needsRegistration(error)) {
      this.#logger.warn({ err: error, nodeId: this.nodeId, brokerEpoch: this.#brokerEpoch }, 'the coordinator no longer knows this registration; registering again');
      this.#brokerEpoch = undefined;
      this.#registerNow = true;
      this.#setFenced(true);
      return;
    }
    if (!this.#failing) {
      this.#logger.warn({ err: error, nodeId: this.nodeId }, `broker heartbeat failed: ${describe(error)}; retrying`);
    }
    this.#failing = true;
  }

  #setFenced(fenced: boolean): void {
    if (fenced !== this.#fenced) {
      this.#logger.info({ nodeId: this.nodeId, brokerEpoch: this.#brokerEpoch }, fenced ? 'broker is fenced' : 'broker is unfenced');
    }
    this.#fenced = fenced;
    if (fenced) return;
    this.#waiters.resolveAll();
  }

  #schedule(): void {
    if (this.#closing !== undefined) return;
    // Re-registration after a STALE/NOT_REGISTERED answer happens on the very next turn; a failed
    // registration is retried at the fenced pace, like a heartbeat.
    const delayMs = this.#registerNow
      ? 0
      : this.#fenced
        ? Math.min(this.heartbeatIntervalMs, FENCED_HEARTBEAT_INTERVAL_MS)
        : this.heartbeatIntervalMs;
    this.#registerNow = false;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#heartbeat();
    }, delayMs);
    this.#timer.unref();
  }
}
