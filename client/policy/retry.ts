/**
 * Retry policy: exponential backoff with jitter, bounded by a delivery deadline. Pure: the caller
 * passes the clock reading and a random source, and gets a decision back.
 *
 * The schedule follows Kafka's ExponentialBackoff: attempt n (1-based) waits
 * min(backoffMaxMs, backoffMs * 2^(n-1)) scaled by a random factor in [1 - jitter, 1 + jitter],
 * then capped at backoffMaxMs. Jitter spreads the retries of many clients that failed together
 * (a leader moved) so they do not return to the new leader in one wave.
 */
import { ErrorCode } from '../../proto/errors.js';
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

/**
 * What a client does about a failed request or partition result, by error code:
 *
 * - REFRESH_AND_RETRY: the client's metadata is probably stale (a leader moved, the broker is gone
 *   or not answering): refresh it (single-flight), then retry, which then goes to whoever leads now.
 *   NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, LEADER_NOT_AVAILABLE,
 *   UNKNOWN_TOPIC_OR_PARTITION (bounded, see unknownTopicGaveUp), KAFKA_STORAGE_ERROR (the replica
 *   went offline), NOT_CONTROLLER, and connection loss and timeouts (NETWORK_EXCEPTION,
 *   REQUEST_TIMED_OUT).
 * - RETRY: the same broker should take it later; the metadata is fine. NOT_ENOUGH_REPLICAS and
 *   NOT_ENOUGH_REPLICAS_AFTER_APPEND (the ISR is below min.insync.replicas for now), and any other
 *   error the code table marks retriable.
 * - FATAL: the broker's considered answer (INVALID_RECORD, MESSAGE_TOO_LARGE, ...): fail the call.
 */
export const RetryClass = {
  FATAL: 'fatal',
  RETRY: 'retry',
  REFRESH_AND_RETRY: 'refresh-and-retry',
} as const;
export type RetryClass = (typeof RetryClass)[keyof typeof RetryClass];

/** Wire codes after which the client refreshes metadata before retrying. */
const REFRESH_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
]);

/**
 * The class of a failure. `retriable` is the error's own flag (StreamBusError.retriable, from the
 * code table); this function only adds whether the metadata should be refreshed first.
 */
export function classifyError(code: number, retriable: boolean): RetryClass {
  if (!retriable) return RetryClass.FATAL;
  return REFRESH_CODES.has(code) ? RetryClass.REFRESH_AND_RETRY : RetryClass.RETRY;
}

/** Whether an error code calls for a metadata refresh (REFRESH_AND_RETRY for a retriable error). */
export function refreshesMetadata(code: number): boolean {
  return REFRESH_CODES.has(code);
}

/**
 * UNKNOWN_TOPIC_OR_PARTITION is retriable for a bounded time only. Right after a topic is created
 * (or partitions are added) some brokers have not applied that metadata yet and answer it for a
 * moment; past `windowMs` from the first such answer the topic really is not there, and waiting
 * out the whole delivery timeout would only hide that. `firstSeenMs` is when the operation first
 * got the error (undefined: never).
 */
export function unknownTopicGaveUp(firstSeenMs: number | undefined, nowMs: number, windowMs: number): boolean {
  return firstSeenMs !== undefined && nowMs - firstSeenMs >= windowMs;
}
