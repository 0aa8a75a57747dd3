/**
 * The one table of wire error codes, shared by the native protocol and the Kafka listener.
 *
 * Where Kafka has a code for the same condition we use Kafka's number, so the Kafka listener maps
 * most codes one to one and people who know Kafka read our codes without a lookup. Conditions Kafka
 * has no code for (framing faults of the native protocol, mostly) live at 1000 and up; the Kafka
 * listener maps those to the nearest Kafka code in its own table.
 *
 * Codes are stable: a code, once published, never changes meaning or number.
 */
export const ErrorCode = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  INVALID_TOPIC: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  INVALID_REQUIRED_ACKS: 21,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  POLICY_VIOLATION: 44,
  KAFKA_STORAGE_ERROR: 56,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  STALE_BROKER_EPOCH: 77,
  INVALID_RECORD: 87,
  THROTTLING_QUOTA_EXCEEDED: 89,
  BROKER_ID_NOT_REGISTERED: 102,
  INCONSISTENT_CLUSTER_ID: 104,
  // StreamBus-only conditions.
  MALFORMED_FRAME: 1000,
  FRAME_TOO_LARGE: 1001,
  UNKNOWN_API: 1002,
  TOO_MANY_IN_FLIGHT: 1003,
  SHUTTING_DOWN: 1004,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type ErrorName = keyof typeof ErrorCode;

interface ErrorInfo {
  readonly retriable: boolean;
  readonly message: string;
}

/** What each code means and whether a client may retry the same request unchanged. */
export const errorInfo: Readonly<Record<ErrorName, ErrorInfo>> = {
  NONE: { retriable: false, message: 'no error' },
  UNKNOWN_SERVER_ERROR: { retriable: false, message: 'the server hit an unexpected error' },
  OFFSET_OUT_OF_RANGE: { retriable: false, message: 'the requested offset is outside the log' },
  CORRUPT_MESSAGE: { retriable: true, message: 'a record batch failed its CRC or framing check' },
  UNKNOWN_TOPIC_OR_PARTITION: { retriable: true, message: 'the topic or partition does not exist' },
  INVALID_FETCH_SIZE: { retriable: false, message: 'the fetch size is invalid' },
  LEADER_NOT_AVAILABLE: { retriable: true, message: 'the partition has no leader right now' },
  NOT_LEADER_OR_FOLLOWER: { retriable: true, message: 'this broker is not the leader of the partition' },
  REQUEST_TIMED_OUT: { retriable: true, message: 'the request timed out' },
  MESSAGE_TOO_LARGE: { retriable: false, message: 'a record batch is larger than max.message.bytes' },
  NETWORK_EXCEPTION: { retriable: true, message: 'the connection failed' },
  INVALID_TOPIC: { retriable: false, message: 'the topic name is invalid' },
  RECORD_LIST_TOO_LARGE: { retriable: false, message: 'the produce request is too large' },
  NOT_ENOUGH_REPLICAS: { retriable: true, message: 'fewer in-sync replicas than min.insync.replicas' },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { retriable: true, message: 'written, but the in-sync set shrank below min.insync.replicas' },
  INVALID_REQUIRED_ACKS: { retriable: false, message: 'acks must be 0, 1 or -1 (all)' },
  INVALID_TIMESTAMP: { retriable: false, message: 'a record timestamp is out of the accepted range' },
  UNSUPPORTED_VERSION: { retriable: false, message: 'the API version is not supported' },
  TOPIC_ALREADY_EXISTS: { retriable: false, message: 'the topic already exists' },
  INVALID_PARTITIONS: { retriable: false, message: 'the partition count is invalid' },
  INVALID_REPLICATION_FACTOR: { retriable: false, message: 'the replication factor is invalid' },
  INVALID_CONFIG: { retriable: false, message: 'a configuration name or value is invalid' },
  NOT_CONTROLLER: { retriable: true, message: 'this node is not the controller' },
  INVALID_REQUEST: { retriable: false, message: 'the request is invalid' },
  POLICY_VIOLATION: { retriable: false, message: 'the request violates a cluster policy' },
  KAFKA_STORAGE_ERROR: { retriable: true, message: 'the broker could not read or write its storage' },
  FENCED_LEADER_EPOCH: { retriable: true, message: 'the leader epoch in the request is older than the broker\'s' },
  UNKNOWN_LEADER_EPOCH: { retriable: true, message: 'the leader epoch in the request is newer than the broker\'s' },
  UNSUPPORTED_COMPRESSION_TYPE: { retriable: false, message: 'the compression codec is not supported' },
  STALE_BROKER_EPOCH: { retriable: false, message: 'the broker epoch is older than the registered one' },
  INVALID_RECORD: { retriable: false, message: 'a record is invalid' },
  THROTTLING_QUOTA_EXCEEDED: { retriable: true, message: 'a quota was exceeded' },
  BROKER_ID_NOT_REGISTERED: { retriable: true, message: 'the broker is not registered with the coordinator' },
  INCONSISTENT_CLUSTER_ID: { retriable: false, message: 'the peer belongs to another cluster' },
  MALFORMED_FRAME: { retriable: false, message: 'the frame could not be decoded' },
  FRAME_TOO_LARGE: { retriable: false, message: 'the frame is larger than the server accepts' },
  UNKNOWN_API: { retriable: false, message: 'the API key is unknown' },
  TOO_MANY_IN_FLIGHT: { retriable: true, message: 'too many requests in flight on this connection' },
  SHUTTING_DOWN: { retriable: true, message: 'the server is shutting down' },
};

const nameByCode = new Map<number, ErrorName>(
  (Object.entries(ErrorCode) as [ErrorName, number][]).map(([name, code]) => [code, name]),
);

/** The name of a wire code; unknown codes (from a newer server) read as UNKNOWN_SERVER_ERROR. */
export function errorName(code: number): ErrorName {
  return nameByCode.get(code) ?? 'UNKNOWN_SERVER_ERROR';
}

export interface StreamBusErrorContext {
  readonly topic?: string;
  readonly partition?: number;
  readonly broker?: string;
  /** NOT_CONTROLLER: the coordinator node this one believes leads (a redirect hint), when known. */
  readonly leaderId?: number;
}

/**
 * The base of every operating error StreamBus raises, in the server and in the clients.
 * `code` is the wire code, `retriable` says whether the same request may succeed if sent again.
 */
export class StreamBusError extends Error {
  readonly code: ErrorCode;
  readonly codeName: ErrorName;
  readonly retriable: boolean;
  readonly context: StreamBusErrorContext;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; context?: StreamBusErrorContext }) {
    const name = errorName(code);
    super(message ?? errorInfo[name].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StreamBusError';
    this.code = code;
    this.codeName = name;
    this.retriable = errorInfo[name].retriable;
    this.context = options?.context ?? {};
  }
}

/** Builds the typed error for a wire code, or returns undefined for NONE. */
export function errorFromCode(
  code: number,
  message?: string,
  context?: StreamBusErrorContext,
): StreamBusError | undefined {
  if (code === ErrorCode.NONE) return undefined;
  const known = nameByCode.has(code) ? (code as ErrorCode) : ErrorCode.UNKNOWN_SERVER_ERROR;
  const text = message !== undefined && message !== '' ? message : undefined;
  return new StreamBusError(known, text, context === undefined ? undefined : { context });
}
