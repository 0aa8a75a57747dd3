/**
 * The data the Raft core consumes and produces: log entries, hard state, snapshots, messages and
 * the Ready batch. Everything here is plain, immutable data so that a driver can persist it, put it
 * on the wire and hand it to the simulator without the core keeping hidden references alive.
 *
 * Node ids are positive safe integers; 0 (NO_NODE) means "nobody" (no vote, no known leader).
 * Log indexes start at 1; index 0 with term 0 is the empty prefix every log shares.
 */

/** "Nobody": no vote cast, no leader known. */
export const NO_NODE = 0;

export const EntryKind = {
  /** Application data; an empty `data` is the no-op a new leader appends to commit earlier terms. */
  NORMAL: 'normal',
  /** A membership configuration: the complete voter set that applies from this index on. */
  CONFIG: 'config',
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface NormalEntry {
  readonly kind: 'normal';
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

export interface ConfigEntry {
  readonly kind: 'config';
  readonly index: number;
  readonly term: number;
  /** Sorted ascending, no duplicates, never empty. */
  readonly voters: readonly number[];
}

export type Entry = NormalEntry | ConfigEntry;

/** The state that must be durable before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  /** Whom this node voted for in `term`; NO_NODE when it has not voted. */
  readonly vote: number;
  /** Highest index known committed. Persisting it is an optimisation (faster apply on restart), not a safety need. */
  readonly commit: number;
}

/** What a snapshot replaces: the log up to and including `index`. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The voter set in force at `index` (the last config entry at or before it). */
  readonly voters: readonly number[];
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state machine at `meta.index`, opaque to the core. */
  readonly data: Uint8Array;
}

export const Role = {
  FOLLOWER: 'follower',
  PRE_CANDIDATE: 'pre-candidate',
  CANDIDATE: 'candidate',
  LEADER: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const MessageType = {
  APPEND: 'append',
  APPEND_RESPONSE: 'append-response',
  HEARTBEAT: 'heartbeat',
  HEARTBEAT_RESPONSE: 'heartbeat-response',
  PRE_VOTE: 'pre-vote',
  PRE_VOTE_RESPONSE: 'pre-vote-response',
  VOTE: 'vote',
  VOTE_RESPONSE: 'vote-response',
  SNAPSHOT: 'snapshot',
  TIMEOUT_NOW: 'timeout-now',
  READ_INDEX: 'read-index',
  READ_INDEX_RESPONSE: 'read-index-response',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

interface Envelope {
  readonly from: number;
  readonly to: number;
  /** The sender's current term (for a granted pre-vote: the term the candidate proposes). */
  readonly term: number;
}

/** AppendEntries: `entries` follow (prevIndex, prevTerm) in the leader's log. */
export interface AppendMessage extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Success: the follower's log matches the leader's up to `index` (never beyond what the request
 * carried). Reject: `index` is the rejected prevIndex; (hintIndex, hintTerm) is the follower's last
 * entry that could still match, so the leader can skip a whole term per round trip.
 */
export interface AppendResponseMessage extends Envelope {
  readonly type: 'append-response';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Keeps followers from campaigning; `readSeq` lets one round confirm leadership for ReadIndex. */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  /** min(follower's match, leader's commit): a heartbeat carries no log check, so it never commits past what matched. */
  readonly commit: number;
  readonly readSeq: number;
}

export interface HeartbeatResponseMessage extends Envelope {
  readonly type: 'heartbeat-response';
  readonly readSeq: number;
}

export interface VoteRequestMessage extends Envelope {
  readonly type: 'vote' | 'pre-vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Sent because the leader asked (TimeoutNow): voters skip the "I still hear a leader" check. */
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends Envelope {
  readonly type: 'vote-response' | 'pre-vote-response';
  readonly reject: boolean;
}

/** InstallSnapshot, in one message: metadata snapshots are small, so no chunking. */
export interface SnapshotMessage extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: "campaign now, your log is as long as mine". */
export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeout-now';
}

/** A follower forwarding a linearizable read to the leader. */
export interface ReadIndexMessage extends Envelope {
  readonly type: 'read-index';
  readonly context: string;
}

export interface ReadIndexResponseMessage extends Envelope {
  readonly type: 'read-index-response';
  readonly context: string;
  readonly index: number;
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | VoteRequestMessage
  | VoteResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

/**
 * A confirmed linearizable read: once the application has applied every entry up to `index`, a read
 * of its state machine reflects every write that completed before readIndex(context) was called.
 */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** Volatile state, for logs and routing: not persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: number;
}

/**
 * One batch of work for the driver. The contract, in order:
 *
 * 0. Optionally send `leaderAppends` now, before the write below (the leader's parallel append; the
 *    driver may instead send them with `messages` in step 2).
 * 1. Persist, in ONE atomic synced write: if `snapshot` is set, replace the stored snapshot with it
 *    and delete every stored entry; then, if `entries` is not empty, delete every stored entry with
 *    index ≥ entries[0].index and store `entries`; then, if `hardState` is set, store it.
 * 2. Only after that write is durable, send `messages` (in any order; the network may lose them).
 * 3. Restore the state machine from `snapshot` if set, then apply `committedEntries` in order, then
 *    answer `readStates` once the state machine has applied up to each one's index.
 * 4. Call advance().
 *
 * Steps 2 and 3 may run in either order, but never before step 1. Until advance() the core hands
 * out no further Ready; the driver may keep calling step(), tick() and propose() meanwhile.
 */
export interface Ready {
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  /**
   * A leader's appends under a term already on disk: they may leave before this Ready is persisted
   * (the leader counts its own entries towards commit only once they are durable).
   */
  readonly leaderAppends: readonly Message[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly softState: SoftState;
}

/** What the leader knows about one follower's log. */
export interface FollowerStatus {
  readonly id: number;
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly recentActive: boolean;
}

/** A read-only picture of a node, for status pages and tests. */
export interface RaftStatus {
  readonly id: number;
  readonly role: Role;
  readonly term: number;
  readonly vote: number;
  readonly leaderId: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly number[];
  /** Index of the config entry (or snapshot) that `voters` comes from. */
  readonly configIndex: number;
  /** Leader only: one row per other voter. */
  readonly followers: readonly FollowerStatus[];
  readonly leadTransferee: number;
}

/** A membership change: one voter in or out per change (single-server changes). */
export interface MembershipChange {
  readonly type: 'add-voter' | 'remove-voter';
  readonly nodeId: number;
}

/** Where a proposal landed: it is committed iff the entry applied at `index` has this `term`. */
export interface ProposalPosition {
  readonly index: number;
  readonly term: number;
}
