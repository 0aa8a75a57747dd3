/**
 * Exactly-once consume-transform-produce (KIP-98 + KIP-447): read a batch from a group consumer,
 * turn it into output records, and in ONE transaction produce them and commit the consumed
 * position. Either both happen or neither does, so every input record's output appears exactly
 * once for a read_committed reader, whatever crashes or rebalances happen.
 *
 * ```ts
 * const consumer = bus.consumer({ groupId: 'enricher', autoCommit: false, autoOffsetReset: 'earliest' });
 * consumer.subscribe(['orders']);
 * const producer = bus.producer({ transactionalId: 'enricher-1' });
 * await runTransactional({ consumer, producer, transform: (batch) => batch.messages.map((m) => ({ topic: 'enriched', key: m.key, value: enrich(m.value) })) });
 * ```
 *
 * The details that are easy to get wrong, done here:
 * - the committed offset is the NEXT record to read: the batch's last offset + 1;
 * - the offsets carry the consumer's generation and member id, so a member that lost its
 *   partitions in a rebalance (a zombie) cannot commit them (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID);
 * - the consumer must not commit on its own (autoCommit false), or it would commit positions
 *   outside the transaction;
 * - after an abort the partition is moved back to its last committed offset, so the records of the
 *   aborted transaction are read and transformed again rather than skipped.
 *
 * Aborts for a retriable reason (a coordinator moving, a rebalance fencing the generation, a
 * record that timed out) are retried from the committed offset, up to maxRetries in a row. An
 * error thrown by `transform`, ProducerFencedError, or too many aborts in a row end the run: it
 * rejects with that error, the consumer rewound, so calling it again resumes exactly.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { MessageBatch } from '../consumer/consumer.js';
import { ProducerFencedError } from '../errors.js';
import type { GroupConsumer } from '../group/group-consumer.js';
import type { Producer } from '../producer/producer.js';
import { delay } from '../signal.js';
import type { CallOptions, ProducerRecord } from '../types.js';

export interface RunTransactionalOptions extends CallOptions {
  /** A group consumer created with autoCommit: false and subscribed to the input topics. */
  readonly consumer: GroupConsumer;
  /** A producer created with a transactionalId. */
  readonly producer: Producer;
  /** The output records for one batch of input records (one partition's, in offset order); may be empty. */
  readonly transform: (batch: MessageBatch) => readonly ProducerRecord[] | Promise<readonly ProducerRecord[]>;
  /** Aborts in a row, for retriable reasons, before the run gives up. Default 10. */
  readonly maxRetries?: number;
  /** Wait before retrying an aborted batch; grows with each retry in a row. Default 100. */
  readonly retryBackoffMs?: number;
}

/** Group answers that mean this member's generation passed: a rebalance hands the partition on. */
const generationGone: ReadonlySet<number> = new Set([ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.REBALANCE_IN_PROGRESS]);

/**
 * Runs until the consumer is closed or the signal aborts (then resolves), or a non-retriable
 * failure (then rejects). Throws INVALID_CONFIG at once for a consumer with autoCommit or a
 * producer without a transactionalId.
 */
export async function runTransactional(options: RunTransactionalOptions): Promise<void> {
  const { consumer, producer, transform } = options;
  if (consumer.autoCommit) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'runTransactional needs a consumer with autoCommit: false (its offsets are committed in the transactions)');
  }
  if (producer.transactionalId === undefined) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'runTransactional needs a producer with a transactionalId');
  if (typeof transform !== 'function') throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'runTransactional needs a transform function');
  const maxRetries = options.maxRetries ?? 10;
  const backoffMs = options.retryBackoffMs ?? 100;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `maxRetries must be an integer >= 0, got ${String(maxRetries)}`);
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `retryBackoffMs must be a number >= 0, got ${String(backoffMs)}`);
  let abortsInARow = 0;
  await consumer.run({
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    eachBatch: async (batch) => {
      const tp = { topic: batch.topic, partition: batch.partition };
      const next = batch.messages[batch.messages.length - 1]!.offset + 1;
      try {
        await producer.transaction(async (tx) => {
          const output = await transform(batch);
          if (output.length > 0) await tx.sendBatch(output);
          await tx.sendOffsets({ consumer, offsets: [{ ...tp, offset: next }] });
        });
        abortsInARow = 0;
      } catch (error) {
        // Read the aborted transaction's input again, from the last committed position.
        await consumer.rewindToCommitted([tp], options.signal === undefined ? {} : { signal: options.signal }).catch(() => undefined);
        if (!retriable(error) || ++abortsInARow > maxRetries) throw error;
        await delay(backoffMs * abortsInARow, options.signal);
      }
    },
  });
}

function retriable(error: unknown): boolean {
  if (!(error instanceof StreamBusError) || error instanceof ProducerFencedError) return false;
  return error.retriable || generationGone.has(error.code) || error.code === ErrorCode.REQUEST_TIMED_OUT;
}
