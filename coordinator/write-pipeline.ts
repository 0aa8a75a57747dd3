/**
 * The coordinator's write pipeline: metadata writes on the Raft leader, validated one at a time
 * but never waiting for the previous one to commit.
 *
 * Validation needs the state a write will apply to. Waiting for each write's commit before
 * validating the next would cap the coordinator at one write per Raft round trip plus fsync, so,
 * as KRaft's controller does, the leader validates against a SPECULATIVE state: the committed
 * state plus every command this leader has proposed and not yet seen applied. A write is decided
 * and proposed in one synchronous step (decide → apply to the speculative state → RaftHost
 * .proposeNow), so no other write can slip in between, and the next write sees it. The caller's
 * promise resolves when the entry is applied here, with the offsets the commands got.
 *
 * Why this is safe:
 * - Writes are accepted only once this node, as leader of term T, has applied a read barrier
 *   (RaftHost.readBarrier: the leader's no-op of term T committed, so every entry of earlier terms
 *   in its log is committed and applied). From then on every entry after the committed state is one
 *   this leader proposed in term T, so committed + proposed is exactly what the log will hold.
 * - Offsets are predicted: each command gets the next offset of the speculative state, a membership
 *   change one no-op offset, which is how RaftMetadataLog counts them at apply. A prediction that
 *   turns out wrong (a bug) marks the speculative state stale; so does a proposal the host refuses
 *   after its commands were applied speculatively, or one that fails later (it did not commit, or
 *   leadership moved). A stale state is thrown away once no proposal is outstanding, and the next
 *   write starts again from the committed state; writes arriving meanwhile wait, in order.
 * - A write that proposes nothing (validation failed, validateOnly, nothing changes) may have read
 *   commands not yet committed, so it answers only after the last outstanding proposal applied,
 *   and fails with that proposal's error if it did not.
 * - When nothing is outstanding the speculative state equals the committed one, and it is kept for
 *   the next write as long as both have applied the same number of records (its predictions all
 *   came true, and nothing reached the log around this pipeline). Otherwise it is dropped, writes
 *   read the committed state directly, and the next write clones that again. Keeping it matters:
 *   a clone shares the committed state's tables copy-on-write, so each clone costs both states a
 *   copy of every table they then change (all consumer groups, for the next offset commit), and
 *   under a steady mix of offset commits and other writes the pipeline drains many times a second.
 *
 * Many writes arriving in one event-loop turn are proposed in that turn, and the host turns every
 * proposal made before its next loop turn into one Raft Ready: one append per follower, one fsync.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { abortReason, asError } from './metadata/abort.js';
import { type MetadataCommand, MetadataCommandType } from './metadata/commands.js';
import type { MetadataState, MetadataStateView } from './metadata/state.js';
import { type Logger, silentLogger } from './logger.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import type { MembershipChange } from './raft/index.js';
import type { AppendedProposal } from './raft/host/index.js';

/** What one write decided, given the state it validated against. */
export type WriteStep<T> =
  /** Nothing to propose; `answer` gets the committed offset once everything it read is committed. */
  | { readonly kind: 'read'; readonly answer: (metadataOffset: number) => T }
  /** Propose `commands` as one entry; `answer` gets their offsets once applied. */
  | { readonly kind: 'write'; readonly commands: readonly MetadataCommand[]; readonly answer: (offsets: readonly number[]) => T }
  /** Propose a voter change; `answer` runs once its config entry (one no-op offset) is applied. */
  | { readonly kind: 'membership'; readonly change: MembershipChange; readonly answer: (offsets: readonly number[]) => T };

/** What the pipeline needs from the Raft host. */
export interface MembershipProposer {
  changeMembershipNow(change: MembershipChange): AppendedProposal;
}

export interface WritePipelineOptions {
  readonly log: RaftMetadataLog;
  readonly host: MembershipProposer;
  /** The refusal for a write on a node that is not the leader (it names the leader when known). */
  readonly notLeader: () => StreamBusError;
  /** Called right after a membership change entered the log (the voter set changed there). */
  readonly onMembershipAppended?: () => void;
  /** Writes waiting or outstanding at once; more fail with THROTTLING_QUOTA_EXCEEDED. */
  readonly maxPending: number;
  readonly logger?: Logger;
}

const NO_OP: MetadataCommand = Object.freeze({ type: MetadataCommandType.NO_OP });

/** A promise with its settle functions, for the gates writes wait at. */
class Gate {
  readonly promise: Promise<void>;
  open!: () => void;
  fail!: (error: Error) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.open = resolve;
      this.fail = reject;
    });
    // Waiters handle the rejection; a gate nobody waited at must not be an unhandled rejection.
    this.promise.catch(() => undefined);
  }
}

/** One term of leadership of this node. */
class Term {
  readonly term: number;
  ready = false;
  over = false;
  /** Open once ready; failed when the term ends first. */
  readonly readiness = new Gate();
  /** Committed state + proposed commands; undefined when nothing is outstanding. */
  speculative: MetadataState | undefined;
  /** The speculative state no longer matches the log: rebuild once `outstanding` is 0. */
  stale = false;
  outstanding = 0;
  /** Open when `outstanding` drops to 0 (only made while stale). */
  drained: Gate | undefined;
  /** Settles with the most recent proposal; rejects if it failed. */
  last: Promise<unknown> = Promise.resolve();

  constructor(term: number) {
    this.term = term;
  }
}

export class WritePipeline {
  readonly #log: RaftMetadataLog;
  readonly #host: MembershipProposer;
  readonly #notLeader: () => StreamBusError;
  readonly #onMembershipAppended: () => void;
  readonly #maxPending: number;
  readonly #logger: Logger;
  #current: Term | undefined;
  #pending = 0;
  #closed: StreamBusError | undefined;

  constructor(options: WritePipelineOptions) {
    this.#log = options.log;
    this.#host = options.host;
    this.#notLeader = options.notLeader;
    this.#onMembershipAppended = options.onMembershipAppended ?? (() => undefined);
    this.#maxPending = options.maxPending;
    this.#logger = options.logger ?? silentLogger;
  }

  /** The term this node leads and accepts writes in; undefined while not (yet) accepting. */
  get readyTerm(): number | undefined {
    return this.#current?.ready === true ? this.#current.term : undefined;
  }

  /** Writes waiting or outstanding. */
  get pending(): number {
    return this.#pending;
  }

  /** This node leads `term`: writes wait until ready(term). False when it was already told so. */
  lead(term: number): boolean {
    if (this.#current?.term === term) return false;
    this.stepDown(this.#notLeader());
    this.#current = new Term(term);
    return true;
  }

  /** The committed state now holds every entry of earlier terms: writes of `term` may start. */
  ready(term: number): void {
    const current = this.#current;
    if (current === undefined || current.term !== term || current.ready) return;
    current.ready = true;
    current.readiness.open();
  }

  /** Leadership ended: writes waiting to start fail with `reason`; outstanding ones settle on their own. */
  stepDown(reason: StreamBusError): void {
    const current = this.#current;
    if (current === undefined) return;
    this.#current = undefined;
    current.over = true;
    current.readiness.fail(reason);
    current.drained?.fail(reason);
  }

  /** Refuses every later write with `reason` (and fails those waiting to start). */
  close(reason: StreamBusError): void {
    this.#closed = reason;
    this.stepDown(reason);
  }

  /**
   * Runs one write: waits (in arrival order) until this node leads and is ready, then calls
   * `decide` with the speculative state and proposes what it returns, all in one synchronous step.
   * Rejects with `decide`'s error, NOT_CONTROLLER when this node does not lead, the signal's reason
   * if aborted before `decide` ran, THROTTLING_QUOTA_EXCEEDED beyond maxPending, and the host's
   * error when the proposal did not commit or its outcome is unknown.
   */
  submit<T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (this.#pending >= this.#maxPending) {
      return Promise.reject(new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${this.#pending} metadata writes are already waiting; retry later`));
    }
    this.#pending++;
    const done = (): void => {
      this.#pending--;
    };
    const result = this.#attempt(signal, decide);
    result.then(done, done);
    return result;
  }

  #attempt<T>(signal: AbortSignal | undefined, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const term = this.#current;
    if (term === undefined) return Promise.reject(this.#notLeader());
    const gate = this.#gateOf(term);
    if (gate !== undefined) return waitAt(gate, signal).then(() => this.#attempt(signal, decide));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    try {
      return this.#execute(term, decide);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** What a write must wait for before it may decide, if anything. */
  #gateOf(term: Term): Promise<void> | undefined {
    if (!term.ready) return term.readiness.promise;
    if (!term.stale) return undefined;
    if (term.outstanding === 0) {
      term.stale = false;
      term.speculative = undefined;
      return undefined;
    }
    term.drained ??= new Gate();
    return term.drained.promise;
  }

  /** Decides and proposes in one synchronous step; see the module comment. */
  #execute<T>(term: Term, decide: (state: MetadataStateView) => WriteStep<T>): Promise<T> {
    if (term.outstanding === 0 && !this.#inStep(term)) term.speculative = undefined;
    const step = decide(term.speculative ?? this.#log.state);
    if (step.kind === 'read') {
      return term.last.then(() => step.answer(this.#log.committedOffset));
    }
    const commands = step.kind === 'write' ? step.commands : [NO_OP];
    if (commands.length === 0) return term.last.then(() => step.answer([]));
    const first = this.#applySpeculatively(term, commands);
    let outcome: Promise<readonly number[]>;
    try {
      outcome = step.kind === 'write' ? this.#log.appendNow(commands) : this.#proposeMembership(step.change);
    } catch (error) {
      // Refused before it reached the log: the speculative state holds commands the log never will.
      term.stale = true;
      throw error;
    }
    return this.#track(term, first, outcome).then((offsets) => step.answer(offsets));
  }

  /**
   * Whether the term's speculative state has applied exactly what the log has, so that with nothing
   * outstanding it may be kept for the next write (see the module comment).
   */
  #inStep(term: Term): boolean {
    return term.speculative?.lastAppliedOffset === this.#log.state.lastAppliedOffset;
  }

  /** Applies `commands` at their predicted offsets; returns the first. */
  #applySpeculatively(term: Term, commands: readonly MetadataCommand[]): number {
    term.speculative ??= this.#log.state.clone();
    const state = term.speculative;
    const first = state.lastAppliedOffset + 1;
    try {
      commands.forEach((command, i) => state.apply({ offset: first + i, command }));
    } catch (error) {
      // The controller decided commands its own state refuses (a bug): propose nothing, start over.
      term.stale = true;
      throw error;
    }
    return first;
  }

  #proposeMembership(change: MembershipChange): Promise<readonly number[]> {
    const offsets = this.#log.awaitOffsets(this.#host.changeMembershipNow(change));
    this.#onMembershipAppended();
    return offsets;
  }

  /** Follows one proposal: counts it outstanding, checks its predicted offset, makes it `last`. */
  #track(term: Term, first: number, outcome: Promise<readonly number[]>): Promise<readonly number[]> {
    term.outstanding++;
    const settled = outcome.then(
      (offsets) => {
        if (offsets[0] !== first) {
          this.#logger.warn({ predicted: first, actual: offsets[0] }, 'a metadata write landed at another offset than predicted; rebuilding the speculative state');
          term.stale = true;
        }
        this.#settle(term);
        return offsets;
      },
      (error: unknown) => {
        term.stale = true;
        this.#settle(term);
        throw asError(error);
      },
    );
    // The same promise the caller gets (and handles): no promise of its own per write.
    term.last = settled;
    return settled;
  }

  #settle(term: Term): void {
    term.outstanding--;
    if (term.outstanding > 0) return;
    // Nothing outstanding: the committed state is the speculative one, which is kept for the next
    // write unless it was wrong (see the module comment).
    if (term.stale || !this.#inStep(term)) term.speculative = undefined;
    term.stale = false;
    const drained = term.drained;
    term.drained = undefined;
    drained?.open();
  }
}

/** Resolves when `gate` opens; rejects with its failure, or the signal's reason on abort. */
function waitAt(gate: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return gate;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    gate.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(asError(error));
      },
    );
  });
}
