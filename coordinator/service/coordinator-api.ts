/**
 * The seam between a coordinator node and the network: what the coordinator's protocol handler
 * (./handler.ts, APIs 11-16 and the topic admin APIs of proto/streambus.proto) asks of the node.
 * The Raft-backed Coordinator implements it; the handler only translates messages and errors.
 *
 * Errors: every method rejects with StreamBusError. Writes on a node that is not the Raft leader
 * reject NOT_CONTROLLER with context.leaderId when a leader is known; status() and
 * fetchMetadata() answer on any node from its own committed state.
 */
import type { AdminOptions, AdminOutcome, BrokerRegistrationOutcome, CreateTopicsOptions, ValidateOnlyOptions } from '../coordinator.js';
import type {
  AlterConfigsRequest,
  BrokerRegistrationRequest,
  CreatePartitionsRequest,
  CreateTopicRequest,
  CreateTopicResult,
  TopicResult,
} from '../metadata/controller.js';
import type { MetadataRecord } from '../metadata/commands.js';
import type { MetadataSnapshot } from '../metadata/state.js';

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

export type MembershipChangeRequest =
  | { readonly op: 'add'; readonly nodeId: number; readonly raft: Endpoint; readonly api: Endpoint | undefined }
  | { readonly op: 'remove'; readonly nodeId: number };

export interface CoordinatorApi {
  readonly clusterId: string;
  readonly nodeId: number;
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
  brokerHeartbeat(request: BrokerHeartbeatRequest, options?: AdminOptions): Promise<BrokerHeartbeatOutcome>;
  /** Resolves once the change is applied; the voters after it. */
  changeMembership(change: MembershipChangeRequest, options?: AdminOptions): Promise<{ readonly voters: readonly number[] }>;
  /** Resolves once `toNodeId` leads; REQUEST_TIMED_OUT if it did not within two election timeouts. */
  transferLeadership(toNodeId: number, options?: AdminOptions): Promise<{ readonly leaderId: number; readonly term: number }>;
}
