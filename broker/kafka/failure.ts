/**
 * Turning an error of a whole request into the Kafka code and message every item of the answer
 * carries. Kafka answers have no request-level error slot (bar a few APIs), so a request that
 * failed as a whole (an admin change the coordinator refused, a shutdown) reports the failure on
 * each topic or partition it named.
 */
import type { Logger } from 'pino';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { toKafkaErrorCode } from '../../proto/kafka/index.js';

export interface KafkaFailure {
  readonly code: number;
  readonly message: string;
}

/** The Kafka code and message for an error thrown by the broker's handlers; unexpected ones are logged. */
export function kafkaFailureOf(error: unknown, logger: Logger, what: string): KafkaFailure {
  if (error instanceof StreamBusError) return { code: toKafkaErrorCode(error.code), message: error.message };
  logger.error({ err: error }, `${what} failed with an unexpected error`);
  return { code: toKafkaErrorCode(ErrorCode.UNKNOWN_SERVER_ERROR), message: 'the server hit an unexpected error' };
}

/** A Kafka error_message: null when there is no error, else the text (null when empty). */
export function errorMessageOf(code: number, message: string): string | null {
  return code === 0 || message === '' ? null : message;
}
