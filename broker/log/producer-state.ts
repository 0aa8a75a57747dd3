/**
 * The producer state of one partition (idempotent and transactional produce, docs/transactions-broker.md):
 * per producer id its epoch, the last five batches it wrote (first and last sequence, first and
 * last offset), its coordinator epoch, and the first offset of its open transaction; for the
 * partition, the aborted-transaction index and what the last stable offset (LSO) needs.
 *
 * Pure: no I/O, no clock. The leader asks check() about each batch before it assigns offsets
 * (dedupe, sequence and epoch rules, Kafka's), then apply()s the batch with its offsets; a follower
 * and the rebuild from the log only apply(), so every replica's state is a function of its log.
 * ./producer-state-store.ts persists it.
 *
 * Sequences count records per (producer id, partition) from 0 and wrap at 2^31-1 to 0. A batch's
 * last sequence is baseSequence + lastOffsetDelta, wrapped.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

/** Kafka keeps the last five batches per producer: a client has at most five in flight. */
export const PRODUCER_BATCHES_KEPT = 5;
/** Kafka's producer.id.expiration.ms and transactional.id.expiration.ms default: one day. */
export const DEFAULT_PRODUCER_EXPIRATION_MS = 86_400_000;
export const NO_PRODUCER_ID = -1;
const SEQUENCE_MODULUS = 0x8000_0000;
/** A sequence this far behind the next expected one counts as older (a duplicate), beyond as a gap. */
const SEQUENCE_HALF = 0x4000_0000;

/** What the state needs of one batch: its header fields and the offsets it was (or will be) given. */
export interface ProducerBatch {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly maxTimestamp: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** The content of a control batch's record (a transaction marker). */
export interface MarkerInfo {
  readonly committed: boolean;
  readonly coordinatorEpoch: number;
}

export interface BatchMetadata {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

/** One producer's state in one partition. */
export interface ProducerEntry {
  readonly producerId: number;
  producerEpoch: number;
  /** The coordinator epoch of the last marker written for it; -1 before any. */
  coordinatorEpoch: number;
  /** The maxTimestamp of its newest batch: what expiration compares with the clock. */
  lastTimestampMs: number;
  /** Its last batches, oldest first, at most PRODUCER_BATCHES_KEPT, all of producerEpoch. */
  batches: BatchMetadata[];
  /** First offset of its open transaction, -1 with none open. */
  txnFirstOffset: number;
  /** Its last closed transaction (first offset, marker offset), for the LSO until the marker is committed; -1 with none. */
  completedFirstOffset: number;
  completedMarkerOffset: number;
  /** The last offset of the newest batch (data or marker) it wrote: truncation below it makes the entry stale. */
  lastOffset: number;
}

export interface AbortedTxn {
  readonly producerId: number;
  readonly firstOffset: number;
  /** The offset of the abort marker. */
  readonly lastOffset: number;
}

/** The leader's decision about a batch: write it, or answer with the offsets of the copy already written. */
export type BatchCheck = { readonly kind: 'append' } | { readonly kind: 'duplicate'; readonly firstOffset: number; readonly lastOffset: number };

const APPEND: BatchCheck = { kind: 'append' };

export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return (baseSequence + lastOffsetDelta) % SEQUENCE_MODULUS;
}

function nextSequence(sequence: number): number {
  return sequence === SEQUENCE_MODULUS - 1 ? 0 : sequence + 1;
}

function behind(expected: number, sequence: number): number {
  return (expected - sequence + SEQUENCE_MODULUS) % SEQUENCE_MODULUS;
}

function cloneEntry(entry: ProducerEntry): ProducerEntry {
  return { ...entry, batches: entry.batches.map((b) => ({ ...b })) };
}

function newEntry(producerId: number, producerEpoch: number): ProducerEntry {
  return {
    producerId,
    producerEpoch,
    coordinatorEpoch: -1,
    lastTimestampMs: -1,
    batches: [],
    txnFirstOffset: -1,
    completedFirstOffset: -1,
    completedMarkerOffset: -1,
    lastOffset: -1,
  };
}

export class ProducerState {
  readonly #producers = new Map<number, ProducerEntry>();
  /** Ordered by lastOffset (the order markers are written in). */
  readonly #aborted: AbortedTxn[] = [];

  constructor(entries: Iterable<ProducerEntry> = [], aborted: Iterable<AbortedTxn> = []) {
    for (const entry of entries) this.#producers.set(entry.producerId, cloneEntry(entry));
    this.#aborted.push(...aborted);
    this.#aborted.sort((a, b) => a.lastOffset - b.lastOffset);
  }

  get size(): number {
    return this.#producers.size;
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.#producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.#producers.values();
  }

  get aborted(): readonly AbortedTxn[] {
    return this.#aborted;
  }

  /**
   * The leader's check of a data batch it is about to append (offsets not yet assigned). Throws
   * the typed error Kafka gives: INVALID_RECORD for a transactional batch without a producer id,
   * INVALID_PRODUCER_EPOCH for an older epoch (PRODUCER_FENCED for a transactional batch),
   * OUT_OF_ORDER_SEQUENCE_NUMBER for a gap or a new epoch not starting at 0,
   * DUPLICATE_SEQUENCE_NUMBER for a retry of a batch older than the last five,
   * UNKNOWN_PRODUCER_ID for an unknown producer whose sequence is not 0, INVALID_TXN_STATE for a
   * non-transactional batch while its transaction is open. Batches without a producer id pass.
   */
  check(batch: Omit<ProducerBatch, 'baseOffset' | 'lastOffset'>): BatchCheck {
    const { producerId, producerEpoch, baseSequence } = batch;
    if (producerId < 0) {
      if (batch.isTransactional) throw produceError(ErrorCode.INVALID_RECORD, 'a transactional batch must carry a producer id');
      return APPEND;
    }
    if (producerEpoch < 0 || baseSequence < 0) {
      throw produceError(ErrorCode.INVALID_RECORD, `producer ${producerId}: epoch ${producerEpoch} and base sequence ${baseSequence} must not be negative`);
    }
    const lastSequence = lastSequenceOf(baseSequence, batch.lastOffsetDelta);
    const entry = this.#producers.get(producerId);
    if (entry === undefined) {
      if (baseSequence !== 0) {
        throw produceError(ErrorCode.UNKNOWN_PRODUCER_ID, `producer ${producerId} has no state on this partition and sent sequence ${baseSequence}, not 0`);
      }
      return APPEND;
    }
    if (producerEpoch < entry.producerEpoch) {
      const code = batch.isTransactional ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH;
      throw produceError(code, `producer ${producerId} epoch ${producerEpoch} is older than the current epoch ${entry.producerEpoch}`);
    }
    if (entry.txnFirstOffset >= 0 && !batch.isTransactional) {
      throw produceError(ErrorCode.INVALID_TXN_STATE, `producer ${producerId} sent a non-transactional batch while its transaction is open`);
    }
    if (producerEpoch > entry.producerEpoch || entry.batches.length === 0) {
      if (baseSequence !== 0) {
        throw produceError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${producerId} epoch ${producerEpoch} must start at sequence 0, not ${baseSequence}`);
      }
      return APPEND;
    }
    const same = entry.batches.find((b) => b.firstSequence === baseSequence && b.lastSequence === lastSequence);
    if (same !== undefined) return { kind: 'duplicate', firstOffset: same.firstOffset, lastOffset: same.lastOffset };
    const expected = nextSequence(entry.batches.at(-1)!.lastSequence);
    if (baseSequence === expected) return APPEND;
    // Older: the whole range lies before the next expected sequence (within half the sequence space).
    const lastBehind = behind(expected, lastSequence);
    const older = behind(expected, baseSequence) <= SEQUENCE_HALF && lastBehind > 0 && lastBehind <= SEQUENCE_HALF;
    if (older) {
      throw produceError(ErrorCode.DUPLICATE_SEQUENCE_NUMBER, `producer ${producerId} sent sequences ${baseSequence}-${lastSequence} again, older than its last ${PRODUCER_BATCHES_KEPT} batches`);
    }
    throw produceError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${producerId} sent sequence ${baseSequence}, expected ${expected}`);
  }

  /**
   * The leader's check of a marker it is about to write: TRANSACTION_COORDINATOR_FENCED when an
   * older coordinator epoch than one already seen sends it, INVALID_PRODUCER_EPOCH when its
   * producer epoch is older than the producer's.
   */
  checkMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number): void {
    const entry = this.#producers.get(producerId);
    if (entry === undefined) return;
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      throw produceError(
        ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        `a marker of coordinator epoch ${coordinatorEpoch} for producer ${producerId}: epoch ${entry.coordinatorEpoch} already wrote one`,
      );
    }
    if (producerEpoch < entry.producerEpoch) {
      throw produceError(ErrorCode.INVALID_PRODUCER_EPOCH, `a marker for producer ${producerId} epoch ${producerEpoch}: its epoch is already ${entry.producerEpoch}`);
    }
  }

  /**
   * Applies a batch that is in the log (leader after check, follower, rebuild). `marker` is the
   * content of a control batch's record (undefined for data). Returns the aborted transaction a
   * marker closed, if it aborted one, and the entry that changed (undefined for batches without a
   * producer id).
   */
  apply(batch: ProducerBatch, marker?: MarkerInfo): { entry: ProducerEntry | undefined; aborted: AbortedTxn | undefined } {
    if (batch.producerId < 0) return { entry: undefined, aborted: undefined };
    let entry = this.#producers.get(batch.producerId);
    if (entry === undefined) {
      entry = newEntry(batch.producerId, batch.producerEpoch);
      this.#producers.set(batch.producerId, entry);
    }
    if (batch.producerEpoch > entry.producerEpoch) {
      // A new epoch: the old epoch's sequences no longer apply (KIP-360, or a coordinator's bump).
      entry.producerEpoch = batch.producerEpoch;
      entry.batches = [];
    }
    entry.lastOffset = Math.max(entry.lastOffset, batch.lastOffset);
    entry.lastTimestampMs = Math.max(entry.lastTimestampMs, batch.maxTimestamp);
    if (batch.isControl) return { entry, aborted: this.#applyMarker(entry, batch, marker) };
    entry.batches.push({
      firstSequence: batch.baseSequence,
      lastSequence: lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta),
      firstOffset: batch.baseOffset,
      lastOffset: batch.lastOffset,
    });
    if (entry.batches.length > PRODUCER_BATCHES_KEPT) entry.batches.shift();
    if (batch.isTransactional && entry.txnFirstOffset < 0) entry.txnFirstOffset = batch.baseOffset;
    return { entry, aborted: undefined };
  }

  #applyMarker(entry: ProducerEntry, batch: ProducerBatch, marker: MarkerInfo | undefined): AbortedTxn | undefined {
    if (marker !== undefined) entry.coordinatorEpoch = Math.max(entry.coordinatorEpoch, marker.coordinatorEpoch);
    if (entry.txnFirstOffset < 0) return undefined;
    const firstOffset = entry.txnFirstOffset;
    entry.txnFirstOffset = -1;
    entry.completedFirstOffset = firstOffset;
    entry.completedMarkerOffset = batch.baseOffset;
    if (marker?.committed === true) return undefined;
    const aborted: AbortedTxn = { producerId: entry.producerId, firstOffset, lastOffset: batch.baseOffset };
    this.#aborted.push(aborted);
    return aborted;
  }

  /**
   * The last stable offset for a high watermark: the lowest first offset of a transaction that is
   * open, or whose marker the high watermark does not cover yet, capped by the high watermark.
   * A transaction's records become readable under read_committed only once its marker is
   * committed, as in Kafka.
   */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark;
    for (const entry of this.#producers.values()) {
      if (entry.txnFirstOffset >= 0) lso = Math.min(lso, entry.txnFirstOffset);
      if (entry.completedFirstOffset >= 0 && entry.completedMarkerOffset >= highWatermark) lso = Math.min(lso, entry.completedFirstOffset);
    }
    return lso;
  }

  /** Aborted transactions overlapping [fromOffset, toOffset): the ones a read_committed fetch of that range returns. */
  abortedIn(fromOffset: number, toOffset: number): AbortedTxn[] {
    const out: AbortedTxn[] = [];
    let low = 0;
    let high = this.#aborted.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#aborted[mid]!.lastOffset < fromOffset) low = mid + 1;
      else high = mid;
    }
    for (let i = low; i < this.#aborted.length; i++) {
      const txn = this.#aborted[i]!;
      if (txn.firstOffset < toOffset) out.push(txn);
    }
    return out;
  }

  /** Drops aborted transactions whose marker lies below the log start (retention deleted them). Returns them. */
  trimAborted(logStartOffset: number): AbortedTxn[] {
    let count = 0;
    while (count < this.#aborted.length && this.#aborted[count]!.lastOffset < logStartOffset) count++;
    return this.#aborted.splice(0, count);
  }

  /**
   * Removes producers idle since before `nowMs - expirationMs` that have no open transaction (a
   * producer inside a transaction is never forgotten: the LSO depends on it). Returns their ids.
   */
  expire(nowMs: number, expirationMs: number): number[] {
    const expired: number[] = [];
    for (const entry of this.#producers.values()) {
      if (entry.txnFirstOffset >= 0) continue;
      if (entry.lastTimestampMs < nowMs - expirationMs) expired.push(entry.producerId);
    }
    for (const producerId of expired) this.#producers.delete(producerId);
    return expired;
  }

  /** Replaces or removes entries (the rebuild after a truncation) and drops aborted transactions at or after `fromOffset`. */
  replace(entries: ReadonlyMap<number, ProducerEntry | undefined>, fromOffset: number): AbortedTxn[] {
    for (const [producerId, entry] of entries) {
      if (entry === undefined) this.#producers.delete(producerId);
      else this.#producers.set(producerId, cloneEntry(entry));
    }
    let keep = this.#aborted.length;
    while (keep > 0 && this.#aborted[keep - 1]!.lastOffset >= fromOffset) keep--;
    return this.#aborted.splice(keep);
  }

  /** A copy to try a whole append on: check() and apply() the batches, then adopt() it if all pass. */
  fork(producerIds: Iterable<number>): ProducerState {
    const entries: ProducerEntry[] = [];
    for (const id of producerIds) {
      const entry = this.#producers.get(id);
      if (entry !== undefined) entries.push(entry);
    }
    return new ProducerState(entries);
  }

  /** Takes over the entries of a fork and the aborted transactions it recorded. */
  adopt(fork: ProducerState): void {
    for (const entry of fork.entries()) this.#producers.set(entry.producerId, entry);
    this.#aborted.push(...fork.aborted);
  }
}

function produceError(code: ErrorCode, message: string): StreamBusError {
  return new StreamBusError(code, message);
}
