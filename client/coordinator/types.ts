/**
 * Public types of the coordinator client (./coordinator-client.ts): what a coordinator node reports
 * about itself and its Raft group, what the broker-facing calls take and return, and what
 * followMetadata() yields. Wire shapes (proto/messages.ts) are converted into these by
 * ./from-wire.ts, so callers never see proto3 stand-ins such as -1 or '' for "unknown".
 */
import type { MetadataRecord, MetadataSnapshot } from '../../coordinator/index.js';
import type { StreamBusError } from '../../proto/errors.js';
import type { Random } from '../policy/random.js';
import type { CallOptions } from '../types.js';
import type { ConnectFn } from '../cluster/cluster.js';

/** A TCP address: a coordinator's API listener or its Raft listener. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The raft role a node reports. */
export type CoordinatorRole = 'leader' | 'follower' | 'candidate' | 'pre-candidate';

/**
 * The logging surface the client uses: a structural subset of pino's Logger, so a pino instance
 * can be passed as is.
 */
export interface CoordinatorClientLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface CoordinatorClientOptions {
  /**
   * Coordinator API addresses to start from, as "host:port" strings or endpoints. One reachable
   * node is enough: the others are learned from its status.
   */
  readonly bootstrap: readonly (Endpoint | string)[];
  /** Sent in ApiVersions, the first request of each connection. Default 'streambus-coordinator-client'. */
  readonly clientId?: string;
  /** How long a call may take, retries included (followMetadata: each fetch). Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** How long a TCP connection may take to open. Default 5 000. */
  readonly connectTimeoutMs?: number;
  /** How long one COORDINATOR_STATUS probe may take while looking for the leader. Default 1 000. */
  readonly probeTimeoutMs?: number;
  /** First backoff between retries. Default 50. */
  readonly retryBackoffMs?: number;
  /** Largest backoff. Default 250: a leader election takes about a second, so waits stay short. */
  readonly retryBackoffMaxMs?: number;
  /** Requests in flight per connection; further ones queue in the connection. Default 64. */
  readonly maxInFlightPerConnection?: number;
  readonly logger?: CoordinatorClientLogger;
  /** Random source for retry jitter. Default Math.random. */
  readonly random?: Random;
  /** Opens a connection; replace it to run the client over a simulated network. */
  readonly connect?: ConnectFn;
}

export interface CoordinatorCallOptions extends CallOptions {
  /** Longest the call may take, retries included. Default: the client's requestTimeoutMs. */
  readonly timeoutMs?: number | undefined;
}

export interface CoordinatorValidateOptions extends CoordinatorCallOptions {
  /** Check the request without applying it. */
  readonly validateOnly?: boolean | undefined;
}

/** One member of the Raft group as the answering node knows it. */
export interface CoordinatorMember {
  readonly nodeId: number;
  readonly raft: Endpoint;
  /** The member's coordinator API address; undefined while the answering node does not know it. */
  readonly api: Endpoint | undefined;
  readonly voter: boolean;
  /** Leader's view only (undefined elsewhere): the highest log index known replicated on the member. */
  readonly matchIndex: number | undefined;
  /** Leader's view only: how many entries the member is behind the leader's last index. */
  readonly lag: number | undefined;
  /** Leader's view only: heard from within the last election timeout. */
  readonly active: boolean | undefined;
}

/** One coordinator node's view of itself and its group (COORDINATOR_STATUS). */
export interface CoordinatorStatus {
  /** The API address that answered. */
  readonly address: Endpoint;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly role: CoordinatorRole;
  /** 0 when the node knows no leader. */
  readonly leaderId: number;
  /** The leader's API address, when the node knows it. */
  readonly leaderApi: Endpoint | undefined;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** The last metadata offset this node has applied. */
  readonly metadataOffset: number;
  readonly members: readonly CoordinatorMember[];
}

/** Where a write's effect becomes visible: a follower of the metadata log sees it from this offset. */
export interface MetadataWrite {
  readonly metadataOffset: number;
}

export interface CreatedTopics extends MetadataWrite {
  readonly topics: readonly { readonly topic: string; readonly topicId: string }[];
}

export interface BrokerListenerSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface BrokerRegistrationSpec {
  readonly nodeId: number;
  /** New on every broker process start, so a restart is told apart from a repeated registration. */
  readonly incarnationId: string;
  readonly clusterId: string;
  readonly host: string;
  readonly port: number;
  readonly rack?: string | undefined;
  readonly listeners?: readonly BrokerListenerSpec[] | undefined;
}

export interface BrokerRegistration extends MetadataWrite {
  /** Requests carrying an older epoch of this broker are stale from now on. */
  readonly brokerEpoch: number;
}

export interface BrokerHeartbeatSpec {
  readonly nodeId: number;
  readonly brokerEpoch: number;
  /** The last metadata offset the broker has applied. */
  readonly metadataOffset: number;
  readonly wantFence?: boolean | undefined;
  readonly wantShutDown?: boolean | undefined;
}

export interface BrokerHeartbeatResult extends MetadataWrite {
  /** Whether the broker is fenced (takes no new replicas) after this heartbeat. */
  readonly fenced: boolean;
}

/** One partition's ISR change, as its leader proposes it (AlterPartition). */
export interface AlterPartitionItemSpec {
  readonly topicId: string;
  readonly partition: number;
  /** The leader epoch the leader holds. */
  readonly leaderEpoch: number;
  /** The partition epoch the leader last saw: the compare-and-set token. */
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

export interface AlterPartitionSpec {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly partitions: readonly AlterPartitionItemSpec[];
}

/** One partition's answer to AlterPartition: its state after the change, or why not. */
export interface AlterPartitionItemResult {
  readonly topicId: string;
  readonly partition: number;
  /** Undefined on success; FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, INELIGIBLE_REPLICA... */
  readonly error: StreamBusError | undefined;
  /** -1 where unknown. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

export interface AlterPartitionOutcome extends MetadataWrite {
  readonly partitions: readonly AlterPartitionItemResult[];
}

/** preferred: back to the first replica; unclean: any live replica for a partition without a leader. */
export type ElectionKind = 'preferred' | 'unclean';

export interface ElectLeadersSpec {
  readonly type: ElectionKind;
  /** Undefined: every partition. A topic without partitions: every partition of it. */
  readonly topics?: readonly { readonly topic: string; readonly partitions?: readonly number[] | undefined }[] | undefined;
}

/** One partition's election outcome. */
export interface ElectionOutcome {
  readonly topic: string;
  readonly partition: number;
  /** Undefined when elected; ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE... otherwise. */
  readonly error: StreamBusError | undefined;
  /** The leader after the election (or as it is); -1 for none. */
  readonly leader: number;
}

export interface ElectLeadersOutcome extends MetadataWrite {
  readonly results: readonly ElectionOutcome[];
}

/** One partition to reassign: its target replicas (the preferred leader first), or null to cancel the one in progress. */
export interface PartitionReassignmentSpec {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[] | null;
}

/** One partition's answer to a reassignment: undefined error once started (or cancelled). */
export interface ReassignmentOutcome {
  readonly topic: string;
  readonly partition: number;
  /** INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION...; undefined on success. */
  readonly error: StreamBusError | undefined;
}

export interface ReassignPartitionsOutcome extends MetadataWrite {
  readonly results: readonly ReassignmentOutcome[];
}

/** A reassignment in progress. */
export interface PartitionReassignment {
  readonly topic: string;
  readonly partition: number;
  /** Every replica now: the target first, then the replicas being removed. */
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
}

export interface PartitionReassignments extends MetadataWrite {
  readonly reassignments: readonly PartitionReassignment[];
}

/** What draining (or undraining) a broker did. */
export interface BrokerMaintenanceOutcome extends MetadataWrite {
  readonly brokerId: number;
  readonly draining: boolean;
  /** Leaderships moved off the broker by this call. */
  readonly leadersMoved: number;
  /** Partitions it still leads: no other replica is in sync, live and not draining. */
  readonly leadersKept: readonly { readonly topic: string; readonly partition: number }[];
}

/** A single-server change of the Raft group's voters; addresses as endpoints or "host:port". */
export type MembershipChange =
  | { readonly op: 'add'; readonly nodeId: number; readonly raft: Endpoint | string; readonly api?: Endpoint | string | undefined }
  | { readonly op: 'remove'; readonly nodeId: number };

export interface LeadershipTransfer {
  readonly leaderId: number;
  readonly term: number;
}

export interface FollowMetadataOptions extends CallOptions {
  /** Records per fetch, at most. Default 1 000. */
  readonly maxRecords?: number | undefined;
  /** How long one fetch waits on the server for new records (long poll). Default 5 000. */
  readonly maxWaitMs?: number | undefined;
}

/**
 * What followMetadata() yields, in log order: committed records, or the state to load when the
 * requested offset was compacted away (then records continue from `offset + 1`).
 */
export type MetadataUpdate =
  | { readonly kind: 'records'; readonly records: readonly MetadataRecord[]; readonly committedOffset: number }
  | { readonly kind: 'snapshot'; readonly offset: number; readonly snapshot: MetadataSnapshot; readonly committedOffset: number };
