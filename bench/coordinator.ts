/**
 * Benchmark of the coordinator group: metadata write throughput and latency on three real
 * `streambus coordinator` processes on 127.0.0.1 (test/support/coordinator-cluster.ts).
 *
 * The workload is the one issue 4 names: alter-configs of one topic, each write a new value (so
 * each is one committed metadata record), sent through the CoordinatorClient with a window of
 * writes in flight (pipelined on one connection to the leader; the leader's Raft host batches
 * what arrives together into one append and one fsync). After a warm-up it writes for a fixed
 * time and reports writes/s and the latency of each write from send to acknowledgement (committed
 * on a quorum and applied on the leader). Each repeat starts a fresh cluster; the report gives
 * every repeat and the medians, and checks them against the targets (p99 ≤ 15 ms, ≥ 3,000 writes/s).
 *
 * With --profile DIR every node runs under `node --cpu-prof` and is stopped with SIGTERM at the end
 * of each repeat (so V8 writes its profile), the client is sampled in-process over the measured
 * period, and the report gains the self-time tables of the leader, one follower and the client.
 *
 * Run: npm run build && node dist/bench/coordinator.js [--quick | --smoke] [--window N]
 *      [--seconds S] [--repeats N] [--set key=value ...] [--out DIR] [--profile DIR] [--node-arg ARG ...]
 * Writes bench/results/coordinator-<date>.md and .json. See bench/README.md.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CoordinatorClient } from '../client/index.js';
import { CoordinatorCluster, registerPaperBroker } from '../test/support/coordinator-cluster.js';
import { writeBenchReport } from './harness/report.js';
import { probeFsync } from './harness/disk.js';
import { cpuModel, gitCommit } from './harness/machine.js';
import { InProcessProfiler, formatProfileSummary, summarizeProfile, type CpuProfile } from './harness/profile.js';
import type { TargetCheck } from './harness/report.js';
import { processCpuMs } from './harness/resources.js';
import { median, summarizeLatencies, type LatencySummary } from './harness/stats.js';
import { packageRoot } from './native.js';
import { positiveNumber, runWhenInvoked } from './harness/cli.js';

export const CoordinatorBenchMode = { full: 'full', quick: 'quick', smoke: 'smoke' } as const;
export type CoordinatorBenchMode = (typeof CoordinatorBenchMode)[keyof typeof CoordinatorBenchMode];

interface ModePlan {
  readonly repeats: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

const plans: Record<CoordinatorBenchMode, ModePlan> = {
  full: { repeats: 3, seconds: 10, warmupSeconds: 2 },
  quick: { repeats: 3, seconds: 3, warmupSeconds: 1 },
  smoke: { repeats: 1, seconds: 0.5, warmupSeconds: 0.2 },
};

const TOPIC = 'bench-configs';
/** Latency samples kept per run; beyond this the run still counts writes but stops sampling. */
const MAX_SAMPLES = 4_000_000;
const TARGET_P99_MS = 15;
const TARGET_WRITES_PER_SECOND = 3_000;

export interface CoordinatorBenchOptions {
  readonly mode: CoordinatorBenchMode;
  /** Writes in flight at once. */
  readonly window: number;
  readonly seconds: number;
  readonly repeats: number;
  readonly settings: Readonly<Record<string, string>>;
  readonly outDir: string;
  /** When set, CPU profiles of every node and the client go here (one sub-directory per repeat). */
  readonly profileDir?: string | undefined;
  /** Extra arguments for node itself in every coordinator process (e.g. V8 flags), for experiments. */
  readonly nodeArgs?: readonly string[];
  readonly command: string;
  readonly log: (line: string) => void;
}

export interface CoordinatorRun {
  readonly writes: number;
  readonly seconds: number;
  readonly writesPerSecond: number;
  readonly latency: LatencySummary;
  readonly errors: number;
  readonly firstError?: string | undefined;
  /** Percent of one core over the measured period. */
  readonly leaderCorePct: number;
  readonly followerCorePct: readonly number[];
  readonly clientCorePct: number;
  readonly leaderId: number;
}

export interface CoordinatorBenchReport {
  readonly environment: {
    readonly date: string;
    readonly mode: CoordinatorBenchMode;
    readonly command: string;
    readonly nproc: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly commit: string;
    readonly loadAverageStart: readonly number[];
    readonly loadAverageEnd: readonly number[];
    readonly settings: Readonly<Record<string, string>>;
    readonly nodeArgs: readonly string[];
    readonly fsync: LatencySummary;
  };
  readonly params: { readonly window: number; readonly seconds: number; readonly repeats: number; readonly nodes: number };
  readonly runs: readonly CoordinatorRun[];
  readonly median: { readonly writesPerSecond: number; readonly p50Ms: number; readonly p99Ms: number; readonly p999Ms: number };
  readonly targets: readonly TargetCheck[];
  /** Self-time tables of the last repeat's profiles (markdown), with --profile. */
  readonly profiles?: string | undefined;
}

/** One repeat: a fresh cluster, warm-up, then `seconds` of writes with `window` in flight. */
async function runOnce(options: CoordinatorBenchOptions, plan: ModePlan, repeat: number): Promise<{ run: CoordinatorRun; profiles?: string }> {
  const profileDir = options.profileDir === undefined ? undefined : path.join(options.profileDir, `repeat-${repeat + 1}`);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const nodeArgs = [...(options.nodeArgs ?? []), ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=500'])];
  const cluster = await CoordinatorCluster.start({ nodes: 3, settings: options.settings, nodeArgs });
  const client = new CoordinatorClient({ bootstrap: cluster.bootstrap, clientId: 'streambus-bench', maxInFlightPerConnection: Math.max(64, options.window), requestTimeoutMs: 30_000 });
  try {
    await registerPaperBroker(client, cluster.clusterId);
    await client.createTopics([{ topic: TOPIC, partitions: 1, replicationFactor: 1 }]);
    const leader = await client.clusterStatus();
    options.log(`repeat ${repeat + 1}: leader is node ${leader.nodeId} (term ${leader.term})`);
    let value = 1_000_000;
    const write = (): Promise<unknown> => client.alterConfigs([{ topic: TOPIC, set: { 'retention.ms': String(value++) } }]);

    await pump(options.window, performance.now() + plan.warmupSeconds * 1000, write, () => undefined);

    const samples = new Float64Array(Math.min(MAX_SAMPLES, Math.ceil(options.seconds * 50_000) + 1_000));
    let count = 0;
    let writes = 0;
    let errors = 0;
    let firstError: string | undefined;
    const pids = new Map(cluster.nodes.map((n) => [n.nodeId, n.pid!]));
    const cpuBefore = new Map([...pids].map(([id, pid]) => [id, processCpuMs(pid) ?? Number.NaN]));
    const clientBefore = process.cpuUsage();
    const profiler = profileDir === undefined ? undefined : new InProcessProfiler();
    profiler?.start();
    const startMs = performance.now();
    await pump(options.window, startMs + options.seconds * 1000, write, (latencyMs, error) => {
      if (error !== undefined) {
        errors++;
        firstError ??= error;
        return;
      }
      writes++;
      if (count < samples.length) samples[count++] = latencyMs;
    });
    const elapsedMs = performance.now() - startMs;
    const clientUsage = process.cpuUsage(clientBefore);
    const clientProfile = profileDir === undefined ? undefined : profiler?.stop(path.join(profileDir, 'client.cpuprofile'));
    const corePct = (id: number): number => (100 * ((processCpuMs(pids.get(id)!) ?? Number.NaN) - cpuBefore.get(id)!)) / elapsedMs;
    const latency = summarizeLatencies(samples, count);
    const run: CoordinatorRun = {
      writes,
      seconds: elapsedMs / 1000,
      writesPerSecond: writes / (elapsedMs / 1000),
      latency,
      errors,
      firstError,
      leaderId: leader.nodeId,
      leaderCorePct: corePct(leader.nodeId),
      followerCorePct: cluster.nodes.filter((n) => n.nodeId !== leader.nodeId).map((n) => corePct(n.nodeId)),
      clientCorePct: (100 * (clientUsage.user + clientUsage.system)) / 1000 / elapsedMs,
    };
    options.log(
      `repeat ${repeat + 1}: ${run.writesPerSecond.toFixed(0)} writes/s, p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms, p99.9 ${latency.p999Ms.toFixed(2)} ms, ${errors} errors`,
    );
    if (profileDir === undefined || clientProfile === undefined) return { run };
    const profiles = await collectProfiles(cluster, profileDir, leader.nodeId, clientProfile, run.writes);
    options.log(`repeat ${repeat + 1}: profiles in ${profileDir}`);
    return { run, profiles };
  } finally {
    await client.close();
    await cluster.dispose();
  }
}

/**
 * Stops every node with SIGTERM (V8 writes a --cpu-prof profile only on a clean exit), names each
 * profile after its role, and summarizes the leader, one follower and the client. Each table is
 * headed with its busy time per write, the figure that says what a write costs that process.
 */
async function collectProfiles(cluster: CoordinatorCluster, dir: string, leaderId: number, client: CpuProfile, writes: number): Promise<string> {
  const roles = new Map<number, string>();
  for (const node of cluster.nodes) {
    if (node.pid === undefined) continue;
    roles.set(node.pid, node.nodeId === leaderId ? 'leader' : `follower-${node.nodeId}`);
  }
  await Promise.all(cluster.nodes.map((n) => n.stop()));
  const files = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const pid = /^CPU\.\d+\.\d+\.(\d+)\./.exec(name)?.[1];
    const role = pid === undefined ? undefined : roles.get(Number(pid));
    if (role === undefined) continue;
    const target = path.join(dir, `${role}.cpuprofile`);
    renameSync(path.join(dir, name), target);
    files.set(role, target);
  }
  const parts = ['### Profiles (last repeat; whole process lifetime for the nodes, the measured period for the client)', ''];
  const table = (title: string, profile: CpuProfile): void => {
    const summary = summarizeProfile(profile, 25);
    const busyUsPerWrite = ((summary.totalMs - summary.idleMs) * 1000) / Math.max(1, writes);
    parts.push(formatProfileSummary(`${title} (${busyUsPerWrite.toFixed(0)} µs busy per measured write)`, summary));
  };
  const leaderFile = files.get('leader');
  const followerFile = [...files].find(([role]) => role.startsWith('follower'))?.[1];
  if (leaderFile !== undefined) table('leader', JSON.parse(readFileSync(leaderFile, 'utf8')) as CpuProfile);
  if (followerFile !== undefined) table(path.basename(followerFile, '.cpuprofile'), JSON.parse(readFileSync(followerFile, 'utf8')) as CpuProfile);
  table('client', client);
  return parts.join('\n');
}

/**
 * Keeps `window` writes in flight until `endMs` (performance.now() clock): each of `window`
 * workers sends the next write as soon as its previous one settles. A closed loop: the latency
 * of a write is its own send-to-ack time.
 */
async function pump(window: number, endMs: number, write: () => Promise<unknown>, done: (latencyMs: number, error: string | undefined) => void): Promise<void> {
  const worker = async (): Promise<void> => {
    while (performance.now() < endMs) {
      const sentMs = performance.now();
      try {
        await write();
        done(performance.now() - sentMs, undefined);
      } catch (error) {
        done(performance.now() - sentMs, error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

function checkTargets(med: CoordinatorBenchReport['median'], runs: readonly CoordinatorRun[]): TargetCheck[] {
  const errors = runs.reduce((sum, r) => sum + r.errors, 0);
  return [
    { target: `metadata write p99 <= ${TARGET_P99_MS} ms (3 nodes)`, measured: `${med.p99Ms.toFixed(2)} ms`, met: med.p99Ms <= TARGET_P99_MS && errors === 0 },
    { target: `metadata writes >= ${TARGET_WRITES_PER_SECOND.toLocaleString('en-US')}/s (3 nodes)`, measured: `${med.writesPerSecond.toFixed(0)}/s`, met: med.writesPerSecond >= TARGET_WRITES_PER_SECOND && errors === 0 },
  ];
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

export function coordinatorMarkdown(report: CoordinatorBenchReport): string {
  const env = report.environment;
  const { params } = report;
  const lines = [
    `# StreamBus coordinator benchmark, ${env.date} (${env.mode})`,
    '',
    `- machine: ${env.nproc} cores, ${env.cpuModel}; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\``,
    `- ${params.nodes} coordinator processes on 127.0.0.1, settings: ${Object.entries(env.settings).map(([k, v]) => `${k}=${v}`).join(', ') || 'defaults'}` +
      (env.nodeArgs.length > 0 ? `, node arguments: ${env.nodeArgs.join(' ')}` : ''),
    `- workload: alter-configs of one topic (a new retention.ms each time), ${params.window} writes in flight, ${params.seconds} s per repeat after a warm-up, ${params.repeats} repeats on fresh clusters`,
    `- latency: send to acknowledgement (committed on a quorum, applied on the leader), ms`,
    `- load average at start ${env.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}`,
    `- disk: 4 KiB write + fdatasync in the temp filesystem, p50 ${fmt(env.fsync.p50Ms)} ms, p99 ${fmt(env.fsync.p99Ms)} ms`,
    '- CPU is percent of one core over the measured period.',
    '',
    '### Runs',
    '',
    '| repeat | writes | writes/s | p50 | p99 | p99.9 | max | leader CPU | follower CPU | client CPU | errors |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.runs.map(
      (r, i) =>
        `| ${i + 1} | ${r.writes} | ${fmt(r.writesPerSecond, 0)} | ${fmt(r.latency.p50Ms)} | ${fmt(r.latency.p99Ms)} | ${fmt(r.latency.p999Ms)} | ${fmt(r.latency.maxMs)} | ${fmt(r.leaderCorePct, 0)} % | ${r.followerCorePct.map((c) => `${fmt(c, 0)} %`).join(', ')} | ${fmt(r.clientCorePct, 0)} % | ${r.errors} |`,
    ),
    '',
    '### Medians',
    '',
    '| writes/s | p50 | p99 | p99.9 |',
    '|---:|---:|---:|---:|',
    `| ${fmt(report.median.writesPerSecond, 0)} | ${fmt(report.median.p50Ms)} | ${fmt(report.median.p99Ms)} | ${fmt(report.median.p999Ms)} |`,
    '',
    '### Targets',
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...report.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ];
  const failed = report.runs.filter((r) => r.firstError !== undefined);
  if (failed.length > 0) lines.push('### Errors', '', ...failed.map((r) => `- ${r.errors} failed; first: ${r.firstError ?? ''}`), '');
  if (report.profiles !== undefined) lines.push(report.profiles, '');
  return lines.join('\n');
}

/** Runs every repeat and writes the report. */
export async function runCoordinatorBench(options: CoordinatorBenchOptions): Promise<CoordinatorBenchReport> {
  const plan = plans[options.mode];
  const startedAt = new Date();
  const loadAverageStart = loadavg();
  const fsync = probeFsync({ dir: tmpdir(), writes: options.mode === 'smoke' ? 20 : 200, writeBytes: 4096, maxMs: options.mode === 'smoke' ? 300 : 2000 });
  options.log(`fsync probe: p50 ${fsync.p50Ms.toFixed(2)} ms, p99 ${fsync.p99Ms.toFixed(2)} ms`);
  const runs: CoordinatorRun[] = [];
  let profiles: string | undefined;
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const outcome = await runOnce(options, plan, repeat);
    runs.push(outcome.run);
    profiles = outcome.profiles ?? profiles;
  }
  const med = {
    writesPerSecond: median(runs.map((r) => r.writesPerSecond)),
    p50Ms: median(runs.map((r) => r.latency.p50Ms)),
    p99Ms: median(runs.map((r) => r.latency.p99Ms)),
    p999Ms: median(runs.map((r) => r.latency.p999Ms)),
  };
  const report: CoordinatorBenchReport = {
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
      settings: options.settings,
      nodeArgs: options.nodeArgs ?? [],
      fsync,
    },
    params: { window: options.window, seconds: options.seconds, repeats: options.repeats, nodes: 3 },
    runs,
    median: med,
    targets: checkTargets(med, runs),
    profiles,
  };
  const tags = [...(options.mode === 'full' ? [] : [options.mode]), ...(options.profileDir === undefined ? [] : ['profile'])];
  writeBenchReport({ outDir: options.outDir, name: 'coordinator', tags, startedAt, json: report, markdown: coordinatorMarkdown(report), log: options.log });
  return report;
}


function parseCommandLine(argv: readonly string[]): CoordinatorBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      window: { type: 'string' },
      seconds: { type: 'string' },
      repeats: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      profile: { type: 'string' },
      'node-arg': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/coordinator.js [--quick | --smoke] [--window N] [--seconds S] [--repeats N] [--set key=value ...] [--out DIR] [--profile DIR] [--node-arg ARG ...]\n');
    process.exit(0);
  }
  const mode: CoordinatorBenchMode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const plan = plans[mode];
  const settings: Record<string, string> = {};
  for (const setting of values.set) {
    const eq = setting.indexOf('=');
    if (eq <= 0) throw new Error(`--set takes key=value, got "${setting}"`);
    settings[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  return {
    mode,
    window: positiveNumber(values.window, 'window', 32, true),
    seconds: positiveNumber(values.seconds, 'seconds', plan.seconds, false),
    repeats: positiveNumber(values.repeats, 'repeats', plan.repeats, true),
    settings,
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    profileDir: values.profile === undefined ? undefined : path.resolve(values.profile),
    nodeArgs: values['node-arg'],
    command: ['node dist/bench/coordinator.js', ...argv].join(' '),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const report = await runCoordinatorBench(parseCommandLine(process.argv.slice(2)));
  process.stdout.write('\n' + coordinatorMarkdown(report) + '\n');
}

runWhenInvoked(import.meta.url, main);
