/**
 * What the Raft host needs from durable storage (the README's persist-before-send contract, step 1).
 * LevelRaftStorage (classic-level) is the implementation; the simulator models the same contract.
 */
import type { Entry, HardState, RestoredState, Snapshot } from '../index.js';

/** The part of a Ready that goes to disk. */
export interface RaftWrite {
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  /**
   * false: the write need not be durable when persist() resolves (no fsync). Only for a write whose
   * loss in a crash is harmless: the host uses it for a commit-index advance that no synced write
   * carried within a tick (and on close). It still lands before any later write, and a later synced
   * write makes it durable too. Default true.
   */
  readonly sync?: boolean;
}

export interface RaftStorage {
  /**
   * What an earlier run persisted, for RaftNode's `restored` option; undefined for a store that has
   * never been written. A store that is corrupt, truncated, has gaps or belongs to another node or
   * cluster throws StreamBusError KAFKA_STORAGE_ERROR (or INVALID_CONFIG for the identity mismatch)
   * naming what is wrong: a node must not start, and so must not vote, on a damaged log.
   */
  load(): Promise<RestoredState | undefined>;
  /**
   * Step 1 of a Ready in ONE atomic, synced write: if `snapshot` is set, replace the stored snapshot
   * and delete every stored entry; then, if `entries` is not empty, delete every stored entry with
   * index ≥ entries[0].index and store `entries`; then store `hardState` if set. Resolves only once
   * durable (unless `write.sync` is false). A failed write (disk full, I/O error) rejects with KAFKA_STORAGE_ERROR, and every later
   * call rejects with the same error: the host must stop acknowledging anything.
   */
  persist(write: RaftWrite): Promise<void>;
  /**
   * Log compaction: stores `snapshot` (from RaftNode.compact) and deletes the entries it covers
   * (index ≤ snapshot.meta.index). The snapshot is stored before any covered entry is deleted;
   * the deletes may finish after the promise resolves and need not be atomic with the snapshot, so
   * load() accepts (and removes) entries left at or below the stored snapshot. Losing this write
   * in a crash is harmless.
   */
  compact(snapshot: Snapshot): Promise<void>;
  /** Stored entries in [from, to) (to exclusive), for serving metadata reads after they left memory. */
  entries(from: number, to: number): Promise<Entry[]>;
  close(): Promise<void>;
}
