/**
 * The broker's log storage: one classic-level (LevelDB) database in one directory, holding every
 * partition of every topic (layout: ./layout.ts). It owns the database handle, the committer that
 * applies the durability mode (./committer.ts), start-up recovery (./recovery.ts), topic deletion
 * and the periodic retention and compaction pass.
 *
 * Lifecycle: open() recovers and returns a ready store; close() refuses new work, lets queued
 * writes finish, records a clean shutdown (so the next open checks less) and closes the database.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { pino, type Logger } from 'pino';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { crc32c } from '../../proto/record-batch/index.js';
import { Committer, type CommitterStats, type LogDatabase, type WriteOp } from './committer.js';
import {
  FORMAT_VERSION,
  KeyTag,
  PARTITION_SCOPED_TAGS,
  PartitionKeys,
  StoreKey,
  parseScopedKey,
  parseTopicKey,
  prefixEnd,
  storeKey,
  topicPrefix,
  encodePartitionState,
  decodeOffsetValue,
  keyEpoch,
  type PartitionState,
} from './layout.js';
import type { EpochEntry } from './leader-epochs.js';
import { PartitionLog, type LogContext } from './partition-log.js';
import { TailBudget } from './tail-cache.js';
import { recoverPartition, type TailCheck } from './recovery.js';
import {
  checkDurability,
  checkLogConfig,
  emptyMaintenanceReport,
  type DurabilityConfig,
  type LogConfig,
  type MaintenanceReport,
} from './types.js';

/**
 * LevelDB settings, tuned for a log of large, already-compressed values under a synced write-ahead
 * log (bench/log.ts, bench/storage-options.ts and the native benchmark measure them).
 *
 * Small memtables and table files, because what hurts an fsync-per-group log is bursts of table
 * data: a memtable flush writes one table file the size of the memtable and a compaction writes
 * files of maxFileSize, each synced when complete, and while the disk works off such a burst every
 * synced write-ahead-log append (every produce acknowledgement) waits behind it. Measured on the
 * benchmark VM at 20 MB/s of 20 KiB appends with compactions running, 64 MiB memtables and files
 * gave append p99 of 170-250 ms and stalls of up to 3 s at full speed; 4-16 MiB memtables with
 * 2-4 MiB files gave p99 of 28-40 ms. Small files also let compaction move most table files down a
 * level without rewriting them (a batch range rarely overlaps the level below), so the disk wrote
 * about 3.2-3.6 bytes per payload byte instead of 4-10. Compression is off because batches are
 * compressed by their producers or were sent uncompressed on purpose; snappy over them costs CPU
 * for little gain.
 */
export interface LevelDbTuning {
  /** Memtable and write-ahead-log size before a flush (one table file of this size). Up to two are in memory. */
  readonly writeBufferSize?: number;
  /** Target size of table files written by compaction. */
  readonly maxFileSize?: number;
  /** Size of table blocks (a 100 KiB batch is one block on its own anyway). */
  readonly blockSize?: number;
  /** LRU cache of uncompressed blocks (fetches bypass it: fillCache is off for scans). */
  readonly cacheSize?: number;
  readonly compression?: boolean;
  readonly maxOpenFiles?: number;
}

export const DEFAULT_LEVELDB_TUNING: Required<LevelDbTuning> = {
  writeBufferSize: 8 << 20,
  maxFileSize: 2 << 20,
  blockSize: 64 << 10,
  cacheSize: 32 << 20,
  compression: false,
  maxOpenFiles: 1000,
};

export interface LogStoreOptions {
  /** The database directory; created if missing. */
  readonly dir: string;
  readonly durability: DurabilityConfig;
  readonly logger?: Logger;
  readonly leveldb?: LevelDbTuning;
  /**
   * Largest group commit written at once (a single larger append still goes alone). Default 2 MiB:
   * db.batch() copies a group synchronously on the event loop (see ./committer.ts).
   */
  readonly maxGroupBytes?: number;
  /** Appended bytes waiting for a write before appends wait their turn. Default 256 MiB. */
  readonly maxQueuedBytes?: number;
  /** Compaction runs when the dirty share of the cleanable bytes reaches this. Default 0.5. */
  readonly minCleanableDirtyRatio?: number;
  /** Tail verification after a crash. Default 16 batches or 16 MiB per partition. */
  readonly crashTailCheck?: TailCheck;
  /** Producers idle this long with no open transaction are forgotten. Default 86400000 (Kafka's producer.id.expiration.ms). */
  readonly producerExpirationMs?: number;
  /**
   * Memory for the newest batches of the partitions, so fetches at the tail skip LevelDB
   * (./tail-cache.ts). Default 64 MiB for the whole store; 0 turns the cache off.
   */
  readonly tailCacheBytes?: number;
}

/** See LogStoreOptions.maxGroupBytes. */
const DEFAULT_MAX_GROUP_BYTES = 2 << 20;
/** See LogStoreOptions.tailCacheBytes. */
const DEFAULT_TAIL_CACHE_BYTES = 64 << 20;
/** Partitions whose tails are checked at the same time during open. */
const RECOVERY_CONCURRENCY = 8;
const CLEAN_TAIL_CHECK: TailCheck = { batches: 1, bytes: 1 };
const DEFAULT_CRASH_TAIL_CHECK: TailCheck = { batches: 16, bytes: 16 << 20 };

const FRESH_STATE: PartitionState = {
  logStartOffset: 0,
  logEndOffset: 0,
  highWatermark: 0,
  sizeBytes: 0,
  maxTimestamp: -1,
  cleanedOffset: 0,
  tombstoneExpiryMs: -1,
};

type PartitionMap<T> = Map<string, Map<number, T>>;

function getIn<T>(map: PartitionMap<T>, topicId: string, partition: number): T | undefined {
  return map.get(topicId)?.get(partition);
}

function setIn<T>(map: PartitionMap<T>, topicId: string, partition: number, value: T): void {
  let inner = map.get(topicId);
  if (inner === undefined) map.set(topicId, (inner = new Map<number, T>()));
  inner.set(partition, value);
}

function deleteIn<T>(map: PartitionMap<T>, topicId: string, partition: number): void {
  const inner = map.get(topicId);
  inner?.delete(partition);
  if (inner?.size === 0) map.delete(topicId);
}

function storageError(message: string, cause: unknown): StreamBusError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `${message}${detail}`, { cause });
}

export class LogStore {
  readonly dir: string;
  readonly #db: LogDatabase;
  readonly #committer: Committer;
  readonly #logger: Logger;
  readonly #context: LogContext;
  /** Partitions found on disk at open and not opened yet: their recovered state. */
  readonly #recovered: PartitionMap<PartitionState>;
  readonly #open: PartitionMap<PartitionLog> = new Map();
  readonly #opening: PartitionMap<Promise<PartitionLog>> = new Map();
  readonly #deleting = new Map<string, Promise<void>>();
  /** Partition deletions in progress (a replica reassigned away), by topic id and partition. */
  readonly #deletingPartitions: PartitionMap<Promise<void>> = new Map();
  #maintenance: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  private constructor(dir: string, db: LogDatabase, committer: Committer, context: LogContext, recovered: PartitionMap<PartitionState>) {
    this.dir = dir;
    this.#db = db;
    this.#committer = committer;
    this.#logger = context.logger;
    this.#context = context;
    this.#recovered = recovered;
  }

  /**
   * Opens (creating if needed) the store in `dir` and recovers it: finishes topic deletions a crash
   * interrupted, loads every partition's state checkpoint, and verifies each partition's newest
   * batches, dropping corrupt ones (logged) before anything can read them. Throws
   * KAFKA_STORAGE_ERROR when the database cannot be opened (in use by another process, unreadable,
   * written by an unknown format version).
   */
  static async open(options: LogStoreOptions): Promise<LogStore> {
    checkDurability(options.durability);
    const tailCacheBytes = options.tailCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES;
    if (!Number.isSafeInteger(tailCacheBytes) || tailCacheBytes < 0) {
      throw new StreamBusError(ErrorCode.INVALID_CONFIG, `tailCacheBytes must be a non-negative integer, got ${String(options.tailCacheBytes)}`);
    }
    const logger = (options.logger ?? pino({ enabled: false })).child({ component: 'log' });
    const tuning = { ...DEFAULT_LEVELDB_TUNING, ...options.leveldb };
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (cause) {
      throw storageError(`cannot create the log directory ${options.dir}`, cause);
    }
    const db: LogDatabase = new ClassicLevel<Buffer, Buffer>(options.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', ...tuning });
    try {
      await db.open();
    } catch (cause) {
      throw storageError(`cannot open the log database in ${options.dir}`, cause);
    }
    try {
      const recovered = await LogStore.#recover(db, options, logger);
      const committer = new Committer({
        db,
        durability: options.durability,
        logger,
        maxGroupBytes: options.maxGroupBytes ?? DEFAULT_MAX_GROUP_BYTES,
        maxQueuedBytes: options.maxQueuedBytes ?? 256 << 20,
      });
      const context: LogContext = {
        db,
        committer,
        logger,
        crc32c,
        minCleanableDirtyRatio: options.minCleanableDirtyRatio ?? 0.5,
        tailBudget: new TailBudget(tailCacheBytes),
        ...(options.producerExpirationMs === undefined ? {} : { producerExpirationMs: options.producerExpirationMs }),
      };
      logger.info({ dir: options.dir, durability: options.durability.mode }, 'log store open');
      return new LogStore(options.dir, db, committer, context, recovered);
    } catch (error) {
      await db.close().catch(() => {});
      throw error instanceof StreamBusError ? error : storageError(`cannot recover the log database in ${options.dir}`, error);
    }
  }

  static async #recover(db: LogDatabase, options: LogStoreOptions, logger: Logger): Promise<PartitionMap<PartitionState>> {
    const format = await db.get(storeKey(StoreKey.format));
    if (format !== undefined && (format.length !== 1 || format[0] !== FORMAT_VERSION)) {
      throw new StreamBusError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `the log database in ${options.dir} has format ${format.toString('hex')}, this version reads format ${FORMAT_VERSION}`,
      );
    }
    const clean = (await db.get(storeKey(StoreKey.cleanShutdown))) !== undefined;
    const tail = clean ? CLEAN_TAIL_CHECK : (options.crashTailCheck ?? DEFAULT_CRASH_TAIL_CHECK);
    // A database without a format marker is new: nothing was written, so nothing can be torn.
    if (!clean && format !== undefined) logger.warn('the log store was not closed cleanly; verifying partition tails');

    // Deletions a crash interrupted: the marker outlived the state keys, so finish the job.
    const markers = await db.keys({ gte: Buffer.of(KeyTag.topicDeletion), lt: Buffer.of(KeyTag.topicDeletion + 1) }).all();
    for (const marker of markers) {
      const topicId = parseTopicKey(marker);
      logger.info({ topicId }, 'finishing an interrupted topic deletion');
      await clearTopic(db, topicId);
      await db.del(marker, { sync: true });
    }

    // One range read loads every checkpoint; the tails are then checked a few partitions at a
    // time, so a broker with thousands of partitions is not bound by one read's latency each.
    const checkpoints = await db.iterator({ gte: Buffer.of(KeyTag.partitionState), lt: Buffer.of(KeyTag.partitionState + 1) }).all();
    const recovered: PartitionMap<PartitionState> = new Map();
    let dropped = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < checkpoints.length) {
        const [key, value] = checkpoints[next++]!;
        const { topicId, partition } = parseScopedKey(key);
        const keys = new PartitionKeys(topicId, partition);
        const result = await recoverPartition(db, keys, value, tail, crc32c, logger.child({ topicId, partition }));
        dropped += result.droppedBatches;
        setIn(recovered, topicId, partition, result.state);
      }
    };
    await Promise.all(Array.from({ length: RECOVERY_CONCURRENCY }, worker));
    // From here until close() writes it back, a crash is an unclean shutdown.
    await db.batch(
      [
        { type: 'put', key: storeKey(StoreKey.format), value: Buffer.of(FORMAT_VERSION) },
        { type: 'del', key: storeKey(StoreKey.cleanShutdown) },
      ],
      { sync: true },
    );
    if (dropped > 0) logger.warn({ droppedBatches: dropped }, 'recovery dropped corrupt batches');
    return recovered;
  }

  /**
   * Opens a partition's log, creating it empty if the store has none, and returns it. Idempotent:
   * calls for an open partition (or one being opened) return the same instance; the config of an
   * open partition changes only through updateConfig. A new partition is durable when this resolves.
   * Throws INVALID_CONFIG for a bad config, SHUTTING_DOWN after close().
   */
  async openPartition(topicId: string, partition: number, config: LogConfig): Promise<PartitionLog> {
    const existing = getIn(this.#open, topicId, partition) ?? getIn(this.#opening, topicId, partition);
    if (existing !== undefined) return existing;
    this.#checkUsable();
    checkLogConfig(config);
    const keys = new PartitionKeys(topicId, partition); // validates the id and number
    const opening = this.#openPartition(topicId, partition, config, keys);
    setIn(this.#opening, topicId, partition, opening);
    try {
      const log = await opening;
      setIn(this.#open, topicId, partition, log);
      return log;
    } finally {
      deleteIn(this.#opening, topicId, partition);
    }
  }

  async #openPartition(topicId: string, partition: number, config: LogConfig, keys: PartitionKeys): Promise<PartitionLog> {
    await this.#deleting.get(topicId);
    await getIn(this.#deletingPartitions, topicId, partition);
    this.#checkUsable();
    const recovered = getIn(this.#recovered, topicId, partition);
    const epochs = recovered === undefined ? [] : await this.#loadEpochs(keys, recovered.logEndOffset);
    const log = new PartitionLog(this.#context, topicId, partition, config, recovered ?? FRESH_STATE, epochs);
    if (recovered !== undefined) await log.loadProducerState();
    if (recovered === undefined) {
      // Keys a crash left behind in the middle of deletePartition (no state key names them any
      // more): a new log must not find an old one's batches in its range.
      await clearPartition(this.#db, keys);
      await this.#committer.submit(0, () => ({
        lane: log,
        ops: [{ type: 'put', key: keys.state(), value: encodePartitionState(FRESH_STATE) }],
        bytes: 0,
        result: undefined,
        onCommitted: () => {},
      }));
      this.#logger.info({ topicId, partition }, 'created partition log');
    }
    deleteIn(this.#recovered, topicId, partition);
    return log;
  }

  /**
   * A partition's leader-epoch history. Entries are written with the data they describe, so only
   * a tail that recovery dropped can leave an entry starting beyond the log end: such entries are
   * deleted here (synced) before the partition serves anything.
   */
  async #loadEpochs(keys: PartitionKeys, logEndOffset: number): Promise<EpochEntry[]> {
    const entries: EpochEntry[] = [];
    const stale: Buffer[] = [];
    try {
      for await (const [key, value] of this.#db.iterator({ gte: keys.rangeStart(KeyTag.leaderEpoch), lt: keys.rangeEnd(KeyTag.leaderEpoch) })) {
        const startOffset = decodeOffsetValue(value);
        const previous = entries.at(-1);
        if (startOffset === undefined || startOffset > logEndOffset || (previous !== undefined && startOffset < previous.startOffset)) stale.push(key);
        else entries.push({ epoch: keyEpoch(key), startOffset });
      }
      if (stale.length > 0) {
        await this.#db.batch(
          stale.map((key) => ({ type: 'del' as const, key })),
          { sync: true },
        );
        this.#logger.warn({ droppedEpochs: stale.length }, 'dropped leader-epoch checkpoints beyond the recovered log end');
      }
    } catch (cause) {
      throw storageError('cannot read the leader-epoch checkpoints', cause);
    }
    return entries;
  }

  /** The open log of a partition, or undefined. */
  getPartition(topicId: string, partition: number): PartitionLog | undefined {
    return getIn(this.#open, topicId, partition);
  }

  /** Every open partition log. */
  *partitions(): Iterable<PartitionLog> {
    for (const inner of this.#open.values()) yield* inner.values();
  }

  /**
   * Every partition that has a log in this store, open or not (found at start-up): the broker
   * compares this with the cluster metadata and deletes the topics that no longer exist.
   */
  storedPartitions(): { topicId: string; partition: number }[] {
    const result: { topicId: string; partition: number }[] = [];
    for (const map of [this.#open, this.#recovered] as PartitionMap<unknown>[]) {
      for (const [topicId, inner] of map) for (const partition of inner.keys()) result.push({ topicId, partition });
    }
    return result;
  }

  /** Write counters of the committer (for metrics and tests). */
  get stats(): Readonly<CommitterStats> {
    return this.#committer.stats;
  }

  /** LevelDB's own report of a property, e.g. 'leveldb.stats' (levels, compaction I/O). */
  leveldbProperty(name: 'leveldb.stats' | 'leveldb.sstables' | 'leveldb.approximate-memory-usage'): string {
    return this.#db.getProperty(name);
  }

  /**
   * Deletes every partition of a topic: closes the open ones (their pending appends finish, later
   * calls get UNKNOWN_TOPIC_OR_PARTITION), then removes all of the topic's keys with range deletes.
   * A crash midway is finished at the next open (a deletion marker is written atomically with the
   * removal of the partitions' state keys). Idempotent; unknown topics are a no-op.
   */
  deleteTopic(topicId: string): Promise<void> {
    const running = this.#deleting.get(topicId);
    if (running !== undefined) return running;
    const deletion = this.#deleteTopic(topicId).finally(() => this.#deleting.delete(topicId));
    this.#deleting.set(topicId, deletion);
    return deletion;
  }

  async #deleteTopic(topicId: string): Promise<void> {
    this.#checkUsable();
    const gone = new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topicId} was deleted`, { context: { topic: topicId } });
    // Refuse and forget the open logs synchronously: nothing new starts on them from here, and an
    // openPartition of this id now waits for the deletion and then creates a fresh log.
    const logs = [...(this.#open.get(topicId)?.values() ?? [])];
    const closing = logs.map((log) => log.close(gone));
    this.#open.delete(topicId);
    this.#recovered.delete(topicId);
    const opened = await Promise.allSettled([...(this.#opening.get(topicId)?.values() ?? [])]);
    for (const result of opened) {
      if (result.status === 'fulfilled') {
        logs.push(result.value);
        closing.push(result.value.close(gone));
      }
    }
    this.#open.delete(topicId);
    await Promise.all(closing);
    for (const log of logs) await log.drained();
    const marker = topicPrefix(KeyTag.topicDeletion, topicId);
    const statePrefix = topicPrefix(KeyTag.partitionState, topicId);
    try {
      const stateKeys = await this.#db.keys({ gte: statePrefix, lt: prefixEnd(statePrefix) }).all();
      if (stateKeys.length === 0) return;
      const ops: WriteOp[] = [{ type: 'put', key: marker, value: Buffer.alloc(0) }];
      for (const key of stateKeys) ops.push({ type: 'del', key });
      await this.#committer.submit(0, () => ({ lane: undefined, ops, bytes: 0, result: undefined, onCommitted: () => {}, forceSync: true }));
      await clearTopic(this.#db, topicId);
      await this.#committer.submit(0, () => ({ lane: undefined, ops: [{ type: 'del', key: marker }], bytes: 0, result: undefined, onCommitted: () => {} }));
      this.#logger.info({ topicId, partitions: stateKeys.length }, 'deleted topic logs');
    } catch (error) {
      throw error instanceof StreamBusError ? error : storageError(`deleting topic ${topicId} failed`, error);
    }
  }

  /**
   * Deletes one partition's log: this broker no longer holds a replica of it (a reassignment moved
   * it away). Closes it if open (its pending appends finish, later calls get
   * UNKNOWN_TOPIC_OR_PARTITION), removes its state key first, synced (from then on recovery no
   * longer sees the partition), then its batches, indexes and checkpoints with range deletes. A
   * crash in between leaves keys no state names, which a later creation of the same partition
   * clears before it writes (openPartition). Idempotent; an unknown partition is a no-op.
   */
  deletePartition(topicId: string, partition: number): Promise<void> {
    const running = getIn(this.#deletingPartitions, topicId, partition);
    if (running !== undefined) return running;
    const deletion = this.#deletePartition(topicId, partition).finally(() => deleteIn(this.#deletingPartitions, topicId, partition));
    setIn(this.#deletingPartitions, topicId, partition, deletion);
    return deletion;
  }

  async #deletePartition(topicId: string, partition: number): Promise<void> {
    this.#checkUsable();
    const keys = new PartitionKeys(topicId, partition);
    const gone = new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${partition} of topic ${topicId} was removed from this broker`, {
      context: { topic: topicId, partition },
    });
    const opening = getIn(this.#opening, topicId, partition);
    if (opening !== undefined) await opening.catch(() => undefined);
    const log = getIn(this.#open, topicId, partition);
    deleteIn(this.#open, topicId, partition);
    deleteIn(this.#recovered, topicId, partition);
    if (log !== undefined) {
      await log.close(gone);
      await log.drained();
    }
    try {
      if ((await this.#db.get(keys.state())) === undefined) return;
      await this.#committer.submit(0, () => ({ lane: undefined, ops: [{ type: 'del', key: keys.state() }], bytes: 0, result: undefined, onCommitted: () => {}, forceSync: true }));
      await clearPartition(this.#db, keys);
      this.#logger.info({ topicId, partition }, 'deleted partition log');
    } catch (error) {
      throw error instanceof StreamBusError ? error : storageError(`deleting partition ${partition} of topic ${topicId} failed`, error);
    }
  }

  /**
   * One retention and compaction pass over every open partition, one partition at a time, with
   * `nowMs` as the current time. A partition whose pass fails is logged and counted; the others
   * still run. Calls are serialized: a second call starts when the first ends.
   */
  runMaintenance(nowMs: number): Promise<MaintenanceReport> {
    const run = this.#maintenance.then(async () => {
      const report = emptyMaintenanceReport();
      for (const log of [...this.partitions()]) {
        if (this.#closing !== undefined) break;
        try {
          await log.maintain(nowMs, report);
        } catch (error) {
          report.failedPartitions++;
          this.#logger.error({ err: error, topicId: log.topicId, partition: log.partition }, 'log maintenance failed');
        }
      }
      return report;
    });
    this.#maintenance = run.catch(() => {});
    return run;
  }

  /**
   * Closes the store: refuses new appends (SHUTTING_DOWN), waits for running maintenance and for
   * every queued write, marks the shutdown clean (unless a write failed) and closes the database.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const shutting = new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the log store is closing');
    // Refuse new work synchronously, before the first await: no append slips in after close().
    const closing = [...this.partitions()].map((log) => log.close(shutting));
    await Promise.allSettled([...this.#opening.values()].flatMap((inner) => [...inner.values()]));
    await Promise.all(closing);
    for (const log of this.partitions()) await log.close(shutting);
    await this.#maintenance;
    await this.#committer.close();
    try {
      if (this.#committer.failure === undefined) {
        await this.#db.put(storeKey(StoreKey.cleanShutdown), Buffer.of(1), { sync: true });
      }
    } finally {
      await this.#db.close();
      this.#logger.info({ dir: this.dir }, 'log store closed');
    }
  }

  #checkUsable(): void {
    if (this.#closing !== undefined) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the log store is closing');
    const failure = this.#committer.failure;
    if (failure !== undefined) throw failure;
  }
}

/** Removes every key of one partition (data, indexes, state, reserved kinds). */
async function clearPartition(db: LogDatabase, keys: PartitionKeys): Promise<void> {
  for (const tag of PARTITION_SCOPED_TAGS) await db.clear({ gte: keys.rangeStart(tag), lt: keys.rangeEnd(tag) });
}

/** Removes every partition-scoped key of a topic (data, indexes, state, reserved kinds). */
async function clearTopic(db: LogDatabase, topicId: string): Promise<void> {
  for (const tag of PARTITION_SCOPED_TAGS) {
    const prefix = topicPrefix(tag, topicId);
    await db.clear({ gte: prefix, lt: prefixEnd(prefix) });
  }
}
