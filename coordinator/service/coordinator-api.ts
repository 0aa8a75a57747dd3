/**
 * The seam between a coordinator node and the network: what the coordinator's protocol handler
 * (./handler.ts, APIs 11-18 and the topic admin APIs of proto/streambus.proto) asks of the node.
 * The Raft-backed Coordinator implements it; the handler only translates messages and errors.
 *
 * Errors: every method rejects with StreamBusError. Writes on a node that is not the Raft leader
 * reject NOT_CONTROLLER with context.leaderId when a leader is known; status() and
 * fetchMetadata() answer on any node from its own committed state.
 */
import type { AdminOptions, AdminOutcome, BrokerRegistrationOutcome, CreateTopicsOptions, HeartbeatOptions, ValidateOnlyOptions } from '../coordinator.js';
import type {
  AlterConfigsRequest,
  BrokerRegistrationRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  CreateTopicResult,
  TopicResult,
} from '../metadata/controller.js';
import type { MetadataRecord } from '../metadata/commands.js';
import type { ElectLeadersRequest, ElectionResult } from '../metadata/leader-election.js';
import type { AlterPartitionRequest, AlterPartitionResult } from '../metadata/partition-change.js';
import type { BrokerMaintenanceRequest } from '../metadata/maintenance.js';
import type { OngoingReassignment, ReassignmentListRequest, ReassignmentRequest, ReassignmentResult } from '../metadata/reassignment.js';
import type { BrokerMaintenanceResult } from '../partition-ops.js';
import type { MetadataSnapshot } from '../metadata/state.js';
import type { GroupCoordinatorApi } from '../groups/group-coordinator.js';
import type { TransactionCoordinatorApi } from '../transactions/txn-coordinator.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** One member of the Raft group, as this node knows it. */
export interface CoordinatorMemberStatus {
  readonly nodeId: number;
  readonly raft: Endpoint;
  /** The member's coordinator API address; undefined while not known. */
  readonly api: Endpoint | undefined;
  readonly voter: boolean;
  /** Leader's view (undefined on followers): highest index known replicated on the member. */
  readonly matchIndex: number | undefined;
  /** Leader's view: lastIndex − matchIndex. */
  readonly lag: number | undefined;
  /** Leader's view: heard from within the last election timeout. */
  readonly active: boolean | undefined;
}

export interface CoordinatorNodeStatus {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly role: 'leader' | 'follower' | 'candidate' | 'pre-candidate';
  /** 0 when no leader is known. */
  readonly leaderId: number;
  /** The leader's coordinator API address, when known. */
  readonly leaderApi: Endpoint | undefined;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Last metadata offset applied on this node. */
  readonly metadataOffset: number;
  readonly members: readonly CoordinatorMemberStatus[];
}

/** Committed records from an offset, or the snapshot to load when that offset was compacted away. */
export type MetadataFetchResult =
  | {
      readonly kind: 'records';
      readonly startOffset: number;
      readonly committedOffset: number;
      readonly records: readonly MetadataRecord[];
    }
  | {
      readonly kind: 'snapshot';
      readonly startOffset: number;
      readonly committedOffset: number;
      /** The state after applying every record up to and including `offset`. */
      readonly offset: number;
      readonly snapshot: MetadataSnapshot;
    };

export interface BrokerHeartbeatRequest {
  readonly nodeId: number;
  readonly brokerEpoch: number;
  readonly metadataOffset: number;
  readonly wantFence: boolean;
  readonly wantShutDown: boolean;
}

export interface BrokerHeartbeatOutcome {
  readonly fenced: boolean;
  readonly metadataOffset: number;
}

/** The network connection a broker's heartbeat arrived on. */
export interface BrokerConnection {
  /** Unique per server for the life of the process. */
  readonly id: number;
  /** Resolves when the peer goes away (not when this server shuts down); never settles otherwise. */
  readonly lost: Promise<void>;
}

export type MembershipChangeRequest =
  | { readonly op: 'add'; readonly nodeId: number; readonly raft: Endpoint; readonly api: Endpoint | undefined }
  | { readonly op: 'remove'; readonly nodeId: number };

export interface CoordinatorApi {
  readonly clusterId: string;
  readonly nodeId: number;
  /** Consumer groups and offsets (the group APIs 30-40); served while this node leads. */
  readonly groups: GroupCoordinatorApi;
  /** Producer ids and transactions (the APIs 41-45, 47, 48); served while this node leads. */
  readonly transactions: TransactionCoordinatorApi;
  status(): CoordinatorNodeStatus;
  /**
   * Committed records from `fromOffset` (at most maxRecords); when none are committed yet, waits up
   * to maxWaitMs for some (long poll) and then answers with none. OFFSET_OUT_OF_RANGE past
   * committedOffset + 1.
   */
  fetchMetadata(fromOffset: number, maxRecords: number, maxWaitMs: number, options?: AdminOptions): Promise<MetadataFetchResult>;
  createTopics(topics: readonly CreateTopicRequest[], options?: CreateTopicsOptions): Promise<AdminOutcome<CreateTopicResult>>;
  deleteTopics(names: readonly string[], options?: AdminOptions): Promise<AdminOutcome<TopicResult>>;
  alterConfigs(requests: readonly AlterConfigsRequest[], options?: ValidateOnlyOptions): Promise<AdminOutcome<TopicResult>>;
  createPartitions(requests: readonly CreatePartitionsRequest[], options?: ValidateOnlyOptions): Promise<AdminOutcome<TopicResult>>;
  registerBroker(request: BrokerRegistrationRequest, options?: AdminOptions): Promise<BrokerRegistrationOutcome>;
  /** options.connection: the connection it came on, so losing it can fence the broker early. */
  brokerHeartbeat(request: BrokerHeartbeatRequest, options?: HeartbeatOptions): Promise<BrokerHeartbeatOutcome>;
  /** A partition leader's ISR changes (AlterPartition); one result per partition. */
  alterPartition(request: AlterPartitionRequest, options?: AdminOptions): Promise<AdminOutcome<AlterPartitionResult>>;
  /** A preferred or unclean leader election (ElectLeaders); one result per partition. */
  electLeaders(request: ElectLeadersRequest, options?: AdminOptions): Promise<AdminOutcome<ElectionResult>>;
  /** Starts, replaces or cancels reassignments (AlterPartitionReassignments); one result per partition. */
  alterPartitionReassignments(requests: readonly ReassignmentRequest[], options?: AdminOptions): Promise<AdminOutcome<ReassignmentResult>>;
  /** The reassignments in progress (ListPartitionReassignments). */
  listPartitionReassignments(request: ReassignmentListRequest, options?: AdminOptions): Promise<{ readonly reassignments: OngoingReassignment[]; readonly metadataOffset: number }>;
  /** Puts a broker in or out of maintenance (drain); resolves once applied. */
  brokerMaintenance(request: BrokerMaintenanceRequest, options?: AdminOptions): Promise<BrokerMaintenanceResult>;
  /** Resolves once the change is applied; the voters after it. */
  changeMembership(change: MembershipChangeRequest, options?: AdminOptions): Promise<{ readonly voters: readonly number[] }>;
  /** Resolves once `toNodeId` leads; REQUEST_TIMED_OUT if it did not within two election timeouts. */
  transferLeadership(toNodeId: number, options?: AdminOptions): Promise<{ readonly leaderId: number; readonly term: number }>;
}
