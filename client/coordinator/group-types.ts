/**
 * Public types of the coordinator client's group calls (./group-calls.ts): what the consumer's
 * group protocol, the commit helper and the admin tools send and get back. Wire shapes
 * (proto/messages.ts) are converted into these, so callers never see proto3 stand-ins such as ''
 * for "no instance id".
 */
import type { StreamBusError } from '../../proto/errors.js';
import type { Endpoint } from './types.js';

/** Where the group coordinator is: the coordinator leader. */
export interface GroupCoordinatorLocation {
  readonly nodeId: number;
  readonly endpoint: Endpoint;
}

/** One protocol (assignor) a member supports, with its metadata (its subscription). */
export interface GroupProtocolSpec {
  readonly name: string;
  readonly metadata: Uint8Array;
}

export interface JoinGroupSpec {
  readonly groupId: string;
  /** The id from the previous join; omit (or '') on the first. */
  readonly memberId?: string | undefined;
  /** group.instance.id: makes the member static (a restart within the session timeout keeps its place). */
  readonly groupInstanceId?: string | undefined;
  readonly sessionTimeoutMs: number;
  /** How long the group waits for members to rejoin; the call may wait this long. */
  readonly rebalanceTimeoutMs: number;
  /** Default 'consumer'. */
  readonly protocolType?: string | undefined;
  /** In order of preference. */
  readonly protocols: readonly GroupProtocolSpec[];
  /** Why the member joins, for the coordinator's log. */
  readonly reason?: string | undefined;
  /**
   * Who the member is, as DescribeGroups shows it. Omitted: the coordinator uses this connection's
   * client id and address. A proxy (the Kafka listener) passes its own client's.
   */
  readonly clientId?: string | undefined;
  readonly clientHost?: string | undefined;
}

export interface GroupMemberMetadata {
  readonly memberId: string;
  readonly groupInstanceId: string | undefined;
  /** Its metadata for the selected protocol. */
  readonly metadata: Buffer;
}

export interface JoinGroupResult {
  readonly generation: number;
  readonly protocolType: string;
  /** The selected protocol: the assignor the leader runs. */
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  /** This member leads: it runs the assignor over `members` and sends the assignment in syncGroup. */
  readonly isLeader: boolean;
  /** A static leader that rejoined without a rebalance: it must not assign again, just sync. */
  readonly skipAssignment: boolean;
  /** Every member, for the leader; empty for the others. */
  readonly members: readonly GroupMemberMetadata[];
}

/** A member of a generation, as heartbeat, sync and commit name it. */
export interface GroupGeneration {
  readonly groupId: string;
  readonly generation: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | undefined;
}

export interface SyncGroupSpec extends GroupGeneration {
  /** Checked against the group's when given. */
  readonly protocolType?: string | undefined;
  readonly protocolName?: string | undefined;
  /** The leader's assignment, one entry per member; omitted by the other members. */
  readonly assignments?: readonly { readonly memberId: string; readonly assignment: Uint8Array }[] | undefined;
}

export interface SyncGroupResult {
  readonly protocolType: string;
  readonly protocolName: string;
  /** This member's assignment, as the leader encoded it. */
  readonly assignment: Buffer;
}

export interface LeavingMemberSpec {
  /** Omit to name a static member by its instance id alone. */
  readonly memberId?: string | undefined;
  readonly groupInstanceId?: string | undefined;
  readonly reason?: string | undefined;
}

export interface LeftMember {
  readonly memberId: string;
  readonly groupInstanceId: string | undefined;
  /** Undefined when it left; UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID otherwise. */
  readonly error: StreamBusError | undefined;
}

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to consume (Kafka's convention: last processed + 1). */
  readonly offset: number;
  /** The leader epoch of the last consumed record; default -1 (unknown). */
  readonly leaderEpoch?: number | undefined;
  readonly metadata?: string | undefined;
}

export interface OffsetCommitSpec {
  readonly groupId: string;
  /** The member's generation; omit (-1) for a commit outside group management (the group must have no members). */
  readonly generation?: number | undefined;
  readonly memberId?: string | undefined;
  readonly groupInstanceId?: string | undefined;
  readonly offsets: readonly OffsetToCommit[];
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when the group has no offset for the partition. */
  readonly offset: number;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string;
}

/** Kafka's group states, as the coordinator reports them. */
export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupListing {
  readonly groupId: string;
  /** 'consumer' for consumer groups; '' for a group known only by its offsets. */
  readonly protocolType: string;
  readonly state: GroupStateName;
}

export interface GroupMemberDescription {
  readonly memberId: string;
  readonly groupInstanceId: string | undefined;
  readonly clientId: string;
  readonly clientHost: string;
  /** Empty unless the group is Stable. */
  readonly metadata: Buffer;
  /** Empty unless the group is Stable. */
  readonly assignment: Buffer;
}

export interface GroupDescription {
  readonly groupId: string;
  /** 'Dead' for a group that does not exist. */
  readonly state: GroupStateName;
  readonly protocolType: string;
  /** The selected protocol (the assignor); '' when none. */
  readonly protocolName: string;
  readonly members: readonly GroupMemberDescription[];
  /** Set when this group could not be described (INVALID_GROUP_ID). */
  readonly error: StreamBusError | undefined;
}

export interface GroupDeletion {
  readonly groupId: string;
  /** Undefined when deleted; NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND... otherwise. */
  readonly error: StreamBusError | undefined;
}
