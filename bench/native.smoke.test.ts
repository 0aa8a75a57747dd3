/**
 * Keeps the native benchmark from rotting: runs the compiled harness (`npm test` builds dist/
 * first) in --smoke mode, with tiny counts against a real server, and checks that every workload
 * printed and recorded figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessSmoke } from './harness/smoke-run.js';
import type { BenchReport, LatencyRow, ThroughputRow } from './harness/report.js';

const RUN_TIMEOUT_MS = 25_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: BenchReport;
  readonly markdown: string;
}

async function runSmoke(outDir: string): Promise<Run> {
  const run = await runHarnessSmoke('native', outDir, RUN_TIMEOUT_MS);
  return { ...run, report: JSON.parse(await run.read('.json')) as BenchReport, markdown: await run.read('.md') };
}

describe('bench > native harness (smoke)', () => {
  let outDir: string;
  let run: Run;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'streambus-bench-smoke-'));
    run = await runSmoke(outDir);
  }, RUN_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('exits 0 and prints a table for each workload', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('### Produce throughput');
    expect(run.stdout).toContain('### Consume throughput');
    expect(run.stdout).toContain('### Latency at a fixed rate');
    expect(run.markdown).toContain('### Targets');
  });

  it('measures non-zero produce throughput for both record sizes without errors', () => {
    const rows = run.report.results.filter((r): r is ThroughputRow => r.workload === 'produce');
    expect(rows.map((r) => r.params.valueBytes).sort()).toEqual([100, 1024]);
    for (const row of rows) {
      expect(row.figures.messagesPerSecond, row.label).toBeGreaterThan(0);
      expect(row.figures.megabytesPerSecond, row.label).toBeGreaterThan(0);
      expect(row.figures.errors, row.label).toBe(0);
    }
  });

  it('consumes everything produced, through the iterator and through batches()', () => {
    const rows = run.report.results.filter((r): r is ThroughputRow => r.workload === 'consume');
    expect(rows.map((r) => r.params.mode).sort()).toEqual(['batches', 'batches', 'iterator', 'iterator']);
    for (const row of rows) {
      expect(row.figures.messagesPerSecond, row.label).toBeGreaterThan(0);
      expect(row.figures.errors, row.label).toBe(0);
    }
  });

  it('reports ack and end-to-end latency percentiles at both fixed rates', () => {
    const rows = run.report.results.filter((r): r is LatencyRow => r.workload === 'latency');
    expect(rows.map((r) => r.params.ratePerSecond)).toEqual([5_000, 20_000]);
    for (const row of rows) {
      expect(row.figures.achievedPerSecond, row.label).toBeGreaterThan(0);
      expect(row.figures.ack.count, row.label).toBe(row.figures.sent);
      expect(row.figures.ack.p99Ms, row.label).toBeGreaterThan(0);
      expect(row.figures.endToEnd?.count ?? 0, row.label).toBeGreaterThan(0);
      expect(row.figures.errors, row.label).toBe(0);
    }
  });

  it('records the CPU of both processes for every run', () => {
    for (const row of run.report.results) {
      expect(Number.isFinite(row.cpu.serverCorePct), row.label).toBe(true);
      expect(row.cpu.clientCorePct, row.label).toBeGreaterThan(0);
    }
  });
});
