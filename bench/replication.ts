/**
 * What replication costs (issue 5): acks=all produce throughput and latency with replication
 * factor 3 on a local cluster of three brokers, next to replication factor 1 on one broker, on
 * the same machine in the same run.
 *
 * Both systems are real processes started by test/support/faults/cluster.ts with default settings: three
 * `streambus coordinator` processes and three `streambus broker` processes (RF=3,
 * min.insync.replicas=2: an acknowledgement means every in-sync replica, normally all three, has
 * the batch durably), or three coordinators and one broker (RF=1: the leader's own fsync). The
 * client is the native one in this process, with the native benchmark's workloads
 * (bench/harness/workloads.ts):
 * - throughput: 1 KiB records, acks=all, 256 KiB batches, linger 5 ms, sends not awaited (a window
 *   of 8 MiB in flight), for a fixed time; MB/s of record values;
 * - latency: 1 KiB records at a fixed rate, acks=all, linger 1 ms, measured from each record's
 *   intended send time to its acknowledgement (no coordinated omission): p50 / p99 / p99.9.
 * Each repeat runs both systems on fresh clusters, alternating which goes first; the report gives
 * every run, the medians over the repeats, and RF=3 as a fraction of RF=1, with the CPU the brokers,
 * coordinators and client used.
 *
 * Run: npm run bench:replication -- [--quick | --smoke] [--repeats N] [--partitions N] [--rate R] [--out DIR]
 * Writes bench/results/replication-<date>.md and .json. See bench/README.md.
 */
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { StreamBus } from '../client/index.js';
import { LocalCluster } from '../test/support/faults/cluster.js';
import { writeBenchReport } from './harness/report.js';
import { probeFsync } from './harness/disk.js';
import { cpuModel, gitCommit } from './harness/machine.js';
import { processCpuMs } from './harness/resources.js';
import { median, type LatencySummary } from './harness/stats.js';
import { runLatency, runProduce, type LatencyFigures, type ProduceFigures } from './harness/workloads.js';
import { packageRoot } from './native.js';
import { runWhenInvoked } from './harness/cli.js';

const KIB = 1024;
const MIB = 1024 * KIB;

export const ReplicationBenchMode = { full: 'full', quick: 'quick', smoke: 'smoke' } as const;
export type ReplicationBenchMode = (typeof ReplicationBenchMode)[keyof typeof ReplicationBenchMode];

interface ModePlan {
  readonly repeats: number;
  readonly throughputSeconds: number;
  readonly throughputMaxMessages: number;
  readonly latencySeconds: number;
  readonly latencyRatePerSecond: number;
}

const plans: Record<ReplicationBenchMode, ModePlan> = {
  full: { repeats: 3, throughputSeconds: 5, throughputMaxMessages: 2_000_000, latencySeconds: 5, latencyRatePerSecond: 2_000 },
  quick: { repeats: 3, throughputSeconds: 2, throughputMaxMessages: 1_000_000, latencySeconds: 2, latencyRatePerSecond: 2_000 },
  smoke: { repeats: 1, throughputSeconds: 0.3, throughputMaxMessages: 3_000, latencySeconds: 0.5, latencyRatePerSecond: 500 },
};

/** The two systems: RF=3 on three brokers, RF=1 on one. */
export const Setup = { rf3: 'rf3', rf1: 'rf1' } as const;
export type Setup = (typeof Setup)[keyof typeof Setup];

const setups: Record<Setup, { readonly brokers: number; readonly replicationFactor: number; readonly minInsyncReplicas: number; readonly label: string }> = {
  rf3: { brokers: 3, replicationFactor: 3, minInsyncReplicas: 2, label: 'RF=3, 3 brokers (min.insync.replicas=2)' },
  rf1: { brokers: 1, replicationFactor: 1, minInsyncReplicas: 1, label: 'RF=1, 1 broker' },
};

export interface ReplicationBenchOptions {
  readonly mode: ReplicationBenchMode;
  readonly repeats: number;
  readonly partitions: number;
  readonly latencyRatePerSecond: number;
  readonly outDir: string;
  readonly command: string;
  readonly log: (line: string) => void;
}

/** CPU over one workload, percent of one core. */
export interface CpuUse {
  readonly brokersCorePct: number;
  readonly coordinatorsCorePct: number;
  readonly clientCorePct: number;
}

export interface SetupRun {
  readonly setup: Setup;
  readonly repeat: number;
  readonly throughput: ProduceFigures;
  readonly throughputCpu: CpuUse;
  readonly latency: LatencyFigures;
  readonly latencyCpu: CpuUse;
}

export interface SetupMedians {
  readonly setup: Setup;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly ackP999Ms: number;
  readonly throughputBrokersCorePct: number;
  readonly latencyBrokersCorePct: number;
}

export interface ReplicationBenchReport {
  readonly environment: {
    readonly date: string;
    readonly mode: ReplicationBenchMode;
    readonly command: string;
    readonly nproc: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly commit: string;
    readonly loadAverageStart: readonly number[];
    readonly loadAverageEnd: readonly number[];
    readonly fsync: LatencySummary;
  };
  readonly params: { readonly repeats: number; readonly partitions: number; readonly latencyRatePerSecond: number; readonly throughputSeconds: number; readonly latencySeconds: number };
  readonly runs: readonly SetupRun[];
  readonly medians: readonly SetupMedians[];
  /** RF=3 over RF=1, from the medians. */
  readonly ratios: { readonly throughput: number; readonly ackP50: number; readonly ackP99: number };
}

/** Broker CPU seconds so far, from its metrics (prom-client's process_cpu_seconds_total). */
async function brokerCpuSeconds(cluster: LocalCluster): Promise<number> {
  let total = 0;
  for (const broker of cluster.brokers) {
    const match = /^process_cpu_seconds_total (\S+)$/m.exec(await broker.metrics());
    total += match === null ? Number.NaN : Number(match[1]);
  }
  return total;
}

function coordinatorCpuMs(cluster: LocalCluster): number {
  let total = 0;
  for (const node of cluster.coordinators.nodes) total += node.pid === undefined ? Number.NaN : (processCpuMs(node.pid) ?? Number.NaN);
  return total;
}

/** Runs `work` and measures the CPU every process of the cluster and this one used meanwhile. */
async function metered<T>(cluster: LocalCluster, work: () => Promise<T>): Promise<{ result: T; cpu: CpuUse }> {
  const brokersBefore = await brokerCpuSeconds(cluster);
  const coordinatorsBefore = coordinatorCpuMs(cluster);
  const clientBefore = process.cpuUsage();
  const startedAt = performance.now();
  const result = await work();
  const elapsedMs = performance.now() - startedAt;
  const client = process.cpuUsage(clientBefore);
  const brokersMs = ((await brokerCpuSeconds(cluster)) - brokersBefore) * 1000;
  return {
    result,
    cpu: {
      brokersCorePct: (100 * brokersMs) / elapsedMs,
      coordinatorsCorePct: (100 * (coordinatorCpuMs(cluster) - coordinatorsBefore)) / elapsedMs,
      clientCorePct: (100 * (client.user + client.system)) / 1000 / elapsedMs,
    },
  };
}

async function runSetup(setup: Setup, repeat: number, options: ReplicationBenchOptions, plan: ModePlan): Promise<SetupRun> {
  const spec = setups[setup];
  // The broker harness heartbeats every 500 ms; the product default is 2000.
  const cluster = await LocalCluster.start({ brokers: spec.brokers, brokerSettings: { 'broker.heartbeat.interval.ms': 2000 } });
  const bus = new StreamBus({ brokers: cluster.bootstrap, clientId: `replication-bench-${setup}` });
  try {
    const configs = { 'min.insync.replicas': String(spec.minInsyncReplicas) };
    const partitions = options.partitions;
    await cluster.createTopic({ name: 'bench-throughput', partitions, replicationFactor: spec.replicationFactor, configs });
    await cluster.createTopic({ name: 'bench-latency', partitions, replicationFactor: spec.replicationFactor, configs });
    const throughput = await metered(cluster, () =>
      runProduce(bus, {
        topic: 'bench-throughput',
        partitions,
        valueBytes: KIB,
        batchBytes: 256 * KIB,
        lingerMs: 5,
        maxMessages: plan.throughputMaxMessages,
        maxSeconds: plan.throughputSeconds,
        windowBytes: 8 * MIB,
      }),
    );
    const latency = await metered(cluster, () =>
      runLatency(bus, {
        topic: 'bench-latency',
        partitions,
        valueBytes: KIB,
        ratePerSecond: options.latencyRatePerSecond,
        seconds: plan.latencySeconds,
        lingerMs: 1,
        tail: false,
        drainSeconds: 15,
      }),
    );
    const run: SetupRun = { setup, repeat, throughput: throughput.result, throughputCpu: throughput.cpu, latency: latency.result, latencyCpu: latency.cpu };
    options.log(
      `repeat ${repeat + 1}, ${spec.label}: ${fmt(run.throughput.messagesPerSecond, 0)} msgs/s (${fmt(run.throughput.megabytesPerSecond, 1)} MB/s); ` +
        `at ${options.latencyRatePerSecond}/s ack p50 ${fmt(run.latency.ack.p50Ms)} ms, p99 ${fmt(run.latency.ack.p99Ms)} ms; errors ${run.throughput.errors + run.latency.errors}`,
    );
    return run;
  } finally {
    await bus.close();
    await cluster.dispose();
  }
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function mediansOf(setup: Setup, runs: readonly SetupRun[]): SetupMedians {
  const mine = runs.filter((r) => r.setup === setup);
  return {
    setup,
    messagesPerSecond: median(mine.map((r) => r.throughput.messagesPerSecond)),
    megabytesPerSecond: median(mine.map((r) => r.throughput.megabytesPerSecond)),
    ackP50Ms: median(mine.map((r) => r.latency.ack.p50Ms)),
    ackP99Ms: median(mine.map((r) => r.latency.ack.p99Ms)),
    ackP999Ms: median(mine.map((r) => r.latency.ack.p999Ms)),
    throughputBrokersCorePct: median(mine.map((r) => r.throughputCpu.brokersCorePct)),
    latencyBrokersCorePct: median(mine.map((r) => r.latencyCpu.brokersCorePct)),
  };
}

export async function runReplicationBench(options: ReplicationBenchOptions): Promise<ReplicationBenchReport> {
  const plan = plans[options.mode];
  const startedAt = new Date();
  const loadAverageStart = loadavg();
  const fsync = probeFsync({ dir: tmpdir(), writes: options.mode === 'smoke' ? 20 : 200, writeBytes: 4096, maxMs: options.mode === 'smoke' ? 300 : 2000 });
  options.log(`fsync probe: p50 ${fmt(fsync.p50Ms)} ms, p99 ${fmt(fsync.p99Ms)} ms`);
  const runs: SetupRun[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const order: Setup[] = repeat % 2 === 0 ? ['rf3', 'rf1'] : ['rf1', 'rf3'];
    for (const setup of order) runs.push(await runSetup(setup, repeat, options, plan));
  }
  const medians = [mediansOf('rf3', runs), mediansOf('rf1', runs)];
  const [rf3, rf1] = medians as [SetupMedians, SetupMedians];
  const report: ReplicationBenchReport = {
    environment: {
      date: startedAt.toISOString(),
      mode: options.mode,
      command: options.command,
      nproc: availableParallelism(),
      cpuModel: cpuModel(),
      node: process.version,
      commit: gitCommit(packageRoot()),
      loadAverageStart,
      loadAverageEnd: loadavg(),
      fsync,
    },
    params: {
      repeats: options.repeats,
      partitions: options.partitions,
      latencyRatePerSecond: options.latencyRatePerSecond,
      throughputSeconds: plan.throughputSeconds,
      latencySeconds: plan.latencySeconds,
    },
    runs,
    medians,
    ratios: {
      throughput: rf3.megabytesPerSecond / rf1.megabytesPerSecond,
      ackP50: rf3.ackP50Ms / rf1.ackP50Ms,
      ackP99: rf3.ackP99Ms / rf1.ackP99Ms,
    },
  };
  const tags = options.mode === 'full' ? [] : [options.mode];
  writeBenchReport({ outDir: options.outDir, name: 'replication', tags, startedAt, json: report, markdown: replicationMarkdown(report), log: options.log });
  return report;
}

export function replicationMarkdown(report: ReplicationBenchReport): string {
  const env = report.environment;
  const p = report.params;
  const cpu = (c: CpuUse): string => `${fmt(c.brokersCorePct, 0)} % / ${fmt(c.coordinatorsCorePct, 0)} % / ${fmt(c.clientCorePct, 0)} %`;
  const errors = report.runs.filter((r) => r.throughput.errors + r.latency.errors > 0);
  return [
    `# StreamBus replication benchmark, ${env.date} (${env.mode})`,
    '',
    `- machine: ${env.nproc} cores, ${env.cpuModel}; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\``,
    `- systems, each on fresh processes per repeat, default settings (durability=group: nothing is acknowledged before its fsync): ${setups.rf3.label}; ${setups.rf1.label}; both with three coordinator processes`,
    `- topics: ${p.partitions} partitions; 1 KiB incompressible values, no keys; native client in this process, acks=all`,
    `- throughput: 256 KiB batches, linger 5 ms, 8 MiB of sends in flight, ${p.throughputSeconds} s; latency: ${p.latencyRatePerSecond} records/s for ${p.latencySeconds} s, linger 1 ms, from each record's intended send time to its acknowledgement`,
    `- ${p.repeats} repeats, the two systems alternating which runs first; medians over the repeats`,
    `- load average at start ${env.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}`,
    `- disk: 4 KiB write + fdatasync in the temp filesystem, p50 ${fmt(env.fsync.p50Ms)} ms, p99 ${fmt(env.fsync.p99Ms)} ms`,
    '- CPU: percent of one core over the workload, brokers (all) / coordinators (all) / client.',
    '',
    '### Medians',
    '',
    '| system | msgs/s | MB/s | broker CPU | ack p50 | ack p99 | ack p99.9 | broker CPU at fixed rate |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...report.medians.map(
      (m) =>
        `| ${setups[m.setup].label} | ${fmt(m.messagesPerSecond, 0)} | ${fmt(m.megabytesPerSecond, 1)} | ${fmt(m.throughputBrokersCorePct, 0)} % | ${fmt(m.ackP50Ms)} ms | ${fmt(m.ackP99Ms)} ms | ${fmt(m.ackP999Ms)} ms | ${fmt(m.latencyBrokersCorePct, 0)} % |`,
    ),
    '',
    `RF=3 against RF=1: throughput × ${fmt(report.ratios.throughput)}, ack p50 × ${fmt(report.ratios.ackP50)}, ack p99 × ${fmt(report.ratios.ackP99)}.`,
    '',
    '### Runs',
    '',
    '| repeat | system | msgs/s | MB/s | CPU (throughput) | sent at fixed rate | ack p50 | ack p99 | ack p99.9 | max | CPU (fixed rate) | errors |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.runs.map(
      (r) =>
        `| ${r.repeat + 1} | ${setups[r.setup].label} | ${fmt(r.throughput.messagesPerSecond, 0)} | ${fmt(r.throughput.megabytesPerSecond, 1)} | ${cpu(r.throughputCpu)} | ${r.latency.sent} | ` +
        `${fmt(r.latency.ack.p50Ms)} | ${fmt(r.latency.ack.p99Ms)} | ${fmt(r.latency.ack.p999Ms)} | ${fmt(r.latency.ack.maxMs)} | ${cpu(r.latencyCpu)} | ${r.throughput.errors + r.latency.errors} |`,
    ),
    '',
    ...(errors.length > 0
      ? ['### Errors', '', ...errors.map((r) => `- repeat ${r.repeat + 1}, ${setups[r.setup].label}: ${r.throughput.firstError ?? r.latency.firstError ?? ''}`), '']
      : []),
  ].join('\n');
}

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return value;
}

function parseCommandLine(argv: readonly string[]): ReplicationBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      repeats: { type: 'string' },
      partitions: { type: 'string' },
      rate: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/replication.js [--quick | --smoke] [--repeats N] [--partitions N] [--rate R] [--out DIR]\n');
    process.exit(0);
  }
  const mode: ReplicationBenchMode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const plan = plans[mode];
  return {
    mode,
    repeats: positiveInteger(values.repeats, 'repeats', plan.repeats),
    partitions: positiveInteger(values.partitions, 'partitions', 3),
    latencyRatePerSecond: positiveInteger(values.rate, 'rate', plan.latencyRatePerSecond),
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    command: ['node dist/bench/replication.js', ...argv].join(' '),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const report = await runReplicationBench(parseCommandLine(process.argv.slice(2)));
  process.stdout.write('\n' + replicationMarkdown(report) + '\n');
}

runWhenInvoked(import.meta.url, main);
