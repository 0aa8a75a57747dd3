/**
 * The application a RaftHost replicates (for StreamBus: the metadata log and its state machine).
 * The host calls these in log order, on the event loop, after the entries are durable locally and
 * committed by a quorum; never concurrently.
 */
import type { Entry, Snapshot } from '../index.js';

export interface RaftStateMachine {
  /**
   * Replace the whole state with `snapshot` (an InstallSnapshot from the leader, or the stored
   * snapshot at start). `data` is what takeSnapshot() returned on some node; empty for the bootstrap
   * snapshot at index 0 (the empty state).
   */
  restore(snapshot: Snapshot): void;
  /**
   * Apply committed entries in order (normal entries, including the empty no-ops a new leader
   * appends, and config entries). Must not throw for an entry it cannot use: a committed entry is a
   * fact on every node, so rejecting it on one would make replicas diverge.
   */
  apply(entries: readonly Entry[]): void;
  /** The state after the last applied entry, for compaction. */
  takeSnapshot(): Uint8Array;
}
