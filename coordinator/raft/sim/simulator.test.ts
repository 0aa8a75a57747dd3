/**
 * The seeded simulation suite. By default 2,000 seeds; STREAMBUS_RAFT_SEEDS=100000 runs more,
 * STREAMBUS_RAFT_SEED_START moves the window. A failure prints the seed, every option derived
 * from it and the last events, and STREAMBUS_RAFT_SEED=<seed> replays that one seed (see
 * "replays one seed" below).
 */
import { describe, expect, it } from 'vitest';
import { type SimStats, describeFailure, runSimulation, simOptionsForSeed } from './simulator.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

const SEEDS = envInt('STREAMBUS_RAFT_SEEDS', 2000);
const FIRST_SEED = envInt('STREAMBUS_RAFT_SEED_START', 0);
const CHUNK = 250;

const totals: Partial<Record<keyof SimStats, number>> = {};
let runs = 0;

describe('raft > simulation > seeded runs', () => {
  for (let from = FIRST_SEED; from < FIRST_SEED + SEEDS; from += CHUNK) {
    const to = Math.min(from + CHUNK, FIRST_SEED + SEEDS);
    it(`holds every safety invariant, stays linearizable and recovers after healing, seeds ${from}..${to - 1}`, () => {
      const failures: string[] = [];
      for (let seed = from; seed < to; seed++) {
        const result = runSimulation(simOptionsForSeed(seed));
        runs++;
        for (const [key, value] of Object.entries(result.stats) as [keyof SimStats, number][]) totals[key] = (totals[key] ?? 0) + value;
        if (!result.ok) failures.push(describeFailure(result));
      }
      // Print every failing seed in full, not just the first assertion.
      expect(failures, failures.join('\n\n')).toEqual([]);
    }, 60_000);
  }

  it('exercised every fault and every rare path in those runs', () => {
    expect(runs).toBe(SEEDS);
    const t = (key: keyof SimStats): number => totals[key] ?? 0;
    // Coverage probes: each must have happened, or the suite proves less than it claims.
    expect(t('crashes')).toBeGreaterThan(SEEDS / 2);
    expect(t('writeCrashes')).toBeGreaterThan(SEEDS / 20);
    expect(t('pauses')).toBeGreaterThan(SEEDS / 4);
    expect(t('partitions')).toBeGreaterThan(SEEDS);
    expect(t('messagesDropped')).toBeGreaterThan(0);
    expect(t('snapshotsInstalled')).toBeGreaterThan(SEEDS / 4);
    expect(t('membershipChanges')).toBeGreaterThan(SEEDS / 4);
    expect(t('transfers')).toBeGreaterThan(SEEDS / 20);
    expect(t('writesLost')).toBeGreaterThan(0);
    expect(t('writesUnknown')).toBeGreaterThan(0);
    expect(t('readsOk')).toBeGreaterThan(SEEDS * 10);
    expect(t('writesOk')).toBeGreaterThan(SEEDS * 10);
  });
});

describe('raft > simulation > replay', () => {
  it('replays a seed to the same trace hash, event for event', () => {
    for (let seed = 900_000; seed < 900_020; seed++) {
      const first = runSimulation(simOptionsForSeed(seed));
      const second = runSimulation(simOptionsForSeed(seed));
      expect(second.traceHash, `seed ${seed}`).toBe(first.traceHash);
      expect(second.stats).toEqual(first.stats);
      expect(second.traceTail).toEqual(first.traceTail);
    }
  });

  it('gives different seeds different runs', () => {
    const hashes = new Set<string>();
    for (let seed = 0; seed < 20; seed++) hashes.add(runSimulation(simOptionsForSeed(seed)).traceHash);
    expect(hashes.size).toBe(20);
  });

  it('replays one seed (STREAMBUS_RAFT_SEED, default 42; STREAMBUS_RAFT_BUGS to add seeded bugs) and prints its trace on failure', () => {
    const seed = envInt('STREAMBUS_RAFT_SEED', 42);
    const bugs = Object.fromEntries((process.env.STREAMBUS_RAFT_BUGS ?? '').split(',').filter((b) => b !== '').map((b) => [b, true]));
    const result = runSimulation(simOptionsForSeed(seed, { bugs }));
    expect(result.ok, describeFailure(result, 300)).toBe(true);
  });

  it('prints a failing seed with the command that replays it, its options and its last events', () => {
    const result = runSimulation(simOptionsForSeed(0, { bugs: { voteReplyBeforePersist: true } }));
    expect(result.ok).toBe(false);
    const text = describeFailure(result);
    expect(text).toContain('raft simulation seed 0 failed: durable-vote');
    expect(text).toContain('STREAMBUS_RAFT_SEED=0 STREAMBUS_RAFT_BUGS=voteReplyBeforePersist');
    expect(text).toContain('"voteReplyBeforePersist":true');
    expect(text).toMatch(/deliver (pre-)?vote \d->\d t\d/);
  });
});
