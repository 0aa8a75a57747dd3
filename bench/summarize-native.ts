/**
 * Medians (with min–max spread) of several native benchmark reports, matched by workload label:
 * what bench/README.md quotes. Run: node dist/bench/summarize-native.js bench/results/native-*.json
 */
import { readFileSync } from 'node:fs';
import type { BenchReport, LatencyRow, ResultRow, ThroughputRow } from './harness/report.js';
import { median } from './harness/stats.js';

function spread(values: readonly number[], digits: number): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '-';
  const f = (v: number): string => v.toFixed(digits);
  return `${f(median(finite))} (${f(Math.min(...finite))}–${f(Math.max(...finite))})`;
}

function group<T extends ResultRow>(reports: readonly BenchReport[], workload: T['workload']): Map<string, T[]> {
  const byLabel = new Map<string, T[]>();
  for (const report of reports) {
    for (const row of report.results) {
      if (row.workload !== workload) continue;
      const list = byLabel.get(row.label) ?? [];
      list.push(row as T);
      byLabel.set(row.label, list);
    }
  }
  return byLabel;
}

function main(): void {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/summarize-native.js <report.json>...\n');
    process.exit(2);
  }
  const reports = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchReport);
  const out: string[] = [`Medians of ${reports.length} runs (min–max in parentheses).`, ''];
  for (const workload of ['produce', 'consume'] as const) {
    out.push(`| ${workload} | msgs/s | MB/s | server CPU | client CPU | other CPU |`, '|---|---:|---:|---:|---:|---:|');
    for (const [label, rows] of group<ThroughputRow>(reports, workload)) {
      out.push(
        `| ${label} | ${spread(
          rows.map((r) => r.figures.messagesPerSecond),
          0,
        )} | ${spread(
          rows.map((r) => r.figures.megabytesPerSecond),
          1,
        )} | ${spread(
          rows.map((r) => r.cpu.serverCorePct),
          0,
        )} % | ${spread(
          rows.map((r) => r.cpu.clientCorePct),
          0,
        )} % | ${spread(
          rows.map((r) => r.cpu.otherCorePct),
          0,
        )} % |`,
      );
    }
    out.push('');
  }
  out.push('| latency | ack p50 ms | ack p99 ms | ack p99.9 ms | e2e p50 ms | e2e p99 ms | server CPU | client CPU | other CPU |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [label, rows] of group<LatencyRow>(reports, 'latency')) {
    const col = (pick: (r: LatencyRow) => number, digits = 2): string => spread(rows.map(pick), digits);
    out.push(
      `| ${label} | ${col((r) => r.figures.ack.p50Ms)} | ${col((r) => r.figures.ack.p99Ms)} | ${col((r) => r.figures.ack.p999Ms)} | ` +
        `${col((r) => r.figures.endToEnd?.p50Ms ?? Number.NaN)} | ${col((r) => r.figures.endToEnd?.p99Ms ?? Number.NaN)} | ` +
        `${col((r) => r.cpu.serverCorePct, 0)} % | ${col((r) => r.cpu.clientCorePct, 0)} % | ${col((r) => r.cpu.otherCorePct, 0)} % |`,
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}

main();
