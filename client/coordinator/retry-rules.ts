/**
 * Which failed coordinator calls may be sent again. Pure.
 *
 * A write to the Raft group has three possible outcomes: applied, not applied, or unknown. Sending
 * it again is safe when it definitely was not applied, or when applying it twice leaves the same
 * state as applying it once (the API is idempotent). It is not safe otherwise: a create that timed
 * out may have committed, and its retry would then fail with TOPIC_ALREADY_EXISTS, hiding the
 * success.
 *
 * Definitely not applied: the request never left (the connection could not be opened or was
 * already closed), or the server refused it before proposing anything: NOT_CONTROLLER (a node
 * that is not the leader proposes nothing, and the Raft host answers NOT_CONTROLLER for a proposal
 * only once its entry was overwritten, i.e. did not commit), TOO_MANY_IN_FLIGHT and
 * THROTTLING_QUOTA_EXCEEDED (refused at the door).
 *
 * Unknown: the connection dropped after the request was handed to it, REQUEST_TIMED_OUT (the
 * client's timer, or the leader's own "leadership moved and no outcome arrived"), SHUTTING_DOWN
 * and KAFKA_STORAGE_ERROR.
 *
 * Every other error (INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION, STALE_BROKER_EPOCH, ...) is the
 * server's considered answer and goes back to the caller unchanged.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

/** Refusals: the server did nothing with the request. */
const refusals: ReadonlySet<number> = new Set([ErrorCode.NOT_CONTROLLER, ErrorCode.TOO_MANY_IN_FLIGHT, ErrorCode.THROTTLING_QUOTA_EXCEEDED]);

/** Failures after which the request may or may not have taken effect. */
const unknownOutcomes: ReadonlySet<number> = new Set([
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.KAFKA_STORAGE_ERROR,
]);

/** Failures that say the node asked is not (or no longer) a working leader. */
const leaderLost: ReadonlySet<number> = new Set([
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.KAFKA_STORAGE_ERROR,
]);

export const FailureVerdict = {
  /** Send it again (after a backoff, to the leader found anew when `rediscover`). */
  RETRY: 'retry',
  /** The server's answer: hand it to the caller. */
  GIVE_UP: 'give-up',
  /** Not idempotent and maybe applied: tell the caller the outcome is unknown. */
  OUTCOME_UNKNOWN: 'outcome-unknown',
} as const;
export type FailureVerdict = (typeof FailureVerdict)[keyof typeof FailureVerdict];

export interface FailedAttempt {
  readonly error: StreamBusError;
  /** Whether the request may have reached the server (false: it never left this process). */
  readonly sent: boolean;
  readonly idempotent: boolean;
}

export function judgeFailure(attempt: FailedAttempt): FailureVerdict {
  const { code } = attempt.error;
  if (!attempt.sent && code === ErrorCode.NETWORK_EXCEPTION) return FailureVerdict.RETRY;
  if (refusals.has(code)) return FailureVerdict.RETRY;
  if (!unknownOutcomes.has(code)) return FailureVerdict.GIVE_UP;
  return attempt.idempotent ? FailureVerdict.RETRY : FailureVerdict.OUTCOME_UNKNOWN;
}

/**
 * Whether a code is about the request rather than the item it is reported on: a refusal or an
 * unknown outcome. The coordinator reports a whole-request failure of a topic call in every topic's
 * result, so such a result is judged like a failed request, not kept as the topic's answer.
 */
export function isRequestLevel(code: number): boolean {
  return refusals.has(code) || unknownOutcomes.has(code);
}

/** Whether the failure means the leader should be looked up again before the next attempt. */
export function shouldRediscover(error: StreamBusError): boolean {
  return leaderLost.has(error.code);
}

/** The error for a non-idempotent call whose outcome is unknown: same code, a message that says so. */
export function outcomeUnknown(operation: string, error: StreamBusError): StreamBusError {
  return new StreamBusError(
    error.code,
    `${operation}: the outcome is unknown (${error.message}); it may have been applied. Check before repeating it.`,
    { cause: error, context: error.context },
  );
}
