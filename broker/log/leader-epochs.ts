/**
 * A partition's leader-epoch history: for each leader epoch that wrote to the log, the offset at
 * which its batches start. Replication compares a follower's history with the leader's to find
 * where the two logs diverge (docs/replication.md), instead of guessing from the high watermark.
 *
 * Pure: no I/O. PartitionLog persists each change as a `0x06` key (layout.ts) in the same write
 * batch as the data change that causes it, so the history is always exactly as current as the log.
 *
 * Invariants: epochs strictly increase, start offsets never decrease, and no entry starts beyond
 * the log end (an epoch may start AT the log end: a leader records its epoch before it appends).
 */

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** Where an epoch ends: the start of the next epoch, or the log end for the latest one. */
export interface EpochEndOffset {
  /** The largest epoch at or below the one asked about; -1 when the history has none. */
  readonly epoch: number;
  /** -1 when `epoch` is -1. */
  readonly endOffset: number;
}

export const NO_EPOCH = -1;

export class LeaderEpochHistory {
  readonly #entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    this.#entries = [...entries].sort((a, b) => a.epoch - b.epoch);
  }

  get entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  /** The newest epoch, or -1 when no epoch wrote yet. */
  get latestEpoch(): number {
    return this.#entries.at(-1)?.epoch ?? NO_EPOCH;
  }

  /**
   * The entry to add when a batch of `epoch` starting at `startOffset` is appended, or undefined
   * when the history already covers it (the epoch is not newer than the latest). Does not change
   * the history: the caller applies it with add() once it has decided to write it.
   */
  entryFor(epoch: number, startOffset: number): EpochEntry | undefined {
    if (epoch < 0 || epoch <= this.latestEpoch) return undefined;
    return { epoch, startOffset };
  }

  add(entry: EpochEntry): void {
    const latest = this.#entries.at(-1);
    if (latest !== undefined && (entry.epoch <= latest.epoch || entry.startOffset < latest.startOffset)) {
      throw new Error(`leader epoch ${entry.epoch} at ${entry.startOffset} does not follow ${latest.epoch} at ${latest.startOffset}`);
    }
    this.#entries.push(entry);
  }

  /**
   * Kafka's OffsetsForLeaderEpoch answer for `epoch`: the largest epoch <= `epoch` in the history
   * and where it ends (the start of the next epoch, or `logEndOffset` when it is the latest).
   */
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    let index = -1;
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i]!.epoch <= epoch) index = i;
    if (index < 0) return { epoch: NO_EPOCH, endOffset: NO_EPOCH };
    const next = this.#entries[index + 1];
    return { epoch: this.#entries[index]!.epoch, endOffset: next === undefined ? logEndOffset : next.startOffset };
  }

  /** The entries a truncation of the log to `offset` removes (those starting at or after it). */
  removedBy(offset: number): EpochEntry[] {
    return this.#entries.filter((entry) => entry.startOffset >= offset);
  }

  /** Drops the entries starting at or after `offset` (the log was truncated there). */
  truncateFromEnd(offset: number): void {
    while ((this.#entries.at(-1)?.startOffset ?? -1) >= offset) this.#entries.pop();
  }
}
