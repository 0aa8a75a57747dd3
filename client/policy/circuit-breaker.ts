/**
 * A circuit breaker for one broker. Pure: the caller passes the clock reading and reports each
 * outcome; the breaker only says whether a request may go out.
 *
 * Why: a broker that is dead or hung costs every request a connect timeout or a request timeout
 * (30 s by default) before the caller learns anything. After `failureThreshold` consecutive
 * failures the circuit opens, and requests fail at once, without touching the network, for
 * `cooldownMs`. Then it is half-open: exactly one request (the probe) goes out while the others
 * keep failing fast; the probe's success closes the circuit, its failure opens it for another
 * cool-down. Any success in the closed state resets the count.
 *
 * Only failures that say something about the broker count: a connect that fails, a connection that
 * drops, a request with no answer in time. A broker's error answer (NOT_LEADER_OR_FOLLOWER, say) is
 * an answer, so it counts as a success.
 */

export const BreakerState = {
  CLOSED: 'closed',
  OPEN: 'open',
  HALF_OPEN: 'half-open',
} as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 3. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before a probe is let through. Default 1000. */
  readonly cooldownMs?: number;
}

/** What the breaker lets a request do now. */
export const Admission = {
  /** Closed: go ahead. */
  ALLOW: 'allow',
  /** Half-open: go ahead as the one probe; report its outcome (or onAbandon). */
  PROBE: 'probe',
  /** Open (or a probe is out): fail at once. */
  REJECT: 'reject',
} as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  #state: BreakerState = BreakerState.CLOSED;
  #failures = 0;
  #openUntilMs = 0;
  #probeOut = false;
  #lastFailure: unknown;

  constructor(options: CircuitBreakerOptions = {}) {
    const threshold = options.failureThreshold ?? 3;
    const cooldown = options.cooldownMs ?? 1000;
    if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`failureThreshold must be a positive integer, got ${String(threshold)}`);
    if (!Number.isFinite(cooldown) || cooldown < 0) throw new RangeError(`cooldownMs must be a non-negative number, got ${String(cooldown)}`);
    this.failureThreshold = threshold;
    this.cooldownMs = cooldown;
  }

  /** The state as of `nowMs`: an open circuit whose cool-down has ended reads half-open. */
  state(nowMs: number): BreakerState {
    if (this.#state === BreakerState.OPEN && nowMs >= this.#openUntilMs) return BreakerState.HALF_OPEN;
    return this.#state;
  }

  /** Consecutive failures counted so far (reset by a success). */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** The failure that last counted, for the error of a rejected request. */
  get lastFailure(): unknown {
    return this.#lastFailure;
  }

  /** Milliseconds until the next probe may go out; 0 when requests are allowed now. */
  retryInMs(nowMs: number): number {
    if (this.#state !== BreakerState.OPEN) return 0;
    return Math.max(0, this.#openUntilMs - nowMs);
  }

  /** Whether a request may go out now. A PROBE admission must be followed by exactly one report. */
  admit(nowMs: number): Admission {
    const state = this.state(nowMs);
    if (state === BreakerState.CLOSED) return Admission.ALLOW;
    if (state === BreakerState.OPEN || this.#probeOut) return Admission.REJECT;
    this.#state = BreakerState.HALF_OPEN;
    this.#probeOut = true;
    return Admission.PROBE;
  }

  /** The broker answered (a response, even an error response), or a connect succeeded. */
  onSuccess(): void {
    this.#state = BreakerState.CLOSED;
    this.#failures = 0;
    this.#probeOut = false;
    this.#lastFailure = undefined;
  }

  /** A connect failed, a connection dropped, or a request got no answer in time. */
  onFailure(nowMs: number, failure?: unknown): void {
    this.#failures++;
    this.#lastFailure = failure;
    if (this.#state === BreakerState.HALF_OPEN || this.#failures >= this.failureThreshold) {
      this.#state = BreakerState.OPEN;
      this.#openUntilMs = nowMs + this.cooldownMs;
      this.#probeOut = false;
    }
  }

  /**
   * A request ended without saying anything about the broker (the caller aborted it). A probe
   * that ends so leaves the circuit half-open, so the next request probes.
   */
  onAbandon(admission: Admission): void {
    if (admission === Admission.PROBE) this.#probeOut = false;
  }
}
