/**
 * The core's in-memory view of one node's log: a snapshot (the compacted prefix), the entries after
 * it, the commit index, and two cursors that tie the log to the driver's Ready cycle.
 *
 * The whole uncompacted log lives in memory: metadata logs are small and the driver compacts them
 * with snapshots, so the core never reads storage, which keeps it synchronous and pure.
 *
 * Cursors:
 * - `unstableFrom`: the first index not yet handed to the driver for persisting. A truncation below
 *   it moves it back, so the next Ready re-sends the replaced tail and the driver's
 *   "delete from entries[0].index, then append" rule overwrites exactly the stale suffix.
 * - `appliedTo`: the last index handed out for apply. Entries are handed out only when committed,
 *   and only once: a restart starts again from the snapshot (or the driver's applied index).
 * - `durableTo`: the last index this node's storage is known to hold as the log here has it. It
 *   moves up when the driver acknowledges a Ready (markHandedOutDurable) and down when a truncation
 *   or a snapshot replaces entries. A leader counts itself towards commit only up to here, which is
 *   what lets it send appends before its own write is synced (see Ready.leaderAppends).
 */
import { assert } from './assert.js';
import type { ConfigEntry, Entry, Snapshot, SnapshotMeta } from './types.js';

export class RaftLog {
  #snapshot: Snapshot;
  /** entries[i].index === snapshot.meta.index + 1 + i. */
  readonly #entries: Entry[];
  #committed: number;
  #unstableFrom: number;
  #pendingSnapshot = false;
  #appliedTo: number;
  #droppedFrom = Infinity;
  #durableTo: number;
  /** The last index the outstanding Ready asks the driver to persist (lowered by truncation). */
  #handedOutTo: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: number, applied: number) {
    this.#snapshot = snapshot;
    this.#entries = [...entries];
    this.#committed = committed;
    // Everything we were given came from storage, so it is already durable.
    this.#unstableFrom = this.lastIndex + 1;
    this.#appliedTo = applied;
    this.#durableTo = this.lastIndex;
    this.#handedOutTo = this.lastIndex;
  }

  get durableTo(): number {
    return this.#durableTo;
  }

  /** The driver acknowledged the Ready: everything it handed out (and not since replaced) is on disk. */
  markHandedOutDurable(): void {
    this.#durableTo = Math.max(this.#durableTo, this.#handedOutTo);
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  get snapshotMeta(): SnapshotMeta {
    return this.#snapshot.meta;
  }

  get firstIndex(): number {
    return this.#snapshot.meta.index + 1;
  }

  get lastIndex(): number {
    return this.#snapshot.meta.index + this.#entries.length;
  }

  get lastTerm(): number {
    return this.#entries.at(-1)?.term ?? this.#snapshot.meta.term;
  }

  get committed(): number {
    return this.#committed;
  }

  get appliedTo(): number {
    return this.#appliedTo;
  }

  /** The entries after the snapshot, oldest first. A live view: callers must not mutate it. */
  get entries(): readonly Entry[] {
    return this.#entries;
  }

  /** The term of the entry at `index`; undefined when compacted away (below the snapshot) or past the end. */
  term(index: number): number | undefined {
    const base = this.#snapshot.meta.index;
    if (index === base) return this.#snapshot.meta.term;
    if (index < base || index > base + this.#entries.length) return undefined;
    return this.#entries[index - base - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    const base = this.#snapshot.meta.index;
    if (index <= base) return undefined;
    return this.#entries[index - base - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm;
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex);
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term`, with that term. Used on both sides of a
   * rejected append to skip every entry of a term that cannot match. Below the snapshot the answer
   * is the snapshot index itself (we cannot look further; the leader then sends a snapshot).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex);
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  /**
   * A follower's AppendEntries after (prevIndex, prevTerm) matched: appends what is new, truncating
   * only from the first entry whose term differs. Entries that already match are left alone, so a
   * delayed or duplicated request can never delete entries a later request added (and we acked).
   * `truncateEvenWhenMatching` is the seeded bug that drops that rule. Returns the last index the
   * request proved to match.
   */
  appendAfterMatch(prevIndex: number, entries: readonly Entry[], truncateEvenWhenMatching: boolean): number {
    const lastNew = prevIndex + entries.length;
    let conflictAt = -1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === prevIndex + 1 + i, () => `append carries index ${e.index} at position ${i} after ${prevIndex}`);
      if (!this.matchTerm(e.index, e.term)) {
        conflictAt = i;
        break;
      }
    }
    if (conflictAt >= 0) {
      this.truncateAndAppend(entries.slice(conflictAt));
    } else if (truncateEvenWhenMatching && lastNew < this.lastIndex && lastNew >= this.#committed) {
      this.#truncateFrom(lastNew + 1);
    }
    return lastNew;
  }

  /** Appends `entries` (contiguous), first deleting every entry at or after entries[0].index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.#committed, () => `truncating at ${first.index} would delete committed entries (commit ${this.#committed})`);
    assert(first.index <= this.lastIndex + 1, () => `append at ${first.index} leaves a gap after ${this.lastIndex}`);
    this.#truncateFrom(first.index);
    for (const e of entries) {
      assert(e.index === this.lastIndex + 1, () => `entries are not contiguous at ${e.index}`);
      this.#entries.push(e);
    }
  }

  #truncateFrom(index: number): void {
    const keep = index - this.firstIndex;
    if (keep < this.#entries.length) {
      this.#entries.length = keep;
      this.#unstableFrom = Math.min(this.#unstableFrom, index);
      this.#droppedFrom = Math.min(this.#droppedFrom, index);
      this.#durableTo = Math.min(this.#durableTo, index - 1);
      this.#handedOutTo = Math.min(this.#handedOutTo, index - 1);
    }
  }

  /**
   * The lowest index whose entry was deleted or replaced since the last call (Infinity if none).
   * The node uses it to withdraw acks it queued for entries that will now never be persisted.
   */
  takeDroppedFrom(): number {
    const index = this.#droppedFrom;
    this.#droppedFrom = Infinity;
    return index;
  }

  /** Entries in [lo, hi], at most `maxCount` and about `maxBytes` of data (always at least one). */
  slice(lo: number, hi: number, maxCount: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi && out.length < maxCount; i++) {
      const e = this.entry(i);
      assert(e !== undefined, () => `entry ${i} is not in the log (first ${this.firstIndex}, last ${this.lastIndex})`);
      const size = e.kind === 'normal' ? e.data.byteLength : 8 * e.voters.length;
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return out;
  }

  commitTo(index: number): boolean {
    if (index <= this.#committed) return false;
    assert(index <= this.lastIndex, () => `commit ${index} is past the last index ${this.lastIndex}`);
    this.#committed = index;
    return true;
  }

  /** Replaces the whole log by a snapshot from the leader (its state machine will be restored from it). */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.#committed, () => `snapshot at ${snapshot.meta.index} is not past commit ${this.#committed}`);
    // Entries up to the commit index are in every later leader's log, hence in the snapshot; the
    // ones after it may differ from the leader's.
    this.#droppedFrom = Math.min(this.#droppedFrom, this.#committed + 1);
    this.#snapshot = snapshot;
    this.#entries.length = 0;
    this.#committed = snapshot.meta.index;
    this.#unstableFrom = snapshot.meta.index + 1;
    this.#pendingSnapshot = true;
    // What storage holds no longer matches this log until the snapshot is persisted.
    this.#durableTo = 0;
    this.#handedOutTo = 0;
    // The snapshot is handed out before any later committed entry, so apply continues after it.
    this.#appliedTo = snapshot.meta.index;
  }

  /**
   * Drops entries up to `index`, which the application has applied and captured in `data`.
   * The caller must have made the snapshot durable (or be about to, atomically with deleting the
   * entries); losing a compaction in a crash is safe, the old snapshot and entries remain.
   */
  compact(index: number, data: Uint8Array): void {
    assert(index > this.#snapshot.meta.index, () => `compaction to ${index} is not past the snapshot ${this.#snapshot.meta.index}`);
    assert(index <= this.#appliedTo, () => `compaction to ${index} is past what was handed out for apply (${this.#appliedTo})`);
    const term = this.term(index);
    assert(term !== undefined, () => `no term for compaction index ${index}`);
    const voters = this.configAt(index).voters;
    this.#entries.splice(0, index - this.#snapshot.meta.index);
    this.#snapshot = { meta: { index, term, voters }, data };
  }

  /** The voter set in force at `index`: the last config entry at or before it, else the snapshot's. */
  configAt(index: number): { voters: readonly number[]; index: number } {
    for (let i = Math.min(index, this.lastIndex); i > this.#snapshot.meta.index; i--) {
      const e = this.entry(i);
      if (e?.kind === 'config') return { voters: e.voters, index: e.index };
    }
    return { voters: this.#snapshot.meta.voters, index: this.#snapshot.meta.index };
  }

  /** The newest config entry after the snapshot, if any. */
  lastConfigEntry(): ConfigEntry | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (e.kind === 'config') return e;
    }
    return undefined;
  }

  /** The snapshot we were constructed with is not durable yet (a brand-new node's bootstrap configuration). */
  markSnapshotPending(): void {
    this.#pendingSnapshot = true;
    this.#durableTo = 0;
  }

  get hasPendingSnapshot(): boolean {
    return this.#pendingSnapshot;
  }

  get hasUnstableEntries(): boolean {
    return this.#unstableFrom <= this.lastIndex;
  }

  get hasUnappliedCommitted(): boolean {
    return this.#committed > this.#appliedTo;
  }

  /** Hands out what the driver must persist, and marks it handed out. */
  takeUnstable(): { snapshot: Snapshot | undefined; entries: Entry[] } {
    const snapshot = this.#pendingSnapshot ? this.#snapshot : undefined;
    const from = Math.max(this.#unstableFrom, this.firstIndex);
    const entries = from <= this.lastIndex ? this.#entries.slice(from - this.firstIndex) : [];
    this.#pendingSnapshot = false;
    this.#unstableFrom = this.lastIndex + 1;
    this.#handedOutTo = this.lastIndex;
    return { snapshot, entries };
  }

  /** Hands out committed entries not yet handed out for apply, at most `maxCount`. */
  takeCommitted(maxCount: number): Entry[] {
    const from = this.#appliedTo + 1;
    const to = Math.min(this.#committed, this.#appliedTo + maxCount);
    if (to < from) return [];
    const out = this.#entries.slice(from - this.firstIndex, to - this.firstIndex + 1);
    this.#appliedTo = to;
    return out;
  }
}
