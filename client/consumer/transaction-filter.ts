/**
 * read_committed filtering (KIP-98): which batches of a fetched range the reader may see.
 *
 * A read_committed fetch returns data only below the last stable offset, so every transaction in
 * it has ended; what the consumer must still drop are the records of the transactions that
 * aborted. The broker lists them (producer id, first offset) for the returned range; the consumer
 * walks the batches in offset order and, from each listed first offset on, drops that producer's
 * transactional batches until it meets that producer's abort marker (a control batch). Control
 * batches themselves are never handed to the reader, whatever the isolation level.
 *
 * Pure: it reads batch headers and control records, nothing else.
 */
import type { AbortedTransaction } from '../../proto/messages.js';
import type { DecodedBatch } from '../../proto/record-batch/index.js';

/** Control record types (the int16 after the version in a control record's key). */
export const ControlType = {
  abort: 0,
  commit: 1,
} as const;

/**
 * The control type of a control batch's (single) record: 0 abort, 1 commit, or -1 when the key is
 * not a control key this client knows (it is then skipped like any control batch).
 */
export function controlType(batch: DecodedBatch): number {
  const key = batch.records[0]?.key;
  if (key === undefined || key === null || key.length < 4) return -1;
  return key.readInt16BE(2);
}

/**
 * The batches the reader sees: no control batch, and with `aborted` (read_committed) no batch of an
 * aborted transaction. `aborted` may come in any order.
 */
export function visibleBatches(batches: readonly DecodedBatch[], aborted: readonly AbortedTransaction[] | undefined): DecodedBatch[] {
  const pending = aborted === undefined || aborted.length === 0 ? [] : [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedProducers = new Set<number>();
  let next = 0;
  const visible: DecodedBatch[] = [];
  for (const batch of batches) {
    const header = batch.header;
    // Every aborted transaction that started at or before this batch's end is in force from here.
    while (next < pending.length && pending[next]!.firstOffset <= header.lastOffset) abortedProducers.add(pending[next++]!.producerId);
    if (header.isControl) {
      if (controlType(batch) === ControlType.abort) abortedProducers.delete(header.producerId);
      continue;
    }
    if (header.isTransactional && abortedProducers.has(header.producerId)) continue;
    visible.push(batch);
  }
  return visible;
}
