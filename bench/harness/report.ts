/**
 * The benchmark's result model and its renderings: console/markdown tables and a JSON document,
 * and where every benchmark writes its report (writeBenchReport).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileTimestamp } from './machine.js';
import type { ServerLatency } from './metrics.js';
import type { ResourceUse } from './resources.js';
import type { LatencySummary } from './stats.js';
import type { LatencyFigures, ThroughputFigures } from './workloads.js';

export const Workload = { produce: 'produce', consume: 'consume', latency: 'latency' } as const;
export type Workload = (typeof Workload)[keyof typeof Workload];

export interface ThroughputRow {
  readonly workload: 'produce' | 'consume';
  readonly label: string;
  readonly params: Readonly<Record<string, string | number>>;
  readonly figures: ThroughputFigures;
  readonly cpu: ResourceUse;
}

export interface LatencyRow {
  readonly workload: 'latency';
  readonly label: string;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly figures: LatencyFigures;
  readonly cpu: ResourceUse;
  /** Produce requests as the server timed them (receipt to response), from its metrics. */
  readonly serverProduce?: ServerLatency | undefined;
  /** How late the server's event loop ran timers during the run (ms), from its metrics. */
  readonly serverEventLoopDelay?: { readonly p99Ms: number; readonly maxMs: number } | undefined;
}

export type ResultRow = ThroughputRow | LatencyRow;

export interface Environment {
  readonly date: string;
  readonly mode: string;
  readonly command: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly commit: string;
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
  readonly serverSettings: Readonly<Record<string, string>>;
  /** 4 KiB write + fdatasync in the temp folder (where the server's data directory is), before the runs. */
  readonly fsync: LatencySummary;
}

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

export interface BenchReport {
  readonly environment: Environment;
  readonly results: readonly ResultRow[];
  readonly targets: readonly TargetCheck[];
  readonly profiles?: { readonly serverFile: string; readonly clientFile: string; readonly markdown: string } | undefined;
}

const num = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const ms = (value: number): string => (Number.isFinite(value) ? (value < 10 ? value.toFixed(2) : value.toFixed(1)) : '-');
const pct = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)} %` : '-');

function table(header: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** MB/s the side would reach with a whole core to itself at the same cost per byte: MB/s ÷ cores used. */
const perCore = (mbPerSecond: number, corePct: number): string => (corePct > 1 ? num(mbPerSecond / (corePct / 100), 0) : '-');

/** Server disk bytes written per payload byte (storage write amplification). */
const amplification = (r: ThroughputRow): string => (r.figures.bytes > 0 ? num(r.cpu.serverDiskWriteBytes / r.figures.bytes, 2) : '-');

export function throughputTable(rows: readonly ThroughputRow[]): string {
  return table(
    ['workload', 'records', 'msgs/s', 'MB/s', 'seconds', 'server CPU (main thread)', 'client CPU', 'other CPU', 'MB/s per server core', 'MB/s per client core', 'disk bytes / payload', 'errors'],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows.map((r) => [
      r.label,
      String(r.figures.messages),
      num(r.figures.messagesPerSecond),
      num(r.figures.megabytesPerSecond, 1),
      num(r.figures.seconds, 2),
      `${pct(r.cpu.serverCorePct)} (${pct(r.cpu.serverMainThreadCorePct)})`,
      pct(r.cpu.clientCorePct),
      pct(r.cpu.otherCorePct),
      perCore(r.figures.megabytesPerSecond, r.cpu.serverCorePct),
      perCore(r.figures.megabytesPerSecond, r.cpu.clientCorePct),
      amplification(r),
      String(r.figures.errors),
    ]),
  );
}

function latencyCells(summary: LatencySummary | undefined): string[] {
  if (summary === undefined) return ['-', '-', '-', '-'];
  return [ms(summary.p50Ms), ms(summary.p99Ms), ms(summary.p999Ms), ms(summary.maxMs)];
}

export function latencyTable(rows: readonly LatencyRow[]): string {
  return table(
    ['workload', 'acked msgs/s', 'ack p50', 'ack p99', 'ack p99.9', 'ack max', 'e2e p50', 'e2e p99', 'e2e p99.9', 'e2e max', 'send lag p99', 'server produce p50 / p99', 'server loop delay p99 / max', 'server CPU (main thread)', 'client CPU', 'other CPU', 'errors'],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows.map((r) => [
      r.label,
      num(r.figures.achievedPerSecond),
      ...latencyCells(r.figures.ack),
      ...latencyCells(r.figures.endToEnd),
      ms(r.figures.sendLag.p99Ms),
      r.serverProduce === undefined ? '-' : `≤ ${ms(r.serverProduce.p50AtMostMs)} / ≤ ${ms(r.serverProduce.p99AtMostMs)}`,
      r.serverEventLoopDelay === undefined ? '-' : `${ms(r.serverEventLoopDelay.p99Ms)} / ${ms(r.serverEventLoopDelay.maxMs)}`,
      `${pct(r.cpu.serverCorePct)} (${pct(r.cpu.serverMainThreadCorePct)})`,
      pct(r.cpu.clientCorePct),
      pct(r.cpu.otherCorePct),
      String(r.figures.errors),
    ]),
  );
}

export function targetsTable(targets: readonly TargetCheck[]): string {
  return table(
    ['target', 'measured', 'met'],
    ['l', 'r', 'l'],
    targets.map((t) => [t.target, t.measured, t.met ? 'yes' : '**no**']),
  );
}

/** The tables a reader needs, as markdown (also what the console shows). */
export function resultTables(results: readonly ResultRow[], targets: readonly TargetCheck[]): string {
  const produce = results.filter((r): r is ThroughputRow => r.workload === 'produce');
  const consume = results.filter((r): r is ThroughputRow => r.workload === 'consume');
  const latency = results.filter((r): r is LatencyRow => r.workload === 'latency');
  const parts: string[] = [];
  if (produce.length > 0) parts.push('### Produce throughput (acks=all, persisted)', '', throughputTable(produce), '');
  if (consume.length > 0) parts.push('### Consume throughput (from offset 0 until caught up)', '', throughputTable(consume), '');
  if (latency.length > 0) parts.push('### Latency at a fixed rate (ms, from the intended send time)', '', latencyTable(latency), '');
  if (targets.length > 0) parts.push('### Targets', '', targetsTable(targets), '');
  return parts.join('\n');
}

/** The run's context as markdown bullet lines: machine, disk, load, settings and how to read the tables. */
export function environmentLines(env: Environment): string[] {
  return [
    `- machine: ${env.nproc} cores, ${env.cpuModel}; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\``,
    `- server settings: ${Object.entries(env.serverSettings).map(([k, v]) => `${k}=${v}`).join(', ') || 'defaults (durability=group)'}`,
    `- load average at start ${env.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}`,
    `- disk: 4 KiB write + fdatasync in the data directory's filesystem, p50 ${ms(env.fsync.p50Ms)} ms, p99 ${ms(env.fsync.p99Ms)} ms, max ${ms(env.fsync.maxMs)} ms (${env.fsync.count} probes)`,
    '- CPU is percent of one core over the measured period; "other" is what the rest of the machine used meanwhile (contention).',
    '- "MB/s per core" = MB/s ÷ cores that side used: what it would reach with a whole core at the same cost per byte.',
    '- "disk bytes / payload" = bytes the server wrote to disk during the run (/proc/<pid>/io) ÷ record value bytes.',
    "- MB = 10^6 bytes of record values. Latencies in ms from each record's intended send time (no coordinated omission).",
    '- "send lag" = how late the generator called send() (timer granularity, GC, a busy event loop); "server produce" = receipt to response of produce requests, from the server\'s latency histogram (bucket bounds); "server loop delay" = how late its event loop ran a 10 ms timer.',
  ];
}

export function markdownReport(report: BenchReport): string {
  const env = report.environment;
  const errors = report.results.filter((r) => r.figures.errors > 0 && r.figures.firstError !== undefined);
  return [
    `# StreamBus native client benchmark, ${env.date} (${env.mode})`,
    '',
    ...environmentLines(env),
    '',
    resultTables(report.results, report.targets),
    ...(errors.length > 0 ? ['### Errors', '', ...errors.map((r) => `- ${r.label}: ${r.figures.errors} failed; first: ${r.figures.firstError ?? ''}`), ''] : []),
    ...(report.profiles === undefined
      ? []
      : ['### CPU profiles (self time)', '', `server: \`${report.profiles.serverFile}\`, client: \`${report.profiles.clientFile}\``, '', report.profiles.markdown]),
  ].join('\n');
}

export interface BenchReportFiles {
  readonly outDir: string;
  /** The benchmark's name, first in the file names: `coordinator`, `txn`, ... */
  readonly name: string;
  /** What sets this run apart from a full one (`quick`, `smoke`, `profile`), in the file names. */
  readonly tags?: readonly string[];
  readonly startedAt: Date;
  readonly json: unknown;
  readonly markdown: string;
  readonly log: (line: string) => void;
}

/** Writes `<outDir>/<name>[-<tag>...]-<date>.json` and `.md`, says where, and returns that path without its extension. */
export function writeBenchReport(files: BenchReportFiles): string {
  mkdirSync(files.outDir, { recursive: true });
  const base = path.join(files.outDir, [files.name, ...(files.tags ?? []), fileTimestamp(files.startedAt)].join('-'));
  writeFileSync(`${base}.json`, `${JSON.stringify(files.json, null, 2)}\n`);
  writeFileSync(`${base}.md`, files.markdown);
  files.log(`wrote ${base}.md and ${base}.json`);
  return base;
}
