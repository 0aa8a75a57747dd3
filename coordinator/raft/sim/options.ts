/**
 * The knobs of one simulated run and what it reports back.
 *
 * simOptionsForSeed() derives every option from the seed (cluster size, network weather, fault mix,
 * workload), so a seed alone names a run; a failure prints the options in full so an override can
 * be replayed too. SimStats counts what happened, and the suite's coverage probes check those
 * counts to prove the runs exercised every fault and rare path they claim to.
 */
import type { RaftTestBugs } from '../raft-options.js';
import type { KvOperation } from './linearizability.js';
import { Prng } from './prng.js';

export const FaultKind = {
  CRASH: 'crash',
  CRASH_LEADER: 'crash-leader',
  PAUSE: 'pause',
  PAUSE_LEADER: 'pause-leader',
  ISOLATE: 'isolate',
  ISOLATE_LEADER: 'isolate-leader',
  SPLIT: 'split',
  ONE_WAY: 'one-way',
  BRIDGE: 'bridge',
  HEAL: 'heal',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** Every knob of a run. simOptionsForSeed derives them all from the seed, and a failure prints them. */
export interface SimOptions {
  readonly seed: number;
  readonly voters: number;
  /** Nodes that start outside the cluster, for the administrator to add. */
  readonly spares: number;
  readonly faultPhaseMs: number;
  /** After the fault phase: everything healed; a new write must commit within this time. */
  readonly livenessPhaseMs: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxInflightAppends: number;
  readonly maxEntriesPerAppend: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Share of messages delayed up to 10× maxDelayMs, which reorders them behind later ones. */
  readonly slowRate: number;
  readonly diskMinMs: number;
  readonly diskMaxMs: number;
  /** Mean time between faults in the fault phase. */
  readonly faultIntervalMs: number;
  readonly faultKinds: readonly FaultKind[];
  /** Chance that a disk write is interrupted by a crash of its node (the write is lost). */
  readonly crashOnWriteRate: number;
  readonly clients: number;
  readonly keys: number;
  readonly readRate: number;
  readonly opTimeoutMs: number;
  readonly membershipChanges: boolean;
  /** Compact when this many applied entries follow the snapshot. */
  readonly snapshotThreshold: number;
  /** Check Raft's justifications against the modelled disks too (see invariants.ts); default true. */
  readonly ghostChecks: boolean;
  readonly bugs: RaftTestBugs;
}

export interface SimStats {
  events: number;
  elections: number;
  maxTerm: number;
  crashes: number;
  pauses: number;
  partitions: number;
  writeCrashes: number;
  messagesSent: number;
  messagesDropped: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  compactions: number;
  membershipChanges: number;
  transfers: number;
  writesOk: number;
  writesLost: number;
  writesUnknown: number;
  readsOk: number;
  livenessWriteMs: number;
}

export interface SimResult {
  readonly options: SimOptions;
  readonly ok: boolean;
  readonly violation: string | undefined;
  readonly traceHash: string;
  readonly stats: SimStats;
  /** The last events before the end (or the violation), oldest first. */
  readonly traceTail: readonly string[];
  readonly history: readonly KvOperation[];
}

const ALL_FAULTS: readonly FaultKind[] = Object.values(FaultKind);

/** The option set for a seed: cluster size, network weather, fault mix, workload. */
export function simOptionsForSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const r = new Prng(seed ^ 0x5eed5eed);
  const voters = r.chance(0.6) ? 3 : 5;
  const membershipChanges = r.chance(0.35);
  const minDelayMs = r.range(1, 3);
  const base: SimOptions = {
    seed,
    voters,
    spares: membershipChanges ? 1 : 0,
    faultPhaseMs: 1500,
    livenessPhaseMs: 2500,
    tickMs: 10,
    electionTicks: 10,
    heartbeatTicks: r.pick([1, 2, 3]),
    maxInflightAppends: r.pick([1, 2, 8, 64]),
    maxEntriesPerAppend: r.pick([1, 3, 64]),
    dropRate: r.pick([0, 0.01, 0.05, 0.15]),
    duplicateRate: r.pick([0, 0.01, 0.05]),
    minDelayMs,
    maxDelayMs: minDelayMs + r.range(1, 15),
    slowRate: r.pick([0, 0.01, 0.05]),
    diskMinMs: 0,
    diskMaxMs: r.pick([0, 1, 3]),
    faultIntervalMs: r.pick([60, 150, 400]),
    faultKinds: r.chance(0.5) ? ALL_FAULTS : ALL_FAULTS.filter(() => r.chance(0.5)),
    crashOnWriteRate: r.pick([0, 0.002, 0.01]),
    clients: r.range(2, 4),
    keys: r.range(1, 3),
    readRate: r.pick([0.3, 0.5]),
    opTimeoutMs: 400,
    membershipChanges,
    snapshotThreshold: r.pick([5, 20, 1000]),
    ghostChecks: true,
    bugs: {},
  };
  const options = { ...base, ...overrides };
  return options.faultKinds.length === 0 ? { ...options, faultKinds: [FaultKind.CRASH] } : options;
}

/** Counters at the start of a run. */
export function emptyStats(): SimStats {
  return {
    events: 0,
    elections: 0,
    maxTerm: 0,
    crashes: 0,
    pauses: 0,
    partitions: 0,
    writeCrashes: 0,
    messagesSent: 0,
    messagesDropped: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    compactions: 0,
    membershipChanges: 0,
    transfers: 0,
    writesOk: 0,
    writesLost: 0,
    writesUnknown: 0,
    readsOk: 0,
    livenessWriteMs: -1,
  };
}
