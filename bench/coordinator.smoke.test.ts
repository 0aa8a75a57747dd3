/**
 * Keeps the coordinator benchmark from rotting: runs the compiled harness (`npm test` builds dist/
 * first) in --smoke mode, one short repeat on three real coordinator processes, and checks that it
 * printed and recorded figures.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordinatorBenchReport } from './coordinator.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const harness = path.join(root, 'dist/bench/coordinator.js');
const RUN_TIMEOUT_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: CoordinatorBenchReport;
  readonly markdown: string;
}

async function runSmoke(outDir: string): Promise<Run> {
  if (!existsSync(harness)) throw new Error(`${harness} is missing: run 'npm run build' first (npm test does)`);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [harness, '--smoke', '--out', outDir], { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout: out, stderr: err });
    });
  });
  const files = await readdir(outDir);
  const json = files.find((f) => f.startsWith('coordinator-smoke-') && f.endsWith('.json'));
  const md = files.find((f) => f.startsWith('coordinator-smoke-') && f.endsWith('.md'));
  if (json === undefined || md === undefined) throw new Error(`the harness wrote no report (exit ${String(code)})\n${stderr}`);
  const report = JSON.parse(await readFile(path.join(outDir, json), 'utf8')) as CoordinatorBenchReport;
  return { code, stdout, stderr, report, markdown: await readFile(path.join(outDir, md), 'utf8') };
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
