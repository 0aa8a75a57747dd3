/**
 * MetadataCache: a broker's view of the cluster metadata, built by applying committed records with
 * the same MetadataState the coordinator uses, so both views agree record for record.
 *
 * `follow(log)` keeps the cache current without polling: it subscribes to commits first, reads
 * from the cache's offset until it has everything committed so far, then applies each commit as
 * the log announces it. Subscribing before reading means no commit can fall between the two:
 * commits during catch-up are ignored by the listener and picked up by the next read, and the
 * switch to live happens in the same synchronous step as the final "caught up" check.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { abortReason, asError } from './abort.js';
import { assert } from './assert.js';
import type { MetadataRecord } from './commands.js';
import { type MetadataEvent, type MetadataSnapshot, type MetadataStateView, MetadataState } from './state.js';

/** The part of a MetadataLog that following needs (MetadataLog satisfies it). */
export interface FollowableLog {
  readonly committedOffset: number;
  read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]>;
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
  readonly #state: MetadataState;
  readonly #listeners = new Set<(update: MetadataUpdate) => void>();
  #waiters: OffsetWaiter[] = [];
  #following = false;
  /** Why the last follower stopped, while no follower runs: later waiters fail fast with it. */
  #stoppedReason: Error | undefined;

  /** Starts empty (before offset 0) or from a snapshot. */
  constructor(options: { readonly snapshot?: MetadataSnapshot } = {}) {
    this.#state = options.snapshot === undefined ? MetadataState.empty() : MetadataState.restore(options.snapshot);
  }

  /** The current metadata. Read-only: only committed records change it. */
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

    const unsubscribe = log.onCommit((records) => {
      if (!live || stopped) return;
      try {
        this.apply(records);
      } catch (error) {
        finish(error);
      }
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) finish();

    const catchUp = async (): Promise<void> => {
      while (!stopped) {
        const from = this.#state.lastAppliedOffset + 1;
        if (from > log.committedOffset) {
          // Synchronous with the check above: no commit can slip between "caught up" and "live".
          live = true;
          settleCaughtUp();
          return;
        }
        const records = await log.read(from, batchMaxRecords);
        if (stopped) return;
        assert(records.length > 0, () => `the log committed up to ${log.committedOffset} but a read from ${from} returned nothing`);
        this.apply(records);
      }
    };
    catchUp().catch((error: unknown) => finish(error));
    return { caughtUp, done, stop: () => finish() };
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
