/**
 * What a RaftNode is built from: the options a driver passes, the state it read back from storage,
 * the seeded bugs the simulator proves itself with, and the resolved configuration (every default
 * filled in, every limit checked) that the rest of the core reads.
 *
 * Options are checked once, here, so a misconfigured node refuses to start with INVALID_CONFIG
 * instead of misbehaving later; the core's other files take the resolved values on trust.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { Entry, HardState, Snapshot } from './types.js';
import { isNodeId } from './validation.js';

/** An integer in [0, maxExclusive): a seeded generator in tests and simulation, a CSPRNG-backed one in production. */
export type RandomInt = (maxExclusive: number) => number;

/**
 * Deliberate bugs, for proving the simulator catches them. Never set outside tests: each one
 * breaks a rule that Raft's safety rests on.
 */
export interface RaftTestBugs {
  /** Reply to a vote request before the vote is durable (the vote reaches storage one Ready later). */
  readonly voteReplyBeforePersist?: boolean;
  /** Commit any entry a majority holds, whatever its term (Raft paper, Figure 8). */
  readonly commitOldTermEntries?: boolean;
  /** Answer ReadIndex at once from the local commit index, without a heartbeat round or the no-op. */
  readonly readWithoutQuorumCheck?: boolean;
  /** Followers drop every entry after an append's last entry, even entries that matched. */
  readonly truncateOnEveryAppend?: boolean;
  /** Count vote responses from earlier terms towards the current election. */
  readonly countStaleVotes?: boolean;
}

/** What the driver read back from storage at start-up. */
export interface RestoredState {
  readonly hardState: HardState;
  /** Always present once a node has run: a new node's first Ready persists a bootstrap snapshot at index 0. */
  readonly snapshot: Snapshot;
  /** The entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /** The state machine's applied index, if the driver persists it with its state; else the snapshot index. */
  readonly applied?: number;
}

export interface RaftNodeOptions {
  readonly id: number;
  /**
   * A follower that hears no leader for a random number of ticks in [electionTicks, 2·electionTicks)
   * campaigns; a CheckQuorum leader steps down if it has not heard from a quorum in electionTicks.
   */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks; must be < electionTicks. */
  readonly heartbeatTicks: number;
  readonly randomInt: RandomInt;
  /** Default true. */
  readonly preVote?: boolean;
  /** Default true. */
  readonly checkQuorum?: boolean;
  /** Unanswered appends per follower in the replicate state. Default 64. */
  readonly maxInflightAppends?: number;
  /** Default 256. */
  readonly maxEntriesPerAppend?: number;
  /** Soft cap on entry data per append (at least one entry is always sent). Also the largest proposal. Default 1 MiB. */
  readonly maxBytesPerAppend?: number;
  /** Proposals are refused while this many entries are uncommitted. Default 10,000. */
  readonly maxUncommittedEntries?: number;
  /** Reads waiting for the leader's first commit or a heartbeat round. Default 10,000. */
  readonly maxPendingReads?: number;
  /** Default 4,096. */
  readonly maxCommittedEntriesPerReady?: number;
  /** What storage holds; omit for a brand-new node. */
  readonly restored?: RestoredState;
  /**
   * The voters of a brand-new cluster, identical on every founding member; a node that will join
   * later by a membership change starts with []. Ignored when `restored` is given (the persisted
   * bootstrap snapshot carries it).
   */
  readonly initialVoters?: readonly number[];
  readonly testOnlyBugs?: RaftTestBugs;
}

/** The options with every default applied: fixed for the node's lifetime. */
export interface NodeConfig {
  readonly id: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly randomInt: RandomInt;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflight: number;
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  readonly maxUncommitted: number;
  readonly maxPendingReads: number;
  readonly maxCommittedPerReady: number;
  readonly bugs: RaftTestBugs;
}

/** Checks the options and fills in defaults. Throws StreamBusError(INVALID_CONFIG) naming the first bad option. */
export function resolveNodeConfig(options: RaftNodeOptions): NodeConfig {
  if (!isNodeId(options.id)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `raft node id must be a positive integer, got ${String(options.id)}`);
  if (!Number.isSafeInteger(options.heartbeatTicks) || options.heartbeatTicks < 1) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `heartbeatTicks must be a positive integer, got ${options.heartbeatTicks}`);
  }
  if (!Number.isSafeInteger(options.electionTicks) || options.electionTicks <= options.heartbeatTicks) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `electionTicks (${options.electionTicks}) must be an integer greater than heartbeatTicks (${options.heartbeatTicks})`);
  }
  return {
    id: options.id,
    electionTicks: options.electionTicks,
    heartbeatTicks: options.heartbeatTicks,
    randomInt: options.randomInt,
    preVote: options.preVote ?? true,
    checkQuorum: options.checkQuorum ?? true,
    maxInflight: positive('maxInflightAppends', options.maxInflightAppends, 64),
    maxEntriesPerAppend: positive('maxEntriesPerAppend', options.maxEntriesPerAppend, 256),
    maxBytesPerAppend: positive('maxBytesPerAppend', options.maxBytesPerAppend, 1024 * 1024),
    maxUncommitted: positive('maxUncommittedEntries', options.maxUncommittedEntries, 10_000),
    maxPendingReads: positive('maxPendingReads', options.maxPendingReads, 10_000),
    maxCommittedPerReady: positive('maxCommittedEntriesPerReady', options.maxCommittedEntriesPerReady, 4096),
    bugs: options.testOnlyBugs ?? {},
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer, got ${value}`);
  return value;
}
