/**
 * What a partition's leader knows about its followers: how far each one's log reaches (the fetch
 * offset of its latest fetch is its log end) and when it was last caught up. From that it
 * computes the high watermark and which followers are caught up or lagging.
 *
 * Pure: no I/O, no clock (callers pass nowMs). The ISR itself is NOT decided here: the leader
 * reports which followers should leave or join it (isrChanges), and the coordinator commits ISR
 * changes (a compare-and-set on the partition epoch, a later piece of work). Until then the high
 * watermark is computed over the ISR exactly as the metadata gives it.
 *
 * "Caught up" follows Kafka: a follower fetching at or beyond the leader's log end is caught up
 * now; one fetching at or beyond the log end the leader had at its previous fetch was caught up
 * at that previous fetch. A follower whose last caught-up time is older than
 * replica.lag.time.max.ms should leave the ISR.
 */

export interface FollowerState {
  readonly replicaId: number;
  /** The follower's log end offset as its latest fetch reported it; -1 before any fetch. */
  readonly logEndOffset: number;
  readonly lastFetchMs: number;
  /** -1 when never caught up since this broker started leading. */
  readonly lastCaughtUpMs: number;
}

export interface IsrChanges {
  /** ISR members whose last caught-up time is older than replica.lag.time.max.ms. */
  readonly shouldLeave: readonly number[];
  /** Replicas outside the ISR that have caught up with the high watermark. */
  readonly shouldJoin: readonly number[];
}

interface MutableFollower {
  replicaId: number;
  logEndOffset: number;
  lastFetchMs: number;
  lastCaughtUpMs: number;
  leaderEndAtLastFetch: number;
}

export class LeaderState {
  readonly leaderId: number;
  readonly #followers = new Map<number, MutableFollower>();

  /** `nowMs`: when leadership began; followers count as caught up then (Kafka does the same). */
  constructor(leaderId: number, replicas: readonly number[], nowMs: number) {
    this.leaderId = leaderId;
    for (const replicaId of replicas) {
      if (replicaId === leaderId) continue;
      this.#followers.set(replicaId, { replicaId, logEndOffset: -1, lastFetchMs: -1, lastCaughtUpMs: nowMs, leaderEndAtLastFetch: -1 });
    }
  }

  /**
   * Follows a change of the replica set under the same leadership (a reassignment adds or removes
   * replicas): a new follower starts as one does when leadership begins (no fetch yet, caught up
   * at `nowMs`); a removed one is forgotten, so its fetches are refused from now on.
   */
  setReplicas(replicas: readonly number[], nowMs: number): void {
    for (const replicaId of [...this.#followers.keys()]) if (!replicas.includes(replicaId)) this.#followers.delete(replicaId);
    for (const replicaId of replicas) {
      if (replicaId === this.leaderId || this.#followers.has(replicaId)) continue;
      this.#followers.set(replicaId, { replicaId, logEndOffset: -1, lastFetchMs: -1, lastCaughtUpMs: nowMs, leaderEndAtLastFetch: -1 });
    }
  }

  /** Whether `replicaId` is a follower of this partition. */
  isFollower(replicaId: number): boolean {
    return this.#followers.has(replicaId);
  }

  /** Records a follower's fetch at `fetchOffset` (its log end) while the leader's log ends at `leaderLogEnd`. */
  recordFetch(replicaId: number, fetchOffset: number, leaderLogEnd: number, nowMs: number): void {
    const follower = this.#followers.get(replicaId);
    if (follower === undefined) return;
    if (fetchOffset >= leaderLogEnd) follower.lastCaughtUpMs = nowMs;
    else if (follower.leaderEndAtLastFetch >= 0 && fetchOffset >= follower.leaderEndAtLastFetch) {
      follower.lastCaughtUpMs = Math.max(follower.lastCaughtUpMs, follower.lastFetchMs);
    }
    follower.logEndOffset = fetchOffset;
    follower.lastFetchMs = nowMs;
    follower.leaderEndAtLastFetch = leaderLogEnd;
  }

  /**
   * The high watermark: the lowest log end over the ISR (the leader's own included). A member
   * that has not fetched since this broker became leader holds it where it is (`current`).
   */
  highWatermark(isr: readonly number[], leaderLogEnd: number, current: number): number {
    let low = leaderLogEnd;
    for (const replicaId of isr) {
      if (replicaId === this.leaderId) continue;
      const follower = this.#followers.get(replicaId);
      const end = follower === undefined || follower.logEndOffset < 0 ? current : follower.logEndOffset;
      low = Math.min(low, end);
    }
    return Math.max(Math.min(low, leaderLogEnd), Math.min(current, leaderLogEnd));
  }

  /** Which followers should leave or join the ISR now (for the controller work that commits it). */
  isrChanges(isr: readonly number[], highWatermark: number, nowMs: number, replicaLagTimeMaxMs: number): IsrChanges {
    const shouldLeave: number[] = [];
    const shouldJoin: number[] = [];
    for (const follower of this.#followers.values()) {
      const inIsr = isr.includes(follower.replicaId);
      if (inIsr && nowMs - follower.lastCaughtUpMs > replicaLagTimeMaxMs) shouldLeave.push(follower.replicaId);
      if (!inIsr && follower.logEndOffset >= highWatermark && nowMs - follower.lastCaughtUpMs <= replicaLagTimeMaxMs) {
        shouldJoin.push(follower.replicaId);
      }
    }
    return { shouldLeave, shouldJoin };
  }

  followers(): FollowerState[] {
    return [...this.#followers.values()].map(({ replicaId, logEndOffset, lastFetchMs, lastCaughtUpMs }) => ({
      replicaId,
      logEndOffset,
      lastFetchMs,
      lastCaughtUpMs,
    }));
  }
}
