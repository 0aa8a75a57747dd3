/**
 * MetadataCache: a broker's view of the cluster metadata, built by applying committed records with
 * the same MetadataState the coordinator uses, so both views agree record for record.
 *
 * `follow(log)` keeps the cache current without polling: it subscribes to commits first, reads
 * from the cache's offset until it has everything committed so far, then applies each commit as
 * the log announces it. Subscribing before reading means no commit can fall between the two:
 * commits during catch-up are ignored by the listener and picked up by the next read, and the
 * switch to live happens in the same synchronous step as the final "caught up" check.
 *
 * A log that compacts (a Raft log) may no longer hold the records after the cache's offset: its
 * startOffset has moved past them. The follower then loads the log's snapshot in place of those
 * records (MetadataState.restore, as strict as for any peer's bytes), emits one snapshot-loaded
 * event instead of the per-record events it cannot produce, and reads on from the snapshot's
 * offset. The same happens when a live notification skips ahead because the log installed a
 * snapshot under us: the follower goes back to catching up.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { abortReason, asError } from './abort.js';
import { assert } from './assert.js';
import type { MetadataRecord } from './commands.js';
import { type MetadataEvent, type MetadataSnapshot, type MetadataStateView, MetadataEventType, MetadataState } from './state.js';

/** The part of a MetadataLog that following needs (MetadataLog satisfies it). */
export interface FollowableLog {
  readonly committedOffset: number;
  /** The first offset read() serves; records before it are only in snapshot(). */
  readonly startOffset: number;
  read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]>;
  /** The latest snapshot (offset ≥ startOffset − 1), or undefined if the log never compacted. */
  snapshot(): Promise<{ readonly offset: number; readonly snapshot: MetadataSnapshot } | undefined>;
  onCommit(listener: (records: readonly MetadataRecord[]) => void): () => void;
}

/** One applied batch of records. */
export interface MetadataUpdate {
  readonly events: readonly MetadataEvent[];
  /** The cache's offset after this batch. */
  readonly lastAppliedOffset: number;
}

export interface MetadataFollowOptions {
  /** Records per catch-up read. Default 1000. */
  readonly batchMaxRecords?: number;
  /** Stops following when aborted. */
  readonly signal?: AbortSignal;
}

export interface MetadataFollower {
  /** Resolves once everything committed when following started has been applied. */
  readonly caughtUp: Promise<void>;
  /**
   * Settles when following ends: resolves after stop() (or abort), rejects with the error that
   * stopped it (a failed read, or an invariant violation while applying).
   */
  readonly done: Promise<void>;
  /** Stops following; the cache keeps what it has applied. */
  stop(): void;
}

/** More waiters than this are refused: each is a pending promise held in memory. */
const MAX_OFFSET_WAITERS = 10_000;

interface OffsetWaiter {
  readonly offset: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class MetadataCache {
  #state: MetadataState;
  readonly #listeners = new Set<(update: MetadataUpdate) => void>();
  #waiters: OffsetWaiter[] = [];
  #following = false;
  /** Why the last follower stopped, while no follower runs: later waiters fail fast with it. */
  #stoppedReason: Error | undefined;

  /** Starts empty (before offset 0) or from a snapshot. */
  constructor(options: { readonly snapshot?: MetadataSnapshot } = {}) {
    this.#state = options.snapshot === undefined ? MetadataState.empty() : MetadataState.restore(options.snapshot);
  }

  /**
   * The current metadata. Read-only: only committed records change it. Read it afresh each time:
   * loading a snapshot replaces the whole object.
   */
  get state(): MetadataStateView {
    return this.#state;
  }

  get lastAppliedOffset(): number {
    return this.#state.lastAppliedOffset;
  }

  /**
   * Applies records in offset order. Records at or below lastAppliedOffset are skipped, so an
   * overlap between a read and a commit notification is harmless; a gap is a bug and throws
   * MetadataAssertionError. Subscribers are told once per call that applied anything.
   */
  apply(records: readonly MetadataRecord[]): MetadataEvent[] {
    const events: MetadataEvent[] = [];
    let applied = 0;
    for (const record of records) {
      if (record.offset <= this.#state.lastAppliedOffset) continue;
      assert(
        record.offset === this.#state.lastAppliedOffset + 1,
        () => `metadata record ${record.offset} arrived after ${this.#state.lastAppliedOffset}; records in between are missing`,
      );
      events.push(...this.#state.apply(record));
      applied++;
    }
    if (applied > 0) this.#publish({ events, lastAppliedOffset: this.#state.lastAppliedOffset });
    return events;
  }

  /**
   * Calls `listener` after each applied batch (also batches without events, since the offset
   * moved). Listeners must not throw; a throw is a bug and is rethrown asynchronously.
   */
  subscribe(listener: (update: MetadataUpdate) => void): () => void {
    const entry = (update: MetadataUpdate): void => listener(update);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Resolves once the cache has applied `offset` (at once if it has), e.g. the metadataOffset of an
   * admin result, for read-your-writes. Rejects with the signal's reason on abort, and with the
   * reason following stopped if the cache stopped following before reaching the offset.
   */
  waitForOffset(offset: number, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state.lastAppliedOffset >= offset) return Promise.resolve();
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (this.#stoppedReason !== undefined) return Promise.reject(this.#stoppedReason);
    if (this.#waiters.length >= MAX_OFFSET_WAITERS) {
      return Promise.reject(
        new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${this.#waiters.length} callers already wait for metadata offsets`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal === undefined ? new Error('aborted') : abortReason(signal));
      };
      const waiter: OffsetWaiter = {
        offset,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(asError(error));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Follows `log` from this cache's offset; see the module comment. One follower per cache. */
  follow(log: FollowableLog, options: MetadataFollowOptions = {}): MetadataFollower {
    assert(!this.#following, 'this cache is already following a log');
    this.#following = true;
    this.#stoppedReason = undefined;
    const batchMaxRecords = options.batchMaxRecords ?? 1000;
    let live = false;
    let stopped = false;
    let settleDone!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settleDone = (error) => (error === undefined ? resolve() : reject(asError(error)));
    });
    let settleCaughtUp!: (error?: unknown) => void;
    const caughtUp = new Promise<void>((resolve, reject) => {
      settleCaughtUp = (error) => (error === undefined ? resolve() : reject(asError(error)));
    });
    // Handled here so an unobserved failure is not an unhandled rejection; callers still see it.
    done.catch(() => undefined);
    caughtUp.catch(() => undefined);

    const finish = (error?: unknown): void => {
      if (stopped) return;
      stopped = true;
      this.#following = false;
      unsubscribe();
      options.signal?.removeEventListener('abort', onAbort);
      const stoppedEarly = new StreamBusError(ErrorCode.SHUTTING_DOWN, 'stopped following the metadata log before catching up');
      settleCaughtUp(error ?? (live ? undefined : stoppedEarly));
      settleDone(error);
      // Nobody will advance this cache now; waiters learn why instead of waiting forever.
      const waiters = this.#waiters;
      this.#waiters = [];
      const reason = asError(error ?? new StreamBusError(ErrorCode.SHUTTING_DOWN, 'stopped following the metadata log'));
      this.#stoppedReason = reason;
      for (const waiter of waiters) waiter.reject(reason);
    };
    const onAbort = (): void => finish();

    const catchUp = async (): Promise<void> => {
      while (!stopped) {
        const from = this.#state.lastAppliedOffset + 1;
        if (from < log.startOffset) {
          await this.#loadSnapshot(log, () => stopped);
          continue;
        }
        if (from > log.committedOffset) {
          // Synchronous with the check above: no commit can slip between "caught up" and "live".
          live = true;
          settleCaughtUp();
          return;
        }
        let records: MetadataRecord[];
        try {
          records = await log.read(from, batchMaxRecords);
        } catch (error) {
          // The log compacted between the check and the read: go round and load the snapshot.
          if (error instanceof StreamBusError && error.code === ErrorCode.OFFSET_OUT_OF_RANGE && from < log.startOffset) continue;
          throw error;
        }
        if (stopped) return;
        assert(records.length > 0, () => `the log committed up to ${log.committedOffset} but a read from ${from} returned nothing`);
        this.apply(records);
      }
    };
    const startCatchUp = (): void => {
      catchUp().catch((error: unknown) => finish(error));
    };

    const unsubscribe = log.onCommit((records) => {
      if (!live || stopped) return;
      if (log.startOffset > this.#state.lastAppliedOffset + 1) {
        // The log replaced what we had not applied with a snapshot (a replicated log installing
        // its leader's): these records cannot be applied on top of our state. Catch up again;
        // notifications are ignored until then and the reads pick these records up.
        live = false;
        startCatchUp();
        return;
      }
      try {
        this.apply(records);
      } catch (error) {
        finish(error);
      }
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) finish();
    startCatchUp();
    return { caughtUp, done, stop: () => finish() };
  }

  /**
   * Replaces the state with the log's snapshot and tells subscribers with one snapshot-loaded
   * event. Fails with KAFKA_STORAGE_ERROR when the log has no snapshot that reaches past this
   * cache's offset (it broke its contract), CORRUPT_MESSAGE or UNSUPPORTED_VERSION for a snapshot
   * that does not restore, and INCONSISTENT_CLUSTER_ID for one of another cluster.
   */
  async #loadSnapshot(log: FollowableLog, stopped: () => boolean): Promise<void> {
    const from = this.#state.lastAppliedOffset + 1;
    const found = await log.snapshot();
    if (stopped()) return;
    if (found === undefined || found.offset < from) {
      throw new StreamBusError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `the metadata log starts at offset ${log.startOffset}, past this follower's next offset ${from}, ` +
          (found === undefined ? 'but has no snapshot' : `but its snapshot ends at ${found.offset}`),
      );
    }
    const restored = MetadataState.restore(found.snapshot);
    if (restored.lastAppliedOffset !== found.offset) {
      throw new StreamBusError(
        ErrorCode.CORRUPT_MESSAGE,
        `the metadata log's snapshot at offset ${found.offset} says it covers records up to ${restored.lastAppliedOffset}`,
      );
    }
    const clusterId = this.#state.clusterId;
    if (clusterId !== null && restored.clusterId !== clusterId) {
      throw new StreamBusError(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `the metadata log's snapshot belongs to cluster ${restored.clusterId ?? '(none)'}, but this follower has applied cluster ${clusterId}`,
      );
    }
    const previous = this.#state.snapshot();
    this.#state = restored;
    this.#publish({
      events: [{ type: MetadataEventType.SNAPSHOT_LOADED, offset: found.offset, previous }],
      lastAppliedOffset: found.offset,
    });
  }

  #publish(update: MetadataUpdate): void {
    if (this.#waiters.length > 0) {
      const ready = this.#waiters.filter((w) => w.offset <= update.lastAppliedOffset);
      this.#waiters = this.#waiters.filter((w) => w.offset > update.lastAppliedOffset);
      for (const waiter of ready) waiter.resolve();
    }
    for (const listener of [...this.#listeners]) {
      try {
        listener(update);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
