/**
 * Keeps the schema registry benchmark from rotting: runs the compiled harness (`npm test` builds
 * dist/ first) in --smoke mode against a real server and checks that it measured and recorded
 * every figure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessSmoke, type SmokeRun } from './harness/smoke-run.js';
import type { RegistryBenchReport } from './schema-registry.js';

const RUN_TIMEOUT_MS = 45_000;

describe('bench > schema registry harness (smoke)', () => {
  let outDir: string;
  let run: SmokeRun;
  let report: RegistryBenchReport;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'streambus-bench-smoke-'));
    run = await runHarnessSmoke('schema-registry', outDir, RUN_TIMEOUT_MS);
    report = JSON.parse(await run.read('.json', 'registry-')) as RegistryBenchReport;
  }, RUN_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('exits 0 and writes the markdown and JSON reports', async () => {
    expect(run.code, run.stderr).toBe(0);
    expect(await run.read('.md', 'registry-')).toContain('### Lookup latency');
  });

  it('measures cached and uncached lookups, by id and by subject + schema', () => {
    expect(report.lookups.map((row) => row.label)).toEqual([
      'cached: schema by id (client cache)',
      'cached: serializer schema id for a topic',
      'uncached: GET /schemas/ids/{id}',
      'uncached: POST /subjects/{subject} (by schema)',
    ]);
    for (const row of report.lookups) {
      expect(row.latency.count).toBeGreaterThan(0);
      expect(Number.isFinite(row.latency.p99Ms)).toBe(true);
    }
  });

  it('produces with validation off and on, without errors, and measures the check alone', () => {
    expect(report.produce.map((p) => p.validation).sort()).toEqual([false, true]);
    for (const phase of report.produce) {
      expect(phase.records).toBeGreaterThan(0);
      expect(phase.errors).toBe(0);
    }
    expect(report.checkNsPerRecord).toBeGreaterThan(0);
  });
});
