/**
 * Keeps the peer comparison from rotting: runs the compiled harness (`npm test` builds dist/
 * first) in --smoke mode, StreamBus only (no peer needs installing), with tiny counts against a
 * real server, and checks that it wrote a report, figures for every workload, and both plots.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessSmoke } from './harness/smoke-run.js';
import type { LatencyRun, PeersReport, PublishRun, ConsumeRun } from './peers/report.js';

const RUN_TIMEOUT_MS = 15_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly files: readonly string[];
  readonly report: PeersReport;
  readonly markdown: string;
  readonly throughputSvg: string;
  readonly latencySvg: string;
}

async function runSmoke(outDir: string): Promise<Run> {
  const run = await runHarnessSmoke('peers', outDir, RUN_TIMEOUT_MS);
  return {
    ...run,
    report: JSON.parse(await run.read('.json')) as PeersReport,
    markdown: await run.read('.md'),
    throughputSvg: await run.read('-throughput.svg'),
    latencySvg: await run.read('-latency.svg'),
  };
}

describe('bench > peers harness (smoke, StreamBus only)', () => {
  let outDir: string;
  let run: Run;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'streambus-bench-peers-smoke-'));
    run = await runSmoke(outDir);
  }, RUN_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('exits 0 and prints the summary table', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('### Summary');
    expect(run.stdout).toContain('publish 1 KiB, msgs/s');
  });

  it('writes a markdown report naming the plots and the command', () => {
    expect(run.files.filter((f) => f.startsWith('peers-smoke-')).length).toBe(4);
    expect(run.markdown).toContain('## Summary');
    expect(run.markdown).toMatch(/!\[throughput\]\(peers-smoke-.*-throughput\.svg\)/);
    expect(run.markdown).toMatch(/!\[latency percentiles\]\(peers-smoke-.*-latency\.svg\)/);
    expect(run.markdown).toContain('npm run bench:peers -- --smoke');
  });

  it('publishes and consumes both payload sizes with non-zero throughput and no errors', () => {
    const publish = run.report.runs.filter((r): r is PublishRun => r.workload === 'publish');
    const consume = run.report.runs.filter((r): r is ConsumeRun => r.workload === 'consume');
    expect(publish.map((r) => r.valueBytes).sort((a, b) => a - b)).toEqual([100, 1024]);
    expect(consume.map((r) => r.valueBytes).sort((a, b) => a - b)).toEqual([100, 1024]);
    for (const r of [...publish, ...consume]) {
      expect(r.system).toBe('streambus');
      expect(r.figures.errors, `${r.caseName}: ${r.figures.firstError ?? ''}`).toBe(0);
      expect(r.figures.messagesPerSecond, r.caseName).toBeGreaterThan(0);
    }
    // Consume reads everything publish stored (plus the warm-up message).
    for (const c of consume) {
      const p = publish.find((r) => r.valueBytes === c.valueBytes)!;
      expect(c.figures.messages).toBe(p.figures.messagesInStream);
    }
  });

  it('measures ack and end-to-end latency at both fixed rates for every message', () => {
    const latency = run.report.runs.filter((r): r is LatencyRun => r.workload === 'latency');
    expect(latency.map((r) => r.ratePerSecond)).toEqual([5_000, 20_000]);
    for (const r of latency) {
      expect(r.figures.errors, `${r.caseName}: ${r.figures.firstError ?? ''}`).toBe(0);
      expect(r.figures.acked).toBe(r.figures.sent);
      expect(r.figures.delivered).toBe(r.figures.sent);
      expect(r.figures.ack.p99Ms).toBeGreaterThan(0);
      expect(r.figures.endToEnd.p999Ms).toBeGreaterThanOrEqual(r.figures.endToEnd.p50Ms);
      expect(r.figures.ackCurveMs.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    }
  });

  it('records the CPU of the server and the client for every run', () => {
    for (const r of run.report.runs) {
      expect(Number.isFinite(r.cpu.serverCorePct), r.caseName).toBe(true);
      expect(r.cpu.clientCorePct, r.caseName).toBeGreaterThan(0);
    }
  });

  it('summarizes every case with a median for StreamBus', () => {
    const cases = new Set(run.report.summary.map((r) => r.caseName));
    expect([...cases]).toEqual(['publish 1 KiB', 'publish 100 B', 'consume 1 KiB', 'consume 100 B', 'latency 5,000 msgs/s', 'latency 20,000 msgs/s']);
    for (const row of run.report.summary) expect(Number.isFinite(row.bySystem.streambus?.median), `${row.caseName} ${row.metric}`).toBe(true);
  });

  it('draws a bar per throughput case and a curve per latency series', () => {
    expect(run.throughputSvg.startsWith('<svg')).toBe(true);
    expect(run.throughputSvg.match(/<rect x=/g)?.length).toBe(4);
    expect(run.latencySvg.startsWith('<svg')).toBe(true);
    // Two rates × (ack + end-to-end).
    expect(run.latencySvg.match(/<polyline /g)?.length).toBe(4);
  });
});
