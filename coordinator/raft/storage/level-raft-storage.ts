/**
 * RaftStorage on classic-level: one LevelDB database per Raft node, in its own directory.
 *
 * Durability: persist() turns the persistent part of a Ready into ONE LevelDB batch written with
 * sync (fsync) before its promise resolves. LevelDB applies a batch atomically, so the truncation
 * of a conflicting suffix, the append that caused it, a replacing snapshot and the hard state are
 * on disk together or not at all: a crash never leaves a vote without its term, or a truncated log
 * without the entries that replaced it. (classic-level's clear() is not atomic, so truncation is a
 * list of deletes inside the same batch; the store tracks which indexes it holds to list them.)
 * The one exception is a write the caller marks `sync: false` (a commit-index advance): it goes
 * into LevelDB's log in order like any other, so a later synced write makes it durable too, and
 * losing it in a crash only makes the node learn its commit index again from the leader.
 *
 * Cost. A batch is built with classic-level's chained batch (one native call per operation),
 * not the array form: the array form reads every operation object's properties through N-API on
 * the event loop, about 15 µs per operation against 3 µs, and a Ready carries one put per entry.
 *
 * Compaction stores the snapshot in one synced write and then deletes the entries it covers with
 * a range delete (clear()) that runs on a worker thread, in the background: deleting 10,000
 * entries in one batch held the event loop for a few hundred milliseconds. Nothing waits for the
 * deletes but close(). They are not atomic with the snapshot, which is harmless: the snapshot is
 * durable before the first delete, a crash in between leaves entries at or below the snapshot
 * index, and load() deletes such leftovers rather than refusing the store. They never overlap a
 * later write: every later put or delete of an entry is above the snapshot index.
 *
 * Integrity: every value is checksummed (storage-codec.ts) and carries its own position. load()
 * checks the whole log before the node may start, because a node that votes or leads on a damaged
 * log can make a committed entry vanish: a bad checksum, a gap, a term going backwards, an entry
 * under the wrong key, a commit index past the last entry ("truncated log"), a store of another
 * node or cluster, or an unknown format all refuse with a message naming the key or index.
 *
 * Failure: after a failed write LevelDB's state on disk is unknown, so the store fails for good:
 * that call and every later one reject with the same KAFKA_STORAGE_ERROR, and the host stops
 * acknowledging anything. Calls are serialized in call order.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { type Logger, silentLogger } from '../../logger.js';
import { type Entry, type HardState, NO_NODE, RaftAssertionError, type RestoredState, type Snapshot } from '../index.js';
import type { RaftStorage, RaftWrite } from './raft-storage.js';
import {
  ENTRY_KEY_END,
  ENTRY_KEY_MIN,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  SNAPSHOT_KEY,
  decodeEntry,
  decodeHardState,
  decodeIdentity,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeIdentity,
  encodeSnapshot,
  entryKey,
  indexOfEntryKey,
  type StoreIdentity,
} from './storage-codec.js';

export interface LevelRaftStorageOptions {
  /** The directory of this node's Raft database; created if missing. Nothing else may live in it. */
  readonly dir: string;
  /** This node's id; a store written by another node id is refused. */
  readonly nodeId: number;
  /** The cluster's id; a store written for another cluster is refused. */
  readonly clusterId: string;
  readonly logger?: Logger;
}

type Db = ClassicLevel<Uint8Array, Uint8Array>;
type BatchOp = { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array } | { readonly type: 'del'; readonly key: Uint8Array };

const ZERO_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };
const MAX_CLUSTER_ID_BYTES = 255;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function storageError(message: string, cause?: unknown): StreamBusError {
  return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, message, cause === undefined ? undefined : { cause });
}

export class LevelRaftStorage implements RaftStorage {
  readonly dir: string;
  readonly #db: Db;
  readonly #logger: Logger;
  /** Stored entries are exactly (snapshotIndex, lastIndex]; known once load() has run. */
  #snapshotIndex = 0;
  #lastIndex = 0;
  #loaded = false;
  /** Entries at or below this index are deleted, or being deleted by #clearing. */
  #clearedThrough = 0;
  /** The background range delete of the last compaction; close() waits for it. */
  #clearing: Promise<void> = Promise.resolve();
  #tail: Promise<unknown> = Promise.resolve();
  #failure: StreamBusError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(db: Db, options: LevelRaftStorageOptions) {
    this.dir = options.dir;
    this.#db = db;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Opens (or creates) the store in `options.dir` and checks its identity record; a fresh store
   * gets one (format version, node id, cluster id) written with sync. Rejects with
   * KAFKA_STORAGE_ERROR when LevelDB cannot open the directory (in use, or corrupt files),
   * INVALID_CONFIG when the store belongs to another node id, INCONSISTENT_CLUSTER_ID when it
   * belongs to another cluster, UNSUPPORTED_VERSION for an unknown format.
   */
  static async open(options: LevelRaftStorageOptions): Promise<LevelRaftStorage> {
    checkOptions(options);
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (cause) {
      throw storageError(`cannot create the raft storage directory ${options.dir}: ${describe(cause)}`, cause);
    }
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(options.dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (cause) {
      const code = (cause as { cause?: { code?: unknown } }).cause?.code;
      throw storageError(
        code === 'LEVEL_LOCKED'
          ? `the raft storage at ${options.dir} is in use by another process or instance`
          : `cannot open the raft storage at ${options.dir} (its LevelDB files may be corrupt): ${describe(cause)}`,
        cause,
      );
    }
    try {
      await checkIdentity(db, options);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
    (options.logger ?? silentLogger).info({ dir: options.dir, nodeId: options.nodeId }, 'raft storage opened');
    return new LevelRaftStorage(db, options);
  }

  /**
   * Reads back and verifies everything stored; undefined for a store that has never been
   * persisted to. Must be called before persist(), compact() and entries().
   */
  load(): Promise<RestoredState | undefined> {
    return this.#serialize(async () => {
      await this.#clearing;
      const restored = await this.#load();
      this.#loaded = true;
      return restored;
    });
  }

  /** One atomic batch per call, synced unless `write.sync` is false (see RaftStorage.persist). */
  persist(write: RaftWrite): Promise<void> {
    return this.#serialize(async () => {
      this.#requireLoaded('persist');
      const plan = this.#planPersist(write);
      if (plan.ops.length === 0) return;
      await this.#write(plan.ops, `persisting ${describeWrite(write)}`, write.sync ?? true);
      this.#snapshotIndex = plan.snapshotIndex;
      this.#lastIndex = plan.lastIndex;
    });
  }

  /**
   * Stores `snapshot` (synced) and resolves; the entries it covers are then deleted in the
   * background by a range delete off the event loop (see the module comment).
   */
  compact(snapshot: Snapshot): Promise<void> {
    return this.#serialize(async () => {
      this.#requireLoaded('compact');
      const index = snapshot.meta.index;
      if (index <= this.#snapshotIndex) return;
      if (index > this.#lastIndex) {
        throw new RaftAssertionError(`compacting to index ${index}, past the last stored entry ${this.#lastIndex}`);
      }
      await this.#write([{ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshot(snapshot) }], `compacting to index ${index}`);
      this.#snapshotIndex = index;
      this.#clearCovered(index);
    });
  }

  /**
   * Stored entries in [from, to), checked as load() checks them. `to` past the last entry is
   * clamped; `from` at or below the snapshot index rejects OFFSET_OUT_OF_RANGE (compacted away).
   */
  entries(from: number, to: number): Promise<Entry[]> {
    return this.#serialize(async () => {
      this.#requireLoaded('entries');
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) {
        throw new StreamBusError(ErrorCode.INVALID_REQUEST, `entries(${from}, ${to}): the range must be whole numbers with 1 ≤ from ≤ to`);
      }
      if (from <= this.#snapshotIndex) {
        throw new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `entry ${from} is compacted into the snapshot at ${this.#snapshotIndex}`);
      }
      const end = Math.min(to, this.#lastIndex + 1);
      const out: Entry[] = [];
      if (end <= from) return out;
      for await (const [key, value] of this.#db.iterator({ gte: entryKey(from), lt: entryKey(end) })) {
        out.push(this.#checkedEntry(key, value, from + out.length));
      }
      // The paired check: what comes back must be exactly the range the store says it holds.
      if (out.length !== end - from) throw this.#corrupt(`entry ${from + out.length}`, 'it is missing');
      return out;
    });
  }

  /** Waits for the call in progress, then closes the database. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#tail.catch(() => undefined);
      await this.#clearing;
      await this.#db.close().catch((error: unknown) => this.#logger.warn({ err: error, dir: this.dir }, 'closing the raft storage failed'));
    })();
    return this.#closing;
  }

  /** Runs `op` after every earlier call, unless the store is closed or failed. */
  #serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#closing !== undefined) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, `the raft storage at ${this.dir} is closed`);
      return op();
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  #requireLoaded(call: string): void {
    if (!this.#loaded) throw new RaftAssertionError(`LevelRaftStorage.${call}() called before load()`);
  }

  /**
   * Deletes the entries in (#clearedThrough, index] after the previous range delete, without
   * holding up the caller; a failure is logged and the range is tried again by the next compaction
   * (or deleted by the next load()), since leftovers below the snapshot only take space.
   */
  #clearCovered(index: number): void {
    const from = this.#clearedThrough + 1;
    if (from > index) return;
    this.#clearedThrough = index;
    this.#clearing = this.#clearing.then(() =>
      this.#db.clear({ gte: entryKey(from), lte: entryKey(index) }).catch((error: unknown) => {
        this.#clearedThrough = Math.min(this.#clearedThrough, from - 1);
        this.#logger.warn({ err: error, dir: this.dir, from, to: index }, 'deleting compacted raft entries failed; the next compaction tries again');
      }),
    );
  }

  async #write(ops: readonly BatchOp[], what: string, sync = true): Promise<void> {
    try {
      const batch = this.#db.batch();
      try {
        for (const op of ops) {
          if (op.type === 'put') batch.put(op.key, op.value);
          else batch.del(op.key);
        }
      } catch (error) {
        await batch.close();
        throw error;
      }
      await batch.write({ sync });
    } catch (cause) {
      this.#failure = storageError(`raft storage at ${this.dir} failed while ${what}: ${describe(cause)}; refusing every further call`, cause);
      this.#logger.error({ err: cause, dir: this.dir }, 'raft storage write failed; the store is failed for good');
      throw this.#failure;
    }
  }

  /** The batch for one Ready, in the contract's order: snapshot, then entries, then hard state. */
  #planPersist(write: RaftWrite): { ops: BatchOp[]; snapshotIndex: number; lastIndex: number } {
    const ops: BatchOp[] = [];
    let snapshotIndex = this.#snapshotIndex;
    let lastIndex = this.#lastIndex;
    if (write.snapshot !== undefined) {
      ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshot(write.snapshot) });
      for (let i = snapshotIndex + 1; i <= lastIndex; i++) ops.push({ type: 'del', key: entryKey(i) });
      snapshotIndex = write.snapshot.meta.index;
      lastIndex = snapshotIndex;
    }
    const first = write.entries[0];
    if (first !== undefined) {
      if (first.index <= snapshotIndex || first.index > lastIndex + 1) {
        throw new RaftAssertionError(`persisting entries from ${first.index} onto a stored log of (${snapshotIndex}, ${lastIndex}]`);
      }
      write.entries.forEach((entry, i) => {
        if (entry.index !== first.index + i) throw new RaftAssertionError(`entries to persist are not contiguous at ${entry.index}`);
        ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
      });
      const newLast = first.index + write.entries.length - 1;
      // Entries up to newLast are overwritten by the puts above; the rest of the old suffix goes.
      for (let i = newLast + 1; i <= lastIndex; i++) ops.push({ type: 'del', key: entryKey(i) });
      lastIndex = newLast;
    }
    if (write.hardState !== undefined) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(write.hardState) });
    return { ops, snapshotIndex, lastIndex };
  }

  async #load(): Promise<RestoredState | undefined> {
    const [hardStateValue, snapshotValue] = await this.#db.getMany([HARD_STATE_KEY, SNAPSHOT_KEY]);
    const hardState = hardStateValue === undefined ? ZERO_HARD_STATE : this.#decode('the hard state', () => decodeHardState(hardStateValue));
    const snapshot = snapshotValue === undefined ? undefined : this.#decode('the snapshot', () => decodeSnapshot(snapshotValue));
    const base = snapshot?.meta.index ?? 0;
    let previousTerm = snapshot?.meta.term ?? 0;
    if (snapshot !== undefined) await this.#deleteLeftovers(base);
    const entries: Entry[] = [];
    const from = snapshot === undefined ? ENTRY_KEY_MIN : entryKey(base + 1);
    for await (const [key, value] of this.#db.iterator({ gte: from, lt: ENTRY_KEY_END })) {
      const expected = base + 1 + entries.length;
      if (snapshot === undefined) throw this.#corrupt(`entry key ${hex(key)}`, 'the store holds log entries but no snapshot (the first write always stores one)');
      const entry = this.#checkedEntry(key, value, expected);
      if (entry.term < previousTerm) {
        throw this.#corrupt(`entry ${entry.index}`, `its term ${entry.term} goes backwards from term ${previousTerm} before it`);
      }
      previousTerm = entry.term;
      entries.push(entry);
    }
    if (snapshot === undefined) {
      if (hardStateValue !== undefined) throw this.#corrupt('the snapshot key', 'the store has a hard state but no snapshot (the first write always stores one)');
      this.#snapshotIndex = 0;
      this.#lastIndex = 0;
      this.#logger.info({ dir: this.dir }, 'raft storage is empty: a new node');
      return undefined;
    }
    const lastIndex = base + entries.length;
    if (hardState.commit > lastIndex) {
      throw this.#corrupt(
        'the hard state',
        `commit index ${hardState.commit} is past the last stored entry ${lastIndex}: truncated log (committed entries ${lastIndex + 1}..${hardState.commit} are missing)`,
      );
    }
    if (previousTerm > hardState.term) {
      throw this.#corrupt('the hard state', `its term ${hardState.term} is older than the last entry's term ${previousTerm}`);
    }
    this.#snapshotIndex = base;
    this.#clearedThrough = base;
    this.#lastIndex = lastIndex;
    this.#logger.info({ dir: this.dir, snapshotIndex: base, lastIndex, term: hardState.term, commit: hardState.commit }, 'raft storage loaded');
    return { hardState, snapshot, entries };
  }

  /**
   * Deletes entries at or below the snapshot index that a compaction's background delete did not
   * finish (a crash, or a failed delete). Their keys are still checked: a key in that range that is
   * not a well-formed entry key is damage, not a leftover.
   */
  async #deleteLeftovers(snapshotIndex: number): Promise<void> {
    const end = entryKey(snapshotIndex + 1);
    let count = 0;
    for await (const key of this.#db.keys({ gte: ENTRY_KEY_MIN, lt: end })) {
      if (indexOfEntryKey(key) === undefined) throw this.#corrupt(`entry key ${hex(key)}`, 'it is not a well-formed entry key');
      count++;
    }
    if (count === 0) return;
    await this.#db.clear({ gte: ENTRY_KEY_MIN, lt: end });
    this.#logger.info({ dir: this.dir, entries: count, snapshotIndex }, 'deleted raft entries left below the snapshot by an interrupted compaction');
  }

  /** Decodes the entry stored under `key`, which must be the key of index `expected`. */
  #checkedEntry(key: Uint8Array, value: Uint8Array, expected: number): Entry {
    const index = indexOfEntryKey(key);
    if (index === undefined) throw this.#corrupt(`entry key ${hex(key)}`, 'it is not a well-formed entry key');
    if (index < expected) throw this.#corrupt(`entry ${index}`, `it is at or below the snapshot index ${expected - 1}`);
    if (index > expected) throw this.#corrupt(`entry ${expected}`, `it is missing: the log has a gap (the next stored entry is ${index})`);
    const entry = this.#decode(`entry ${index}`, () => decodeEntry(value));
    if (entry.index !== index) throw this.#corrupt(`entry ${index}`, `the value stored under its key says index ${entry.index}`);
    return entry;
  }

  #decode<T>(where: string, decode: () => T): T {
    try {
      return decode();
    } catch (error) {
      if (error instanceof StreamBusError && error.code === ErrorCode.UNSUPPORTED_VERSION) {
        throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `raft storage at ${this.dir}, ${where}: ${error.message}`, { cause: error });
      }
      throw this.#corrupt(where, describe(error), error);
    }
  }

  #corrupt(where: string, reason: string, cause?: unknown): StreamBusError {
    return storageError(
      `raft storage at ${this.dir} is damaged at ${where}: ${reason}. Refusing to start (a node must not vote or lead on a ` +
        'damaged log); rebuild this node from its peers: remove it from the cluster, clear the directory, add it back',
      cause,
    );
  }
}

function checkOptions(options: LevelRaftStorageOptions): void {
  if (!Number.isSafeInteger(options.nodeId) || options.nodeId <= 0) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `raft node id must be a positive integer, got ${String(options.nodeId)}`);
  }
  const clusterBytes = typeof options.clusterId === 'string' ? new TextEncoder().encode(options.clusterId).length : 0;
  if (clusterBytes === 0 || clusterBytes > MAX_CLUSTER_ID_BYTES) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `cluster id must be a non-empty string of at most ${MAX_CLUSTER_ID_BYTES} bytes`);
  }
}

/** Refuses a store of another node or cluster; stamps a fresh store with this identity. */
async function checkIdentity(db: Db, options: LevelRaftStorageOptions): Promise<void> {
  const value = await db.get(IDENTITY_KEY);
  if (value === undefined) {
    const anything = await db.keys({ limit: 1 }).all();
    if (anything.length > 0) {
      throw storageError(`the directory ${options.dir} holds a LevelDB database without a raft identity record; it was not written by a StreamBus raft node`);
    }
    await db.put(IDENTITY_KEY, encodeIdentity({ nodeId: options.nodeId, clusterId: options.clusterId }), { sync: true });
    return;
  }
  let identity: StoreIdentity;
  try {
    identity = decodeIdentity(value);
  } catch (error) {
    const code = error instanceof StreamBusError && error.code === ErrorCode.UNSUPPORTED_VERSION ? ErrorCode.UNSUPPORTED_VERSION : ErrorCode.KAFKA_STORAGE_ERROR;
    throw new StreamBusError(code, `raft storage at ${options.dir}, the identity record: ${describe(error)}`, { cause: error });
  }
  if (identity.nodeId !== options.nodeId) {
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `raft storage at ${options.dir} belongs to node ${identity.nodeId}, not node ${options.nodeId}; check the node id and the data directory`,
    );
  }
  if (identity.clusterId !== options.clusterId) {
    throw new StreamBusError(
      ErrorCode.INCONSISTENT_CLUSTER_ID,
      `raft storage at ${options.dir} belongs to cluster "${identity.clusterId}", not "${options.clusterId}"`,
    );
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function describeWrite(write: RaftWrite): string {
  const parts: string[] = [];
  if (write.snapshot !== undefined) parts.push(`a snapshot at ${write.snapshot.meta.index}`);
  const first = write.entries[0];
  if (first !== undefined) parts.push(`entries ${first.index}..${first.index + write.entries.length - 1}`);
  if (write.hardState !== undefined) parts.push(`hard state (term ${write.hardState.term})`);
  return parts.join(', ');
}
