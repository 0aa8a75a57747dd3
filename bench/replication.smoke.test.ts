/**
 * Keeps the replication benchmark from rotting: runs the compiled harness (`npm test` builds
 * dist/ first) in --smoke mode, one short repeat of each system (RF=3 on three broker processes,
 * RF=1 on one, each with three coordinators: about 10 s), and checks that it printed and recorded
 * figures for both.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessSmoke } from './harness/smoke-run.js';
import type { ReplicationBenchReport } from './replication.js';

const RUN_TIMEOUT_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: ReplicationBenchReport;
  readonly markdown: string;
}

async function runSmoke(outDir: string): Promise<Run> {
  const run = await runHarnessSmoke('replication', outDir, RUN_TIMEOUT_MS);
  return {
    ...run,
    report: JSON.parse(await run.read('.json', 'replication-smoke-')) as ReplicationBenchReport,
    markdown: await run.read('.md', 'replication-smoke-'),
  };
}

describe('bench > replication harness (smoke)', () => {
  let outDir: string;
  let run: Run;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'streambus-bench-replication-'));
    run = await runSmoke(outDir);
  }, RUN_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('exits 0 and prints the medians of both systems and every run', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('### Medians');
    expect(run.stdout).toContain('### Runs');
    expect(run.markdown).toContain('RF=3, 3 brokers');
    expect(run.markdown).toContain('RF=1, 1 broker');
  });

  it('measures acks=all throughput and ack latency for RF=3 and RF=1 without errors', () => {
    expect(run.report.runs.map((r) => r.setup).sort()).toEqual(['rf1', 'rf3']);
    for (const r of run.report.runs) {
      expect(r.throughput.errors, r.throughput.firstError).toBe(0);
      expect(r.latency.errors, r.latency.firstError).toBe(0);
      expect(r.throughput.messagesPerSecond, r.setup).toBeGreaterThan(0);
      expect(r.latency.ack.count, r.setup).toBe(r.latency.sent);
      expect(r.latency.ack.p99Ms, r.setup).toBeGreaterThanOrEqual(r.latency.ack.p50Ms);
      expect(r.throughputCpu.brokersCorePct, r.setup).toBeGreaterThan(0);
    }
    expect(Number.isFinite(run.report.ratios.throughput)).toBe(true);
  });
});
