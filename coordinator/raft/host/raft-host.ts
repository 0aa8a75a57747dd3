/**
 * RaftHost: drives one RaftNode with real time, real storage and a real network.
 *
 * The core is pure and synchronous; this is the shell around it. It ticks the core on a timer,
 * feeds it peer messages and client calls, and runs the Ready loop of coordinator/raft/README.md,
 * one Ready at a time and in exactly this order:
 *
 *   send the leader's appends → persist (one atomic synced write) → transport.send → restore /
 *   apply → settle proposals and reads → advance → compact if due
 *
 * One exception to "persist first": a Ready whose only durable change is a higher commit index (no
 * entries, no snapshot, the same term and vote as last persisted) writes nothing. Its hard state
 * rides along with the next write the node makes anyway (the next Ready's entries, synced), and
 * when none comes within a tick it is written on its own without fsync (and on close). The commit
 * index is not needed for safety: a restarted node starts from max(stored commit, snapshot index)
 * and learns the rest again from the leader. Writing it in every round cost a second fsync per
 * commit at first, then an unsynced LevelDB write per round on every node: a hand-off to the
 * storage's worker thread that showed as a sizeable share of each node's CPU at thousands of
 * metadata writes a second.
 *
 * Ordering rules, and why:
 * - Nothing in a Ready but the leader's appends leaves the node before that Ready's write is
 *   durable: a vote reply depends on the vote, an ack on the entries. The leader's appends depend
 *   only on its term, already durable, so they go first and the followers' fsyncs run alongside
 *   the leader's (the core counts the leader's own entries only once advance() says they are on
 *   disk). A write that fails stops the host for good before the rest is sent.
 * - Inputs (ticks, messages, proposals) only mark the core dirty and schedule one loop turn on
 *   setImmediate. Everything that arrives before the turn runs, or while the previous Ready is
 *   being written, goes out as ONE Ready: that is the batching that makes one fsync carry many
 *   proposals.
 * - A proposal resolves when its entry is APPLIED here with the term it was proposed in; another
 *   term at that index means it was overwritten and never committed (NOT_CONTROLLER). Once this
 *   node stops leading, the outcome of a pending proposal is unknown until its index is applied, so
 *   it waits up to proposalTimeoutMs and then fails with REQUEST_TIMED_OUT saying exactly that.
 * - Leader changes, proposal deadlines and lost reads are worked out after each Ready is handled
 *   and at the end of every loop turn, never from inside step() or tick(): listeners run when no
 *   Ready is outstanding, so they may call back into the host freely.
 */
import { randomInt } from 'node:crypto';
import { ErrorCode, StreamBusError, type StreamBusErrorContext } from '../../../proto/errors.js';
import { type Logger, silentLogger } from '../../logger.js';
import { abortReason, asError } from '../../metadata/abort.js';
import { type HardState, type MembershipChange, type Message, NO_NODE, type ProposalPosition, RaftNode, type Ready, Role, type Snapshot } from '../index.js';
import type { RaftStorage, RaftWrite } from '../storage/raft-storage.js';
import type { PeerAddress, RaftTransport } from '../transport/raft-transport.js';
import {
  type CallOptions,
  type HostSettings,
  type LeaderListener,
  type RaftHostOptions,
  type RaftHostStatus,
  hostStatus,
  resolveSettings,
} from './host-options.js';
import { EmptyAppendHold } from './empty-append-hold.js';
import { PendingCalls } from './pending-calls.js';
import type { RaftStateMachine } from './state-machine.js';

const UNKNOWN_NODE_WARN_MS = 10_000;
const UNKNOWN_NODE_TRACKED_MAX = 1024;

/** An entry proposeNow() or changeMembershipNow() put in the log, and the promise of its outcome. */
export interface AppendedProposal {
  readonly position: ProposalPosition;
  /** Settles as propose()'s promise: resolved once applied here with its term, else rejected. */
  readonly applied: Promise<ProposalPosition>;
}

/** Runs `start`; a synchronous throw becomes a rejected promise. */
function settleNow<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(asError(error));
  }
}

function shuttingDown(): StreamBusError {
  return new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the raft host is closed');
}

export class RaftHost {
  readonly nodeId: number;
  readonly #node: RaftNode;
  readonly #storage: RaftStorage;
  readonly #transport: RaftTransport;
  readonly #stateMachine: RaftStateMachine;
  readonly #logger: Logger;
  readonly #onFatal: (error: StreamBusError) => void;
  readonly #settings: HostSettings;
  readonly #calls: PendingCalls;
  /** Every message leaves through here (empty appends wait a moment: ./empty-append-hold.ts). */
  readonly #outbox: EmptyAppendHold;

  #ticker: ReturnType<typeof setInterval> | undefined;
  #scheduled = false;
  #running = false;
  #turn: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #failure: StreamBusError | undefined;

  #applied: number;
  #snapshotIndex: number;
  /** Bytes of entry data applied since the snapshot (since start, after a restart). */
  #bytesSinceSnapshot = 0;
  /** The size of the last snapshot's data. */
  #snapshotSize = 0;
  #voters: readonly number[] = [];
  #peerIds = new Set<number>();
  readonly #warnedAt = new Map<number, number>();
  #readSeq = 0;
  readonly #leaderListeners = new Set<LeaderListener>();
  #reportedLeader = NO_NODE;
  #reportedTerm: number;
  #wasLeader = false;
  /** The hard state last written, to tell a commit-only Ready (not written at once) from others. */
  #persistedHardState: HardState;
  /** A commit-only advance not written yet: the next write carries it (#handleReady, #writeLateCommit). */
  #unwrittenHardState: HardState | undefined;
  /** performance.now() when #unwrittenHardState was first set since the last write of the hard state. */
  #unwrittenSinceMs = 0;

  private constructor(options: RaftHostOptions, settings: HostSettings, node: RaftNode, snapshotIndex: number, hardState: HardState) {
    this.nodeId = options.nodeId;
    this.#node = node;
    this.#storage = options.storage;
    this.#transport = options.transport;
    this.#stateMachine = options.stateMachine;
    this.#logger = options.logger ?? silentLogger;
    this.#onFatal = options.onFatal ?? (() => undefined);
    this.#settings = settings;
    this.#calls = new PendingCalls(settings.timeoutMs);
    this.#outbox = new EmptyAppendHold((messages) => this.#transport.send(messages), settings.emptyAppendHoldMs);
    this.#applied = snapshotIndex;
    this.#snapshotIndex = snapshotIndex;
    this.#reportedTerm = node.term;
    this.#persistedHardState = hardState;
  }

  /**
   * Loads the node's state from `storage`, restores the state machine from the stored snapshot
   * (the committed entries after it are applied again as the core hands them out), and starts
   * ticking. Rejects with the storage's error for a damaged store, INVALID_CONFIG for bad options
   * or a new node without initialVoters. On rejection the caller still owns storage and transport.
   */
  static async start(options: RaftHostOptions): Promise<RaftHost> {
    const settings = resolveSettings(options);
    const restored = await options.storage.load();
    if (restored === undefined && options.initialVoters === undefined) {
      throw new StreamBusError(
        ErrorCode.INVALID_CONFIG,
        `raft node ${options.nodeId} has empty storage and no initialVoters: give the founding voters, or [] for a node that will be added`,
      );
    }
    const node = new RaftNode({
      id: options.nodeId,
      electionTicks: settings.electionTicks,
      heartbeatTicks: settings.heartbeatTicks,
      randomInt: options.random ?? ((max: number) => randomInt(max)),
      ...(restored === undefined ? { initialVoters: options.initialVoters ?? [] } : { restored }),
    });
    if (restored !== undefined) options.stateMachine.restore(restored.snapshot);
    const host = new RaftHost(options, settings, node, restored?.snapshot.meta.index ?? 0, restored?.hardState ?? { term: 0, vote: NO_NODE, commit: 0 });
    host.#snapshotSize = restored?.snapshot.data.length ?? 0;
    host.#begin(options.peers);
    return host;
  }

  #begin(peers: ReadonlyMap<number, PeerAddress> | undefined): void {
    this.#voters = this.#node.status().voters;
    this.#transport.onMessage((message) => this.#receive(message));
    this.#transport.onUnreachable((peerId) => {
      if (!this.#halted()) this.#node.reportUnreachable(peerId);
    });
    if (peers !== undefined) this.setPeers(peers);
    this.#ticker = setInterval(() => this.#tick(), this.#settings.tickMs);
    const status = this.#node.status();
    this.#logger.info({ nodeId: this.nodeId, term: status.term, commit: status.commit, voters: status.voters }, 'raft host started');
    this.#schedule();
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** The leader this node knows of; NO_NODE (0) when none. */
  get leaderId(): number {
    return this.#node.leaderId;
  }

  /**
   * Replicates `data`. Resolves once the entry is committed and APPLIED on this node (so durable
   * on a quorum). Rejects at once with NOT_CONTROLLER (context.leaderId when a leader is known) on
   * a non-leader; with NOT_CONTROLLER if the entry was overwritten (it did not commit); with
   * REQUEST_TIMED_OUT if leadership moved and no outcome arrived within proposalTimeoutMs (the
   * outcome is unknown); with THROTTLING_QUOTA_EXCEEDED beyond maxPendingProposals.
   */
  propose(data: Uint8Array, options: CallOptions = {}): Promise<ProposalPosition> {
    return settleNow(() => this.proposeNow(data, options).applied);
  }

  /**
   * propose() for a caller that must know before doing anything else whether the entry is in the
   * log (the coordinator validates the next write against the state this one leaves): a refusal is
   * THROWN, synchronously, with propose()'s errors; on return the entry is in this leader's log at
   * `position`, and `applied` settles exactly as propose()'s promise does.
   */
  proposeNow(data: Uint8Array, options: CallOptions = {}): AppendedProposal {
    return this.#appendNow(options, () => this.#node.propose(data));
  }

  /** Adds or removes one voter; resolves when the config entry is applied here. Errors as propose(). */
  changeMembership(change: MembershipChange, options: CallOptions = {}): Promise<ProposalPosition> {
    return settleNow(() => this.changeMembershipNow(change, options).applied);
  }

  /** changeMembership() with proposeNow()'s contract: a refusal is thrown synchronously. */
  changeMembershipNow(change: MembershipChange, options: CallOptions = {}): AppendedProposal {
    return this.#appendNow(options, () => this.#node.proposeMembershipChange(change));
  }

  /**
   * Starts an election now rather than after an election timeout: a group of one voter (`streambus
   * dev`) leads at once instead of one to two timeouts after start. Ignored by a leader, by a node
   * that is not a voter, and once the host has stopped.
   */
  campaign(): void {
    if (this.#halted()) return;
    this.#node.campaign();
    this.#schedule();
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves with an index once this node has applied up
   * to it; a read of the state machine then reflects every write completed before the call. Works
   * on followers (the leader confirms). Rejects NOT_CONTROLLER when no leader is known or
   * leadership moved before confirming, REQUEST_TIMED_OUT after proposalTimeoutMs.
   */
  readBarrier(options: CallOptions = {}): Promise<number> {
    const refused = this.#refuse(options, this.#calls.reads);
    if (refused !== undefined) return Promise.reject(refused);
    const context = `${this.nodeId}:${++this.#readSeq}`;
    try {
      this.#node.readIndex(context);
    } catch (error) {
      return Promise.reject(this.#withLeaderHint(error));
    }
    const promise = this.#calls.read(context, this.#node.term, this.#node.role === Role.LEADER, options.signal);
    this.#schedule();
    return promise;
  }

  /**
   * Hands leadership to voter `to`; resolves when this node sees `to` lead. Rejects
   * NOT_CONTROLLER on a non-leader, INVALID_REQUEST for a non-voter, REQUEST_TIMED_OUT after two
   * election timeouts.
   */
  transferLeadership(to: number, options: CallOptions = {}): Promise<void> {
    const refused = this.#refuse(options, this.#calls.transfers);
    if (refused !== undefined) return Promise.reject(refused);
    try {
      this.#node.transferLeadership(to);
    } catch (error) {
      return Promise.reject(this.#withLeaderHint(error));
    }
    if (this.#node.leaderId === to) return Promise.resolve();
    const promise = this.#calls.transfer(to, 2 * this.#settings.electionTicks * this.#settings.tickMs, options.signal);
    this.#schedule();
    return promise;
  }

  /** The core's status, whether the host has failed, and each voter's match and lag (leader only). */
  status(): RaftHostStatus {
    return hostStatus(this.#node.status(), this.#failure !== undefined);
  }

  /** Calls `listener(leaderId, term)` whenever the known leader changes; returns an unsubscribe. */
  onLeaderChange(listener: LeaderListener): () => void {
    this.#leaderListeners.add(listener);
    return () => this.#leaderListeners.delete(listener);
  }

  /**
   * Sets the transport's peers. Messages are accepted from voters and from these peers only (a
   * node about to be added, or a leader that a joining node does not yet know as a voter).
   */
  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    this.#peerIds = new Set(peers.keys());
    this.#transport.setPeers(peers);
  }

  /**
   * Stops ticking, rejects every pending call with SHUTTING_DOWN (or the failure), waits for the
   * write in flight, then closes the transport and the storage. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopTicking();
    this.#calls.rejectAll(this.#failure ?? shuttingDown());
    this.#leaderListeners.clear();
    await this.#turn;
    if (this.#failure === undefined) await this.#writeLateCommit(0);
    await this.#transport.close().catch((error: unknown) => this.#logger.warn({ err: error, nodeId: this.nodeId }, 'closing the raft transport failed'));
    await this.#storage.close().catch((error: unknown) => this.#logger.warn({ err: error, nodeId: this.nodeId }, 'closing the raft storage failed'));
    this.#logger.info({ nodeId: this.nodeId }, 'raft host closed');
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  #appendNow(options: CallOptions, append: () => ProposalPosition): AppendedProposal {
    const refused = this.#refuse(options, this.#calls.proposals);
    if (refused !== undefined) throw refused;
    let position: ProposalPosition;
    try {
      position = append();
    } catch (error) {
      throw this.#withLeaderHint(error);
    }
    const applied = this.#calls.proposal(position, options.signal);
    this.#schedule();
    return { position, applied };
  }

  #refuse(options: CallOptions, waiting: number): Error | undefined {
    if (this.#failure !== undefined) return this.#failure;
    if (this.#closing !== undefined) return shuttingDown();
    if (options.signal?.aborted === true) return abortReason(options.signal);
    if (waiting >= this.#settings.maxPending) {
      return new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${waiting} calls of this kind are already waiting on raft node ${this.nodeId}; retry later`);
    }
    return undefined;
  }

  #leaderHint(): StreamBusErrorContext | undefined {
    const leaderId = this.#node.leaderId;
    return leaderId === NO_NODE || leaderId === this.nodeId ? undefined : { leaderId };
  }

  #withLeaderHint(error: unknown): Error {
    const hint = this.#leaderHint();
    if (error instanceof StreamBusError && error.code === ErrorCode.NOT_CONTROLLER && hint !== undefined) {
      return new StreamBusError(ErrorCode.NOT_CONTROLLER, error.message, { context: hint });
    }
    return asError(error);
  }

  #tick(): void {
    if (this.#halted()) return;
    try {
      this.#node.tick();
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#schedule();
  }

  #receive(message: Message): void {
    if (this.#halted()) return;
    const from = message.from;
    if (!this.#peerIds.has(from) && !this.#voters.includes(from)) {
      this.#warnOncePer(from, { from, type: message.type, term: message.term }, 'dropped a raft message from a node that is neither a voter nor a known peer');
      return;
    }
    try {
      this.#node.step(message);
    } catch (error) {
      if (error instanceof StreamBusError) {
        this.#warnOncePer(from, { from, err: error }, 'dropped a malformed raft message');
        return;
      }
      this.#fail(error);
      return;
    }
    this.#schedule();
  }

  /** A warning at most once per node per 10 s: a misconfigured peer must not flood the log. */
  #warnOncePer(from: number, fields: object, message: string): void {
    const now = performance.now();
    const last = this.#warnedAt.get(from);
    if (last !== undefined && now - last < UNKNOWN_NODE_WARN_MS) return;
    if (this.#warnedAt.size >= UNKNOWN_NODE_TRACKED_MAX) this.#warnedAt.clear();
    this.#warnedAt.set(from, now);
    this.#logger.warn({ nodeId: this.nodeId, ...fields }, message);
  }

  // ---------------------------------------------------------------------------------------------
  // The Ready loop

  #schedule(): void {
    if (this.#scheduled || this.#running || this.#halted()) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#running || this.#halted()) return;
      this.#running = true;
      this.#turn = this.#drive();
    });
  }

  /** Runs Readys until the core has none; inputs arriving during a write join the next Ready. */
  async #drive(): Promise<void> {
    try {
      do {
        while (!this.#halted() && this.#node.hasReady()) {
          if (!(await this.#handleReady(this.#node.ready()))) return;
          // After every Ready, not only when the loop runs dry: under a steady load it may never.
          this.#observe();
        }
        if (this.#halted()) return;
        this.#observe();
        // Inputs that arrive during a late commit write are handled by this same turn.
      } while (await this.#writeLateCommit(this.#settings.tickMs));
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#running = false;
    }
  }

  /** One Ready, in contract order; false when the host stopped meanwhile. */
  async #handleReady(ready: Ready): Promise<boolean> {
    const { snapshot, entries } = ready;
    // The leader's parallel append: followers write while this node does (see Ready.leaderAppends).
    if (ready.leaderAppends.length > 0) this.#outbox.send(ready.leaderAppends);
    const commitOnly = this.#onlyCommitMoved(ready);
    if (commitOnly !== undefined) {
      // Written with the next write, or late (see the module comment).
      if (this.#unwrittenHardState === undefined) this.#unwrittenSinceMs = performance.now();
      this.#unwrittenHardState = commitOnly;
    } else if (ready.hardState !== undefined || snapshot !== undefined || entries.length > 0) {
      // A newer hard state replaces the unwritten one; otherwise this write carries it.
      const hardState = ready.hardState ?? this.#unwrittenHardState;
      if (!(await this.#persist({ hardState, snapshot, entries, sync: true }))) return false;
    }
    if (ready.messages.length > 0) this.#outbox.send(ready.messages);
    if (snapshot !== undefined) {
      this.#stateMachine.restore(snapshot);
      this.#applied = snapshot.meta.index;
      this.#snapshotTaken(snapshot);
      this.#calls.restored(snapshot.meta.index);
    }
    const committed = ready.committedEntries;
    if (committed.length > 0) {
      this.#stateMachine.apply(committed);
      this.#applied = committed[committed.length - 1]!.index;
      for (const entry of committed) if (entry.kind === 'normal') this.#bytesSinceSnapshot += entry.data.length;
      this.#calls.applied(committed);
    }
    this.#calls.readStates(ready.readStates, this.#applied);
    this.#node.advance();
    return this.#maybeCompact();
  }

  /**
   * One write of the Ready loop; false (and the host stopped) when it failed or the host closed
   * meanwhile. The hard state it carries is the last one written from then on.
   */
  async #persist(write: RaftWrite): Promise<boolean> {
    this.#unwrittenHardState = undefined;
    try {
      await this.#storage.persist(write);
    } catch (error) {
      this.#fail(error, ErrorCode.KAFKA_STORAGE_ERROR);
      return false;
    }
    if (write.hardState !== undefined) this.#persistedHardState = write.hardState;
    // Closed while writing: the write is durable, but nothing more happens on this node.
    return !this.#halted();
  }

  /**
   * Writes a commit-only advance that no other write carried within `afterMs`, without fsync:
   * at the end of a loop turn that found nothing else to do (ticks make one every tickMs), and on
   * close with `afterMs` 0. True when it wrote and the host goes on.
   */
  async #writeLateCommit(afterMs: number): Promise<boolean> {
    const hardState = this.#unwrittenHardState;
    if (hardState === undefined || performance.now() - this.#unwrittenSinceMs < afterMs) return false;
    return this.#persist({ hardState, snapshot: undefined, entries: [], sync: false });
  }

  /**
   * The hard state of a Ready whose only durable change is a higher commit index, else undefined.
   * Such a change need not be written before anything else happens: a vote, a term or an entry
   * must be durable before a message depending on it leaves, but nothing depends on the commit
   * index being on disk (a restarted node counts it again from what the leader sends).
   */
  #onlyCommitMoved(ready: Ready): HardState | undefined {
    const { hardState, snapshot, entries } = ready;
    if (hardState === undefined || snapshot !== undefined || entries.length > 0) return undefined;
    const last = this.#persistedHardState;
    return hardState.term === last.term && hardState.vote === last.vote ? hardState : undefined;
  }

  /**
   * Compaction: the state machine's snapshot at `applied` replaces the log up to it, once
   * snapshotEntries entries were applied since the last one, or entries holding snapshotBytes of
   * data and at least as much as the last snapshot: the log then never holds more than the larger
   * of snapshotBytes and the state's own size, and a large state is not written out again for
   * every few megabytes of log.
   */
  async #maybeCompact(): Promise<boolean> {
    const { snapshotEntries, snapshotBytes } = this.#settings;
    const entries = this.#applied - this.#snapshotIndex;
    const enoughBytes = this.#bytesSinceSnapshot >= Math.max(snapshotBytes, this.#snapshotSize);
    if (entries <= 0 || (entries < snapshotEntries && !enoughBytes)) return true;
    const snapshot = this.#node.compact(this.#applied, this.#stateMachine.takeSnapshot());
    if (snapshot === undefined) return true;
    this.#snapshotTaken(snapshot);
    try {
      await this.#storage.compact(snapshot);
    } catch (error) {
      this.#fail(error, ErrorCode.KAFKA_STORAGE_ERROR);
      return false;
    }
    this.#logger.debug({ nodeId: this.nodeId, snapshotIndex: snapshot.meta.index }, 'raft log compacted');
    return !this.#halted();
  }

  /** The log now starts after `snapshot` (installed or taken): the compaction counters start again. */
  #snapshotTaken(snapshot: Snapshot): void {
    this.#snapshotIndex = snapshot.meta.index;
    this.#bytesSinceSnapshot = 0;
    this.#snapshotSize = snapshot.data.length;
  }

  /** Between Readys: leadership changes, deadlines, lost reads, listeners. */
  #observe(): void {
    const node = this.#node;
    const leading = node.role === Role.LEADER;
    const term = node.term;
    this.#voters = node.status().voters;
    if (term !== this.#reportedTerm || leading !== this.#wasLeader) this.#calls.leadershipMoved(leading, term, this.#leaderHint());
    const leaderId = node.leaderId;
    if (leaderId !== this.#reportedLeader || (term !== this.#reportedTerm && leaderId !== NO_NODE)) {
      this.#reportedLeader = leaderId;
      this.#logger.info({ nodeId: this.nodeId, leaderId, term }, 'raft leader changed');
      for (const listener of this.#leaderListeners) {
        try {
          listener(leaderId, term);
        } catch (error) {
          this.#logger.error({ err: error, nodeId: this.nodeId }, 'a raft leader-change listener threw');
        }
      }
      this.#calls.leaderIs(leaderId);
    }
    this.#reportedTerm = term;
    this.#wasLeader = leading;
  }

  // ---------------------------------------------------------------------------------------------
  // Stopping

  #halted(): boolean {
    return this.#failure !== undefined || this.#closing !== undefined;
  }

  #stopTicking(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#outbox.stop();
  }

  /**
   * Stops the host for good: no tick, no send, every pending and later call rejects with the
   * failure (KAFKA_STORAGE_ERROR for a storage failure, whatever the store threw); onFatal once.
   */
  #fail(error: unknown, code: ErrorCode = ErrorCode.UNKNOWN_SERVER_ERROR): void {
    if (this.#failure !== undefined) return;
    const keep = error instanceof StreamBusError && (code === ErrorCode.UNKNOWN_SERVER_ERROR || error.code === code);
    const failure = keep ? error : new StreamBusError(code, `raft node ${this.nodeId} stopped: ${asError(error).message}`, { cause: error });
    this.#failure = failure;
    this.#stopTicking();
    this.#logger.error({ err: failure, nodeId: this.nodeId }, 'raft host stopped for good');
    this.#calls.rejectAll(failure);
    try {
      this.#onFatal(failure);
    } catch (listenerError) {
      this.#logger.error({ err: listenerError, nodeId: this.nodeId }, 'the onFatal callback threw');
    }
  }
}
