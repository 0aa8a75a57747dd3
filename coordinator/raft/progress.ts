/**
 * The leader's view of one follower: how much of its log matches (`match`), what to send next
 * (`next`), and which of three flow-control states it is in.
 *
 * - probe: we do not know where the logs diverge. Send one append, then wait for its answer (or a
 *   heartbeat answer) before sending another, walking `next` back on each rejection.
 * - replicate: the follower is keeping up. Send optimistically (pipelining), advancing `next`
 *   past what was sent, with at most `maxInflight` appends unanswered (bounded memory and network).
 * - snapshot: the entries it needs were compacted; one InstallSnapshot is in flight.
 *
 * `match` never moves backwards: a stale or duplicated answer cannot undo what a newer one proved.
 */
export const ProgressState = { PROBE: 'probe', REPLICATE: 'replicate', SNAPSHOT: 'snapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.PROBE;
  /** Probe: an append is out and unanswered. */
  probeSent = false;
  /** Snapshot state: the snapshot index sent, and the leader tick it was sent at (to retry if lost). */
  pendingSnapshot = 0;
  snapshotSentAtTick = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest ReadIndex round this follower has acknowledged in the current term. */
  readSeqAcked = 0;
  /** Last indexes of the unanswered appends (replicate state), oldest first. */
  readonly #inflight: number[] = [];
  readonly #maxInflight: number;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.#maxInflight = maxInflight;
  }

  get inflightCount(): number {
    return this.#inflight.length;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.PROBE:
        return this.probeSent;
      case ProgressState.REPLICATE:
        return this.#inflight.length >= this.#maxInflight;
      case ProgressState.SNAPSHOT:
        return true;
    }
  }

  becomeProbe(): void {
    // After a snapshot, resume after it even if the follower has not said so yet.
    const base = this.state === ProgressState.SNAPSHOT ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.state = ProgressState.PROBE;
    this.next = base + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.#inflight.length = 0;
  }

  becomeReplicate(): void {
    this.state = ProgressState.REPLICATE;
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.#inflight.length = 0;
  }

  becomeSnapshot(snapshotIndex: number, nowTick: number): void {
    this.state = ProgressState.SNAPSHOT;
    this.pendingSnapshot = snapshotIndex;
    this.snapshotSentAtTick = nowTick;
    this.probeSent = false;
    this.#inflight.length = 0;
  }

  /** Records that an append ending at `lastIndex` with `count` entries went out. */
  sentEntries(lastIndex: number, count: number): void {
    if (this.state === ProgressState.REPLICATE) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.#inflight.push(lastIndex);
      }
    } else if (this.state === ProgressState.PROBE) {
      this.probeSent = true;
    }
  }

  /** A successful append answer up to `index`. Returns true if it proved something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejected append whose prevIndex was `rejected`; `hint` is the highest index that may still
   * match. Returns false when the rejection is stale (answers an append we have since superseded).
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === ProgressState.REPLICATE) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  freeInflightUpTo(index: number): void {
    while (this.#inflight.length > 0 && this.#inflight[0]! <= index) this.#inflight.shift();
  }

  /**
   * Frees one slot when a heartbeat answer arrives with the window full: the appends in it may all
   * have been lost, and without this a full window would never drain.
   */
  freeFirstInflight(): void {
    if (this.#inflight.length >= this.#maxInflight) this.#inflight.shift();
  }
}
