/**
 * The metadata log: the seam between the metadata state machine and how commands become committed.
 *
 * LocalMetadataLog commits a command once it is synced to this node's disk. A Raft-replicated log
 * will implement the same interface, committing once a quorum has the entry; the Coordinator,
 * MetadataState and MetadataCache do not change (DESIGN.md decision 4). Brokers follow the log by
 * reading from an offset and then listening for commits, never by polling.
 *
 * A log may compact: replace its oldest records with a snapshot of the state they build, so its
 * first readable offset (startOffset) grows. A follower that needs records before startOffset loads
 * snapshot() instead and reads on from the offset after it (MetadataCache.follow does this).
 */
import type { MetadataCommand, MetadataRecord } from '../metadata/commands.js';
import type { MetadataSnapshot } from '../metadata/state.js';

/** read() never returns more than this many records, whatever maxRecords says. */
export const MAX_READ_RECORDS = 10_000;

/** The state after every record up to and including `offset`. */
export interface MetadataLogSnapshot {
  /** The last offset the snapshot covers; equal to snapshot.lastAppliedOffset. */
  readonly offset: number;
  readonly snapshot: MetadataSnapshot;
}

export interface MetadataAppendOptions {
  /**
   * Aborts an append that has not started writing: it is not written and the promise rejects with
   * the signal's reason. Once the write has started the abort has no effect and the append resolves
   * or rejects with the real outcome, so a caller never has to guess whether its commands committed.
   */
  readonly signal?: AbortSignal;
}

/**
 * Offsets are contiguous from the start of the log: a replicated implementation reports its own
 * entries that are not metadata commands (leader no-ops, membership changes) as no-op records, so a
 * follower can tell a gap (lost records) from a quiet log.
 */
export interface MetadataLog {
  /**
   * Appends commands durably and resolves with their offsets once committed: commit means synced to
   * disk on this node for the single-node log, replicated to a quorum for Raft later. The commands
   * of one call get consecutive offsets and commit together or not at all. onCommit listeners have
   * seen the records before the promise resolves. Rejects with StreamBusError: INVALID_REQUEST for a
   * malformed command, SHUTTING_DOWN after close(), KAFKA_STORAGE_ERROR if the disk write failed
   * (the log then refuses further appends).
   */
  append(commands: readonly MetadataCommand[], options?: MetadataAppendOptions): Promise<number[]>;
  /**
   * Committed records from `fromOffset` (inclusive), at most `maxRecords`, in offset order; [] when
   * `fromOffset` is committedOffset + 1. OFFSET_OUT_OF_RANGE before the start or past the end.
   * Every record is checked (checksum, offset) on the way out; a bad one fails the read with
   * KAFKA_STORAGE_ERROR rather than being served.
   */
  read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]>;
  /** The offset of the last committed record; -1 when empty. Updated before onCommit listeners run. */
  readonly committedOffset: number;
  /**
   * The first offset read() serves: 0 until the log compacts, then the offset after its snapshot.
   * Never decreases. May be committedOffset + 1 (everything is in the snapshot).
   */
  readonly startOffset: number;
  /**
   * The latest snapshot, covering at least every record before startOffset (its offset is
   * ≥ startOffset − 1), or undefined when the log has never compacted (startOffset 0). The snapshot
   * is checked by whoever restores it (MetadataState.restore), as it may come from a peer.
   */
  snapshot(): Promise<MetadataLogSnapshot | undefined>;
  /**
   * Calls `listener` synchronously with each newly committed batch of records, in offset order,
   * with no gaps between calls, except when the log replaced records a listener has not been given
   * with a snapshot (a replicated log installing one from its leader): then the listener gets an
   * empty batch at once, later batches start at startOffset or after, and the listener must load
   * snapshot() to close the gap. Returns a function that unsubscribes. Listeners must not throw (a
   * throw is a bug: it is logged and rethrown asynchronously, and the other listeners still run).
   */
  onCommit(listener: (records: readonly MetadataRecord[]) => void): () => void;
  /** Rejects queued appends with SHUTTING_DOWN, waits for the one being written, then releases the log. Idempotent. */
  close(): Promise<void>;
}
