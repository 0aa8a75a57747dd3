/**
 * Keeps the transactions benchmark from rotting: runs the compiled harness (`npm test` builds
 * dist/ first) in --smoke mode (one `streambus dev`, every case for half a second: about 10 s) and
 * checks that it printed and recorded figures for every case without errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHarnessSmoke, type SmokeRun } from './harness/smoke-run.js';
import type { TxnBenchReport } from './transactions.js';

const RUN_TIMEOUT_MS = 60_000;

describe('bench > transactions harness (smoke)', () => {
  let outDir: string;
  let run: SmokeRun;
  let report: TxnBenchReport;
  let markdown: string;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'streambus-bench-txn-'));
    run = await runHarnessSmoke('transactions', outDir, RUN_TIMEOUT_MS);
    report = JSON.parse(await run.read('.json', 'txn-smoke-')) as TxnBenchReport;
    markdown = await run.read('.md', 'txn-smoke-');
  }, RUN_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('exits 0 and prints the medians and every run', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('### Medians');
    expect(run.stdout).toContain('### Runs');
    expect(markdown).toContain('| 100 B | txn x10 |');
    expect(markdown).toContain('| 1 KiB | txn x1000 |');
  });

  it('measures idempotent and transactional produce at 10 and 1,000 records per transaction, for both value sizes, without errors', () => {
    expect(report.medians.map((m) => `${m.valueBytes} ${m.kind}`)).toEqual(['100 idempotent', '100 txn x10', '100 txn x1000', '1024 idempotent', '1024 txn x10', '1024 txn x1000']);
    for (const r of report.runs) {
      expect(r.errors, r.firstError).toBe(0);
      expect(r.recordsPerSecond, `${r.valueBytes} ${r.kind}`).toBeGreaterThan(0);
      if (r.recordsPerTxn > 0) {
        expect(r.transactions).toBeGreaterThan(0);
        expect(r.records).toBe(r.transactions * r.recordsPerTxn);
        expect(r.transaction.p99Ms).toBeGreaterThanOrEqual(r.transaction.p50Ms);
      }
    }
    for (const m of report.medians) expect(Number.isFinite(m.ofIdempotent), m.kind).toBe(true);
  });
});
