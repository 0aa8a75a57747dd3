/**
 * One led partition's ISR changes on their way to the coordinator (AlterPartition), and the ISR
 * the high watermark must use meanwhile.
 *
 * The leader decides which followers should leave or join the ISR (LeaderState.isrChanges); the
 * coordinator commits the change with a compare-and-set on the partition epoch the leader last saw.
 * At most one change is in flight per partition. While a change is pending its outcome, the high
 * watermark counts the union of the ISR in the metadata and the proposed one (Kafka's "maximal
 * ISR"): a follower on its way out still holds the high watermark back until the removal is known
 * committed, and one on its way in already does, so whichever way the change goes, no record is
 * acknowledged that a member of the committed ISR lacks.
 *
 * Outcomes:
 * - committed: the ISR the coordinator answered with is used until the followed metadata reaches
 *   that partition epoch;
 * - refused because the partition moved on (INVALID_UPDATE_VERSION, FENCED_LEADER_EPOCH,
 *   NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION): nothing is retried until the metadata shows
 *   a newer partition epoch (retrying blindly would fail the same way);
 * - refused for INELIGIBLE_REPLICA (a joiner is fenced or shutting down): joins pause for a backoff,
 *   leaves still go ahead;
 * - unknown (the connection dropped, a timeout): the change may have committed, so the union stays
 *   in force, and the same request is sent again after a backoff until an answer or newer metadata
 *   settles it (a repeat of a committed change fails its compare-and-set, changing nothing);
 * - any other refusal (STALE_BROKER_EPOCH, NOT_CONTROLLER...): tried again after a backoff.
 * Backoffs double from `initialBackoffMs` up to `maxBackoffMs` and reset on a success.
 *
 * Pure: no I/O, no clock (callers pass nowMs).
 */
import { ErrorCode, type StreamBusError } from '../../proto/errors.js';
import type { IsrChanges } from './leader-state.js';

/** What the leader's metadata says about the partition. */
export interface IsrView {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/** One partition's part of an AlterPartition request. */
export interface IsrProposal {
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

/** The coordinator's answer for the partition: its error, or the ISR it committed. */
export interface IsrAnswer {
  readonly error: StreamBusError | undefined;
  readonly isr: readonly number[];
}

interface Pending {
  readonly proposal: IsrProposal;
  inFlight: boolean;
  /** An attempt's outcome was unknown: it may have committed. */
  maybeApplied: boolean;
  /** The committed ISR, once the coordinator said so. */
  committed: readonly number[] | undefined;
  retryAtMs: number;
}

/** Failures after which the change may or may not have been committed. */
const unknownOutcomes: ReadonlySet<number> = new Set([ErrorCode.NETWORK_EXCEPTION, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.SHUTTING_DOWN, ErrorCode.KAFKA_STORAGE_ERROR]);
/** Refusals that say the partition is no longer as the leader saw it. */
const movedOn: ReadonlySet<number> = new Set([
  ErrorCode.INVALID_UPDATE_VERSION,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
]);

export interface IsrUpdateOptions {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export class IsrUpdate {
  readonly #options: IsrUpdateOptions;
  #pending: Pending | undefined;
  /** Propose nothing while the metadata's partition epoch is at or below this. */
  #waitAbove = -1;
  #noJoinUntilMs = 0;
  #nextAllowedMs = 0;
  #backoffMs: number;

  constructor(options: IsrUpdateOptions) {
    this.#options = options;
    this.#backoffMs = options.initialBackoffMs;
  }

  /** Whether a change is pending (sent, or committed and not yet in the followed metadata). */
  get pending(): boolean {
    return this.#pending !== undefined;
  }

  /** Drops a pending change once the metadata's partition epoch has moved past the one it was based on. */
  observe(partitionEpoch: number): void {
    if (this.#pending !== undefined && partitionEpoch > this.#pending.proposal.partitionEpoch) this.#pending = undefined;
  }

  /**
   * The ISR the high watermark is computed over: `isr` (the metadata's), the committed one while
   * the metadata lags behind it, or the union of `isr` and a proposal whose outcome is pending.
   */
  maximalIsr(isr: readonly number[]): readonly number[] {
    const pending = this.#pending;
    if (pending === undefined) return isr;
    if (pending.committed !== undefined) return pending.committed;
    const extra = pending.proposal.newIsr.filter((id) => !isr.includes(id));
    return extra.length === 0 ? isr : [...isr, ...extra];
  }

  /**
   * The change to send now, if any: a repeat of one whose outcome is unknown, or a new one from
   * `changes` (what LeaderState says should leave or join). Marks it in flight.
   */
  next(view: IsrView, changes: IsrChanges, nowMs: number): IsrProposal | undefined {
    this.observe(view.partitionEpoch);
    const pending = this.#pending;
    if (pending !== undefined) {
      if (pending.inFlight || pending.committed !== undefined || nowMs < pending.retryAtMs) return undefined;
      pending.inFlight = true;
      return pending.proposal;
    }
    if (view.partitionEpoch <= this.#waitAbove || nowMs < this.#nextAllowedMs) return undefined;
    const joins = nowMs < this.#noJoinUntilMs ? [] : changes.shouldJoin.filter((id) => !view.isr.includes(id));
    const leaves = changes.shouldLeave.filter((id) => view.isr.includes(id));
    if (joins.length === 0 && leaves.length === 0) return undefined;
    const kept = view.isr.filter((id) => !leaves.includes(id));
    const newIsr = [...kept, ...view.replicas.filter((id) => joins.includes(id))];
    const proposal: IsrProposal = { leaderEpoch: view.leaderEpoch, partitionEpoch: view.partitionEpoch, newIsr };
    this.#pending = { proposal, inFlight: true, maybeApplied: false, committed: undefined, retryAtMs: 0 };
    return proposal;
  }

  /** Records the outcome of the request carrying `proposal` (see the file comment). */
  answered(proposal: IsrProposal, answer: IsrAnswer, nowMs: number): void {
    const pending = this.#pending;
    if (pending?.proposal !== proposal) return;
    pending.inFlight = false;
    const error = answer.error;
    if (error === undefined) {
      pending.committed = answer.isr;
      this.#backoffMs = this.#options.initialBackoffMs;
      return;
    }
    const backoffMs = this.#grow();
    if (unknownOutcomes.has(error.code)) {
      pending.maybeApplied = true;
      pending.retryAtMs = nowMs + backoffMs;
      return;
    }
    if (movedOn.has(error.code)) {
      this.#waitAbove = proposal.partitionEpoch;
      // An earlier attempt may have been the one that moved it: keep the union until the metadata shows.
      if (!pending.maybeApplied) this.#pending = undefined;
      return;
    }
    if (error.code === ErrorCode.INELIGIBLE_REPLICA || error.code === ErrorCode.INVALID_REQUEST) {
      // Checked after the partition epoch matched: this change was not applied, nor was any repeat.
      this.#pending = undefined;
      if (error.code === ErrorCode.INELIGIBLE_REPLICA) this.#noJoinUntilMs = nowMs + backoffMs;
      else this.#nextAllowedMs = nowMs + backoffMs;
      return;
    }
    this.#nextAllowedMs = nowMs + backoffMs;
    if (pending.maybeApplied) pending.retryAtMs = nowMs + backoffMs;
    else this.#pending = undefined;
  }

  #grow(): number {
    const current = this.#backoffMs;
    this.#backoffMs = Math.min(this.#options.maxBackoffMs, current * 2);
    return current;
  }
}
