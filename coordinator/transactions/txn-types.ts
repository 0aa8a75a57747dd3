/**
 * The vocabulary of the transaction coordinator: the states of a transactional id, the image the
 * metadata log keeps of each one, the settings (Kafka's transaction.* names), and the requests and
 * answers of its calls. Shared by the pure state machine (txn.ts), the log commands and store
 * (txn-commands.ts, txn-store.ts), the leader's shell (txn-coordinator.ts) and the protocol
 * mapping (txn-api.ts). docs/transactions.md explains the design.
 *
 * Pure: no node:* imports.
 */
import type { ErrorCode } from '../../proto/errors.js';

/**
 * Kafka's transaction states, by their Kafka names (ListTransactions filters and DescribeTransactions
 * answers use them). Dead is never stored: an expired transactional id is removed from the log, and
 * one the coordinator does not know reads as not found.
 */
export const TxnState = {
  EMPTY: 'Empty',
  ONGOING: 'Ongoing',
  PREPARE_COMMIT: 'PrepareCommit',
  PREPARE_ABORT: 'PrepareAbort',
  COMPLETE_COMMIT: 'CompleteCommit',
  COMPLETE_ABORT: 'CompleteAbort',
  DEAD: 'Dead',
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

/** The states a stored transactional id may be in (all but Dead). */
export type StoredTxnState = Exclude<TxnState, 'Dead'>;

/** The highest producer epoch (a Kafka int16). */
export const MAX_PRODUCER_EPOCH = 32_767;
/**
 * An epoch at or above this is exhausted: the coordinator keeps one bump in reserve (to fence a
 * zombie on timeout), so the next init moves the transactional id to a fresh producer id at epoch 0.
 */
export const EXHAUSTED_PRODUCER_EPOCH = MAX_PRODUCER_EPOCH - 1;
/** The longest transactional id the coordinator accepts (as group ids). */
export const MAX_TRANSACTIONAL_ID_LENGTH = 1024;

/** A topic and partitions in a transaction, partitions sorted ascending. */
export interface TxnTopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** One offset a transaction will commit for a group when (and only when) it commits. */
export interface PendingTxnOffset {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string;
}

/** A transactional id as the metadata log keeps it (the store-transaction command carries it whole). */
export interface TransactionImage {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  /** The epoch before the last bump (KIP-360 retries of an init); -1 when none. */
  readonly lastProducerEpoch: number;
  readonly timeoutMs: number;
  readonly state: StoredTxnState;
  /** Wall clock ms when the open transaction started (its first partition or group); -1 with none open. */
  readonly startTimeMs: number;
  /** Wall clock ms of the last change: expiry counts from it. */
  readonly updateTimeMs: number;
  /** The partitions in the open (or completing) transaction, sorted by topic. */
  readonly topics: readonly TxnTopicPartitions[];
  /** Groups whose offsets ride in the transaction, sorted. */
  readonly groups: readonly string[];
  /** TxnOffsetCommit offsets, published to the groups on commit; sorted by group, topic, partition. */
  readonly pendingOffsets: readonly PendingTxnOffset[];
}

export interface TransactionSettings {
  /** transaction.max.timeout.ms: the longest transaction timeout a producer may ask for. Kafka's default 900 000. */
  readonly maxTimeoutMs: number;
  /** transactional.id.expiration.ms: an idle transactional id is forgotten after this long. Kafka's default 7 days. */
  readonly idExpirationMs: number;
  /**
   * transaction.abort.timed.out.transaction.cleanup.interval.ms: how often the leader looks for
   * transactions past their timeout (and for expired ids). Kafka's default 10 000.
   */
  readonly abortTimedOutIntervalMs: number;
}

export const DEFAULT_TRANSACTION_SETTINGS: TransactionSettings = {
  maxTimeoutMs: 900_000,
  idExpirationMs: 604_800_000,
  abortTimedOutIntervalMs: 10_000,
};

export interface InitProducerIdRequest {
  /** null for an idempotent producer without transactions. */
  readonly transactionalId: string | null;
  readonly transactionTimeoutMs: number;
  /** -1 for a new producer; otherwise the id whose epoch to bump (KIP-360). */
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface ProducerIdAndEpoch {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface InitProducerIdResponse extends ProducerIdAndEpoch {
  readonly error: ErrorCode;
}

/** Who is calling within a transaction: the id and the producer it is bound to. */
export interface TxnCaller {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface AddPartitionsRequest extends TxnCaller {
  readonly topics: readonly TxnTopicPartitions[];
}

export interface TxnPartitionResult {
  readonly topic: string;
  readonly partitions: readonly { readonly partition: number; readonly error: ErrorCode }[];
}

export interface AddPartitionsResponse {
  readonly error: ErrorCode;
  readonly topics: readonly TxnPartitionResult[];
}

export interface AddOffsetsRequest extends TxnCaller {
  readonly groupId: string;
}

export interface EndTxnRequest extends TxnCaller {
  readonly commit: boolean;
}

export interface TxnOffsetCommitRequest extends TxnCaller {
  readonly groupId: string;
  /** The consumer's generation (KIP-447); -1 with an empty member id: not checked. */
  readonly generation: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly topics: readonly {
    readonly topic: string;
    readonly partitions: readonly { readonly partition: number; readonly offset: number; readonly leaderEpoch: number; readonly metadata: string }[];
  }[];
}

export interface ListedTransaction {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly state: TxnState;
}

export interface ListTransactionsFilter {
  /** Kafka's state names (case-insensitive); empty: every state. */
  readonly states?: readonly string[];
  /** Empty: every producer id. */
  readonly producerIds?: readonly number[];
}

export interface DescribedTransaction {
  readonly transactionalId: string;
  /** TRANSACTIONAL_ID_NOT_FOUND for an unknown id. */
  readonly error: ErrorCode;
  readonly state: TxnState;
  readonly timeoutMs: number;
  readonly startTimeMs: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly topics: readonly TxnTopicPartitions[];
  readonly groups: readonly string[];
}
