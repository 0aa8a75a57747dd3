/**
 * One partition's log: append, fetch, offset lookup by time, delete-records, and the retention and
 * compaction steps the store's maintenance pass runs on it. Storage layout: ./layout.ts.
 *
 * Three views of the log's end, and why:
 * - the SPECULATIVE state (#spec) includes every entry already handed to the committer. Offsets are
 *   assigned from it synchronously, so appends get offsets in call order, and each entry carries
 *   the state checkpoint the partition will have once that entry is written.
 * - the COMMITTED end (logEndOffset, sizeBytes) moves when the committer reports an entry written
 *   (durable per the durability mode). Reads never go past it.
 * - the HIGH WATERMARK is what consumers may read. On a single node it follows the committed end;
 *   a replication layer takes it over with setHighWatermark.
 *
 * The log start offset moves up BEFORE the batches below it are deleted (as Kafka does): a read
 * below it is refused from that moment, so no reader can see the deletion half done.
 *
 * Replication (docs/replication.md) adds three things here: a follower appends the leader's batches
 * as they are (appendReplicated: offsets kept, contiguity checked), a follower truncates its tail
 * where its history diverged from the leader's (truncateTo), and every append records the leader
 * epochs its batches carry in the leader-epoch history (./leader-epochs.ts), persisted in the same
 * write batch as the data. The high watermark is part of the partition state and is persisted with
 * the next write to the partition, so after a crash it may lag; it never runs ahead of the data.
 */
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { ErrorCode, StreamBusError, type StreamBusErrorContext } from '../../proto/errors.js';
import {
  BATCH_HEADER_BYTES,
  MAGIC_V2,
  decodeRecordBatches,
  patchBaseOffset,
  readBatchHeader,
  setLogAppendTime,
  type Crc32c,
  type DecodedRecord,
} from '../../proto/record-batch/index.js';
import type { CommitEntry, Committer, LogDatabase, WriteOp } from './committer.js';
import {
  KeyTag,
  PartitionKeys,
  decodeBatchIndexEntry,
  decodeOffsetValue,
  encodeBatchIndexValue,
  encodeOffsetValue,
  encodePartitionState,
  keyOffset,
  keyTimestamp,
  type BatchIndexEntry,
  type PartitionState,
} from './layout.js';
import { LeaderEpochHistory, type EpochEndOffset, type EpochEntry } from './leader-epochs.js';
import { compactPartition, type BatchChange, type CompactionFinish, type CompactionResult } from './compaction.js';
import { RetentionPlanner } from './retention.js';
import { checkLogConfig, type AppendResult, type ChunkedReadResult, type LogConfig, type MaintenanceReport, type ReadResult } from './types.js';

/** What a partition needs from its store. */
export interface LogContext {
  readonly db: LogDatabase;
  readonly committer: Committer;
  readonly logger: Logger;
  readonly crc32c: Crc32c;
  /** Compaction runs when dirty bytes / cleanable bytes reaches this (min.cleanable.dirty.ratio). */
  readonly minCleanableDirtyRatio: number;
}

/** Sentinel timestamps of listOffset (Kafka's ListOffsets). */
export const ListOffsetTimestamp = {
  latest: -1,
  earliest: -2,
  maxTimestamp: -3,
  /** Earliest offset on local storage: the log start, as nothing is tiered. */
  earliestLocal: -4,
} as const;

/** Batches deleted per write when retention or delete-records removes a long prefix. */
const DELETE_CHUNK_BATCHES = 4096;
const EMPTY = Buffer.alloc(0);
/** The iterator's read-ahead for scans of whole batches. */
const SCAN_HIGH_WATER_BYTES = 1 << 20;
/** nextv() asks for at most this many entries; the byte limit usually stops it first. */
const NEXTV_MAX_ENTRIES = 1000;
/** LevelDB's iterator takes the read-ahead byte limit as a uint32. */
const MAX_HIGH_WATER_BYTES = 0x7fff_ffff;

export class PartitionLog {
  readonly topicId: string;
  readonly partition: number;
  /**
   * @internal Single node: the high watermark follows the durable log end. The replication layer
   * sets this to false and drives the high watermark with setHighWatermark.
   */
  autoHighWatermark = true;

  readonly #ctx: LogContext;
  readonly #keys: PartitionKeys;
  readonly #logger: Logger;
  readonly #errorContext: StreamBusErrorContext;
  readonly #spec: PartitionState;
  readonly #listeners = new Set<() => void>();
  readonly #logEndListeners = new Set<() => void>();
  /** The leader-epoch history as the committed log has it (applied when a write commits). */
  readonly #epochs: LeaderEpochHistory;
  /** The history including entries handed to the committer (decided in offset order, like #spec). */
  readonly #specEpochs: LeaderEpochHistory;
  #config: LogConfig;
  #logStartOffset: number;
  #logEndOffset: number;
  #highWatermark: number;
  #sizeBytes: number;
  #closed: StreamBusError | undefined;
  #lockTail: Promise<void> = Promise.resolve();
  #lastWrite: Promise<void> = Promise.resolve();

  /** @internal Built by LogStore.openPartition, from recovered or fresh state. */
  constructor(ctx: LogContext, topicId: string, partition: number, config: LogConfig, state: PartitionState, epochs: readonly EpochEntry[] = []) {
    checkLogConfig(config);
    this.topicId = topicId;
    this.partition = partition;
    this.#ctx = ctx;
    this.#keys = new PartitionKeys(topicId, partition);
    this.#logger = ctx.logger.child({ topicId, partition });
    this.#errorContext = { topic: topicId, partition };
    this.#config = { ...config };
    this.#spec = { ...state };
    this.#logStartOffset = state.logStartOffset;
    this.#logEndOffset = state.logEndOffset;
    this.#highWatermark = state.highWatermark;
    this.#sizeBytes = state.sizeBytes;
    this.#epochs = new LeaderEpochHistory(epochs);
    this.#specEpochs = new LeaderEpochHistory(epochs);
  }

  /** The newest leader epoch that wrote to this log (or started on it), -1 for none. */
  get latestEpoch(): number {
    return this.#epochs.latestEpoch;
  }

  /** The committed leader-epoch history, oldest first. */
  get leaderEpochs(): readonly EpochEntry[] {
    return this.#epochs.entries;
  }

  /**
   * Where `epoch` ends in this log: the largest epoch <= `epoch` in the history, and the start of
   * the epoch after it (or the log end). { epoch: -1, endOffset: -1 } when the history has none.
   */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.#epochs.endOffsetFor(epoch, this.#logEndOffset);
  }

  /** The first offset a fetch may ask for. */
  get logStartOffset(): number {
    return this.#logStartOffset;
  }

  /** One past the last offset written (durable per the durability mode). */
  get logEndOffset(): number {
    return this.#logEndOffset;
  }

  /** One past the last offset consumers may read. */
  get highWatermark(): number {
    return this.#highWatermark;
  }

  /** Bytes of stored batches, as retention.bytes counts them. */
  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  get config(): Readonly<LogConfig> {
    return this.#config;
  }

  /**
   * Appends concatenated RecordBatch v2 batches that the caller has validated (validateBatches:
   * CRC, magic, sizes, record counts). Assigns offsets by patching each batch's baseOffset in place
   * (and, for LogAppendTime topics, its timestamp and CRC), so the caller must not reuse `batches`
   * until the promise settles. Appends to one partition get offsets in call order.
   *
   * Resolves when the batches are durable per the store's durability mode ('sync', 'group': synced
   * to disk; 'interval': written to LevelDB) and the high watermark covers them (single node).
   * Rejects with KAFKA_STORAGE_ERROR when the write fails (the store then refuses all writes),
   * UNKNOWN_TOPIC_OR_PARTITION after the topic was deleted, SHUTTING_DOWN while the store closes.
   */
  append(batches: Buffer, options: { nowMs: number }): Promise<AppendResult> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#submit(batches.length, () => this.#buildAppend(batches, options.nowMs));
  }

  #buildAppend(batches: Buffer, nowMs: number): CommitEntry<AppendResult> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    assert.ok(batches.length >= BATCH_HEADER_BYTES, `append of ${batches.length} bytes: no record batch (validate before appending)`);
    const logAppendTime = this.#config.timestampType === 'LogAppendTime';
    const spec = this.#spec;
    const baseOffset = spec.logEndOffset;
    const ops: WriteOp[] = [];
    const newEpochs: EpochEntry[] = [];
    let nextOffset = baseOffset;
    let maxTimestamp = spec.maxTimestamp;
    let sizeBytes = 0;
    let position = 0;
    while (position < batches.length) {
      assert.ok(batches.length - position >= BATCH_HEADER_BYTES, `partial batch at byte ${position} (validate before appending)`);
      const header = readBatchHeader(batches, position);
      assert.ok(
        header.magic === MAGIC_V2 &&
          header.sizeBytes >= BATCH_HEADER_BYTES &&
          position + header.sizeBytes <= batches.length &&
          header.lastOffsetDelta >= 0,
        `malformed batch at byte ${position} (validate before appending)`,
      );
      patchBaseOffset(batches, position, nextOffset);
      this.#recordEpoch(ops, header.partitionLeaderEpoch, nextOffset, newEpochs);
      let batchMaxTimestamp = header.maxTimestamp;
      if (logAppendTime) {
        setLogAppendTime(batches, position, nowMs, this.#ctx.crc32c);
        batchMaxTimestamp = nowMs;
      }
      const lastOffset = nextOffset + header.lastOffsetDelta;
      ops.push(
        { type: 'put', key: this.#keys.batch(lastOffset), value: batches.subarray(position, position + header.sizeBytes) },
        { type: 'put', key: this.#keys.batchIndex(lastOffset), value: encodeBatchIndexValue(nextOffset, batchMaxTimestamp, header.sizeBytes) },
      );
      if (batchMaxTimestamp > maxTimestamp) {
        ops.push({ type: 'put', key: this.#keys.timeIndex(batchMaxTimestamp), value: encodeOffsetValue(lastOffset) });
        maxTimestamp = batchMaxTimestamp;
      }
      sizeBytes += header.sizeBytes;
      nextOffset = lastOffset + 1;
      position += header.sizeBytes;
    }
    spec.logEndOffset = nextOffset;
    spec.sizeBytes += sizeBytes;
    spec.maxTimestamp = maxTimestamp;
    if (this.autoHighWatermark) spec.highWatermark = nextOffset;
    ops.push(this.#stateOp());
    const lastOffset = nextOffset - 1;
    return {
      lane: this,
      ops,
      bytes: batches.length,
      result: { baseOffset, lastOffset, logAppendTimeMs: logAppendTime ? nowMs : -1, logStartOffset: this.#logStartOffset },
      onCommitted: () => {
        // Paired with the assignment above: entries of a partition commit in the order their
        // offsets were assigned, so each starts exactly where the previous one ended.
        assert.equal(this.#logEndOffset, baseOffset, `${this.topicId}-${this.partition}: append committed out of order`);
        this.#logEndOffset = nextOffset;
        this.#sizeBytes += sizeBytes;
        for (const entry of newEpochs) this.#epochs.add(entry);
        if (this.autoHighWatermark) this.#advanceHighWatermark(nextOffset);
        this.#notify(this.#logEndListeners);
      },
    };
  }

  /**
   * Reads whole stored batches, starting with the batch that contains `offset` (Kafka clients skip
   * the records before it), then following batches while the total stays within `maxBytes`, but
   * always at least one batch even if it alone is larger (KIP-74). Never returns a batch that
   * reaches `maxOffset` (default: the high watermark; at most the log end). `offset` equal to that
   * bound returns no records. One LevelDB range read, from one consistent snapshot.
   *
   * Throws OFFSET_OUT_OF_RANGE when offset < logStartOffset or offset > logEndOffset,
   * INVALID_FETCH_SIZE for a negative maxBytes, KAFKA_STORAGE_ERROR when storage fails or a stored
   * batch does not match its key (it is never returned).
   */
  async read(offset: number, maxBytes: number, options?: { maxOffset?: number }): Promise<ReadResult> {
    const { chunks, bytes, ...result } = await this.readChunks(offset, maxBytes, options);
    return { records: chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes), ...result };
  }

  /**
   * read(), without the concatenation: the stored batches as LevelDB returned them, one Buffer per
   * batch, in offset order. For callers that pass them on as they are (a fetch response written
   * with writev) and so save a copy of every byte. Same guarantees and errors as read().
   */
  async readChunks(offset: number, maxBytes: number, options?: { maxOffset?: number }): Promise<ChunkedReadResult> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new StreamBusError(ErrorCode.INVALID_FETCH_SIZE, `maxBytes must be a non-negative integer, got ${maxBytes}`, {
        context: this.#errorContext,
      });
    }
    // Read every bound now, in the same tick the iterator takes its snapshot, so they agree.
    const logStartOffset = this.#logStartOffset;
    const logEndOffset = this.#logEndOffset;
    const highWatermark = this.#highWatermark;
    if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > logEndOffset) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is outside the log of ${this.topicId}-${this.partition}: [${logStartOffset}, ${logEndOffset}]`,
        { context: this.#errorContext },
      );
    }
    const maxOffset = Math.min(options?.maxOffset ?? highWatermark, logEndOffset);
    const result = { highWatermark, logStartOffset, logEndOffset };
    if (offset >= maxOffset) return { chunks: [], bytes: 0, ...result };
    const iterator = this.#ctx.db.iterator({
      gte: this.#keys.batch(offset),
      lt: this.#keys.batch(maxOffset),
      highWaterMarkBytes: Math.min(Math.max(maxBytes, 1), MAX_HIGH_WATER_BYTES),
    });
    const chunks: Buffer[] = [];
    let totalBytes = 0;
    let previousLastOffset = -1;
    try {
      for (;;) {
        const entries = await iterator.nextv(NEXTV_MAX_ENTRIES);
        if (entries.length === 0) break;
        let full = false;
        for (const [key, value] of entries) {
          if (chunks.length > 0 && totalBytes + value.length > maxBytes) {
            full = true;
            break;
          }
          previousLastOffset = this.#checkStoredBatch(key, value, previousLastOffset);
          chunks.push(value);
          totalBytes += value.length;
        }
        if (full) break;
      }
    } catch (error) {
      throw this.#storageError(error, `read at offset ${offset}`);
    } finally {
      await iterator.close();
    }
    return { chunks, bytes: totalBytes, ...result };
  }

  /**
   * The paired check of what append stored: a value must be one whole v2 batch whose last offset is
   * the one its key names, after the previous batch's. Cheap (no CRC: consumers check CRCs, and
   * the tail is CRC-checked at start-up); a mismatch means the storage is corrupt.
   */
  #checkStoredBatch(key: Buffer, value: Buffer, previousLastOffset: number): number {
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
      this.#logger.error({ lastOffset, valueBytes: value.length }, 'stored batch does not match its key: storage is corrupt');
      throw new StreamBusError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `stored batch ending at offset ${lastOffset} of ${this.topicId}-${this.partition} is corrupt`,
        { context: this.#errorContext },
      );
    }
    return lastOffset;
  }

  /**
   * Kafka's ListOffsets for one partition. `timestamp`: -2 (or -4) the log start offset, -1 the
   * high watermark, -3 the offset and time of the record with the largest timestamp; otherwise
   * the first offset (in offset order, at or after the log start, below the high watermark) whose
   * record timestamp is >= `timestamp`, found through the time index and one decoded batch.
   * { offset: -1, timestamp: -1 } when there is none. Throws INVALID_REQUEST for other negative
   * timestamps.
   */
  async listOffset(timestamp: number): Promise<{ offset: number; timestamp: number }> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    if (timestamp === ListOffsetTimestamp.earliest || timestamp === ListOffsetTimestamp.earliestLocal) {
      return { offset: this.#logStartOffset, timestamp: -1 };
    }
    if (timestamp === ListOffsetTimestamp.latest) return { offset: this.#highWatermark, timestamp: -1 };
    try {
      if (timestamp === ListOffsetTimestamp.maxTimestamp) return await this.#offsetOfMaxTimestamp();
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `unsupported list-offsets timestamp ${timestamp}`, {
          context: this.#errorContext,
        });
      }
      const [entry] = await this.#ctx.db
        .iterator({ gte: this.#keys.timeIndex(timestamp), lt: this.#keys.rangeEnd(KeyTag.timeIndex), limit: 1 })
        .all();
      if (entry === undefined) return { offset: -1, timestamp: -1 };
      const candidate = decodeOffsetValue(entry[1]) ?? this.#logStartOffset;
      // The time index invariant (layout.ts) guarantees no live batch before `candidate` reaches
      // `timestamp`; compaction and retention can only make the first match lie further on.
      const found = await this.#scanForRecord(candidate, (e) => e.maxTimestamp >= timestamp, (records) =>
        records.find((record) => record.timestamp >= timestamp),
      );
      return found ?? { offset: -1, timestamp: -1 };
    } catch (error) {
      throw this.#storageError(error, `list offsets for timestamp ${timestamp}`);
    }
  }

  async #offsetOfMaxTimestamp(): Promise<{ offset: number; timestamp: number }> {
    const [newest] = await this.#ctx.db
      .iterator({ gte: this.#keys.rangeStart(KeyTag.timeIndex), lt: this.#keys.rangeEnd(KeyTag.timeIndex), reverse: true, limit: 1 })
      .all();
    if (newest === undefined) return { offset: -1, timestamp: -1 };
    const maxTimestamp = keyTimestamp(newest[0]);
    const candidate = decodeOffsetValue(newest[1]) ?? this.#logStartOffset;
    const found = await this.#scanForRecord(candidate, (e) => e.maxTimestamp >= maxTimestamp, latestRecord);
    if (found !== undefined) return found;
    // The batch holding the maximum was compacted or deleted: find the largest that is left.
    let best: BatchIndexEntry | undefined;
    for await (const e of this.#scanBatchIndex(this.#logStartOffset, this.#highWatermark)) {
      if (best === undefined || e.maxTimestamp > best.maxTimestamp) best = e;
    }
    if (best === undefined) return { offset: -1, timestamp: -1 };
    const fallback = await this.#scanForRecord(best.lastOffset, (e) => e.lastOffset === best.lastOffset, latestRecord);
    return fallback ?? { offset: -1, timestamp: -1 };
  }

  /**
   * Walks the batch index from the batch ending at or after `fromOffset` (below the high
   * watermark); for each batch that `matches`, decodes it and returns the record `pick` chooses
   * among its records at or after the log start.
   */
  async #scanForRecord(
    fromOffset: number,
    matches: (entry: BatchIndexEntry) => boolean,
    pick: (records: DecodedRecord[]) => DecodedRecord | undefined,
  ): Promise<{ offset: number; timestamp: number } | undefined> {
    const logStartOffset = this.#logStartOffset;
    for await (const entry of this.#scanBatchIndex(Math.max(fromOffset, logStartOffset), this.#highWatermark)) {
      if (!matches(entry)) continue;
      const value = await this.#ctx.db.get(this.#keys.batch(entry.lastOffset));
      if (value === undefined) continue; // deleted since the index scan began
      const [batch] = await decodeRecordBatches(value, { crc32c: this.#ctx.crc32c });
      const record = pick((batch?.records ?? []).filter((r) => r.offset >= logStartOffset));
      if (record !== undefined) return { offset: record.offset, timestamp: record.timestamp };
    }
    return undefined;
  }

  /**
   * Moves the log start offset up to `beforeOffset` (-1: the high watermark) and deletes the
   * batches wholly below it; a batch that straddles it stays, and reads of it still start at the
   * new log start. Resolves with the new log start offset once that is durable. No-op when the
   * log already starts at or after it. Throws OFFSET_OUT_OF_RANGE when it is above the high
   * watermark or not an offset.
   */
  deleteRecords(beforeOffset: number): Promise<number> {
    return this.#exclusive(async () => {
      const refused = this.#refusal();
      if (refused !== undefined) throw refused;
      const target = beforeOffset === -1 ? this.#highWatermark : beforeOffset;
      if (!Number.isSafeInteger(target) || target < 0 || target > this.#highWatermark) {
        throw new StreamBusError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `cannot delete records before offset ${beforeOffset}: the high watermark of ${this.topicId}-${this.partition} is ${this.#highWatermark}`,
          { context: this.#errorContext },
        );
      }
      if (target <= this.#spec.logStartOffset) return this.#spec.logStartOffset;
      try {
        const doomed: BatchIndexEntry[] = [];
        for await (const entry of this.#scanBatchIndex(this.#spec.logStartOffset, target)) doomed.push(entry);
        await this.#deleteBatches(doomed, target);
        this.#logger.info({ logStartOffset: target, deletedBatches: doomed.length }, 'deleted records');
        return this.#spec.logStartOffset;
      } catch (error) {
        throw this.#storageError(error, `delete records before ${beforeOffset}`);
      }
    });
  }

  /** Applies a new config: timestamp type from the next append, retention and compaction from the next pass. */
  updateConfig(config: LogConfig): void {
    checkLogConfig(config);
    this.#config = { ...config };
  }

  /**
   * Calls `listener` (synchronously, after the state is updated) whenever the high watermark
   * advances. Returns the function that unsubscribes it. Listener errors are logged, not thrown.
   */
  onAppend(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  /**
   * @internal For the replication layer: sets the high watermark (between the current one and the
   * log end; it never moves back here) and wakes fetches waiting for data. Persisted with the next
   * write to the partition.
   */
  setHighWatermark(offset: number): void {
    assert.ok(Number.isSafeInteger(offset) && offset <= this.#logEndOffset, `high watermark ${offset} beyond the log end ${this.#logEndOffset}`);
    this.#spec.highWatermark = Math.max(this.#spec.highWatermark, offset);
    this.#advanceHighWatermark(offset);
  }

  /**
   * Calls `listener` (synchronously) whenever the log end advances: what a leader's follower
   * fetches wait for, as consumers wait for the high watermark (onAppend). Returns the unsubscribe.
   */
  onLogEnd(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#logEndListeners.add(wrapped);
    return () => this.#logEndListeners.delete(wrapped);
  }

  #advanceHighWatermark(offset: number): void {
    if (offset <= this.#highWatermark) return;
    this.#highWatermark = offset;
    this.#notify(this.#listeners);
  }

  #notify(listeners: Set<() => void>): void {
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        this.#logger.error({ err: error }, 'append listener threw');
      }
    }
  }

  /** Adds the checkpoint of a batch's leader epoch when it starts a new epoch (same write batch). */
  #recordEpoch(ops: WriteOp[], epoch: number, baseOffset: number, added: EpochEntry[]): void {
    const entry = this.#specEpochs.entryFor(epoch, baseOffset);
    if (entry === undefined) return;
    this.#specEpochs.add(entry);
    added.push(entry);
    ops.push({ type: 'put', key: this.#keys.leaderEpoch(entry.epoch), value: encodeOffsetValue(entry.startOffset) });
  }

  // ---- replication

  /**
   * Leader: records that `epoch` starts at the current log end, before any batch of it is
   * appended, so a follower of an older epoch learns where that epoch ended even if the new leader
   * has not written yet. No-op when the history already has `epoch` or a newer one. Resolves once
   * durable.
   */
  startLeaderEpoch(epoch: number): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#submit(0, () => {
      const ops: WriteOp[] = [];
      const added: EpochEntry[] = [];
      this.#recordEpoch(ops, epoch, this.#spec.logEndOffset, added);
      return {
        lane: this,
        ops,
        bytes: 0,
        result: undefined,
        onCommitted: () => {
          for (const entry of added) this.#epochs.add(entry);
        },
      };
    });
  }

  /**
   * Follower: appends batches fetched from the leader AS THEY ARE (offsets, leader epochs and
   * timestamps the leader assigned). Batches wholly below the log end are skipped (already held);
   * the rest must follow the log end in increasing offset order (gaps, which compaction leaves,
   * are allowed). Records each new leader epoch the batches carry. Resolves with the new log end
   * once durable. Rejects with CORRUPT_MESSAGE when a batch overlaps the log end or goes backwards
   * (nothing is written), and as append() does otherwise.
   */
  appendReplicated(batches: Buffer): Promise<number> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#submit(batches.length, () => this.#buildReplicated(batches));
  }

  #buildReplicated(batches: Buffer): CommitEntry<number> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const spec = this.#spec;
    const startEnd = spec.logEndOffset;
    const ops: WriteOp[] = [];
    const newEpochs: EpochEntry[] = [];
    const epochs = new LeaderEpochHistory(this.#specEpochs.entries);
    let nextOffset = startEnd;
    let maxTimestamp = spec.maxTimestamp;
    let sizeBytes = 0;
    for (let position = 0; position < batches.length; ) {
      const header = batches.length - position >= BATCH_HEADER_BYTES ? readBatchHeader(batches, position) : undefined;
      if (header === undefined || header.magic !== MAGIC_V2 || header.sizeBytes < BATCH_HEADER_BYTES || position + header.sizeBytes > batches.length) {
        throw this.#replicationError(`a replicated batch at byte ${position} is not a whole v2 batch`);
      }
      const value = batches.subarray(position, position + header.sizeBytes);
      position += header.sizeBytes;
      if (header.lastOffset < nextOffset && nextOffset === startEnd) continue; // already held
      if (header.baseOffset < nextOffset) {
        throw this.#replicationError(`replicated batch [${header.baseOffset}, ${header.lastOffset}] overlaps the log end ${nextOffset}`);
      }
      const entry = epochs.entryFor(header.partitionLeaderEpoch, header.baseOffset);
      if (entry !== undefined) {
        epochs.add(entry);
        newEpochs.push(entry);
        ops.push({ type: 'put', key: this.#keys.leaderEpoch(entry.epoch), value: encodeOffsetValue(entry.startOffset) });
      }
      ops.push(
        { type: 'put', key: this.#keys.batch(header.lastOffset), value },
        { type: 'put', key: this.#keys.batchIndex(header.lastOffset), value: encodeBatchIndexValue(header.baseOffset, header.maxTimestamp, header.sizeBytes) },
      );
      if (header.maxTimestamp > maxTimestamp) {
        ops.push({ type: 'put', key: this.#keys.timeIndex(header.maxTimestamp), value: encodeOffsetValue(header.lastOffset) });
        maxTimestamp = header.maxTimestamp;
      }
      sizeBytes += header.sizeBytes;
      nextOffset = header.lastOffset + 1;
    }
    for (const entry of newEpochs) this.#specEpochs.add(entry);
    spec.logEndOffset = nextOffset;
    spec.sizeBytes += sizeBytes;
    spec.maxTimestamp = maxTimestamp;
    if (this.autoHighWatermark) spec.highWatermark = nextOffset;
    if (nextOffset !== startEnd) ops.push(this.#stateOp());
    return {
      lane: this,
      ops,
      bytes: sizeBytes,
      result: nextOffset,
      onCommitted: () => {
        assert.equal(this.#logEndOffset, startEnd, `${this.topicId}-${this.partition}: replicated append committed out of order`);
        this.#logEndOffset = nextOffset;
        this.#sizeBytes += sizeBytes;
        for (const entry of newEpochs) this.#epochs.add(entry);
        if (this.autoHighWatermark) this.#advanceHighWatermark(nextOffset);
        if (nextOffset !== startEnd) this.#notify(this.#logEndListeners);
      },
    };
  }

  /**
   * Follower: removes every batch that ends at or after `offset`, and the leader epochs that start
   * there, in one write with the new partition state. A batch that straddles `offset` goes whole,
   * so the log end becomes `offset` or the base of that batch, whichever is lower (a log has no
   * holes); the high watermark and the log start follow it down if needed. Waits for writes in
   * flight first; the caller must not append concurrently. Resolves with the new log end once
   * durable. No-op at or beyond the log end. Throws OFFSET_OUT_OF_RANGE for a negative offset.
   */
  truncateTo(offset: number): Promise<number> {
    return this.#exclusive(async () => {
      const refused = this.#refusal();
      if (refused !== undefined) throw refused;
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot truncate ${this.topicId}-${this.partition} to ${offset}`, {
          context: this.#errorContext,
        });
      }
      await this.#lastWrite;
      if (offset >= this.#spec.logEndOffset) return this.#spec.logEndOffset;
      try {
        const doomed: BatchIndexEntry[] = [];
        for await (const entry of this.#scanBatchIndex(offset, Number.MAX_SAFE_INTEGER)) doomed.push(entry);
        const timeEntries: { key: Buffer; timestamp: number; lastOffset: number }[] = [];
        for await (const [key, value] of this.#ctx.db.iterator({ gte: this.#keys.rangeStart(KeyTag.timeIndex), lt: this.#keys.rangeEnd(KeyTag.timeIndex) })) {
          timeEntries.push({ key, timestamp: keyTimestamp(key), lastOffset: decodeOffsetValue(value) ?? -1 });
        }
        return await this.#submit(0, () => this.#buildTruncation(offset, doomed, timeEntries));
      } catch (error) {
        throw this.#storageError(error, `truncate to ${offset}`);
      }
    });
  }

  #buildTruncation(
    offset: number,
    doomed: readonly BatchIndexEntry[],
    timeEntries: readonly { key: Buffer; timestamp: number; lastOffset: number }[],
  ): CommitEntry<number> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const spec = this.#spec;
    const newEnd = Math.min(offset, doomed[0]?.baseOffset ?? offset);
    const ops: WriteOp[] = [];
    let removedBytes = 0;
    for (const entry of doomed) {
      ops.push({ type: 'del', key: this.#keys.batch(entry.lastOffset) }, { type: 'del', key: this.#keys.batchIndex(entry.lastOffset) });
      removedBytes += entry.sizeBytes;
    }
    let maxTimestamp = -1;
    for (const entry of timeEntries) {
      if (entry.lastOffset >= newEnd) ops.push({ type: 'del', key: entry.key });
      else maxTimestamp = Math.max(maxTimestamp, entry.timestamp);
    }
    for (const entry of this.#specEpochs.removedBy(newEnd)) ops.push({ type: 'del', key: this.#keys.leaderEpoch(entry.epoch) });
    this.#specEpochs.truncateFromEnd(newEnd);
    const previousEnd = spec.logEndOffset;
    spec.logEndOffset = newEnd;
    spec.logStartOffset = Math.min(spec.logStartOffset, newEnd);
    spec.highWatermark = Math.min(spec.highWatermark, newEnd);
    spec.sizeBytes -= removedBytes;
    spec.maxTimestamp = maxTimestamp;
    spec.cleanedOffset = Math.min(spec.cleanedOffset, newEnd);
    // Visible at once, as the log start is for deletes: nothing past the new end is served again.
    this.#logStartOffset = spec.logStartOffset;
    this.#highWatermark = Math.min(this.#highWatermark, newEnd);
    this.#logEndOffset = Math.min(this.#logEndOffset, newEnd);
    ops.push(this.#stateOp());
    this.#logger.warn({ requestedOffset: offset, logEndOffset: newEnd, previousLogEndOffset: previousEnd, removedBatches: doomed.length }, 'truncated the log tail');
    return {
      lane: this,
      ops,
      bytes: 0,
      result: newEnd,
      onCommitted: () => {
        this.#sizeBytes -= removedBytes;
        this.#epochs.truncateFromEnd(newEnd);
      },
    };
  }

  #replicationError(message: string): StreamBusError {
    return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `${this.topicId}-${this.partition}: ${message}`, { context: this.#errorContext });
  }

  // ---- maintenance (called by LogStore.runMaintenance)

  /** @internal One retention and compaction pass over this partition. */
  maintain(nowMs: number, report: MaintenanceReport): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#refusal() !== undefined) return;
      report.partitions++;
      if (this.#config.cleanupDelete) await this.#applyRetention(nowMs, report);
      if (this.#config.cleanupCompact) {
        const result = await this.#compact(nowMs);
        if (result !== undefined) {
          report.compactedPartitions++;
          report.rewrittenBatches += result.rewrittenBatches;
          report.removedBatches += result.removedBatches;
          report.removedRecords += result.removedRecords;
          report.reclaimedBytes += result.reclaimedBytes;
        }
      }
    });
  }

  async #applyRetention(nowMs: number, report: MaintenanceReport): Promise<void> {
    const planner = new RetentionPlanner(this.#config, nowMs, this.#spec.sizeBytes);
    if (!planner.active) return;
    const doomed: BatchIndexEntry[] = [];
    // Only batches below the high watermark: replicas may still need the rest.
    for await (const entry of this.#scanBatchIndex(this.#spec.logStartOffset, this.#highWatermark)) {
      if (!planner.deletes(entry)) break;
      doomed.push(entry);
    }
    const last = doomed.at(-1);
    if (last === undefined) return;
    const bytes = await this.#deleteBatches(doomed, last.lastOffset + 1);
    report.deletedBatches += doomed.length;
    report.deletedBytes += bytes;
    this.#logger.info(
      { deletedBatches: doomed.length, deletedBytes: bytes, logStartOffset: this.#spec.logStartOffset },
      'retention deleted old batches',
    );
  }

  async #compact(nowMs: number): Promise<CompactionResult | undefined> {
    return compactPartition({
      nowMs,
      config: this.#config,
      minCleanableDirtyRatio: this.#ctx.minCleanableDirtyRatio,
      state: this.#spec,
      highWatermark: this.#highWatermark,
      crc32c: this.#ctx.crc32c,
      scanBatchIndex: (from, to) => this.#scanBatchIndex(from, to),
      scanBatches: (from, to) => this.#scanBatches(from, to),
      write: (changes, finish) => this.#writeCompaction(changes, finish),
    });
  }

  #writeCompaction(changes: readonly BatchChange[], finish: CompactionFinish | undefined): Promise<void> {
    let bytes = 0;
    for (const change of changes) bytes += change.value?.length ?? 0;
    return this.#submit(bytes, () => {
      const refused = this.#refusal();
      if (refused !== undefined) throw refused;
      const ops: WriteOp[] = [];
      let delta = 0;
      for (const { entry, value, maxTimestamp } of changes) {
        // Under the partition lock nothing else deletes or rewrites batches; only appends run.
        assert.ok(entry.lastOffset >= this.#spec.logStartOffset, 'compaction rewrote a batch below the log start');
        if (value === undefined) {
          ops.push({ type: 'del', key: this.#keys.batch(entry.lastOffset) }, { type: 'del', key: this.#keys.batchIndex(entry.lastOffset) });
          delta -= entry.sizeBytes;
        } else {
          ops.push(
            { type: 'put', key: this.#keys.batch(entry.lastOffset), value },
            { type: 'put', key: this.#keys.batchIndex(entry.lastOffset), value: encodeBatchIndexValue(entry.baseOffset, maxTimestamp, value.length) },
          );
          delta += value.length - entry.sizeBytes;
        }
      }
      this.#spec.sizeBytes += delta;
      if (finish !== undefined) {
        this.#spec.cleanedOffset = finish.cleanedOffset;
        this.#spec.tombstoneExpiryMs = finish.tombstoneExpiryMs;
      }
      ops.push(this.#stateOp());
      return {
        lane: this,
        ops,
        bytes,
        result: undefined,
        onCommitted: () => {
          this.#sizeBytes += delta;
        },
      };
    });
  }

  /**
   * Deletes `doomed` (a prefix of the log, ascending) and moves the log start to `newLogStart`.
   * Returns the bytes deleted. Caller holds the partition lock.
   */
  async #deleteBatches(doomed: readonly BatchIndexEntry[], newLogStart: number): Promise<number> {
    let deletedBytes = 0;
    let from = 0;
    do {
      const chunk = doomed.slice(from, from + DELETE_CHUNK_BATCHES);
      from += chunk.length;
      const isLast = from >= doomed.length;
      const chunkStart = isLast ? newLogStart : chunk.at(-1)!.lastOffset + 1;
      let chunkBytes = 0;
      for (const entry of chunk) chunkBytes += entry.sizeBytes;
      deletedBytes += chunkBytes;
      await this.#submit(0, () => {
        const refused = this.#refusal();
        if (refused !== undefined) throw refused;
        const ops: WriteOp[] = [];
        for (const entry of chunk) {
          ops.push({ type: 'del', key: this.#keys.batch(entry.lastOffset) }, { type: 'del', key: this.#keys.batchIndex(entry.lastOffset) });
        }
        this.#spec.logStartOffset = Math.max(this.#spec.logStartOffset, chunkStart);
        this.#spec.sizeBytes -= chunkBytes;
        // Visible at once: reads below the new start are refused before the batches go.
        this.#logStartOffset = this.#spec.logStartOffset;
        ops.push(this.#stateOp());
        return {
          lane: this,
          ops,
          bytes: 0,
          result: undefined,
          onCommitted: () => {
            this.#sizeBytes -= chunkBytes;
          },
        };
      });
    } while (from < doomed.length);
    await this.#repairTimeIndex();
    return deletedBytes;
  }

  /**
   * After a prefix of the log is gone, drops the time-index entries that name deleted batches and
   * re-covers the live batches those entries covered (layout.ts states the invariant).
   *
   * Entries rise in both timestamp and offset, so the dead ones are a prefix. Let S be the first
   * live entry. Live batches at or after S's batch are covered by S or later entries (S's timestamp
   * exceeds every dead entry's). Live batches before S's batch were covered only by dead entries,
   * so they get fresh entries from a running maximum over [logStart, S). That range is fully
   * written (S is on disk), so no in-flight append races with it. When no live entry exists the
   * newest dead entry is kept: it still covers every batch, including ones in flight.
   */
  async #repairTimeIndex(): Promise<void> {
    const logStartOffset = this.#spec.logStartOffset;
    const dead: Buffer[] = [];
    let firstLive: number | undefined;
    for await (const [key, value] of this.#ctx.db.iterator({
      gte: this.#keys.rangeStart(KeyTag.timeIndex),
      lt: this.#keys.rangeEnd(KeyTag.timeIndex),
    })) {
      const offset = decodeOffsetValue(value) ?? -1;
      if (offset >= logStartOffset) {
        firstLive = offset;
        break;
      }
      dead.push(key);
    }
    if (dead.length === 0) return;
    const ops: WriteOp[] = [];
    if (firstLive === undefined) {
      dead.pop();
    } else {
      let runningMax = Number.NEGATIVE_INFINITY;
      for await (const entry of this.#scanBatchIndex(logStartOffset, firstLive)) {
        if (entry.maxTimestamp <= runningMax) continue;
        runningMax = entry.maxTimestamp;
        ops.push({ type: 'put', key: this.#keys.timeIndex(entry.maxTimestamp), value: encodeOffsetValue(entry.lastOffset) });
      }
    }
    // Deletes first: a fresh entry may reuse a dead entry's timestamp (the batch order decides).
    ops.unshift(...dead.map((key): WriteOp => ({ type: 'del', key })));
    if (ops.length === 0) return;
    await this.#submit(0, () => ({ lane: this, ops, bytes: 0, result: undefined, onCommitted: () => {} }));
  }

  // ---- lifecycle (LogStore)

  /**
   * @internal Refuses all further calls with `reason` from now on (synchronously), then waits for
   * running maintenance to stop. Entries already handed to the committer still complete.
   */
  async close(reason: StreamBusError): Promise<void> {
    this.#closed ??= reason;
    await this.#exclusive(() => Promise.resolve());
  }

  /** @internal Resolves when every entry submitted so far for this partition has settled. */
  drained(): Promise<void> {
    return this.#lastWrite;
  }

  // ---- helpers

  #refusal(): StreamBusError | undefined {
    return this.#closed ?? this.#ctx.committer.failure;
  }

  /** Submits an entry of this partition and remembers it, so drained() can wait for it. */
  #submit<T>(bytes: number, build: () => CommitEntry<T>): Promise<T> {
    const written = this.#ctx.committer.submit(bytes, build);
    this.#lastWrite = written.then(
      () => {},
      () => {},
    );
    return written;
  }

  #stateOp(): WriteOp {
    return { type: 'put', key: this.#keys.state(), value: encodePartitionState(this.#spec) };
  }

  /** Batch index entries of batches ending in [fromOffset, toOffset). */
  async *#scanBatchIndex(fromOffset: number, toOffset: number): AsyncGenerator<BatchIndexEntry> {
    if (toOffset <= fromOffset) return;
    for await (const [key, value] of this.#ctx.db.iterator({ gte: this.#keys.batchIndex(fromOffset), lt: this.#keys.batchIndex(toOffset) })) {
      const lastOffset = keyOffset(key);
      const entry = decodeBatchIndexEntry(lastOffset, value);
      if (entry === undefined) {
        throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `batch index entry at offset ${lastOffset} is corrupt`, {
          context: this.#errorContext,
        });
      }
      yield entry;
    }
  }

  /** Stored batches ending in [fromOffset, toOffset), as [lastOffset, bytes]. */
  async *#scanBatches(fromOffset: number, toOffset: number): AsyncGenerator<[number, Buffer]> {
    if (toOffset <= fromOffset) return;
    let previousLastOffset = -1;
    for await (const [key, value] of this.#ctx.db.iterator({
      gte: this.#keys.batch(fromOffset),
      lt: this.#keys.batch(toOffset),
      highWaterMarkBytes: SCAN_HIGH_WATER_BYTES,
    })) {
      previousLastOffset = this.#checkStoredBatch(key, value, previousLastOffset);
      yield [previousLastOffset, value];
    }
  }

  /** Runs `task` alone among this partition's maintenance, delete-records and close. */
  async #exclusive<T>(task: () => Promise<T>): Promise<T> {
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

  #storageError(error: unknown, what: string): StreamBusError {
    if (error instanceof StreamBusError) return error;
    if (error instanceof assert.AssertionError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    this.#logger.error({ err: error }, `log storage failed during ${what}`);
    return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `${what} on ${this.topicId}-${this.partition} failed: ${message}`, {
      cause: error,
      context: this.#errorContext,
    });
  }
}

/** The record with the largest timestamp (the first of equals), as ListOffsets -3 reports. */
function latestRecord(records: DecodedRecord[]): DecodedRecord | undefined {
  let best: DecodedRecord | undefined;
  for (const record of records) if (best === undefined || record.timestamp > best.timestamp) best = record;
  return best;
}
