/**
 * Persistence of a partition's producer state (./producer-state.ts) in the broker's LevelDB.
 *
 * Choice: one side key per producer id (and one per aborted transaction), written in the SAME
 * write batch as the batches that change it, rather than a checkpoint of the whole state at an
 * offset plus a scan of the batch headers after it. Why: the state is then exactly as current as
 * the log after any crash, so opening a partition is one short range read with no scan at all, and
 * each append writes only the entries of the producers it touched (a whole-state checkpoint would
 * either rewrite every producer on each append or need a scan on every open). The cost moves to
 * the rare path: when the log loses its tail (a follower's truncation, restartAt, recovery dropping
 * a torn tail), entries whose newest batch is gone are stale. They are recognisable without a scan
 * (their lastOffset is at or beyond the new log end), and only they are rebuilt, by a BACKWARD scan
 * of the batches that stops as soon as each stale producer has its last five data batches and the
 * boundaries of its newest transaction. Aborted transactions whose marker is gone are deleted.
 *
 *   producer value: u8 version (1) | i16 epoch | i32 coordinatorEpoch | i64 lastTimestampMs
 *     | i64 txnFirstOffset | i64 completedFirstOffset | i64 completedMarkerOffset | i64 lastOffset
 *     | u8 batchCount | batchCount x (i32 firstSequence | i32 lastSequence | i64 firstOffset | i64 lastOffset)
 *   aborted value: u64 producerId | u64 firstOffset   (key: the abort marker's offset)
 */
import { readBatchHeader, type Crc32c } from '../../proto/record-batch/index.js';
import type { LogDatabase, WriteOp } from './committer.js';
import { decodeMarker } from './control-batch.js';
import { ProducerSubkey, keyOffset, readU64, writeU64, type PartitionKeys } from './layout.js';
import { PRODUCER_BATCHES_KEPT, ProducerState, type AbortedTxn, type BatchMetadata, type ProducerBatch, type ProducerEntry } from './producer-state.js';

const ENTRY_VERSION = 1;
const ENTRY_FIXED_BYTES = 1 + 2 + 4 + 8 * 6 + 1;
const BATCH_BYTES = 4 + 4 + 8 + 8;
const ABORTED_BYTES = 16;

export function encodeProducerEntry(entry: ProducerEntry): Buffer {
  const buf = Buffer.allocUnsafe(ENTRY_FIXED_BYTES + entry.batches.length * BATCH_BYTES);
  let p = 0;
  buf[p++] = ENTRY_VERSION;
  buf.writeInt16BE(entry.producerEpoch, p);
  p += 2;
  buf.writeInt32BE(entry.coordinatorEpoch, p);
  p += 4;
  for (const value of [entry.lastTimestampMs, entry.txnFirstOffset, entry.completedFirstOffset, entry.completedMarkerOffset, entry.lastOffset]) {
    buf.writeBigInt64BE(BigInt(value), p);
    p += 8;
  }
  buf.writeBigInt64BE(0n, p); // reserved
  p += 8;
  buf[p++] = entry.batches.length;
  for (const batch of entry.batches) {
    buf.writeInt32BE(batch.firstSequence, p);
    buf.writeInt32BE(batch.lastSequence, p + 4);
    buf.writeBigInt64BE(BigInt(batch.firstOffset), p + 8);
    buf.writeBigInt64BE(BigInt(batch.lastOffset), p + 16);
    p += BATCH_BYTES;
  }
  return buf;
}

/** Undefined for bytes this version did not write (the entry is then rebuilt from the log). */
export function decodeProducerEntry(producerId: number, buf: Buffer): ProducerEntry | undefined {
  if (buf.length < ENTRY_FIXED_BYTES || buf[0] !== ENTRY_VERSION) return undefined;
  const count = buf[ENTRY_FIXED_BYTES - 1]!;
  if (count > PRODUCER_BATCHES_KEPT || buf.length !== ENTRY_FIXED_BYTES + count * BATCH_BYTES) return undefined;
  const i64 = (position: number): number => Number(buf.readBigInt64BE(position));
  const batches: BatchMetadata[] = [];
  for (let i = 0, p = ENTRY_FIXED_BYTES; i < count; i++, p += BATCH_BYTES) {
    batches.push({ firstSequence: buf.readInt32BE(p), lastSequence: buf.readInt32BE(p + 4), firstOffset: i64(p + 8), lastOffset: i64(p + 16) });
  }
  return {
    producerId,
    producerEpoch: buf.readInt16BE(1),
    coordinatorEpoch: buf.readInt32BE(3),
    lastTimestampMs: i64(7),
    txnFirstOffset: i64(15),
    completedFirstOffset: i64(23),
    completedMarkerOffset: i64(31),
    lastOffset: i64(39),
    batches,
  };
}

export function encodeAbortedTxn(txn: AbortedTxn): Buffer {
  const buf = Buffer.allocUnsafe(ABORTED_BYTES);
  writeU64(buf, 0, txn.producerId);
  writeU64(buf, 8, txn.firstOffset);
  return buf;
}

export function producerPut(keys: PartitionKeys, entry: ProducerEntry): WriteOp {
  return { type: 'put', key: keys.producer(entry.producerId), value: encodeProducerEntry(entry) };
}

export function abortedPut(keys: PartitionKeys, txn: AbortedTxn): WriteOp {
  return { type: 'put', key: keys.abortedTxn(txn.lastOffset), value: encodeAbortedTxn(txn) };
}

export interface StoreAccess {
  readonly db: LogDatabase;
  readonly keys: PartitionKeys;
  readonly crc32c: Crc32c;
}

/** Reads the stored producer entries and aborted transactions of a partition. */
export async function readProducerState(access: StoreAccess): Promise<{ state: ProducerState; unreadable: number[] }> {
  const { db, keys } = access;
  const entries: ProducerEntry[] = [];
  const unreadable: number[] = [];
  for await (const [key, value] of db.iterator({ gte: keys.producerRangeStart(ProducerSubkey.producer), lt: keys.producerRangeEnd(ProducerSubkey.producer) })) {
    const producerId = keyOffset(key);
    const entry = decodeProducerEntry(producerId, value);
    if (entry === undefined) unreadable.push(producerId);
    else entries.push(entry);
  }
  const aborted: AbortedTxn[] = [];
  for await (const [key, value] of db.iterator({ gte: keys.producerRangeStart(ProducerSubkey.abortedTxn), lt: keys.producerRangeEnd(ProducerSubkey.abortedTxn) })) {
    if (value.length !== ABORTED_BYTES) continue;
    aborted.push({ producerId: readU64(value, 0), firstOffset: readU64(value, 8), lastOffset: keyOffset(key) });
  }
  return { state: new ProducerState(entries, aborted), unreadable };
}

/**
 * Brings the producer state back in line with a log that now ends at `logEndOffset` (after a
 * truncation, a restart at the leader's log start, or recovery dropping a torn tail): rebuilds the
 * producers whose newest batch is gone (and those in `alsoRebuild`, whose entries were unreadable)
 * from a backward scan of [logStartOffset, logEndOffset), and drops aborted transactions whose
 * marker is gone. Changes `state` and returns the write ops that persist the change (empty when
 * nothing was stale).
 */
export async function repairProducerState(
  access: StoreAccess,
  state: ProducerState,
  logStartOffset: number,
  logEndOffset: number,
  alsoRebuild: readonly number[] = [],
): Promise<WriteOp[]> {
  const stale = new Set(alsoRebuild);
  for (const entry of state.entries()) if (entry.lastOffset >= logEndOffset) stale.add(entry.producerId);
  const staleAborted = state.aborted.some((txn) => txn.lastOffset >= logEndOffset);
  if (stale.size === 0 && !staleAborted) return [];
  const rebuilt = await rebuildProducers(access, stale, logStartOffset, logEndOffset);
  const ops: WriteOp[] = [];
  for (const [producerId, entry] of rebuilt) ops.push(entry === undefined ? { type: 'del', key: access.keys.producer(producerId) } : producerPut(access.keys, entry));
  for (const txn of state.replace(rebuilt, logEndOffset)) ops.push({ type: 'del', key: access.keys.abortedTxn(txn.lastOffset) });
  return ops;
}

/** A walk stops for a producer once it has this many data batches and two boundaries (see below). */
async function rebuildProducers(
  access: StoreAccess,
  producerIds: ReadonlySet<number>,
  logStartOffset: number,
  logEndOffset: number,
): Promise<Map<number, ProducerEntry | undefined>> {
  // Newest first, per producer, until it has its last five data batches and two boundaries (a
  // marker or a non-transactional batch): replaying from the older boundary gives the newest
  // transaction's state, its first offset, and the first offset of the one the newest marker closed.
  const found = new Map<number, { batches: { batch: ProducerBatch; value: Buffer }[]; data: number; boundaries: number }>();
  for (const id of producerIds) found.set(id, { batches: [], data: 0, boundaries: 0 });
  let open = producerIds.size;
  if (open > 0 && logEndOffset > logStartOffset) {
    for await (const [, value] of access.db.iterator({ gte: access.keys.batch(logStartOffset), lt: access.keys.batch(logEndOffset), reverse: true })) {
      const header = readBatchHeader(value);
      const walk = found.get(header.producerId);
      if (walk === undefined || (walk.data >= PRODUCER_BATCHES_KEPT && walk.boundaries >= 2)) continue;
      walk.batches.push({ batch: header, value });
      if (!header.isControl) walk.data++;
      if (header.isControl || !header.isTransactional) walk.boundaries++;
      if (walk.data >= PRODUCER_BATCHES_KEPT && walk.boundaries >= 2 && --open === 0) break;
    }
  }
  const result = new Map<number, ProducerEntry | undefined>();
  for (const [producerId, walk] of found) {
    const replay = new ProducerState();
    for (const { batch, value } of walk.batches.reverse()) {
      replay.apply(batch, batch.isControl ? decodeMarker(value, access.crc32c) : undefined);
    }
    result.set(producerId, replay.get(producerId));
  }
  return result;
}
