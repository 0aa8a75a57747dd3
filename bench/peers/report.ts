/**
 * The comparison's result model and its renderings: medians over repeats with their spread,
 * StreamBus/peer ratios taken within each repeat, markdown tables and the two SVG plots.
 */
import type { ResourceUse } from '../harness/resources.js';
import { median } from '../harness/stats.js';
import type { LatencySummary } from '../harness/stats.js';
import type { ThroughputFigures } from '../harness/workloads.js';
import { barChartSvg, compactNumber, curveChartSvg, type BarPanel, type CurvePanel } from './svg.js';
import type { SystemDescription, SystemId } from './system.js';
import { CURVE_QUANTILES, type PeerLatencyFigures, type PublishFigures } from './workloads.js';

export const PeerWorkload = { publish: 'publish', consume: 'consume', latency: 'latency' } as const;
export type PeerWorkload = (typeof PeerWorkload)[keyof typeof PeerWorkload];

interface RunBase {
  readonly system: SystemId;
  /** 1-based. */
  readonly repeat: number;
  /** Groups the runs that are compared: e.g. "publish 1 KiB", "latency 5,000 msgs/s". */
  readonly caseName: string;
  readonly cpu: ResourceUse;
}

export interface PublishRun extends RunBase {
  readonly workload: 'publish';
  readonly valueBytes: number;
  readonly windowMessages: number;
  readonly figures: PublishFigures;
}

export interface ConsumeRun extends RunBase {
  readonly workload: 'consume';
  readonly valueBytes: number;
  readonly figures: ThroughputFigures;
}

export interface LatencyRun extends RunBase {
  readonly workload: 'latency';
  readonly valueBytes: number;
  readonly ratePerSecond: number;
  readonly figures: PeerLatencyFigures;
}

export type PeerRun = PublishRun | ConsumeRun | LatencyRun;

export interface SystemInfo {
  readonly id: SystemId;
  readonly label: string;
  readonly mainThreadMeaningful: boolean;
  readonly description: SystemDescription;
}

export interface PeersEnvironment {
  readonly date: string;
  readonly mode: string;
  readonly command: string;
  readonly durationSeconds: number;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly commit: string;
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
  readonly repeats: number;
  readonly fsync: LatencySummary;
  /** What the plan ran: durations, windows. */
  readonly plan: Readonly<Record<string, string | number | readonly number[]>>;
}

export interface PeersReport {
  readonly environment: PeersEnvironment;
  readonly systems: readonly SystemInfo[];
  readonly runs: readonly PeerRun[];
  readonly summary: readonly SummaryRow[];
}

/** One metric of one case: each system's median and spread, and StreamBus/peer ratios. */
export interface SummaryRow {
  readonly caseName: string;
  readonly metric: string;
  /** Which way is better, for reading the ratio. */
  readonly better: 'higher' | 'lower';
  readonly bySystem: Readonly<Partial<Record<SystemId, Spread>>>;
  /** "streambus/nats" → spread of per-repeat ratios. */
  readonly ratios: Readonly<Record<string, Spread>>;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export const SYSTEM_COLORS: Readonly<Record<SystemId, string>> = {
  streambus: '#1f5fa8',
  'streambus-interval': '#6fa8dc',
  'streambus-kafkajs': '#8e6fbf',
  nats: '#2e9d4a',
  'nats-inbox': '#8cc63f',
  redis: '#d0392b',
};

export function spreadOf(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  return { median: median(finite), min: finite.length > 0 ? Math.min(...finite) : Number.NaN, max: finite.length > 0 ? Math.max(...finite) : Number.NaN, n: finite.length };
}

interface MetricDef {
  readonly metric: string;
  readonly better: 'higher' | 'lower';
  readonly value: (run: PeerRun) => number;
}

// MB/s is msgs/s × the value size: the per-case tables and the JSON carry it, the summary does not repeat it.
const throughputMetrics: readonly MetricDef[] = [{ metric: 'msgs/s', better: 'higher', value: (r) => (r.workload === 'latency' ? Number.NaN : r.figures.messagesPerSecond) }];

const latencyMetrics: readonly MetricDef[] = [
  { metric: 'ack p50 ms', better: 'lower', value: (r) => (r.workload === 'latency' ? r.figures.ack.p50Ms : Number.NaN) },
  { metric: 'ack p99 ms', better: 'lower', value: (r) => (r.workload === 'latency' ? r.figures.ack.p99Ms : Number.NaN) },
  { metric: 'ack p99.9 ms', better: 'lower', value: (r) => (r.workload === 'latency' ? r.figures.ack.p999Ms : Number.NaN) },
  { metric: 'e2e p50 ms', better: 'lower', value: (r) => (r.workload === 'latency' ? r.figures.endToEnd.p50Ms : Number.NaN) },
  { metric: 'e2e p99 ms', better: 'lower', value: (r) => (r.workload === 'latency' ? r.figures.endToEnd.p99Ms : Number.NaN) },
  { metric: 'e2e p99.9 ms', better: 'lower', value: (r) => (r.workload === 'latency' ? r.figures.endToEnd.p999Ms : Number.NaN) },
];

/** Case names in report order. */
export function caseNames(runs: readonly PeerRun[]): string[] {
  const order: PeerWorkload[] = ['publish', 'consume', 'latency'];
  const seen = new Map<string, PeerRun>();
  for (const run of runs) if (!seen.has(run.caseName)) seen.set(run.caseName, run);
  return [...seen.values()]
    .sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload) || caseRank(b) - caseRank(a))
    .map((r) => r.caseName);
}

/** Larger values first for throughput (1 KiB before 100 B), lower rates first for latency. */
function caseRank(run: PeerRun): number {
  return run.workload === 'latency' ? -run.ratePerSecond : run.valueBytes;
}

/** StreamBus rows (native, interval fsync, through kafkajs) as opposed to peers. */
export function isStreamBusSide(id: SystemId): boolean {
  return id === 'streambus' || id === 'streambus-interval' || id === 'streambus-kafkajs';
}

/** Medians, spreads and within-repeat ratios (StreamBus variants over each peer). */
export function summarize(runs: readonly PeerRun[], systems: readonly SystemId[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const streambusSides = systems.filter(isStreamBusSide);
  const peers = systems.filter((s) => !isStreamBusSide(s));
  for (const caseName of caseNames(runs)) {
    const inCase = runs.filter((r) => r.caseName === caseName);
    const metrics = inCase[0]?.workload === 'latency' ? latencyMetrics : throughputMetrics;
    for (const def of metrics) {
      const bySystem: Partial<Record<SystemId, Spread>> = {};
      for (const system of systems) {
        const values = inCase.filter((r) => r.system === system && r.figures.errors === 0).map(def.value);
        if (values.length > 0) bySystem[system] = spreadOf(values);
      }
      const ratios: Record<string, Spread> = {};
      for (const ours of streambusSides) {
        for (const peer of peers) {
          const perRepeat: number[] = [];
          for (const run of inCase.filter((r) => r.system === ours && r.figures.errors === 0)) {
            const other = inCase.find((r) => r.system === peer && r.repeat === run.repeat && r.figures.errors === 0);
            if (other !== undefined) perRepeat.push(def.value(run) / def.value(other));
          }
          if (perRepeat.length > 0) ratios[`${ours}/${peer}`] = spreadOf(perRepeat);
        }
      }
      rows.push({ caseName, metric: def.metric, better: def.better, bySystem, ratios });
    }
  }
  return rows;
}

const fmtNumber = (v: number): string => {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
};
const fmtPct = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(0)} %` : '-');
const fmtRatio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '-');

export function formatSpread(spread: Spread | undefined): string {
  if (spread === undefined || spread.n === 0) return '-';
  if (spread.n === 1) return fmtNumber(spread.median);
  return `${fmtNumber(spread.median)} (${fmtNumber(spread.min)}–${fmtNumber(spread.max)})`;
}

function formatRatio(spread: Spread | undefined): string {
  if (spread === undefined || spread.n === 0) return '-';
  if (spread.n === 1) return fmtRatio(spread.median);
  return `${fmtRatio(spread.median)} (${fmtRatio(spread.min)}–${fmtRatio(spread.max)})`;
}

function table(header: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** The headline table: one row per case and metric, a column per system, then `ours` ÷ each peer. */
export function summaryTable(report: Pick<PeersReport, 'summary' | 'systems'>, ours: SystemId = 'streambus'): string {
  const systems = report.systems;
  const ratioKeys = [...new Set(report.summary.flatMap((r) => Object.keys(r.ratios)))].filter((k) => k.startsWith(`${ours}/`));
  const label = (id: SystemId): string => systems.find((s) => s.id === id)?.label ?? id;
  const ratioHeader = (key: string): string => {
    const [ours = '', peer = ''] = key.split('/');
    return `${label(ours as SystemId)} / ${label(peer as SystemId)}`;
  };
  const rows = report.summary.map((r) => [`${r.caseName}, ${r.metric} (${r.better} is better)`, ...systems.map((s) => formatSpread(r.bySystem[s.id])), ...ratioKeys.map((k) => formatRatio(r.ratios[k]))]);
  return table(['case, metric', ...systems.map((s) => s.label), ...ratioKeys.map(ratioHeader)], ['l', ...systems.map(() => 'r' as const), ...ratioKeys.map(() => 'r' as const)], rows);
}

/** Only the ratios of `ours` ÷ each peer, one row per case and metric. */
export function ratioTable(report: Pick<PeersReport, 'summary' | 'systems'>, ours: SystemId): string {
  const keys = [...new Set(report.summary.flatMap((r) => Object.keys(r.ratios)))].filter((k) => k.startsWith(`${ours}/`));
  const label = (id: string): string => report.systems.find((s) => s.id === id)?.label ?? id;
  return table(
    ['case, metric', ...keys.map((k) => `${label(ours)} / ${label(k.split('/')[1] ?? '')}`)],
    ['l', ...keys.map(() => 'r' as const)],
    report.summary.map((r) => [`${r.caseName}, ${r.metric}`, ...keys.map((k) => formatRatio(r.ratios[k]))]),
  );
}

/**
 * A coarse reading of the CPU columns: which side was busy. On 2 cores a Node or Redis event loop
 * near one core is saturated; a Go server can use both; a busy machine (everything together near
 * 2 cores) means the parts competed for CPU.
 */
export function busiestSide(run: PeerRun, system: SystemInfo, nproc: number): string {
  const cpu = run.cpu;
  const total = cpu.serverCorePct + cpu.clientCorePct + cpu.otherCorePct;
  const notes: string[] = [];
  if (system.mainThreadMeaningful && cpu.serverMainThreadCorePct >= 85) notes.push('server event loop saturated');
  else if (cpu.serverCorePct >= 85 * Math.min(nproc, 2) * 0.9) notes.push('server uses ~all cores');
  if (cpu.clientCorePct >= 85) notes.push('client saturated');
  if (notes.length === 0 && total >= 90 * nproc) notes.push('machine busy (all cores)');
  if (notes.length === 0) notes.push(cpu.serverCorePct >= cpu.clientCorePct ? 'server busier, not saturated' : 'client busier, not saturated');
  return notes.join('; ');
}

function medianCpu(runs: readonly PeerRun[], pick: (cpu: ResourceUse) => number): number {
  return median(runs.map((r) => pick(r.cpu)));
}

/** Per case: each system's median figures and median CPU (server, its main thread, client, other). */
export function detailTables(report: PeersReport): string {
  const parts: string[] = [];
  const { runs, systems } = report;
  for (const caseName of caseNames(runs)) {
    const inCase = runs.filter((r) => r.caseName === caseName);
    const workload = inCase[0]!.workload;
    const rows: string[][] = [];
    for (const system of systems) {
      const mine = inCase.filter((r) => r.system === system.id);
      if (mine.length === 0) continue;
      const errors = mine.reduce((n, r) => n + r.figures.errors, 0);
      const cpuCells = [
        `${fmtPct(medianCpu(mine, (c) => c.serverCorePct))}${system.mainThreadMeaningful ? ` (${fmtPct(medianCpu(mine, (c) => c.serverMainThreadCorePct))})` : ''}`,
        fmtPct(medianCpu(mine, (c) => c.clientCorePct)),
        fmtPct(medianCpu(mine, (c) => c.otherCorePct)),
      ];
      const busy = [...new Set(mine.map((r) => busiestSide(r, system, report.environment.nproc)))].join(' / ');
      if (workload === 'latency') {
        const lat = mine.filter((r): r is LatencyRun => r.workload === 'latency');
        rows.push([
          system.label,
          formatSpread(spreadOf(lat.map((r) => r.figures.achievedPerSecond))),
          formatSpread(spreadOf(lat.map((r) => r.figures.ack.p50Ms))),
          formatSpread(spreadOf(lat.map((r) => r.figures.ack.p99Ms))),
          formatSpread(spreadOf(lat.map((r) => r.figures.ack.p999Ms))),
          formatSpread(spreadOf(lat.map((r) => r.figures.ack.maxMs))),
          formatSpread(spreadOf(lat.map((r) => r.figures.endToEnd.p50Ms))),
          formatSpread(spreadOf(lat.map((r) => r.figures.endToEnd.p99Ms))),
          formatSpread(spreadOf(lat.map((r) => r.figures.endToEnd.p999Ms))),
          formatSpread(spreadOf(lat.map((r) => r.figures.sendLag.p99Ms))),
          ...cpuCells,
          busy,
          String(errors),
        ]);
      } else {
        const thr = mine.filter((r): r is PublishRun | ConsumeRun => r.workload !== 'latency');
        const disk = median(thr.map((r) => (r.figures.bytes > 0 ? r.cpu.serverDiskWriteBytes / r.figures.bytes : Number.NaN)));
        rows.push([
          system.label,
          formatSpread(spreadOf(thr.map((r) => r.figures.messagesPerSecond))),
          formatSpread(spreadOf(thr.map((r) => r.figures.megabytesPerSecond))),
          fmtNumber(median(thr.map((r) => r.figures.messages))),
          ...cpuCells,
          Number.isFinite(disk) ? disk.toFixed(2) : '-',
          busy,
          String(errors),
        ]);
      }
    }
    parts.push(`#### ${caseName}`, '');
    if (workload === 'latency') {
      parts.push(
        table(
          ['system', 'acked msgs/s', 'ack p50', 'ack p99', 'ack p99.9', 'ack max', 'e2e p50', 'e2e p99', 'e2e p99.9', 'send lag p99', 'server CPU (main thread)', 'client CPU', 'other CPU', 'which side was busy', 'errors'],
          ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
          rows,
        ),
      );
    } else {
      parts.push(
        table(
          ['system', 'msgs/s', 'MB/s', 'messages', 'server CPU (main thread)', 'client CPU', 'other CPU', 'disk bytes / payload', 'which side was busy', 'errors'],
          ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
          rows,
        ),
      );
    }
    parts.push('');
  }
  return parts.join('\n');
}

/** Every run, for the record (the JSON has all figures). */
export function runsTable(report: PeersReport): string {
  const label = (id: SystemId): string => report.systems.find((s) => s.id === id)?.label ?? id;
  return table(
    ['repeat', 'case', 'system', 'result', 'server CPU', 'client CPU', 'other CPU', 'errors'],
    ['r', 'l', 'l', 'l', 'r', 'r', 'r', 'l'],
    report.runs.map((r) => [
      String(r.repeat),
      r.caseName,
      label(r.system),
      r.workload === 'latency'
        ? `ack p50/p99/p99.9 ${fmtNumber(r.figures.ack.p50Ms)}/${fmtNumber(r.figures.ack.p99Ms)}/${fmtNumber(r.figures.ack.p999Ms)} ms; e2e ${fmtNumber(r.figures.endToEnd.p50Ms)}/${fmtNumber(r.figures.endToEnd.p99Ms)}/${fmtNumber(r.figures.endToEnd.p999Ms)} ms`
        : `${fmtNumber(r.figures.messagesPerSecond)} msgs/s, ${fmtNumber(r.figures.megabytesPerSecond)} MB/s`,
      fmtPct(r.cpu.serverCorePct),
      fmtPct(r.cpu.clientCorePct),
      fmtPct(r.cpu.otherCorePct),
      r.figures.errors === 0 ? '0' : `${r.figures.errors}: ${r.figures.firstError ?? ''}`,
    ]),
  );
}

/** Throughput bars: one panel per publish/consume case, a bar per system. */
export function throughputSvg(report: PeersReport): string | undefined {
  const panels: BarPanel[] = [];
  for (const caseName of caseNames(report.runs)) {
    const inCase = report.runs.filter((r): r is PublishRun | ConsumeRun => r.caseName === caseName && r.workload !== 'latency');
    if (inCase.length === 0) continue;
    panels.push({
      title: caseName,
      unit: 'msgs/s',
      bars: report.systems
        .filter((s) => inCase.some((r) => r.system === s.id))
        .map((s) => {
          const mine = inCase.filter((r) => r.system === s.id && r.figures.errors === 0);
          const rate = spreadOf(mine.map((r) => r.figures.messagesPerSecond));
          const mb = median(mine.map((r) => r.figures.megabytesPerSecond));
          return { label: s.label, color: SYSTEM_COLORS[s.id], value: rate.median, min: rate.min, max: rate.max, caption: compactNumber(rate.median), subcaption: `${fmtNumber(mb)} MB/s` };
        }),
    });
  }
  if (panels.length === 0) return undefined;
  return barChartSvg(`Throughput, 1 partition / stream, ${report.environment.repeats} repeat(s) (${report.environment.date.slice(0, 10)})`, panels);
}

/** Latency percentile curves: one panel per rate; ack solid, end-to-end dashed, per system. */
export function latencySvg(report: PeersReport): string | undefined {
  const panels: CurvePanel[] = [];
  for (const caseName of caseNames(report.runs)) {
    const inCase = report.runs.filter((r): r is LatencyRun => r.caseName === caseName && r.workload === 'latency');
    if (inCase.length === 0) continue;
    const series = report.systems
      .filter((s) => inCase.some((r) => r.system === s.id))
      .flatMap((s) => {
        const mine = inCase.filter((r) => r.system === s.id);
        // The median over repeats at each quantile.
        const curve = (pick: (r: LatencyRun) => readonly number[]): number[] => CURVE_QUANTILES.map((_, i) => median(mine.map((r) => pick(r)[i] ?? Number.NaN)));
        return [
          { label: `${s.label} ack`, color: SYSTEM_COLORS[s.id], dashed: false, valuesMs: curve((r) => r.figures.ackCurveMs) },
          { label: `${s.label} end-to-end`, color: SYSTEM_COLORS[s.id], dashed: true, valuesMs: curve((r) => r.figures.endToEndCurveMs) },
        ];
      });
    panels.push({ title: caseName, series });
  }
  if (panels.length === 0) return undefined;
  const shown = report.systems.filter((s) => report.runs.some((r) => r.workload === 'latency' && r.system === s.id));
  const legend = [
    ...shown.map((s) => ({ label: s.label, color: SYSTEM_COLORS[s.id], dashed: false })),
    { label: 'solid: publish → ack', color: '#888', dashed: false, strokeWidth: 2 },
    { label: 'dashed: publish → tailing reader', color: '#888', dashed: true },
  ];
  return curveChartSvg(`Latency from intended send time, 1 KiB messages (median of ${report.environment.repeats} repeat(s) per percentile)`, CURVE_QUANTILES, panels, legend);
}

export interface ReportFiles {
  /** File names (not paths) of the plots, to link from the markdown. */
  readonly throughputSvg?: string | undefined;
  readonly latencySvg?: string | undefined;
}

export function environmentLines(env: PeersEnvironment): string[] {
  return [
    `- machine: ${env.nproc} cores (${env.cpuModel}), ${env.memoryGiB.toFixed(0)} GiB RAM; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\` (${env.mode}, ${env.repeats} repeat(s), ${env.durationSeconds.toFixed(0)} s in all)`,
    `- load average (1/5/15 min) at start ${env.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}`,
    `- disk: 4 KiB write + fdatasync in the temp filesystem (every data directory is there), p50 ${fmtNumber(env.fsync.p50Ms)} ms, p99 ${fmtNumber(env.fsync.p99Ms)} ms (${env.fsync.count} probes)`,
    `- plan: ${Object.entries(env.plan).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('/') : String(v)}`).join(', ')}`,
  ];
}

export function markdownReport(report: PeersReport, files: ReportFiles): string {
  const env = report.environment;
  const errors = report.runs.filter((r) => r.figures.errors > 0);
  return [
    `# StreamBus vs NATS JetStream vs Redis Streams, ${env.date} (${env.mode})`,
    '',
    ...environmentLines(env),
    '',
    '## Systems and what an acknowledgement means',
    '',
    ...report.systems.flatMap((s) => [`- **${s.label}** (${s.description.version}): ${s.description.startedWith}.`, `  - ack: ${s.description.ackMeans}.`, `  - client: ${s.description.client}.`]),
    '',
    'All servers run on 127.0.0.1 with their own temp data directory, one partition / stream per run, and stay up for the whole',
    'run (idle ones count in "other CPU"). The client side of every system runs in the benchmark process (Node).',
    '',
    '## Summary (medians of the repeats, min–max in parentheses)',
    '',
    'Ratios are StreamBus ÷ peer, computed within each repeat, then the median (min–max) of those: for throughput above 1× means',
    'StreamBus is faster; for latency above 1× means StreamBus is slower.',
    '',
    summaryTable(report),
    '',
    ...(report.systems.some((s) => s.id === 'streambus-interval') && report.systems.some((s) => s.id === 'streambus')
      ? ['The same for StreamBus with durability=interval (acknowledged before fsync, like the peers):', '', ratioTable(report, 'streambus-interval'), '']
      : []),
    ...(files.throughputSvg === undefined ? [] : [`![throughput](${files.throughputSvg})`, '']),
    ...(files.latencySvg === undefined ? [] : [`![latency percentiles](${files.latencySvg})`, '']),
    '## Per case, with CPU',
    '',
    'CPU is percent of one core over the measured period (200 % = both cores): the server process (with its forks for Redis;',
    'in parentheses its main thread, the event loop, for Node and Redis), the client (this benchmark process) and "other" (the rest',
    'of the machine, including the idle servers of the other systems and anyone else using the box). "disk bytes / payload" =',
    'bytes the server wrote to disk during the run ÷ value bytes. "which side was busy" is a coarse reading of those columns.',
    '',
    detailTables(report),
    ...(errors.length > 0 ? ['## Errors', '', ...errors.map((r) => `- repeat ${r.repeat}, ${r.caseName}, ${r.system}: ${r.figures.errors} failed; first: ${r.figures.firstError ?? ''}`), ''] : []),
    '<details><summary>Every run</summary>',
    '',
    runsTable(report),
    '',
    '</details>',
    '',
  ].join('\n');
}
