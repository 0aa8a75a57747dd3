/**
 * Keeps the coordinator benchmark from rotting: runs the compiled harness (`npm test` builds dist/
 * first) in --smoke mode, one short repeat on three real coordinator processes, and checks that it
 * printed and recorded figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessSmoke } from './harness/smoke-run.js';
import type { CoordinatorBenchReport } from './coordinator.js';

const RUN_TIMEOUT_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: CoordinatorBenchReport;
  readonly markdown: string;
}

async function runSmoke(outDir: string): Promise<Run> {
  const run = await runHarnessSmoke('coordinator', outDir, RUN_TIMEOUT_MS);
  return {
    ...run,
    report: JSON.parse(await run.read('.json', 'coordinator-smoke-')) as CoordinatorBenchReport,
    markdown: await run.read('.md', 'coordinator-smoke-'),
  };
}

describe('bench > coordinator harness (smoke)', () => {
  let outDir: string;
  let run: Run;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'streambus-bench-coordinator-'));
    run = await runSmoke(outDir);
  }, RUN_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('exits 0 and prints the runs, the medians and the targets', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('### Runs');
    expect(run.stdout).toContain('### Medians');
    expect(run.markdown).toContain('### Targets');
  });

  it('commits metadata writes on three nodes without errors and reports their latency percentiles', () => {
    expect(run.report.params.nodes).toBe(3);
    expect(run.report.runs).toHaveLength(1);
    const [only] = run.report.runs;
    expect(only!.errors, only!.firstError).toBe(0);
    expect(only!.writes).toBeGreaterThan(0);
    expect(only!.writesPerSecond).toBeGreaterThan(0);
    expect(only!.latency.count).toBe(only!.writes);
    expect(only!.latency.p50Ms).toBeGreaterThan(0);
    expect(only!.latency.p99Ms).toBeGreaterThanOrEqual(only!.latency.p50Ms);
    expect(only!.followerCorePct).toHaveLength(2);
    expect(run.report.targets.map((t) => t.target)).toEqual([expect.stringContaining('p99'), expect.stringContaining('writes')]);
  });
});
