/**
 * The coordinator's partition operations: AlterPartition (a partition leader commits an ISR
 * change), ElectLeaders (preferred or unclean election on request), partition reassignments
 * (AlterPartitionReassignments, ListPartitionReassignments), broker maintenance (drain and
 * undrain) and the automatic preferred-leader rebalance. Writes on the leader, through the write
 * pipeline, so each is decided against the speculative state and its compare-and-set sees every
 * change proposed before it; the list is answered there too, so it sees every change before it.
 *
 * The rebalance (auto.leader.rebalance.enable, on by default) runs on the leader every
 * leader.imbalance.check.interval.seconds (300 s): every partition whose first replica is in the
 * ISR and live but does not lead gets it back as leader, in one entry. A broker that restarts
 * after a failover thus takes back its share of leaderships without an operator.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { asError } from './metadata/abort.js';
import type { MetadataCommand } from './metadata/commands.js';
import type { LeaderElectionOptions } from './metadata/leader-election.js';
import { type ElectLeadersRequest, type ElectionResult, ElectionType, electLeaders, preferredRebalance } from './metadata/leader-election.js';
import { type AlterPartitionRequest, type AlterPartitionResult, alterPartition } from './metadata/partition-change.js';
import { type BrokerMaintenanceOutcome, type BrokerMaintenanceRequest, brokerMaintenance } from './metadata/maintenance.js';
import {
  type OngoingReassignment,
  type ReassignmentListRequest,
  type ReassignmentRequest,
  type ReassignmentResult,
  alterPartitionReassignments,
  listPartitionReassignments,
} from './metadata/reassignment.js';
import type { Logger } from './logger.js';
import type { AdminOptions, AdminOutcome } from './coordinator-options.js';
import { read, type Submit, write } from './coordinator-steps.js';
import type { WriteStep } from './write-pipeline.js';

export interface PartitionOpsOptions {
  readonly election: LeaderElectionOptions;
  readonly autoLeaderRebalance: boolean;
  readonly leaderImbalanceCheckIntervalMs: number;
  readonly logger: Logger;
  readonly submit: Submit;
  /** Whether this node leads and accepts writes. */
  readonly leading: () => boolean;
}

const MAX_NODE_ID = 2 ** 31 - 1;
/** Most partitions one reassignment request may name. */
const MAX_REASSIGNMENTS = 10_000;

/** What draining or undraining a broker did, once applied. */
export interface BrokerMaintenanceResult extends Omit<BrokerMaintenanceOutcome, 'commands'> {
  readonly draining: boolean;
  readonly metadataOffset: number;
}

export class PartitionOps {
  readonly #options: PartitionOpsOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #balancing = false;

  constructor(options: PartitionOpsOptions) {
    this.#options = options;
  }

  /**
   * Commits the ISR changes a partition leader asks for; one result per partition (see
   * metadata/partition-change.ts alterPartition for the errors). INVALID_REQUEST for a malformed
   * request as a whole.
   */
  alterPartition(request: AlterPartitionRequest, options: AdminOptions): Promise<AdminOutcome<AlterPartitionResult>> {
    try {
      checkAlterPartition(request);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return this.#options.submit(options.signal, (state) => {
      const outcome = alterPartition(state, request);
      return answered(outcome, (metadataOffset) => {
        this.#options.logger.info({ brokerId: request.brokerId, partitions: outcome.commands.length, metadataOffset }, 'committed ISR changes');
      });
    });
  }

  /** Runs a preferred or unclean election; one result per partition (see metadata/leader-election.ts). */
  electLeaders(request: ElectLeadersRequest, options: AdminOptions): Promise<AdminOutcome<ElectionResult>> {
    try {
      checkElectLeaders(request);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return this.#options.submit(options.signal, (state) => {
      const outcome = electLeaders(state, request);
      return answered(outcome, (metadataOffset) => {
        this.#options.logger.info({ type: request.type, partitions: outcome.commands.length, metadataOffset }, 'elected leaders on request');
      });
    });
  }

  /**
   * Starts, replaces or cancels reassignments; one result per partition (see
   * metadata/reassignment.ts for the rules and errors). INVALID_REQUEST for a malformed request.
   */
  alterPartitionReassignments(requests: readonly ReassignmentRequest[], options: AdminOptions): Promise<AdminOutcome<ReassignmentResult>> {
    try {
      checkReassignments(requests);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return this.#options.submit(options.signal, (state) => {
      const outcome = alterPartitionReassignments(state, requests);
      return answered(outcome, (metadataOffset) => {
        const cancelled = requests.filter((r) => r.replicas === null).length;
        this.#options.logger.info({ partitions: outcome.commands.length, cancelled, metadataOffset }, 'changed partition reassignments');
      });
    });
  }

  /** The reassignments in progress (of the partitions named, or all); UNKNOWN_TOPIC_OR_PARTITION for a named one that does not exist. */
  listPartitionReassignments(request: ReassignmentListRequest, options: AdminOptions): Promise<{ readonly reassignments: OngoingReassignment[]; readonly metadataOffset: number }> {
    return this.#options.submit(options.signal, (state) => {
      const reassignments = listPartitionReassignments(state, request);
      return read((metadataOffset) => ({ reassignments, metadataOffset }));
    });
  }

  /**
   * Puts a broker in maintenance (drains its leaderships) or takes it out; resolves once applied.
   * BROKER_ID_NOT_REGISTERED for an unknown broker, INVALID_REQUEST for a malformed request.
   */
  brokerMaintenance(request: BrokerMaintenanceRequest, options: AdminOptions): Promise<BrokerMaintenanceResult> {
    if (!isInt(request.nodeId, 0, MAX_NODE_ID) || typeof request.enable !== 'boolean') {
      return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, `brokerMaintenance needs a broker id ≥ 0 and enable true or false, got ${JSON.stringify(request)}`));
    }
    return this.#options.submit(options.signal, (state) => {
      const { commands, leadersMoved, leadersKept } = brokerMaintenance(state, request);
      return write(commands, (offsets) => {
        const metadataOffset = offsets.at(-1) ?? state.lastAppliedOffset;
        if (commands.length > 0) {
          const fields = { nodeId: request.nodeId, leadersMoved, leadersKept: leadersKept.length, metadataOffset };
          this.#options.logger.info(fields, request.enable ? 'draining broker: its leaderships moved to other in-sync replicas' : 'broker out of maintenance');
        }
        return { draining: request.enable, leadersMoved, leadersKept, metadataOffset };
      });
    });
  }

  /** Moves leadership back to preferred replicas where they are in the ISR and live; resolves with how many moved. */
  rebalanceLeaders(options: AdminOptions = {}): Promise<number> {
    return this.#options.submit(options.signal, (state) => {
      const commands = preferredRebalance(state);
      return write(commands, (offsets) => {
        if (commands.length > 0) {
          this.#options.logger.info({ partitions: commands.length, metadataOffset: offsets.at(-1) }, 'moved leaderships back to preferred replicas (auto.leader.rebalance.enable)');
        }
        return commands.length;
      });
    });
  }

  /** Starts the rebalance timer (this node leads and accepts writes), when enabled. */
  start(): void {
    this.stop();
    if (!this.#options.autoLeaderRebalance) return;
    this.#timer = setInterval(() => this.#onTimer(), this.#options.leaderImbalanceCheckIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #onTimer(): void {
    if (this.#balancing || !this.#options.leading()) return;
    this.#balancing = true;
    this.rebalanceLeaders()
      .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'preferred leader rebalance failed; retrying at the next check'))
      .finally(() => {
        this.#balancing = false;
      });
  }
}

/**
 * The step for per-partition results and their commands: answered with the offset of the last
 * command once applied (`logged` runs then), or, when there is nothing to log, with the committed
 * offset once everything the decision read has committed.
 */
function answered<R>(outcome: { readonly results: R[]; readonly commands: readonly MetadataCommand[] }, logged: (metadataOffset: number) => void): WriteStep<AdminOutcome<R>> {
  if (outcome.commands.length === 0) return read((metadataOffset) => ({ results: outcome.results, metadataOffset }));
  return write(outcome.commands, (offsets) => {
    const metadataOffset = offsets.at(-1) ?? -1;
    logged(metadataOffset);
    return { results: outcome.results, metadataOffset };
  });
}

function invalid(message: string): never {
  throw new StreamBusError(ErrorCode.INVALID_REQUEST, message);
}

function isInt(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

function checkAlterPartition(request: AlterPartitionRequest): void {
  if (!isInt(request.brokerId, 1, MAX_NODE_ID)) invalid(`alterPartition: brokerId must be a broker id ≥ 1, got ${String(request.brokerId)}`);
  if (!isInt(request.brokerEpoch, 0)) invalid(`alterPartition: brokerEpoch must be an integer ≥ 0, got ${String(request.brokerEpoch)}`);
  const partitions: unknown = request.partitions;
  if (!Array.isArray(partitions) || partitions.length === 0) invalid('alterPartition: no partitions');
  for (const p of request.partitions) {
    if (typeof p.topicId !== 'string' || p.topicId === '') invalid('alterPartition: a partition has no topic id');
    if (!isInt(p.partition, 0) || !isInt(p.leaderEpoch, 0) || !isInt(p.partitionEpoch, 0)) {
      invalid(`alterPartition: partition, leaderEpoch and partitionEpoch of ${p.topicId}-${String(p.partition)} must be integers ≥ 0`);
    }
    if (!Array.isArray(p.newIsr) || !(p.newIsr as readonly unknown[]).every((id) => isInt(id, 1, MAX_NODE_ID))) invalid(`alterPartition: the new ISR of ${p.topicId}-${p.partition} must list broker ids`);
  }
}

function checkReassignments(requests: readonly ReassignmentRequest[]): void {
  const list: unknown = requests;
  if (!Array.isArray(list) || list.length === 0) invalid('alterPartitionReassignments: no partitions');
  if (requests.length > MAX_REASSIGNMENTS) invalid(`alterPartitionReassignments: ${requests.length} partitions is more than the ${MAX_REASSIGNMENTS} one request may name`);
  for (const r of requests) {
    if (typeof r.topic !== 'string' || r.topic === '') invalid('alterPartitionReassignments: a partition has no topic name');
    if (!isInt(r.partition, 0)) invalid(`alterPartitionReassignments: partition ${String(r.partition)} of ${r.topic} is not an integer ≥ 0`);
    const replicas: unknown = r.replicas;
    if (replicas !== null && !Array.isArray(replicas)) invalid(`alterPartitionReassignments: the replicas of ${r.topic}-${r.partition} must be a list of broker ids, or null to cancel`);
  }
}

function checkElectLeaders(request: ElectLeadersRequest): void {
  if (request.type !== ElectionType.PREFERRED && request.type !== ElectionType.UNCLEAN) {
    invalid(`electLeaders: the election type must be "preferred" or "unclean", got ${JSON.stringify(request.type)}`);
  }
  for (const topic of request.topics ?? []) {
    if (typeof topic.topic !== 'string' || topic.topic === '') invalid('electLeaders: a topic has no name');
    for (const partition of topic.partitions ?? []) {
      if (!isInt(partition, 0)) invalid(`electLeaders: partition ${String(partition)} of ${topic.topic} is not an integer ≥ 0`);
    }
  }
}
