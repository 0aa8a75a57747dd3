/**
 * Kafka's wire error codes as the Kafka listener sends them, and the one table that maps
 * StreamBus's codes (proto/errors.ts) onto them.
 *
 * proto/errors.ts uses Kafka's number wherever Kafka has a code for the same condition, so every
 * StreamBus code below 1000 passes through unchanged. The codes StreamBus added (1000 and up)
 * have no Kafka number and are mapped in `streamBusToKafka` to the Kafka code a Kafka client
 * reacts to correctly. One Kafka-numbered code is mapped too: PRODUCER_FENCED (90, KIP-588) exists
 * only in request versions the listener does not serve, so it goes out as INVALID_PRODUCER_EPOCH,
 * as Kafka answers older clients. `KafkaErrorCode` lists the Kafka codes the listener itself uses,
 * including some StreamBus has no code for (the fetch-session ones, OPERATION_NOT_ATTEMPTED).
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, errorName, type ErrorName } from '../errors.js';

export const KafkaErrorCode = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_NOT_AVAILABLE: 15,
  INVALID_TOPIC_EXCEPTION: 17,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_TRANSACTION_TIMEOUT: 50,
  CONCURRENT_TRANSACTIONS: 51,
  OPERATION_NOT_ATTEMPTED: 55,
  UNKNOWN_PRODUCER_ID: 59,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  INVALID_FETCH_SESSION_EPOCH: 71,
} as const;
export type KafkaErrorCode = (typeof KafkaErrorCode)[keyof typeof KafkaErrorCode];

/**
 * StreamBus codes whose number is not Kafka's (or not one the served versions may carry), with the
 * Kafka code sent in their place. Every StreamBus-only code (1000 and up) has a row; a test checks that.
 */
export const streamBusToKafka: Readonly<Partial<Record<ErrorName, number>>> = {
  // The request could not be read: Kafka's catch-all for a request it cannot parse.
  MALFORMED_FRAME: KafkaErrorCode.INVALID_REQUEST,
  FRAME_TOO_LARGE: KafkaErrorCode.INVALID_REQUEST,
  UNKNOWN_API: KafkaErrorCode.INVALID_REQUEST,
  // Retriable on every Kafka client: try again shortly.
  TOO_MANY_IN_FLIGHT: KafkaErrorCode.NETWORK_EXCEPTION,
  // The broker is going away: clients refresh metadata and find the partition's next leader.
  SHUTTING_DOWN: KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
  // KIP-588's code is sent only from InitProducerId v4, AddPartitionsToTxn/AddOffsetsToTxn/EndTxn
  // v2 and TxnOffsetCommit v3 on; below those Kafka answers INVALID_PRODUCER_EPOCH, which kafkajs
  // (it has no code 90) and librdkafka 2.0.2 treat as being fenced.
  PRODUCER_FENCED: KafkaErrorCode.INVALID_PRODUCER_EPOCH,
};

/** The first code StreamBus added on top of Kafka's (proto/errors.ts). */
export const FIRST_STREAMBUS_ONLY_CODE = 1000;

/** The Kafka code to send for a StreamBus code. */
export function toKafkaErrorCode(code: number): number {
  if (code === ErrorCode.NONE) return KafkaErrorCode.NONE;
  const mapped = streamBusToKafka[errorName(code)];
  if (mapped !== undefined) return mapped;
  return code < FIRST_STREAMBUS_ONLY_CODE ? code : KafkaErrorCode.UNKNOWN_SERVER_ERROR;
}
