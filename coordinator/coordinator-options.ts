/**
 * The Coordinator's options and the option shapes of its calls (admin, validate-only, creation),
 * with the checks Coordinator.start runs on its options. Kept apart from the class so the API
 * types (service/coordinator-api.ts) and the operation files can name them without the class.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import type { TopicDefaults } from './metadata/controller.js';
import type { RandomSource } from './metadata/random.js';
import type { Logger } from './logger.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import type { RaftHost } from './raft/host/index.js';
import type { GroupCoordinatorSettings } from './groups/group-coordinator.js';
import type { TxnMarkerSender } from './transactions/marker-sender.js';
import type { TransactionSettings } from './transactions/txn-types.js';
import type { BrokerConnection, BrokerHeartbeatOutcome, Endpoint } from './service/coordinator-api.js';

export interface CoordinatorOptions {
  /** This node's Raft id (1 or more). */
  readonly nodeId: number;
  /** The cluster this node belongs to; the first leader writes it in init-cluster. */
  readonly clusterId: string;
  /** The Raft host replicating `log`, started with `log` as its state machine. Not owned. */
  readonly host: RaftHost;
  /** Not owned. */
  readonly log: RaftMetadataLog;
  /** This node's Raft address, as its peers reach it. */
  readonly raft: Endpoint;
  /** This node's coordinator API address, when known at start; see setApiEndpoint(). */
  readonly api?: Endpoint;
  /** The founding voters and their Raft addresses (the coordinator.voters setting). */
  readonly voters: ReadonlyMap<number, Endpoint>;
  /** num.partitions and default.replication.factor for creations that leave them out. */
  readonly defaults: TopicDefaults;
  /** Random bytes for topic ids. Default: node:crypto randomBytes. */
  readonly random?: RandomSource;
  readonly logger?: Logger;
  /** Default DEFAULT_MAX_PARTITIONS_PER_TOPIC. */
  readonly maxPartitionsPerTopic?: number;
  /** Writes waiting or in flight at once; more fail with THROTTLING_QUOTA_EXCEEDED. Default 1024. */
  readonly maxPendingWrites?: number;
  /** Kafka's broker.session.timeout.ms. Default 9000. */
  readonly sessionTimeoutMs?: number;
  /** A monotonic clock in milliseconds for broker sessions. Default performance.now. */
  readonly nowMs?: () => number;
  /** The longest a fetchMetadata long poll waits, whatever it asks. Default 30 000. */
  readonly fetchMaxWaitMs?: number;
  /** The controller's settings (elections, rebalancing, fast failure detection). */
  readonly controller?: ControllerSettings;
  /** The group coordinator's settings (Kafka's group.* and offsets.* settings); unset ones take Kafka's defaults. */
  readonly groups?: Partial<GroupCoordinatorSettings>;
  /** The transaction coordinator's settings (Kafka's transaction.* settings); unset ones take Kafka's defaults. */
  readonly transactions?: Partial<TransactionSettings>;
  /** How markers reach partition leaders. Default: native connections to the brokers (nativeMarkerSender). */
  readonly txnMarkerSender?: TxnMarkerSender;
}

/** How the controller fails partitions over and balances their leaders. */
export interface ControllerSettings {
  /** unclean.leader.election.enable for topics that do not set it. Default false. */
  readonly uncleanLeaderElectionEnable?: boolean;
  /** auto.leader.rebalance.enable: move leadership back to preferred replicas. Default true. */
  readonly autoLeaderRebalanceEnable?: boolean;
  /** leader.imbalance.check.interval.seconds, in ms. Default 300 000. */
  readonly leaderImbalanceCheckIntervalMs?: number;
  /** broker.disconnect.fence.ms: grace after a broker's heartbeat connection closes. Default 500. */
  readonly disconnectFenceMs?: number;
}

export interface AdminOptions {
  /** Aborts an operation that has not been proposed yet; once proposed, it reports its real outcome. */
  readonly signal?: AbortSignal;
}

/** A heartbeat's options: where it arrived from, so a closed connection can fence its broker. */
export interface HeartbeatOptions extends AdminOptions {
  /** The connection the heartbeat came on; absent for a broker in the same process. */
  readonly connection?: BrokerConnection;
}

export interface ValidateOnlyOptions extends AdminOptions {
  /** Validate and return the results, change nothing. */
  readonly validateOnly?: boolean;
}

export interface CreateTopicsOptions extends ValidateOnlyOptions {
  /** Overrides the coordinator's defaults for this call (a broker passes its own num.partitions). */
  readonly defaults?: TopicDefaults;
}

/** Per-item results, and the metadata offset from which a follower sees their effect. */
export interface AdminOutcome<R> {
  readonly results: R[];
  readonly metadataOffset: number;
}

export interface BrokerRegistrationOutcome {
  /** Fences older incarnations of this broker: requests carrying a smaller epoch are stale. */
  readonly brokerEpoch: number;
  readonly metadataOffset: number;
}

/** The CoordinatorApi's heartbeat answer, kept under the name the broker side uses. */
export type BrokerHeartbeatResult = BrokerHeartbeatOutcome;

export const DEFAULT_MAX_PENDING_WRITES = 1024;
/** leader.imbalance.check.interval.seconds default (300), in ms. */
export const DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS = 300_000;
/** broker.disconnect.fence.ms default. */
export const DEFAULT_DISCONNECT_FENCE_MS = 500;
export const DEFAULT_FETCH_MAX_WAIT_MS = 30_000;

function invalidConfig(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_CONFIG, message);
}

/** Throws INVALID_CONFIG for a bad node id, bad topic defaults, a bad maxPendingWrites or controller setting. */
export function checkOptions(options: CoordinatorOptions): void {
  if (!Number.isSafeInteger(options.nodeId) || options.nodeId < 1 || options.nodeId > 2 ** 31 - 1) {
    throw invalidConfig(`a coordinator node id must be a whole number in 1..2147483647, got ${options.nodeId}`);
  }
  const { numPartitions, replicationFactor } = options.defaults;
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
    throw invalidConfig(`defaults.numPartitions must be a whole number ≥ 1, got ${numPartitions}`);
  }
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    throw invalidConfig(`defaults.replicationFactor must be a whole number ≥ 1, got ${replicationFactor}`);
  }
  const limit = options.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES;
  if (!Number.isSafeInteger(limit) || limit < 1) throw invalidConfig(`maxPendingWrites must be a whole number ≥ 1, got ${limit}`);
  const interval = options.controller?.leaderImbalanceCheckIntervalMs ?? DEFAULT_LEADER_IMBALANCE_CHECK_INTERVAL_MS;
  if (!Number.isSafeInteger(interval) || interval < 1) throw invalidConfig(`controller.leaderImbalanceCheckIntervalMs must be a whole number ≥ 1, got ${interval}`);
  const grace = options.controller?.disconnectFenceMs ?? DEFAULT_DISCONNECT_FENCE_MS;
  if (!Number.isSafeInteger(grace) || grace < 0) throw invalidConfig(`controller.disconnectFenceMs must be a whole number ≥ 0, got ${grace}`);
}
