/**
 * The one writer of the log database: every change to a partition (appends, retention deletes,
 * compaction rewrites, state checkpoints) becomes a CommitEntry and reaches LevelDB through here,
 * so the durability mode is applied in one place and writes to one partition are ordered.
 *
 * Modes (see DurabilityMode):
 * - 'group': one lane for the whole store. While a synced write is in flight, new entries (from any
 *   partition) queue; when it completes, everything queued (up to maxGroupBytes) goes out as the
 *   next synced db.batch. An entry resolves only after the write that carries it is synced.
 * - 'interval': the same lane with unsynced writes, and a timer that sends a synced marker write
 *   every intervalMs when something was written since the last sync. A synced LevelDB write makes
 *   every earlier write durable too: it syncs the write-ahead log, and tables written by compaction
 *   are synced by LevelDB itself.
 * - 'sync': one lane per partition, one entry per synced write. Partitions still write
 *   concurrently (LevelDB may merge concurrent synced writers into one fsync, as it may).
 *
 * Why groups are capped far below the queue limit: db.batch() is partly synchronous. classic-level
 * copies every key and value into a native WriteBatch on the calling thread (twice, into freshly
 * allocated memory) before the write goes to the thread pool, so a 16 MiB group held the event
 * loop for tens of milliseconds on the benchmark VM (about 2-4 ms per MiB there), and every
 * produce, fetch and timer of the broker waited behind it. A cap of a few MiB bounds that pause
 * while a busy broker still puts tens of appends behind each fsync (one larger entry still goes
 * out alone). After a write completes, its entries are resolved and the lane yields to the event
 * loop once (setImmediate) before it starts the next write, so their acknowledgements are sent
 * before the next group's synchronous copy; socket input that arrived meanwhile joins that group.
 *
 * Ordering rule: entries of one partition are written in the order they were built. In 'group'
 * and 'interval' there is one FIFO lane; in 'sync' a partition's entries share its lane. The
 * partition's state checkpoint inside each entry therefore never goes backwards on disk.
 *
 * Admission: queued bytes are bounded (maxQueuedBytes). Beyond it, submissions wait in one FIFO,
 * and an entry is BUILT (offsets assigned) only when admitted, in submission order, so offsets
 * still follow call order. Build runs synchronously at admission for the same reason.
 *
 * A failed write fails the store: LevelDB itself refuses every later write after a write error
 * (its background error is sticky), and a partition whose offsets were assigned but not written
 * cannot continue without a gap. Every queued and later submission rejects with
 * KAFKA_STORAGE_ERROR; the broker reports the log directory offline, as Kafka does.
 */
import type { Logger } from 'pino';
import type { ClassicLevel } from 'classic-level';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { DurabilityConfig } from './types.js';
import { StoreKey, storeKey } from './layout.js';

export type WriteOp = { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer } | { readonly type: 'del'; readonly key: Buffer };

export type LogDatabase = ClassicLevel<Buffer, Buffer>;

export interface CommitEntry<T> {
  /** Entries with the same lane key are written in order; only 'sync' mode uses more than one lane. */
  readonly lane: object | undefined;
  readonly ops: WriteOp[];
  /** Counted against the group and queue limits. */
  readonly bytes: number;
  /** Runs after the write is done (durable per the mode), before the submitter's promise resolves. */
  readonly onCommitted: () => void;
  readonly result: T;
  /** Force this entry's write to be synced, whatever the mode. */
  readonly forceSync?: boolean;
}

export interface CommitterStats {
  /** Entries committed. */
  entries: number;
  /** db.batch calls. */
  writes: number;
  /** db.batch calls with sync: true. */
  syncedWrites: number;
  /** Entry bytes (as counted against the group limit) written by those calls. */
  bytes: number;
}

export interface CommitterOptions {
  readonly db: LogDatabase;
  readonly durability: DurabilityConfig;
  readonly logger: Logger;
  /** Largest group written at once; a larger single entry still goes out alone. */
  readonly maxGroupBytes: number;
  /** Bytes queued (not yet written) before submissions wait. */
  readonly maxQueuedBytes: number;
}

interface Queued {
  readonly entry: CommitEntry<unknown>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Waiter {
  readonly bytes: number;
  readonly admit: () => void;
  readonly reject: (error: unknown) => void;
}

interface Lane {
  readonly queue: Queued[];
  writing: boolean;
}

/** Resolves in the event loop's check phase: after pending microtasks and the current I/O callbacks. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Committer {
  readonly #db: LogDatabase;
  readonly #logger: Logger;
  readonly #sync: boolean;
  readonly #perEntryLanes: boolean;
  readonly #maxGroupBytes: number;
  readonly #maxQueuedBytes: number;
  readonly #lanes = new Map<object | undefined, Lane>();
  readonly #waiters: Waiter[] = [];
  readonly #idle: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout | undefined;
  #queuedBytes = 0;
  #writesInFlight = 0;
  #unsyncedWrites = false;
  #syncCounter = 0;
  #failure: StreamBusError | undefined;
  #closed = false;
  readonly stats: CommitterStats = { entries: 0, writes: 0, syncedWrites: 0, bytes: 0 };

  constructor(options: CommitterOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#sync = options.durability.mode !== 'interval';
    this.#perEntryLanes = options.durability.mode === 'sync';
    this.#maxGroupBytes = options.maxGroupBytes;
    this.#maxQueuedBytes = options.maxQueuedBytes;
    if (options.durability.mode === 'interval') {
      this.#timer = setInterval(() => this.#syncTick(), options.durability.intervalMs ?? 1000);
      this.#timer.unref();
    }
  }

  /** The error that failed the store, if a write failed. */
  get failure(): StreamBusError | undefined {
    return this.#failure;
  }

  /**
   * Admits, builds and commits one entry. `build` runs synchronously when the entry is admitted
   * (at once unless the queue is full), in submission order; if it throws, nothing is queued and
   * the promise rejects with its error. Resolves with the entry's result after `onCommitted` ran.
   */
  submit<T>(bytes: number, build: () => CommitEntry<T>): Promise<T> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      const admit = (): void => {
        let entry: CommitEntry<T>;
        try {
          entry = build();
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.#enqueue(entry, () => resolve(entry.result), reject);
      };
      if (this.#waiters.length === 0 && (this.#queuedBytes === 0 || this.#queuedBytes + bytes <= this.#maxQueuedBytes)) {
        admit();
      } else {
        this.#waiters.push({ bytes, admit, reject });
      }
    });
  }

  /** Resolves once everything submitted so far has been written (or has failed). */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Refuses new submissions, waits for the queued ones and stops the interval timer. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.whenIdle();
  }

  #refusal(): StreamBusError | undefined {
    if (this.#failure !== undefined) return this.#failure;
    if (this.#closed) return new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the log store is closing');
    return undefined;
  }

  #isIdle(): boolean {
    return this.#queuedBytes === 0 && this.#writesInFlight === 0 && this.#waiters.length === 0 && this.#allLanesEmpty();
  }

  #allLanesEmpty(): boolean {
    for (const lane of this.#lanes.values()) if (lane.queue.length > 0 || lane.writing) return false;
    return true;
  }

  #enqueue(entry: CommitEntry<unknown>, resolve: () => void, reject: (error: unknown) => void): void {
    const laneKey = this.#perEntryLanes ? entry.lane : undefined;
    let lane = this.#lanes.get(laneKey);
    if (lane === undefined) {
      lane = { queue: [], writing: false };
      this.#lanes.set(laneKey, lane);
    }
    lane.queue.push({ entry, resolve, reject });
    this.#queuedBytes += entry.bytes;
    if (!lane.writing) {
      lane.writing = true;
      // Start on a microtask, not now: appends issued in the same tick (one produce request for
      // several partitions) then share the first write instead of the first going out alone.
      const started = lane;
      queueMicrotask(() => void this.#drain(laneKey, started));
    }
  }

  async #drain(laneKey: object | undefined, lane: Lane): Promise<void> {
    while (lane.queue.length > 0 && this.#failure === undefined) {
      const group = this.#takeGroup(lane);
      const ops: WriteOp[] = [];
      let bytes = 0;
      let forceSync = false;
      for (const queued of group) {
        for (const op of queued.entry.ops) ops.push(op);
        bytes += queued.entry.bytes;
        forceSync ||= queued.entry.forceSync === true;
      }
      const sync = this.#sync || forceSync;
      this.#writesInFlight++;
      let failed = false;
      try {
        if (ops.length > 0) {
          await this.#db.batch(ops, { sync });
          this.stats.writes++;
          this.stats.bytes += bytes;
          if (sync) this.stats.syncedWrites++;
          // A synced write syncs the whole write-ahead log, so it covers earlier unsynced writes.
          this.#unsyncedWrites = !sync;
        }
      } catch (cause) {
        failed = true;
        this.#fail(cause, group);
      } finally {
        this.#writesInFlight--;
        this.#queuedBytes -= bytes;
      }
      // Another lane's failure does not undo this write: it is on disk, so it resolves.
      if (failed) break;
      for (const queued of group) {
        this.stats.entries++;
        // onCommitted only applies state the entry already computed; if it throws, an invariant
        // (contiguous offsets) broke: that is a programmer error and must crash, not resolve.
        queued.entry.onCommitted();
        queued.resolve();
      }
      this.#admitWaiters();
      // The acknowledgements of this group (microtasks queued by resolve()) go out before the
      // next group's db.batch() copies its values synchronously; see the header comment.
      if (lane.queue.length > 0 && this.#failure === undefined) await yieldToEventLoop();
    }
    lane.writing = false;
    if (lane.queue.length === 0) this.#lanes.delete(laneKey);
    this.#notifyIdle();
  }

  #takeGroup(lane: Lane): Queued[] {
    if (this.#perEntryLanes) return lane.queue.splice(0, 1);
    let count = 0;
    let bytes = 0;
    for (const queued of lane.queue) {
      if (count > 0 && bytes + queued.entry.bytes > this.#maxGroupBytes) break;
      bytes += queued.entry.bytes;
      count++;
    }
    return lane.queue.splice(0, count);
  }

  #admitWaiters(): void {
    while (this.#waiters.length > 0) {
      const next = this.#waiters[0]!;
      if (this.#queuedBytes > 0 && this.#queuedBytes + next.bytes > this.#maxQueuedBytes) return;
      this.#waiters.shift();
      next.admit();
    }
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #fail(cause: unknown, group: Queued[]): void {
    if (this.#failure === undefined) {
      const message = cause instanceof Error ? cause.message : String(cause);
      this.#failure = new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `log storage write failed: ${message}`, { cause });
      this.#logger.error({ err: cause }, 'log storage write failed; the log store refuses all further writes');
    }
    for (const queued of group) queued.reject(this.#failure);
    for (const lane of this.#lanes.values()) {
      for (const queued of lane.queue.splice(0)) {
        this.#queuedBytes -= queued.entry.bytes;
        queued.reject(this.#failure);
      }
    }
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
  }

  /** 'interval' mode: make everything written so far durable, if anything is unsynced. */
  #syncTick(): void {
    if (!this.#unsyncedWrites || this.#closed || this.#failure !== undefined) return;
    this.#unsyncedWrites = false;
    const value = Buffer.allocUnsafe(8);
    value.writeBigUInt64BE(BigInt(++this.#syncCounter));
    this.submit(0, () => ({
      lane: undefined,
      ops: [{ type: 'put', key: storeKey(StoreKey.syncMarker), value }],
      bytes: 0,
      forceSync: true,
      onCommitted: () => {},
      result: undefined,
    })).catch((error: unknown) => {
      // The failure is already logged by #fail, and every writer sees it.
      this.#logger.debug({ err: error }, 'interval sync failed');
    });
  }
}
