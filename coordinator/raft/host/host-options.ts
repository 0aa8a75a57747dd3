/**
 * RaftHost's options, the shapes of its public results, and the checked settings the host runs on.
 * Kept apart from the driver so the loop in raft-host.ts reads without the configuration around it.
 */
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import type { Logger } from '../../logger.js';
import type { RaftStatus, RandomInt } from '../index.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { PeerAddress, RaftTransport } from '../transport/raft-transport.js';
import type { RaftStateMachine } from './state-machine.js';

export interface RaftHostOptions {
  readonly nodeId: number;
  /** Loaded at start; persisted to before anything leaves the node; closed by close(). */
  readonly storage: RaftStorage;
  /** Closed by close(). */
  readonly transport: RaftTransport;
  readonly stateMachine: RaftStateMachine;
  /**
   * The founding voters, identical on every founding member; [] for a node that joins later by a
   * membership change. Used (and required) only when the storage holds nothing yet.
   */
  readonly initialVoters?: readonly number[];
  /** Handed to the transport at start; later changes go through RaftHost.setPeers(). */
  readonly peers?: ReadonlyMap<number, PeerAddress>;
  /** Milliseconds per core tick. Default 100. */
  readonly tickMs?: number;
  /** Default 10 (a randomized election timeout of 10–20 ticks). */
  readonly electionTicks?: number;
  /** Default 1. */
  readonly heartbeatTicks?: number;
  /** Compact once applied − snapshot index reaches this. Default 10 000. */
  readonly snapshotEntries?: number;
  /**
   * Compact once the entries applied since the snapshot hold this many bytes of data (and at least
   * the last snapshot's size), whatever their count: the log is kept in memory until compacted, and
   * its entries vary from a few bytes to megabytes. Default 16 MiB.
   */
  readonly snapshotBytes?: number;
  /**
   * How long the leader holds an append with no entries (commit news, a probe) for an append with
   * entries to replace it (./empty-append-hold.ts). Default 2 ms; 0 sends them at once.
   */
  readonly emptyAppendHoldMs?: number;
  /** Proposals (and, separately, reads) waiting at once; beyond: THROTTLING_QUOTA_EXCEEDED. Default 10 000. */
  readonly maxPendingProposals?: number;
  /** How long a proposal waits for its outcome once leadership moved, and a read in all. Default 5000. */
  readonly proposalTimeoutMs?: number;
  /** Election jitter; default crypto.randomInt. */
  readonly random?: RandomInt;
  readonly logger?: Logger;
  /** Called once when the host stops for good (storage failure, a broken invariant). */
  readonly onFatal?: (error: StreamBusError) => void;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** One voter; match and lag are known only on the leader. */
export interface MemberStatus {
  readonly id: number;
  readonly leader: boolean;
  readonly match: number | undefined;
  /** Entries the member is behind the leader's last index. */
  readonly lag: number | undefined;
}

export interface RaftHostStatus extends RaftStatus {
  /** True once the host stopped for good (onFatal was called). */
  readonly failed: boolean;
  readonly members: readonly MemberStatus[];
}

export type LeaderListener = (leaderId: number, term: number) => void;

export interface HostSettings {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEntries: number;
  readonly snapshotBytes: number;
  readonly emptyAppendHoldMs: number;
  readonly maxPending: number;
  readonly timeoutMs: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer, got ${value}`);
  return value;
}

/** The options with defaults filled in; INVALID_CONFIG for a value that is not a positive integer. */
export function resolveSettings(options: RaftHostOptions): HostSettings {
  return {
    tickMs: positiveInt('tickMs', options.tickMs, 100),
    electionTicks: positiveInt('electionTicks', options.electionTicks, 10),
    heartbeatTicks: positiveInt('heartbeatTicks', options.heartbeatTicks, 1),
    snapshotEntries: positiveInt('snapshotEntries', options.snapshotEntries, 10_000),
    snapshotBytes: positiveInt('snapshotBytes', options.snapshotBytes, 16 * 1024 * 1024),
    emptyAppendHoldMs: options.emptyAppendHoldMs === 0 ? 0 : positiveInt('emptyAppendHoldMs', options.emptyAppendHoldMs, 2),
    maxPending: positiveInt('maxPendingProposals', options.maxPendingProposals, 10_000),
    timeoutMs: positiveInt('proposalTimeoutMs', options.proposalTimeoutMs, 5000),
  };
}

/** The core's status plus each voter's match and lag as the leader sees them. */
export function hostStatus(core: RaftStatus, failed: boolean): RaftHostStatus {
  const leading = core.role === 'leader';
  const members = core.voters.map((id): MemberStatus => {
    const match = !leading ? undefined : id === core.id ? core.lastIndex : (core.followers.find((f) => f.id === id)?.match ?? 0);
    return { id, leader: id === core.leaderId, match, lag: match === undefined ? undefined : core.lastIndex - match };
  });
  return { ...core, failed, members };
}
