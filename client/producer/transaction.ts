/**
 * The types of a producer transaction: what `producer.transaction(async (tx) => ...)` hands its
 * callback, and the state the producer keeps for the one transaction open at a time.
 *
 * Why a separate `tx` object rather than producer-wide begin/commit calls (Kafka's API): the
 * callback's return or throw decides commit or abort, so a transaction can not be left open by a
 * forgotten commit, and records sent through `tx` can only belong to the transaction they were
 * sent in.
 */
import type { StreamBusError } from '../../proto/errors.js';
import type { TxnOffset } from '../coordinator/txn-calls.js';
import type { CallOptions, ProducerRecord, RecordMetadata } from '../types.js';

/** A consumer's group membership, for fencing zombie consumers in a transaction (KIP-447). */
export interface ConsumerGroupMetadata {
  readonly groupId: string;
  /** -1 when not checked. */
  readonly generation: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | undefined;
}

/**
 * Offsets to commit with the transaction. `offset` is the NEXT record to read: the last processed
 * offset + 1, as in every Kafka commit. Name the group with a group consumer (its current generation
 * and member id go along, so a consumer that lost its partitions in a rebalance cannot commit) or
 * by its id (then nothing about the member is checked).
 */
export type SendOffsetsSpec =
  | { readonly consumer: { groupMetadata(): ConsumerGroupMetadata }; readonly offsets: readonly TxnOffset[] }
  | {
      readonly groupId: string;
      readonly generation?: number | undefined;
      readonly memberId?: string | undefined;
      readonly groupInstanceId?: string | undefined;
      readonly offsets: readonly TxnOffset[];
    };

/** What a transaction callback gets. Everything sent or committed through it is atomic: all or nothing. */
export interface Transaction {
  /** Produces a record in the transaction; resolves when the leader has it (read_committed readers see it once the transaction commits). */
  send(record: ProducerRecord, options?: CallOptions): Promise<RecordMetadata>;
  /** Several records in the transaction; see Producer.sendBatch. */
  sendBatch(records: readonly ProducerRecord[], options?: CallOptions): Promise<RecordMetadata[]>;
  /** Commits a group's offsets in the transaction: the group sees them only if it commits. */
  sendOffsets(spec: SendOffsetsSpec, options?: CallOptions): Promise<void>;
}

/** The producer's state of its open transaction. */
export class OpenTransaction {
  /** Partitions the coordinator has added ("topic\0partition"). */
  readonly added = new Set<string>();
  /** Groups whose offsets were added. */
  readonly groups = new Set<string>();
  /** The AddPartitionsToTxn call in flight (one at a time). */
  adding: Promise<void> | undefined;
  /** Something was (or may have been) added at the coordinator: the transaction must be ended there. */
  touched = false;
  /** Commit or abort has begun: nothing more joins the transaction. */
  ending = false;
  /** Abort has begun: batches that fail are not retried. */
  aborting = false;
  /** The first failure that makes commit impossible (a record that failed, a refused partition). */
  error: StreamBusError | undefined;
  /** A batch that had left failed, so its partition's sequence has a gap: bump the epoch after the abort. */
  sequenceGap = false;

  /** Records the first failure that dooms the transaction to abort. */
  doom(error: StreamBusError): void {
    this.error ??= error;
  }
}
