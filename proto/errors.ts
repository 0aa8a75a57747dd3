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
  OFFSET_METADATA_TOO_LARGE: 12,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  POLICY_VIOLATION: 44,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_PRODUCER_ID_MAPPING: 49,
  INVALID_TRANSACTION_TIMEOUT: 50,
  CONCURRENT_TRANSACTIONS: 51,
  TRANSACTION_COORDINATOR_FENCED: 52,
  KAFKA_STORAGE_ERROR: 56,
  UNKNOWN_PRODUCER_ID: 59,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  STALE_BROKER_EPOCH: 77,
  MEMBER_ID_REQUIRED: 79,
  PREFERRED_LEADER_NOT_AVAILABLE: 80,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  ELIGIBLE_LEADERS_NOT_AVAILABLE: 83,
  ELECTION_NOT_NEEDED: 84,
  NO_REASSIGNMENT_IN_PROGRESS: 85,
  GROUP_SUBSCRIBED_TO_TOPIC: 86,
  INVALID_RECORD: 87,
  THROTTLING_QUOTA_EXCEEDED: 89,
  PRODUCER_FENCED: 90,
  INVALID_UPDATE_VERSION: 95,
  BROKER_ID_NOT_REGISTERED: 102,
  INCONSISTENT_CLUSTER_ID: 104,
  TRANSACTIONAL_ID_NOT_FOUND: 105,
  INELIGIBLE_REPLICA: 107,
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
  OFFSET_METADATA_TOO_LARGE: { retriable: false, message: 'the committed offset\'s metadata is larger than the coordinator accepts' },
  NETWORK_EXCEPTION: { retriable: true, message: 'the connection failed' },
  COORDINATOR_LOAD_IN_PROGRESS: { retriable: true, message: 'the group coordinator is still loading its groups' },
  COORDINATOR_NOT_AVAILABLE: { retriable: true, message: 'no group coordinator is available right now' },
  NOT_COORDINATOR: { retriable: true, message: 'this node is not the group coordinator' },
  INVALID_TOPIC: { retriable: false, message: 'the topic name is invalid' },
  RECORD_LIST_TOO_LARGE: { retriable: false, message: 'the produce request is too large' },
  NOT_ENOUGH_REPLICAS: { retriable: true, message: 'fewer in-sync replicas than min.insync.replicas' },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { retriable: true, message: 'written, but the in-sync set shrank below min.insync.replicas' },
  INVALID_REQUIRED_ACKS: { retriable: false, message: 'acks must be 0, 1 or -1 (all)' },
  ILLEGAL_GENERATION: { retriable: false, message: 'the generation is not the group\'s current one' },
  INCONSISTENT_GROUP_PROTOCOL: { retriable: false, message: 'the protocol type or protocols do not match the group\'s' },
  INVALID_GROUP_ID: { retriable: false, message: 'the group id is invalid' },
  UNKNOWN_MEMBER_ID: { retriable: false, message: 'the member id is not in the group' },
  INVALID_SESSION_TIMEOUT: { retriable: false, message: 'the session timeout is outside the range the coordinator allows' },
  REBALANCE_IN_PROGRESS: { retriable: false, message: 'the group is rebalancing: rejoin it' },
  INVALID_TIMESTAMP: { retriable: false, message: 'a record timestamp is out of the accepted range' },
  UNSUPPORTED_VERSION: { retriable: false, message: 'the API version is not supported' },
  TOPIC_ALREADY_EXISTS: { retriable: false, message: 'the topic already exists' },
  INVALID_PARTITIONS: { retriable: false, message: 'the partition count is invalid' },
  INVALID_REPLICATION_FACTOR: { retriable: false, message: 'the replication factor is invalid' },
  INVALID_REPLICA_ASSIGNMENT: { retriable: false, message: 'the replica assignment is invalid' },
  INVALID_CONFIG: { retriable: false, message: 'a configuration name or value is invalid' },
  NOT_CONTROLLER: { retriable: true, message: 'this node is not the controller' },
  INVALID_REQUEST: { retriable: false, message: 'the request is invalid' },
  POLICY_VIOLATION: { retriable: false, message: 'the request violates a cluster policy' },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { retriable: false, message: 'the batch\'s sequence number leaves a gap after the producer\'s last one' },
  DUPLICATE_SEQUENCE_NUMBER: { retriable: false, message: 'the batch repeats sequence numbers already written, and is not one of the last 5 batches' },
  INVALID_PRODUCER_EPOCH: { retriable: false, message: 'the producer epoch is older than the current one' },
  INVALID_TXN_STATE: { retriable: false, message: 'the transaction is not in a state that allows this request' },
  INVALID_PRODUCER_ID_MAPPING: { retriable: false, message: 'the producer id is not the one bound to the transactional id' },
  INVALID_TRANSACTION_TIMEOUT: { retriable: false, message: 'the transaction timeout is above transaction.max.timeout.ms' },
  CONCURRENT_TRANSACTIONS: { retriable: true, message: 'the previous transaction of this producer is still completing' },
  TRANSACTION_COORDINATOR_FENCED: { retriable: false, message: 'the marker comes from an older transaction coordinator' },
  KAFKA_STORAGE_ERROR: { retriable: true, message: 'the broker could not read or write its storage' },
  UNKNOWN_PRODUCER_ID: { retriable: false, message: 'the partition has no state for this producer id: bump the epoch and resend' },
  NON_EMPTY_GROUP: { retriable: false, message: 'the group has members' },
  GROUP_ID_NOT_FOUND: { retriable: false, message: 'the group does not exist' },
  FENCED_LEADER_EPOCH: { retriable: true, message: 'the leader epoch in the request is older than the broker\'s' },
  UNKNOWN_LEADER_EPOCH: { retriable: true, message: 'the leader epoch in the request is newer than the broker\'s' },
  UNSUPPORTED_COMPRESSION_TYPE: { retriable: false, message: 'the compression codec is not supported' },
  STALE_BROKER_EPOCH: { retriable: false, message: 'the broker epoch is older than the registered one' },
  MEMBER_ID_REQUIRED: { retriable: false, message: 'join again with the member id in this answer' },
  PREFERRED_LEADER_NOT_AVAILABLE: { retriable: true, message: 'the preferred leader is not in the ISR or not alive' },
  GROUP_MAX_SIZE_REACHED: { retriable: false, message: 'the group has as many members as group.max.size allows' },
  FENCED_INSTANCE_ID: { retriable: false, message: 'another member has joined with this group.instance.id' },
  ELIGIBLE_LEADERS_NOT_AVAILABLE: { retriable: true, message: 'no replica that may lead the partition is alive' },
  ELECTION_NOT_NEEDED: { retriable: false, message: 'the partition already has the leader the election would pick' },
  NO_REASSIGNMENT_IN_PROGRESS: { retriable: false, message: 'no reassignment of the partition is in progress' },
  GROUP_SUBSCRIBED_TO_TOPIC: { retriable: false, message: 'a member of the group is subscribed to the topic' },
  INVALID_RECORD: { retriable: false, message: 'a record is invalid' },
  THROTTLING_QUOTA_EXCEEDED: { retriable: true, message: 'a quota was exceeded' },
  PRODUCER_FENCED: { retriable: false, message: 'a newer instance with the same transactional id has fenced this producer' },
  INVALID_UPDATE_VERSION: { retriable: false, message: 'the partition epoch in the request is not the current one' },
  BROKER_ID_NOT_REGISTERED: { retriable: true, message: 'the broker is not registered with the coordinator' },
  INCONSISTENT_CLUSTER_ID: { retriable: false, message: 'the peer belongs to another cluster' },
  TRANSACTIONAL_ID_NOT_FOUND: { retriable: false, message: 'the transactional id is unknown' },
  INELIGIBLE_REPLICA: { retriable: false, message: 'the new ISR names a fenced or shutting-down broker' },
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
