/**
 * Retry policy: exponential backoff with jitter, bounded by a delivery deadline. Pure: the caller
 * passes the clock reading and a random source, and gets a decision back.
 *
 * The schedule follows Kafka's ExponentialBackoff: attempt n (1-based) waits
 * min(backoffMaxMs, backoffMs * 2^(n-1)) scaled by a random factor in [1 - jitter, 1 + jitter],
 * then capped at backoffMaxMs. Jitter spreads the retries of many clients that failed together
 * (a leader moved) so they do not return to the new leader in one wave.
 */
import type { Random } from './random.js';

export interface RetryOptions {
  /** First backoff. Default 100. */
  readonly backoffMs?: number;
  /** Largest backoff. Default 1000. */
  readonly backoffMaxMs?: number;
  /** Fraction of random spread around each backoff, in [0, 1]. Default 0.2. */
  readonly jitter?: number;
  /** Most retries after the first attempt. Default unlimited (bounded by the deadline). */
  readonly retries?: number;
}

export interface ResolvedRetryOptions {
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  readonly jitter: number;
  readonly retries: number;
}

export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  const backoffMs = Math.max(0, options.backoffMs ?? 100);
  return {
    backoffMs,
    backoffMaxMs: Math.max(backoffMs, options.backoffMaxMs ?? 1000),
    jitter: Math.min(1, Math.max(0, options.jitter ?? 0.2)),
    retries: Math.max(0, options.retries ?? Number.POSITIVE_INFINITY),
  };
}

/** The wait before retry number `attempt` (1 for the first retry). */
export function backoffDelayMs(attempt: number, options: ResolvedRetryOptions, random: Random): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^31 already dwarfs any sane backoffMaxMs; capping the exponent keeps the math finite.
  const base = Math.min(options.backoffMaxMs, options.backoffMs * 2 ** Math.min(exponent, 31));
  const factor = 1 - options.jitter + 2 * options.jitter * random();
  return Math.min(options.backoffMaxMs, Math.round(base * factor));
}

export interface RetryInput {
  /** Retries already made (0 after the first failed attempt). */
  readonly retriesDone: number;
  /** Whether the failure may succeed if the same request is sent again. */
  readonly retriable: boolean;
  readonly nowMs: number;
  /** When the operation must have finished, in the same clock as nowMs. */
  readonly deadlineMs: number;
}

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: 'not-retriable' | 'retries-exhausted' | 'deadline' };

/**
 * Whether to retry, and after how long. A retry is refused when the error is not retriable, when
 * the retry budget is spent, or when the backoff would end at or after the deadline (no point in
 * waiting to send something that will be too late).
 */
export function decideRetry(input: RetryInput, options: ResolvedRetryOptions, random: Random): RetryDecision {
  if (!input.retriable) return { retry: false, reason: 'not-retriable' };
  if (input.retriesDone >= options.retries) return { retry: false, reason: 'retries-exhausted' };
  const delayMs = backoffDelayMs(input.retriesDone + 1, options, random);
  if (input.nowMs + delayMs >= input.deadlineMs) return { retry: false, reason: 'deadline' };
  return { retry: true, delayMs };
}
