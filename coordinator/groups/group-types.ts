/**
 * The shapes the group coordinator speaks in: requests and answers of the group APIs (Kafka's
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
 * DescribeGroups, DeleteGroups, OffsetDelete, field for field), the settings of the coordinator,
 * and the states of a group. The pure state machine (group.ts), the leader's shell
 * (group-coordinator.ts) and the protocol handler (group-api.ts) share them.
 *
 * Errors inside an answer are wire codes (proto/errors.ts), as Kafka's are: a group API answers
 * "UNKNOWN_MEMBER_ID" as data the client acts on, not as an exception.
 *
 * Pure: types and constants only.
 */
import type { ErrorCode } from '../../proto/errors.js';

/** Kafka's group states, spelled as Kafka spells them (DescribeGroups and ListGroups show them). */
export const GroupState = {
  EMPTY: 'Empty',
  PREPARING_REBALANCE: 'PreparingRebalance',
  COMPLETING_REBALANCE: 'CompletingRebalance',
  STABLE: 'Stable',
  DEAD: 'Dead',
} as const;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

/** The member id of a member that has none yet (its first JoinGroup). */
export const UNKNOWN_MEMBER_ID = '';
/** The generation of a commit from outside any generation (a "simple" consumer). */
export const NO_GENERATION = -1;

/** How the coordinator runs groups; Kafka's settings, by their Kafka names. */
export interface GroupSettings {
  /** group.min.session.timeout.ms: shorter session timeouts are refused. Kafka's default 6000. */
  readonly minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms: longer session timeouts are refused. Kafka's default 1 800 000. */
  readonly maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long an empty group waits for more members. Kafka's default 3000. */
  readonly initialRebalanceDelayMs: number;
  /** group.max.size: members (and members asked to rejoin with their id) per group. */
  readonly maxSize: number;
}

export const DEFAULT_GROUP_SETTINGS: GroupSettings = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  maxSize: 10_000,
};

/** One protocol a member supports (an assignor, for consumers), with its metadata (the subscription). */
export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Uint8Array;
}

export interface JoinGroupRequest {
  readonly groupId: string;
  /** '' on a first join. */
  readonly memberId: string;
  /** group.instance.id: set for a static member. */
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** 'consumer' for consumer groups. */
  readonly protocolType: string;
  /** In the member's order of preference. */
  readonly protocols: readonly GroupProtocol[];
  /**
   * KIP-394: a new dynamic member first gets MEMBER_ID_REQUIRED with its member id and joins again
   * with it, so a member that never comes back costs one session timeout, not a rebalance. Kafka's
   * JoinGroup v4 and later; the native client always sets it.
   */
  readonly requireKnownMemberId: boolean;
  /** Why the member (re)joins, for the coordinator's log (KIP-800). */
  readonly reason?: string | undefined;
}

export interface JoinedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** Its metadata for the selected protocol. */
  readonly metadata: Uint8Array;
}

export interface JoinGroupResponse {
  readonly error: ErrorCode;
  readonly generation: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's member id; '' on errors. */
  readonly leader: string;
  /** The member's id: its new one after a first join (also with MEMBER_ID_REQUIRED). */
  readonly memberId: string;
  /**
   * True for a static leader that rejoined without a rebalance: it gets the members but must not
   * assign again (KIP-814).
   */
  readonly skipAssignment: boolean;
  /** Every member with its metadata, for the leader only; empty for the others. */
  readonly members: readonly JoinedMember[];
}

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generation: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** Checked when given (Kafka's SyncGroup v5). */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's assignment, one entry per member; empty from the others. */
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Uint8Array }[];
}

export interface SyncGroupResponse {
  readonly error: ErrorCode;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Uint8Array;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generation: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeavingMember {
  /** '' to name a static member by its instance id alone. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly reason?: string | undefined;
}

export interface LeaveResult {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly error: ErrorCode;
}

export interface LeaveGroupResponse {
  /** A failure of the whole request; the members' own results are then empty. */
  readonly error: ErrorCode;
  readonly members: readonly LeaveResult[];
}

/** Who commits: a member of a generation, or nobody (generation -1, member '') for a simple commit. */
export interface CommitIdentity {
  readonly generation: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface OffsetCommitPartition {
  readonly partition: number;
  readonly offset: number;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
  /** null or '' for none. */
  readonly metadata: string | null;
}

export interface OffsetCommitRequest extends CommitIdentity {
  readonly groupId: string;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly OffsetCommitPartition[] }[];
}

export interface PartitionError {
  readonly partition: number;
  readonly error: ErrorCode;
}

export interface OffsetCommitResponse {
  /** A failure of the whole request (the group's answer: ILLEGAL_GENERATION...). */
  readonly error: ErrorCode;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly PartitionError[] }[];
}

export interface OffsetFetchRequest {
  readonly groupId: string;
  /** null: every partition the group has an offset for. */
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly number[] }[] | null;
}

export interface FetchedOffset {
  readonly partition: number;
  /** -1 when the group has no offset for the partition. */
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly error: ErrorCode;
}

export interface OffsetFetchResponse {
  readonly error: ErrorCode;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly FetchedOffset[] }[];
}

export interface ListedGroup {
  readonly groupId: string;
  /** '' for a group that never had members (offsets only). */
  readonly protocolType: string;
  readonly state: GroupState;
}

export interface DescribedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** Its metadata for the selected protocol; empty unless the group is Stable. */
  readonly metadata: Uint8Array;
  /** Its assignment; empty unless the group is Stable. */
  readonly assignment: Uint8Array;
}

export interface DescribedGroup {
  readonly groupId: string;
  readonly error: ErrorCode;
  readonly state: GroupState;
  readonly protocolType: string;
  /** The selected protocol; '' when none. */
  readonly protocolName: string;
  readonly members: readonly DescribedMember[];
}

export interface GroupResult {
  readonly groupId: string;
  readonly error: ErrorCode;
}

export interface OffsetDeleteResponse {
  readonly error: ErrorCode;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly PartitionError[] }[];
}
