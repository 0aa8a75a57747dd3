/**
 * What one node has made durable, following the Ready contract to the letter: the simulator and
 * the scripted tests persist through it, and a crash keeps exactly this and nothing else.
 * The classic-level storage later must behave the same way (one atomic synced batch per Ready).
 */
import { assert } from '../assert.js';
import type { RestoredState } from '../raft-node.js';
import type { Entry, HardState, Ready, Snapshot } from '../types.js';

export class MemoryRaftStorage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  /** Number of Ready writes so far. */
  writes = 0;

  /** Step 1 of the Ready contract, atomically. */
  persist(ready: Ready): void {
    if (ready.snapshot !== undefined) {
      this.snapshot = ready.snapshot;
      this.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const base = this.snapshot?.meta.index ?? 0;
      const keep = first.index - base - 1;
      assert(keep >= 0 && keep <= this.entries.length, () => `persisting entries from ${first.index} onto a log of ${base}+${this.entries.length}`);
      this.entries.length = keep;
      for (const e of ready.entries) this.entries.push(e);
    }
    if (ready.hardState !== undefined) this.hardState = ready.hardState;
    this.writes++;
  }

  /** The driver's own compaction: the new snapshot and the deletion of the entries it covers, atomically. */
  compact(snapshot: Snapshot): void {
    const base = this.snapshot?.meta.index ?? 0;
    if (snapshot.meta.index <= base) return;
    const drop = snapshot.meta.index - base;
    assert(drop <= this.entries.length, () => `compacting to ${snapshot.meta.index} past the stored log ${base}+${this.entries.length}`);
    this.entries = this.entries.slice(drop);
    this.snapshot = snapshot;
  }

  /** What a restarting node reads back; undefined if it never persisted anything (a brand-new node). */
  restored(): RestoredState | undefined {
    if (this.snapshot === undefined) return undefined;
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  /** The term of the stored entry at `index` (the snapshot's term at its own index); undefined if not stored. */
  termAt(index: number): number | undefined {
    const base = this.snapshot?.meta.index ?? 0;
    if (index === base) return this.snapshot?.meta.term ?? 0;
    if (index < base) return undefined;
    return this.entries[index - base - 1]?.term;
  }

  get lastIndex(): number {
    return (this.snapshot?.meta.index ?? 0) + this.entries.length;
  }
}
