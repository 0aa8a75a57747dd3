/**
 * Coalesces offset commits into few metadata entries.
 *
 * Committed offsets live in the coordinator's Raft log (docs/groups.md), where one entry costs a
 * round trip to a quorum and an fsync. One entry per commit would cap commits at a few thousand a
 * second and crowd out every other metadata write, so the leader keeps at most ONE commit-offsets
 * entry in flight: commits arriving meanwhile wait in a queue, and when the entry is applied the
 * whole queue goes out as the next one. Under load each entry carries hundreds of offsets and the
 * log sees a few hundred entries a second; when idle a commit goes out at once (on the next turn
 * of the event loop, so commits that arrived together share an entry).
 *
 * A later commit of a partition that is still queued replaces the earlier value in place: only the
 * latest offset of each partition is written, and both callers are answered when it is applied.
 * A caller is answered once every offset it committed is applied (entries go out in order, so that
 * is when the entry holding its last queued offset is). If an entry fails (the leader lost its
 * leadership, mostly), every waiting caller fails with that error and the queue is dropped:
 * commits are idempotent, so clients simply commit again, to the new leader.
 *
 * Bounded: an entry holds at most maxBatchOffsets offsets and about maxBatchBytes of them (an
 * entry must fit the log's record limit whatever metadata the commits carry), and at most
 * maxQueuedOffsets wait in all; beyond that a commit fails at once with THROTTLING_QUOTA_EXCEEDED
 * (retriable).
 *
 * Pure: no node:* imports and no timers; the shell injects `schedule` and `write`.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { OffsetCommitEntry } from './group-commands.js';

export interface OffsetBatcherOptions {
  /** Writes one batch as one entry; resolves once it is applied, rejects with why it was not. */
  readonly write: (offsets: readonly OffsetCommitEntry[]) => Promise<void>;
  /** Runs `flush` soon (setImmediate in the coordinator), so commits of one loop turn share an entry. */
  readonly schedule: (flush: () => void) => void;
  /** Most offsets in one entry. */
  readonly maxBatchOffsets: number;
  /** About the most bytes of offsets in one entry (see encodedSize); a single larger offset still goes alone. */
  readonly maxBatchBytes: number;
  /** Most offsets queued and in flight at once. */
  readonly maxQueuedOffsets: number;
}

interface Queued {
  readonly seq: number;
  entry: OffsetCommitEntry;
}

interface Waiter {
  /** The highest position among this caller's offsets: it is done once that position is applied. */
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export interface OffsetBatcherStats {
  /** Entries written (applied). */
  readonly batches: number;
  /** Offsets in those entries. */
  readonly offsets: number;
  /** Commits answered (callers). */
  readonly commits: number;
}

/**
 * An upper bound of an offset's share of an encoded commit-offsets command: its JSON (numbers,
 * field names, punctuation: under 120 bytes) plus its group, topic and metadata, counted as if
 * they had no neighbour of the same group and topic, at 3 bytes per character.
 */
export function encodedSize(e: OffsetCommitEntry): number {
  return 120 + 3 * (e.group.length + e.topic.length + e.metadata.length);
}

function keyOf(e: { readonly group: string; readonly topic: string; readonly partition: number }): string {
  return `${e.group}\u0000${e.topic}\u0000${e.partition}`;
}

export class OffsetBatcher {
  readonly #options: OffsetBatcherOptions;
  /** Waiting offsets by partition, in queue order (a replaced value keeps its position). */
  #queue = new Map<string, Queued>();
  #waiters: Waiter[] = [];
  #nextSeq = 0;
  #inFlight = 0;
  #scheduled = false;
  /** Bumped by stop() and by a failed entry: completions of an older epoch are ignored. */
  #epoch = 0;
  #stopped: StreamBusError | undefined;
  #batches = 0;
  #offsets = 0;
  #commits = 0;

  constructor(options: OffsetBatcherOptions) {
    this.#options = options;
  }

  get stats(): OffsetBatcherStats {
    return { batches: this.#batches, offsets: this.#offsets, commits: this.#commits };
  }

  /** Offsets queued or in flight. */
  get pending(): number {
    return this.#queue.size + this.#inFlight;
  }

  /**
   * Queues `entries` (already validated); resolves once all of them are applied. Rejects with
   * THROTTLING_QUOTA_EXCEEDED when the queue is full, the failed entry's error, or stop()'s.
   */
  commit(entries: readonly OffsetCommitEntry[]): Promise<void> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    if (entries.length === 0) return Promise.resolve();
    if (this.pending + entries.length > this.#options.maxQueuedOffsets) {
      return Promise.reject(
        new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${this.pending} offsets are already waiting to be committed; retry shortly`),
      );
    }
    let seq = -1;
    for (const entry of entries) {
      const key = keyOf(entry);
      const queued = this.#queue.get(key);
      if (queued !== undefined) {
        queued.entry = entry;
        seq = Math.max(seq, queued.seq);
      } else {
        const fresh: Queued = { seq: this.#nextSeq++, entry };
        this.#queue.set(key, fresh);
        seq = Math.max(seq, fresh.seq);
      }
    }
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
    if (this.#inFlight === 0 && !this.#scheduled) {
      this.#scheduled = true;
      this.#options.schedule(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
    return done;
  }

  /** Fails every waiting commit with `error` and refuses new ones until start(). */
  stop(error: StreamBusError): void {
    this.#stopped = error;
    this.#fail(error);
  }

  /** Takes commits again (this node leads again). */
  start(): void {
    this.#stopped = undefined;
  }

  /** Sends the head of the queue as one entry, unless one is in flight already. */
  #flush(): void {
    if (this.#inFlight > 0 || this.#queue.size === 0 || this.#stopped !== undefined) return;
    const batch: OffsetCommitEntry[] = [];
    let lastSeq = -1;
    let bytes = 0;
    for (const [key, queued] of this.#queue) {
      const size = encodedSize(queued.entry);
      if (batch.length >= this.#options.maxBatchOffsets || (batch.length > 0 && bytes + size > this.#options.maxBatchBytes)) break;
      bytes += size;
      batch.push(queued.entry);
      lastSeq = queued.seq;
      this.#queue.delete(key);
    }
    this.#inFlight = batch.length;
    const epoch = this.#epoch;
    let written: Promise<void>;
    try {
      written = this.#options.write(batch);
    } catch (error) {
      written = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    written.then(
      () => {
        if (epoch !== this.#epoch) return;
        this.#inFlight = 0;
        this.#batches++;
        this.#offsets += batch.length;
        const [done, waiting] = partition(this.#waiters, (w) => w.seq <= lastSeq);
        this.#waiters = waiting;
        this.#commits += done.length;
        for (const waiter of done) waiter.resolve();
        this.#flush();
      },
      (error: unknown) => {
        if (epoch !== this.#epoch) return;
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  #fail(error: Error): void {
    this.#epoch++;
    this.#inFlight = 0;
    this.#queue = new Map();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
