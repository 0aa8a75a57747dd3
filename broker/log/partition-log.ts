/**
 * One partition's log: its public API (append, fetch, offset lookup by time, delete-records,
 * replication, maintenance, lifecycle) and the leader's append path. Storage layout: ./layout.ts.
 * The other ideas live beside it, sharing the partition's state through ./partition-core.ts:
 * reads and ListOffsets in ./partition-read.ts, the follower's replicated append and truncation
 * in ./partition-replication.ts, delete-records, retention and compaction writes in
 * ./partition-maintenance.ts.
 *
 * Three views of the log's end, and why:
 * - the SPECULATIVE state (spec) includes every entry already handed to the committer. Offsets are
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
 * Replication (docs/replication.md) adds three things: a follower appends the leader's batches
 * as they are (appendReplicated: offsets kept, contiguity checked), a follower truncates its tail
 * where its history diverged from the leader's (truncateTo), and every append records the leader
 * epochs its batches carry in the leader-epoch history (./leader-epochs.ts), persisted in the same
 * write batch as the data. The high watermark is part of the partition state and is persisted with
 * the next write to the partition, so after a crash it may lag; it never runs ahead of the data.
 *
 * Idempotent and transactional produce (docs/transactions-broker.md): the leader's append checks
 * every batch against the producer state (./producer-state.ts) before it assigns offsets, answers
 * an exact retry with the original offsets, and writes the changed producer entries with the
 * batches (./producer-state-store.ts); appendMarker writes the control batch that ends a
 * transaction; lastStableOffset and abortedTransactions serve read_committed fetches.
 */import assert from 'node:assert/strict';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import {
  BATCH_HEADER_BYTES,
  MAGIC_V2,
  patchBaseOffset,
  patchPartitionLeaderEpoch,
  readBatchHeader,
  setLogAppendTime,
  type BatchHeader,
} from '../../proto/record-batch/index.js';
import type { CommitEntry, WriteOp } from './committer.js';
import { encodeMarkerBatch, type MarkerSpec } from './control-batch.js';
import { encodeBatchIndexValue, encodeOffsetValue, type PartitionState } from './layout.js';
import type { EpochEndOffset, EpochEntry } from './leader-epochs.js';
import { PartitionCore, type LogContext } from './partition-core.js';
import { deleteRecords, maintain } from './partition-maintenance.js';
import { listOffset, readChunks } from './partition-read.js';
import { appendReplicated, restartAt, startLeaderEpoch, truncateTo } from './partition-replication.js';
import { DEFAULT_PRODUCER_EXPIRATION_MS, type AbortedTxn, type MarkerInfo, type ProducerEntry, type ProducerState } from './producer-state.js';
import { abortedPut, producerPut, readProducerState, repairProducerState } from './producer-state-store.js';
import { checkLogConfig, type AppendResult, type ChunkedReadResult, type LogConfig, type MaintenanceReport, type ReadResult } from './types.js';

export type { LogContext } from './partition-core.js';
export type { MarkerSpec } from './control-batch.js';
export type { AbortedTxn, ProducerEntry } from './producer-state.js';
export { ListOffsetTimestamp } from './partition-read.js';

const EMPTY = Buffer.alloc(0);

/** One batch of an append, as the plan decided it: written at baseOffset, or a duplicate answered with its original offsets. */
interface AppendStep {
  readonly header: BatchHeader;
  readonly duplicate: boolean;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

interface AppendPlan {
  readonly steps: AppendStep[];
  /** The fork the batches were checked and applied on; adopted when the entry is built. */
  readonly producers: ProducerState;
  /** One past the last offset the plan assigns. */
  readonly endOffset: number;
}

export class PartitionLog {
  readonly topicId: string;
  readonly partition: number;
  /**
   * @internal Single node: the high watermark follows the durable log end. The replication layer
   * sets this to false and drives the high watermark with setHighWatermark.
   */
  autoHighWatermark = true;

  readonly #core: PartitionCore;

  /** @internal Built by LogStore.openPartition, from recovered or fresh state. */
  constructor(ctx: LogContext, topicId: string, partition: number, config: LogConfig, state: PartitionState, epochs: readonly EpochEntry[] = []) {
    checkLogConfig(config);
    this.topicId = topicId;
    this.partition = partition;
    this.#core = new PartitionCore(this, ctx, topicId, partition, config, state, epochs);
  }

  /** The newest leader epoch that wrote to this log (or started on it), -1 for none. */
  get latestEpoch(): number {
    return this.#core.epochs.latestEpoch;
  }

  /** The committed leader-epoch history, oldest first. */
  get leaderEpochs(): readonly EpochEntry[] {
    return this.#core.epochs.entries;
  }

  /**
   * Where `epoch` ends in this log: the largest epoch <= `epoch` in the history, and the start of
   * the epoch after it (or the log end). { epoch: -1, endOffset: -1 } when the history has none.
   */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.#core.epochs.endOffsetFor(epoch, this.#core.logEndOffset);
  }

  /** The first offset a fetch may ask for. */
  get logStartOffset(): number {
    return this.#core.logStartOffset;
  }

  /** One past the last offset written (durable per the durability mode). */
  get logEndOffset(): number {
    return this.#core.logEndOffset;
  }

  /** One past the last offset consumers may read. */
  get highWatermark(): number {
    return this.#core.highWatermark;
  }

  /** Bytes of stored batches, as retention.bytes counts them. */
  get sizeBytes(): number {
    return this.#core.sizeBytes;
  }

  get config(): Readonly<LogConfig> {
    return this.#core.config;
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
    const refused = this.#core.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#core.submit(batches.length, () => this.#buildAppend(batches, options.nowMs));
  }

  /**
   * Writes a transaction marker (a control batch, ./control-batch.ts) for `marker.producerId`,
   * stamped with `leaderEpoch`, and closes the producer's transaction on this partition: an abort
   * enters the aborted-transaction index; either way the last stable offset may move once the
   * marker is below the high watermark. Resolves with the marker's offset once durable. Rejects
   * with TRANSACTION_COORDINATOR_FENCED (an older coordinator epoch than one already seen for the
   * producer) or INVALID_PRODUCER_EPOCH (an older producer epoch), writing nothing, and as
   * append() does otherwise.
   */
  appendMarker(marker: MarkerSpec, options: { nowMs: number; leaderEpoch: number }): Promise<AppendResult> {
    const refused = this.#core.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (!Number.isSafeInteger(marker.producerId) || marker.producerId < 0 || marker.producerEpoch < 0) {
      return Promise.reject(
        new StreamBusError(ErrorCode.INVALID_REQUEST, `a marker needs a producer id and epoch >= 0, got ${marker.producerId}/${marker.producerEpoch}`, {
          context: this.#core.errorContext,
        }),
      );
    }
    const batch = encodeMarkerBatch(marker, options.nowMs, this.#core.ctx.crc32c);
    patchPartitionLeaderEpoch(batch, 0, options.leaderEpoch);
    return this.#core.submit(batch.length, () => this.#buildAppend(batch, options.nowMs, marker));
  }

  /**
   * The leader's append: first every batch is checked against the producer state (on a fork, in
   * order, so two batches of one producer in one append follow each other) without touching
   * anything; a failed check throws its typed error and nothing is written. Then the batches that
   * are not duplicates get offsets and are written with the producer entries they changed.
   */
  #buildAppend(batches: Buffer, nowMs: number, marker?: MarkerInfo): CommitEntry<AppendResult> {
    const core = this.#core;
    const refused = core.refusal();
    if (refused !== undefined) throw refused;
    assert.ok(batches.length >= BATCH_HEADER_BYTES, `append of ${batches.length} bytes: no record batch (validate before appending)`);
    const logAppendTime = core.config.timestampType === 'LogAppendTime';
    const spec = core.spec;
    const plan = this.#planAppend(batches, spec.logEndOffset, logAppendTime ? nowMs : undefined, marker);
    const baseOffset = spec.logEndOffset;
    const ops: WriteOp[] = [];
    const newEpochs: EpochEntry[] = [];
    /** The stored batches, for the tail cache once they are committed. */
    const tail = core.tailBatches();
    let nextOffset = baseOffset;
    let maxTimestamp = spec.maxTimestamp;
    let sizeBytes = 0;
    let position = 0;
    for (const step of plan.steps) {
      const header = step.header;
      if (step.duplicate) {
        position += header.sizeBytes;
        continue;
      }
      patchBaseOffset(batches, position, nextOffset);
      core.recordEpoch(ops, header.partitionLeaderEpoch, nextOffset, newEpochs);
      let batchMaxTimestamp = header.maxTimestamp;
      if (logAppendTime) {
        setLogAppendTime(batches, position, nowMs, core.ctx.crc32c);
        batchMaxTimestamp = nowMs;
      }
      const lastOffset = nextOffset + header.lastOffsetDelta;
      const value = batches.subarray(position, position + header.sizeBytes);
      tail?.push({ value, baseOffset: nextOffset, lastOffset });
      ops.push(
        { type: 'put', key: core.keys.batch(lastOffset), value },
        { type: 'put', key: core.keys.batchIndex(lastOffset), value: encodeBatchIndexValue(nextOffset, batchMaxTimestamp, header.sizeBytes) },
      );
      if (batchMaxTimestamp > maxTimestamp) {
        ops.push({ type: 'put', key: core.keys.timeIndex(batchMaxTimestamp), value: encodeOffsetValue(lastOffset) });
        maxTimestamp = batchMaxTimestamp;
      }
      sizeBytes += header.sizeBytes;
      nextOffset = lastOffset + 1;
      position += header.sizeBytes;
    }
    assert.equal(nextOffset, plan.endOffset, `${this.topicId}-${this.partition}: the append plan and the write disagree on offsets`);
    core.producers.adopt(plan.producers);
    for (const entry of plan.producers.entries()) ops.push(producerPut(core.keys, entry));
    for (const txn of plan.producers.aborted) ops.push(abortedPut(core.keys, txn));
    const wrote = nextOffset !== baseOffset;
    if (wrote) {
      spec.logEndOffset = nextOffset;
      spec.sizeBytes += sizeBytes;
      spec.maxTimestamp = maxTimestamp;
      if (this.autoHighWatermark) spec.highWatermark = nextOffset;
      ops.push(core.stateOp());
    }
    const first = plan.steps[0]!;
    const last = plan.steps.at(-1)!;
    return {
      lane: this,
      ops,
      bytes: batches.length,
      result: {
        baseOffset: first.baseOffset,
        lastOffset: last.lastOffset,
        logAppendTimeMs: logAppendTime && !first.duplicate ? nowMs : -1,
        logStartOffset: core.logStartOffset,
      },
      onCommitted: () => {
        // A retry answered from the producer state writes nothing, but still commits after the
        // entry that wrote the original (same lane, in order), so it resolves only once that is durable.
        if (!wrote) return;
        // Paired with the assignment above: entries of a partition commit in the order their
        // offsets were assigned, so each starts exactly where the previous one ended.
        assert.equal(core.logEndOffset, baseOffset, `${this.topicId}-${this.partition}: append committed out of order`);
        core.logEndOffset = nextOffset;
        core.sizeBytes += sizeBytes;
        if (tail !== undefined) core.cacheTail(tail);
        for (const entry of newEpochs) core.epochs.add(entry);
        if (this.autoHighWatermark) core.advanceHighWatermark(nextOffset);
        core.notify(core.logEndListeners);
      },
    };
  }

  /**
   * Checks every batch of an append against a fork of the producer state and decides its offsets
   * (the same ones the write then assigns). Throws the first batch's typed error, if any fails.
   */
  #planAppend(batches: Buffer, startOffset: number, logAppendTimeMs: number | undefined, marker: MarkerInfo | undefined): AppendPlan {
    const headers: BatchHeader[] = [];
    for (let position = 0; position < batches.length; ) {
      assert.ok(batches.length - position >= BATCH_HEADER_BYTES, `partial batch at byte ${position} (validate before appending)`);
      const header = readBatchHeader(batches, position);
      assert.ok(
        header.magic === MAGIC_V2 &&
          header.sizeBytes >= BATCH_HEADER_BYTES &&
          position + header.sizeBytes <= batches.length &&
          header.lastOffsetDelta >= 0,
        `malformed batch at byte ${position} (validate before appending)`,
      );
      assert.ok(header.isControl === (marker !== undefined), 'control batches are appended through appendMarker only');
      headers.push(header);
      position += header.sizeBytes;
    }
    const producers = this.#core.producers.fork(headers.map((h) => h.producerId));
    const steps: AppendStep[] = [];
    let nextOffset = startOffset;
    for (const header of headers) {
      if (marker !== undefined) producers.checkMarker(header.producerId, header.producerEpoch, marker.coordinatorEpoch);
      const decision = marker === undefined ? producers.check(header) : ({ kind: 'append' } as const);
      if (decision.kind === 'duplicate') {
        steps.push({ header, duplicate: true, baseOffset: decision.firstOffset, lastOffset: decision.lastOffset });
        continue;
      }
      const lastOffset = nextOffset + header.lastOffsetDelta;
      const maxTimestamp = logAppendTimeMs ?? header.maxTimestamp;
      producers.apply({ ...header, maxTimestamp, baseOffset: nextOffset, lastOffset }, marker);
      steps.push({ header, duplicate: false, baseOffset: nextOffset, lastOffset });
      nextOffset = lastOffset + 1;
    }
    return { steps, producers, endOffset: nextOffset };
  }

  /** The last stable offset: read_committed consumers read below it (./producer-state.ts). */
  get lastStableOffset(): number {
    return this.#core.producers.lastStableOffset(this.#core.highWatermark);
  }

  /** Aborted transactions overlapping [fromOffset, toOffset), for a read_committed fetch of that range. */
  abortedTransactions(fromOffset: number, toOffset: number): AbortedTxn[] {
    return this.#core.producers.abortedIn(fromOffset, toOffset);
  }

  /** The producers this partition knows (DESCRIBE_PRODUCERS), as copies. */
  producers(): ProducerEntry[] {
    return [...this.#core.producers.entries()].map((entry) => ({ ...entry, batches: [...entry.batches] }));
  }

  /** How many producers this partition keeps state for (the producer-state gauge). */
  get producerCount(): number {
    return this.#core.producers.size;
  }

  /**
   * @internal LogStore.openPartition: loads the persisted producer state, and repairs it (synced)
   * if recovery dropped a tail or an entry is unreadable, before the partition serves anything.
   */
  async loadProducerState(): Promise<void> {
    const core = this.#core;
    const access = { db: core.ctx.db, keys: core.keys, crc32c: core.ctx.crc32c };
    try {
      const { state, unreadable } = await readProducerState(access);
      const ops = await repairProducerState(access, state, core.spec.logStartOffset, core.spec.logEndOffset, unreadable);
      if (ops.length > 0) {
        await core.ctx.db.batch(ops, { sync: true });
        core.logger.warn({ changes: ops.length }, 'rebuilt producer state after the log lost its tail');
      }
      core.producers = state;
    } catch (error) {
      throw core.storageError(error, 'load producer state');
    }
  }

  /**
   * Forgets producers idle longer than the expiration with no open transaction, and drops aborted
   * transactions whose marker retention deleted. Resolves once durable.
   */
  async #expireProducers(nowMs: number): Promise<void> {
    const core = this.#core;
    const expirationMs = core.ctx.producerExpirationMs ?? DEFAULT_PRODUCER_EXPIRATION_MS;
    await core.submit(0, () => {
      const ops: WriteOp[] = [];
      for (const producerId of core.producers.expire(nowMs, expirationMs)) ops.push({ type: 'del', key: core.keys.producer(producerId) });
      for (const txn of core.producers.trimAborted(core.spec.logStartOffset)) ops.push({ type: 'del', key: core.keys.abortedTxn(txn.lastOffset) });
      return { lane: this, ops, bytes: 0, result: undefined, onCommitted: () => {} };
    });
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
  readChunks(offset: number, maxBytes: number, options?: { maxOffset?: number }): Promise<ChunkedReadResult> {
    return readChunks(this.#core, offset, maxBytes, options);
  }

  /**
   * Kafka's ListOffsets for one partition. `timestamp`: -2 (or -4) the log start offset, -1 the
   * high watermark, -3 the offset and time of the record with the largest timestamp; otherwise
   * the first offset (in offset order, at or after the log start, below the high watermark) whose
   * record timestamp is >= `timestamp`, found through the time index and one decoded batch.
   * { offset: -1, timestamp: -1 } when there is none. Throws INVALID_REQUEST for other negative
   * timestamps.
   */
  listOffset(timestamp: number): Promise<{ offset: number; timestamp: number }> {
    return listOffset(this.#core, timestamp);
  }

  /**
   * Moves the log start offset up to `beforeOffset` (-1: the high watermark) and deletes the
   * batches wholly below it; a batch that straddles it stays, and reads of it still start at the
   * new log start. Resolves with the new log start offset once that is durable. No-op when the
   * log already starts at or after it. Throws OFFSET_OUT_OF_RANGE when it is above the high
   * watermark or not an offset.
   */
  deleteRecords(beforeOffset: number): Promise<number> {
    return deleteRecords(this.#core, beforeOffset);
  }

  /** Applies a new config: timestamp type from the next append, retention and compaction from the next pass. */
  updateConfig(config: LogConfig): void {
    checkLogConfig(config);
    this.#core.config = { ...config };
  }

  /**
   * Calls `listener` (synchronously, after the state is updated) whenever the high watermark
   * advances. Returns the function that unsubscribes it. Listener errors are logged, not thrown.
   */
  onAppend(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#core.listeners.add(wrapped);
    return () => this.#core.listeners.delete(wrapped);
  }

  /**
   * @internal For the replication layer: sets the high watermark (between the current one and the
   * log end; it never moves back here) and wakes fetches waiting for data. Persisted with the next
   * write to the partition.
   */
  setHighWatermark(offset: number): void {
    const core = this.#core;
    assert.ok(Number.isSafeInteger(offset) && offset <= core.logEndOffset, `high watermark ${offset} beyond the log end ${core.logEndOffset}`);
    core.spec.highWatermark = Math.max(core.spec.highWatermark, offset);
    core.advanceHighWatermark(offset);
  }

  /**
   * Calls `listener` (synchronously) whenever the log end advances: what a leader's follower
   * fetches wait for, as consumers wait for the high watermark (onAppend). Returns the unsubscribe.
   */
  onLogEnd(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#core.logEndListeners.add(wrapped);
    return () => this.#core.logEndListeners.delete(wrapped);
  }

  // ---- replication (./partition-replication.ts)

  /**
   * Leader: records that `epoch` starts at the current log end, before any batch of it is
   * appended, so a follower of an older epoch learns where that epoch ended even if the new leader
   * has not written yet. No-op when the history already has `epoch` or a newer one. Resolves once
   * durable.
   */
  startLeaderEpoch(epoch: number): Promise<void> {
    return startLeaderEpoch(this.#core, epoch);
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
    return appendReplicated(this.#core, batches);
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
    return truncateTo(this.#core, offset);
  }

  /**
   * Follower: empties the log and starts it again at `offset`, the leader's log start, when this
   * log ends before it: the leader no longer holds the next offset this replica needs (it lost its
   * disk, or was away while retention or DeleteRecords moved the leader's log start past it).
   * Kafka's truncate-fully-and-start-at. Every batch, time index entry and leader epoch goes in one
   * write with the new partition state, whose log start, log end and high watermark are `offset`
   * (the leader deletes only below its high watermark). Waits for writes in flight first; the
   * caller must not append concurrently. Resolves once durable. Throws OFFSET_OUT_OF_RANGE when the
   * log already reaches `offset`.
   */
  restartAt(offset: number): Promise<void> {
    return restartAt(this.#core, offset);
  }

  // ---- maintenance (called by LogStore.runMaintenance; ./partition-maintenance.ts)

  /** @internal One retention and compaction pass over this partition, then producer expiration. */
  async maintain(nowMs: number, report: MaintenanceReport): Promise<void> {
    await maintain(this.#core, nowMs, report);
    if (this.#core.refusal() === undefined) await this.#expireProducers(nowMs);
  }

  // ---- lifecycle (LogStore)

  /**
   * @internal Refuses all further calls with `reason` from now on (synchronously), then waits for
   * running maintenance to stop. Entries already handed to the committer still complete.
   */
  async close(reason: StreamBusError): Promise<void> {
    this.#core.closed ??= reason;
    this.#core.tail.clear();
    await this.#core.exclusive(() => Promise.resolve());
  }

  /** @internal Resolves when every entry submitted so far for this partition has settled. */
  drained(): Promise<void> {
    return this.#core.lastWrite;
  }
}
