/**
 * The shared state of one partition's log and the small steps every part of it uses: the three
 * views of the log's end (see ./partition-log.ts), the committer submission that drained() waits
 * on, the partition lock, the batch-index and batch scans, the paired check of stored batches, and
 * the high-watermark and log-end listeners.
 *
 * PartitionLog keeps one PartitionCore in a private field and passes it to the files that hold the
 * log's other ideas (./partition-read.ts, ./partition-replication.ts, ./partition-maintenance.ts),
 * so those can share the state without it becoming part of PartitionLog's public API.
 */
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { ErrorCode, StreamBusError, type StreamBusErrorContext } from '../../proto/errors.js';
import { BATCH_HEADER_BYTES, MAGIC_V2, readBatchHeader, type Crc32c } from '../../proto/record-batch/index.js';
import type { CommitEntry, Committer, LogDatabase, WriteOp } from './committer.js';
import {
  PartitionKeys,
  decodeBatchIndexEntry,
  encodeOffsetValue,
  encodePartitionState,
  keyOffset,
  type BatchIndexEntry,
  type PartitionState,
} from './layout.js';
import { LeaderEpochHistory, type EpochEntry } from './leader-epochs.js';
import { ProducerState } from './producer-state.js';
import { repairProducerState } from './producer-state-store.js';
import { TailCache, type TailBatch, type TailBudget } from './tail-cache.js';
import type { LogConfig } from './types.js';

/** What a partition needs from its store. */
export interface LogContext {
  readonly db: LogDatabase;
  readonly committer: Committer;
  readonly logger: Logger;
  readonly crc32c: Crc32c;
  /** Compaction runs when dirty bytes / cleanable bytes reaches this (min.cleanable.dirty.ratio). */
  readonly minCleanableDirtyRatio: number;
  /** Producers idle this long, with no open transaction, are forgotten (producer.id.expiration.ms). */
  readonly producerExpirationMs?: number;
  /** Memory for the partitions' tail caches (./tail-cache.ts); without it fetches always read LevelDB. */
  readonly tailBudget?: TailBudget;
}

/** The PartitionLog that owns a core: its lane key, and whether the high watermark follows the log end. */
export interface PartitionOwner {
  readonly autoHighWatermark: boolean;
}

/** The iterator's read-ahead for scans of whole batches. */
const SCAN_HIGH_WATER_BYTES = 1 << 20;
/** Most bytes one partition keeps in its tail cache: a few of the largest (1 MiB) producer batches. */
const TAIL_CACHE_PARTITION_BYTES = 4 << 20;

/** @internal The state of one partition's log, shared by the files that make up PartitionLog. */
export class PartitionCore {
  readonly owner: PartitionOwner;
  readonly topicId: string;
  readonly partition: number;
  readonly ctx: LogContext;
  readonly keys: PartitionKeys;
  readonly logger: Logger;
  readonly errorContext: StreamBusErrorContext;
  /** The speculative state: includes every entry already handed to the committer. */
  readonly spec: PartitionState;
  readonly listeners = new Set<() => void>();
  readonly logEndListeners = new Set<() => void>();
  /** The newest committed batches, for fetches at the tail (./tail-cache.ts). */
  readonly tail: TailCache;
  /** The leader-epoch history as the committed log has it (applied when a write commits). */
  readonly epochs: LeaderEpochHistory;
  /** The history including entries handed to the committer (decided in offset order, like spec). */
  readonly specEpochs: LeaderEpochHistory;
  /**
   * Idempotence and transactions (./producer-state.ts), speculative like `spec`: a batch changes
   * it when it is handed to the committer, so the next append is checked against it at once.
   */
  producers = new ProducerState();
  config: LogConfig;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  sizeBytes: number;
  closed: StreamBusError | undefined;
  lastWrite: Promise<void> = Promise.resolve();
  #lockTail: Promise<void> = Promise.resolve();

  constructor(
    owner: PartitionOwner,
    ctx: LogContext,
    topicId: string,
    partition: number,
    config: LogConfig,
    state: PartitionState,
    epochs: readonly EpochEntry[],
  ) {
    this.owner = owner;
    this.topicId = topicId;
    this.partition = partition;
    this.ctx = ctx;
    this.keys = new PartitionKeys(topicId, partition);
    this.logger = ctx.logger.child({ topicId, partition });
    this.errorContext = { topic: topicId, partition };
    this.config = { ...config };
    this.spec = { ...state };
    this.logStartOffset = state.logStartOffset;
    this.logEndOffset = state.logEndOffset;
    this.highWatermark = state.highWatermark;
    this.sizeBytes = state.sizeBytes;
    this.epochs = new LeaderEpochHistory(epochs);
    this.specEpochs = new LeaderEpochHistory(epochs);
    this.tail = new TailCache(ctx.tailBudget, TAIL_CACHE_PARTITION_BYTES);
  }

  /** The commit lane of this partition's entries: its PartitionLog. */
  get lane(): object {
    return this.owner;
  }

  refusal(): StreamBusError | undefined {
    return this.closed ?? this.ctx.committer.failure;
  }

  /** Submits an entry of this partition and remembers it, so drained() can wait for it. */
  submit<T>(bytes: number, build: () => CommitEntry<T>): Promise<T> {
    const written = this.ctx.committer.submit(bytes, build);
    this.lastWrite = written.then(
      () => {},
      () => {},
    );
    return written;
  }

  /**
   * Committed batches at the log end join the tail cache; not once the log is closed, since
   * close() cleared the cache to give its memory back.
   */
  cacheTail(batches: readonly TailBatch[]): void {
    if (this.closed !== undefined) return;
    for (const batch of batches) this.tail.committed(batch);
  }

  /** Where an append collects its batches for the tail cache: nowhere while nobody reads the tail. */
  tailBatches(): TailBatch[] | undefined {
    return this.tail.armed ? [] : undefined;
  }

  stateOp(): WriteOp {
    return { type: 'put', key: this.keys.state(), value: encodePartitionState(this.spec) };
  }

  /** Batch index entries of batches ending in [fromOffset, toOffset). */
  async *scanBatchIndex(fromOffset: number, toOffset: number): AsyncGenerator<BatchIndexEntry> {
    if (toOffset <= fromOffset) return;
    for await (const [key, value] of this.ctx.db.iterator({ gte: this.keys.batchIndex(fromOffset), lt: this.keys.batchIndex(toOffset) })) {
      const lastOffset = keyOffset(key);
      const entry = decodeBatchIndexEntry(lastOffset, value);
      if (entry === undefined) {
        throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `batch index entry at offset ${lastOffset} is corrupt`, {
          context: this.errorContext,
        });
      }
      yield entry;
    }
  }

  /** Stored batches ending in [fromOffset, toOffset), as [lastOffset, bytes]. */
  async *scanBatches(fromOffset: number, toOffset: number): AsyncGenerator<[number, Buffer]> {
    if (toOffset <= fromOffset) return;
    let previousLastOffset = -1;
    for await (const [key, value] of this.ctx.db.iterator({
      gte: this.keys.batch(fromOffset),
      lt: this.keys.batch(toOffset),
      highWaterMarkBytes: SCAN_HIGH_WATER_BYTES,
    })) {
      previousLastOffset = this.checkStoredBatch(key, value, previousLastOffset);
      yield [previousLastOffset, value];
    }
  }

  /**
   * The paired check of what append stored: a value must be one whole v2 batch whose last offset is
   * the one its key names, after the previous batch's. Cheap (no CRC: consumers check CRCs, and
   * the tail is CRC-checked at start-up); a mismatch means the storage is corrupt.
   */
  checkStoredBatch(key: Buffer, value: Buffer, previousLastOffset: number): number {
    const lastOffset = keyOffset(key);
    const fits = value.length >= BATCH_HEADER_BYTES;
    const header = fits ? readBatchHeader(value) : undefined;
    if (
      header === undefined ||
      header.magic !== MAGIC_V2 ||
      header.sizeBytes !== value.length ||
      header.lastOffset !== lastOffset ||
      header.baseOffset <= previousLastOffset
    ) {
      this.logger.error({ lastOffset, valueBytes: value.length }, 'stored batch does not match its key: storage is corrupt');
      throw new StreamBusError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `stored batch ending at offset ${lastOffset} of ${this.topicId}-${this.partition} is corrupt`,
        { context: this.errorContext },
      );
    }
    return lastOffset;
  }

  /** Runs `task` alone among this partition's maintenance, delete-records and close. */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#lockTail;
    let release!: () => void;
    this.#lockTail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await task();
    } finally {
      release();
    }
  }

  storageError(error: unknown, what: string): StreamBusError {
    if (error instanceof StreamBusError) return error;
    if (error instanceof assert.AssertionError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    this.logger.error({ err: error }, `log storage failed during ${what}`);
    return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `${what} on ${this.topicId}-${this.partition} failed: ${message}`, {
      cause: error,
      context: this.errorContext,
    });
  }

  advanceHighWatermark(offset: number): void {
    if (offset <= this.highWatermark) return;
    this.highWatermark = offset;
    this.notify(this.listeners);
  }

  notify(listeners: Set<() => void>): void {
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: error }, 'append listener threw');
      }
    }
  }

  /**
   * After the log lost its tail (truncation, restart at the leader's log start): rebuilds the
   * producers whose newest batch is gone and drops aborted transactions whose marker is gone, in
   * one write. Resolves once durable.
   */
  async repairProducers(): Promise<void> {
    const ops = await repairProducerState(
      { db: this.ctx.db, keys: this.keys, crc32c: this.ctx.crc32c },
      this.producers,
      this.spec.logStartOffset,
      this.spec.logEndOffset,
    );
    if (ops.length === 0) return;
    await this.submit(0, () => ({ lane: this.lane, ops, bytes: 0, result: undefined, onCommitted: () => {} }));
  }

  /** Adds the checkpoint of a batch's leader epoch when it starts a new epoch (same write batch). */
  recordEpoch(ops: WriteOp[], epoch: number, baseOffset: number, added: EpochEntry[]): void {
    const entry = this.specEpochs.entryFor(epoch, baseOffset);
    if (entry === undefined) return;
    this.specEpochs.add(entry);
    added.push(entry);
    ops.push({ type: 'put', key: this.keys.leaderEpoch(entry.epoch), value: encodeOffsetValue(entry.startOffset) });
  }
}
