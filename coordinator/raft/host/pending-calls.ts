/**
 * The callers a RaftHost owes an answer: proposals (and membership changes) by log index, read
 * barriers by ReadIndex context, leadership transfers by target. The host reports what happened
 * (entries applied, a snapshot restored, read states, leadership moved) and this table settles
 * whoever that answers.
 *
 * How a proposal's fate is known: it committed iff the entry APPLIED at its index has the term it
 * was proposed in. Another term there means a newer leader overwrote it, so it did not commit. A
 * snapshot jumping past its index, or leadership moving before the apply, leaves the outcome
 * unknown: the first rejects at once, the second gets a deadline after which it rejects with
 * REQUEST_TIMED_OUT saying so. A read not yet confirmed when the term moves (or its leader steps
 * down) is lost for sure: the core drops its queued reads and ignores answers from older terms.
 */
import { ErrorCode, StreamBusError, type StreamBusErrorContext } from '../../../proto/errors.js';
import type { Entry, ProposalPosition, ReadState } from '../index.js';
import { Pending } from './pending.js';

interface ProposalWaiter {
  readonly term: number;
  readonly pending: Pending<ProposalPosition>;
}

interface ReadWaiter {
  /** Set once the core confirmed the read; the barrier resolves when applied reaches it. */
  index: number | undefined;
  readonly term: number;
  readonly asLeader: boolean;
  readonly pending: Pending<number>;
}

interface TransferWaiter {
  readonly to: number;
  readonly pending: Pending<void>;
}

export class PendingCalls {
  readonly #timeoutMs: number;
  readonly #proposals = new Map<number, ProposalWaiter>();
  readonly #reads = new Map<string, ReadWaiter>();
  readonly #transfers = new Set<TransferWaiter>();

  /** `timeoutMs`: a read's whole budget, and a proposal's once leadership moved. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  get proposals(): number {
    return this.#proposals.size;
  }

  get reads(): number {
    return this.#reads.size;
  }

  get transfers(): number {
    return this.#transfers.size;
  }

  /** Waits for the entry at `position` to be applied. */
  proposal(position: ProposalPosition, signal: AbortSignal | undefined): Promise<ProposalPosition> {
    const { index } = position;
    // A leader of a newer term reusing an index proves the older entry there never committed.
    this.#proposals.get(index)?.pending.reject(overwritten(index));
    const pending = new Pending<ProposalPosition>(signal, () => {
      if (this.#proposals.get(index)?.pending === pending) this.#proposals.delete(index);
    });
    this.#proposals.set(index, { term: position.term, pending });
    return pending.promise;
  }

  /** Waits for the ReadState of `context`, then for the apply to reach its index. */
  read(context: string, term: number, asLeader: boolean, signal: AbortSignal | undefined): Promise<number> {
    const pending = new Pending<number>(signal, () => this.#reads.delete(context));
    this.#reads.set(context, { index: undefined, term, asLeader, pending });
    const ms = this.#timeoutMs;
    pending.setDeadline(ms, () => new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `no read index confirmed within ${ms} ms`));
    return pending.promise;
  }

  /** Waits until `to` is seen leading, for at most `ms`. */
  transfer(to: number, ms: number, signal: AbortSignal | undefined): Promise<void> {
    const waiter: TransferWaiter = { to, pending: new Pending<void>(signal, () => this.#transfers.delete(waiter)) };
    this.#transfers.add(waiter);
    waiter.pending.setDeadline(ms, () => new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `node ${to} did not take over leadership within ${ms} ms`));
    return waiter.pending.promise;
  }

  /** Entries were applied (in order); settles the proposals at their indexes. */
  applied(entries: readonly Entry[]): void {
    if (this.#proposals.size === 0) return;
    for (const entry of entries) {
      const waiter = this.#proposals.get(entry.index);
      if (waiter === undefined) continue;
      if (waiter.term === entry.term) waiter.pending.resolve({ index: entry.index, term: entry.term });
      else waiter.pending.reject(overwritten(entry.index));
    }
  }

  /** The state machine was replaced up to `index`: what happened to proposals at or below it is unknown. */
  restored(index: number): void {
    for (const [at, waiter] of this.#proposals) {
      if (at > index) continue;
      waiter.pending.reject(
        new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `entry ${at} was replaced by a snapshot from the leader; whether the proposal committed is unknown`),
      );
    }
  }

  /** Records confirmed reads; resolves every confirmed read whose index `applied` has reached. */
  readStates(states: readonly ReadState[], applied: number): void {
    for (const { index, context } of states) {
      const read = this.#reads.get(context);
      if (read !== undefined) read.index = index;
    }
    for (const read of this.#reads.values()) {
      if (read.index !== undefined && read.index <= applied) read.pending.resolve(read.index);
    }
  }

  /** The node's term or role changed: deadlines for proposals of unknown fate, rejections for lost reads. */
  leadershipMoved(leading: boolean, term: number, hint: StreamBusErrorContext | undefined): void {
    for (const waiter of this.#proposals.values()) {
      if (!leading || waiter.term !== term) waiter.pending.setDeadline(this.#timeoutMs, () => unknownOutcome(this.#timeoutMs));
    }
    for (const read of this.#reads.values()) {
      if (read.index === undefined && (read.term !== term || (read.asLeader && !leading))) {
        read.pending.reject(
          new StreamBusError(ErrorCode.NOT_CONTROLLER, 'leadership moved before the read was confirmed; retry', hint === undefined ? undefined : { context: hint }),
        );
      }
    }
  }

  /** `leaderId` now leads: transfers to it are done. */
  leaderIs(leaderId: number): void {
    for (const waiter of this.#transfers) if (waiter.to === leaderId) waiter.pending.resolve();
  }

  rejectAll(error: Error): void {
    for (const waiter of [...this.#proposals.values()]) waiter.pending.reject(error);
    for (const read of [...this.#reads.values()]) read.pending.reject(error);
    for (const waiter of [...this.#transfers]) waiter.pending.reject(error);
  }
}

function overwritten(index: number): StreamBusError {
  return new StreamBusError(ErrorCode.NOT_CONTROLLER, `the entry at index ${index} was overwritten by a newer leader; the proposal did not commit`);
}

function unknownOutcome(ms: number): StreamBusError {
  return new StreamBusError(
    ErrorCode.REQUEST_TIMED_OUT,
    `leadership moved and no outcome arrived within ${ms} ms; the proposal may or may not have committed (the outcome is unknown)`,
  );
}
