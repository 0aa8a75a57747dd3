/**
 * Benchmark of the native client against a real `streambus dev` process on 127.0.0.1:
 * produce throughput (acks=all, persisted), consume throughput, and produce-ack / end-to-end
 * latency at fixed rates, with the CPU each side used. Prints tables and writes
 * bench/results/native-<date>.md and .json.
 *
 * Run: npm run bench -- [--quick | --smoke] [--only produce,consume,latency] [--profile]
 *                       [--partitions N] [--no-tail] [--set key=value ...] [--out DIR]
 * (or `npm run build && node dist/bench/native.js ...`). See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StreamBus } from '../client/index.js';
import { formatGcSummary, type GcSummary } from './harness/gc-tally.js';
import { InProcessProfiler, formatProfileSummary, summarizeProfile, type CpuProfile } from './harness/profile.js';
import { environmentLines, markdownReport, resultTables, Workload, type BenchReport, type LatencyRow, type ResultRow, type TargetCheck, type ThroughputRow } from './harness/report.js';
import { probeFsync } from './harness/disk.js';
import { diffRequestLatency, scrapeMetrics } from './harness/metrics.js';
import { ResourceMeter } from './harness/resources.js';
import { startBenchServer } from './harness/server.js';
import { createTopic, runConsume, runLatency, runProduce, type ConsumeMode, type ProduceFigures } from './harness/workloads.js';
import { runWhenInvoked } from './harness/cli.js';

const KIB = 1024;
const MIB = 1024 * 1024;

export const BenchMode = { full: 'full', quick: 'quick', smoke: 'smoke' } as const;
export type BenchMode = (typeof BenchMode)[keyof typeof BenchMode];

interface ModePlan {
  readonly valueSizesBytes: readonly number[];
  readonly batchSizesBytes: readonly number[];
  readonly produceSeconds: number;
  readonly produceMaxMessages: number;
  readonly consumeMaxSeconds: number;
  readonly latencyRatesPerSecond: readonly number[];
  readonly latencySeconds: number;
}

/** What each mode runs. The full plan stays under about 3 minutes, quick about 20 s. */
const plans: Record<BenchMode, ModePlan> = {
  full: {
    valueSizesBytes: [1024, 100],
    batchSizesBytes: [16 * KIB, 256 * KIB, MIB],
    produceSeconds: 5,
    produceMaxMessages: 2_000_000,
    consumeMaxSeconds: 10,
    latencyRatesPerSecond: [5_000, 20_000],
    latencySeconds: 10,
  },
  quick: {
    valueSizesBytes: [1024, 100],
    batchSizesBytes: [16 * KIB, 256 * KIB, MIB],
    produceSeconds: 1,
    produceMaxMessages: 500_000,
    consumeMaxSeconds: 5,
    latencyRatesPerSecond: [5_000, 20_000],
    latencySeconds: 2,
  },
  smoke: {
    valueSizesBytes: [1024, 100],
    batchSizesBytes: [256 * KIB],
    produceSeconds: 0.3,
    produceMaxMessages: 5_000,
    consumeMaxSeconds: 3,
    latencyRatesPerSecond: [5_000, 20_000],
    latencySeconds: 0.4,
  },
};

export interface NativeBenchOptions {
  readonly mode: BenchMode;
  readonly workloads: ReadonlySet<Workload>;
  readonly partitions: number;
  /** Run a tailing consumer during the latency runs (end-to-end latency). */
  readonly tail: boolean;
  readonly profile: boolean;
  readonly outDir: string;
  readonly serverSettings: Readonly<Record<string, string>>;
  /** Echoed into the report. */
  readonly command: string;
  /** Where progress lines go. */
  readonly log: (line: string) => void;
}

/** The folder holding package.json, found upwards from this file (works from bench/ and dist/bench/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bench'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function describeSize(bytes: number): string {
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= KIB && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} B`;
}

function timestamp(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitCommit(rootDir: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: rootDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: rootDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

async function waitForFile(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function checkTargets(results: readonly ResultRow[]): TargetCheck[] {
  const targets: TargetCheck[] = [];
  const produce1k = results.filter((r): r is ThroughputRow => r.workload === 'produce' && r.params.valueBytes === 1024);
  if (produce1k.length > 0) {
    const best = Math.max(...produce1k.map((r) => r.figures.megabytesPerSecond));
    targets.push({ target: 'persisted produce of 1 KiB records >= 200 MB/s (best batch size)', measured: `${best.toFixed(1)} MB/s`, met: best >= 200 });
  }
  const consume = results.filter((r): r is ThroughputRow => r.workload === 'consume');
  if (consume.length > 0) {
    const best = Math.max(...consume.map((r) => r.figures.megabytesPerSecond));
    targets.push({ target: 'consume >= 400 MB/s (best case)', measured: `${best.toFixed(1)} MB/s`, met: best >= 400 });
  }
  const at5k = results.find((r): r is LatencyRow => r.workload === 'latency' && r.params.ratePerSecond === 5_000);
  if (at5k !== undefined) {
    const p99 = at5k.figures.ack.p99Ms;
    targets.push({ target: 'produce-ack p99 <= 5 ms at 5,000 msgs/s of 1 KiB', measured: `${p99.toFixed(2)} ms`, met: p99 <= 5 && at5k.figures.errors === 0 });
  }
  return targets;
}

/** Runs the selected workloads against a fresh server and writes the report. */
export async function runNativeBench(options: NativeBenchOptions): Promise<BenchReport> {
  const plan = plans[options.mode];
  const rootDir = packageRoot();
  const startedAt = new Date();
  const stamp = timestamp(startedAt);
  const loadAverageStart = loadavg();
  const log = options.log;
  const fsync = probeFsync({ dir: tmpdir(), writes: options.mode === 'smoke' ? 20 : 200, writeBytes: 4096, maxMs: options.mode === 'smoke' ? 300 : 2000 });
  log(`fsync probe: p50 ${fsync.p50Ms.toFixed(2)} ms, p99 ${fsync.p99Ms.toFixed(2)} ms, max ${fsync.maxMs.toFixed(2)} ms`);
  const profileDir = options.profile ? path.join(tmpdir(), `streambus-bench-profile-${stamp}`) : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const serverProfileFile = profileDir === undefined ? undefined : path.join(profileDir, 'server.cpuprofile');
  const clientProfileFile = profileDir === undefined ? undefined : path.join(profileDir, 'client.cpuprofile');

  // log.level stays at info: the harness waits for the info-level "streambus ready" line.
  const serverSettings: Record<string, string> = { ...options.serverSettings };
  const server = await startBenchServer({ rootDir, settings: serverSettings, profileFile: serverProfileFile });
  const serverPid = server.child.pid!;
  log(`server pid ${serverPid} at ${server.bootstrap} (data ${server.dataDir})`);
  const bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'streambus-bench' });
  const admin = bus.admin();
  const meter = new ResourceMeter(serverPid);
  const results: ResultRow[] = [];
  const profiler = options.profile ? new InProcessProfiler() : undefined;
  let clientProfile: CpuProfile | undefined;
  let topicSeq = 0;
  const newTopic = async (prefix: string): Promise<string> => {
    const topic = `bench-${prefix}-${stamp}-${topicSeq++}`;
    await createTopic(admin, topic, options.partitions);
    return topic;
  };

  // The profile window: from the first measured workload to the end of the last, so start-up and
  // unmeasured setup stay out of both profiles. The server's hook toggles on SIGUSR2.
  let profiling = false;
  const beginProfile = (): void => {
    if (profiler === undefined || profiling) return;
    profiling = true;
    process.kill(serverPid, 'SIGUSR2');
    profiler.start();
  };
  const wants = (w: Workload): boolean => options.workloads.has(w);

  try {
    // Latency first, on a fresh store: after the throughput runs LevelDB would still be flushing
    // and compacting a gigabyte or more in the background, which no steady 5 MB/s stream sees.
    if (wants(Workload.latency)) {
      for (const ratePerSecond of plan.latencyRatesPerSecond) {
        const topic = await newTopic(`latency-${ratePerSecond}`);
        const label = `${ratePerSecond} msgs/s of 1 KiB, linger 1 ms${options.tail ? ', tailing consumer' : ''}`;
        beginProfile();
        // This scrape also resets the server's event-loop delay histogram.
        const before = await scrapeMetrics(server.adminUrl);
        meter.start();
        const figures = await runLatency(bus, {
          topic,
          partitions: options.partitions,
          valueBytes: 1024,
          ratePerSecond,
          seconds: plan.latencySeconds,
          lingerMs: 1,
          tail: options.tail,
          drainSeconds: 10,
        });
        const cpu = meter.stop();
        const after = await scrapeMetrics(server.adminUrl);
        const serverProduce = diffRequestLatency(before.produce, after.produce);
        results.push({
          workload: 'latency',
          label,
          params: { ratePerSecond, valueBytes: 1024, lingerMs: 1, tail: options.tail, partitions: options.partitions },
          figures,
          cpu,
          serverProduce,
          serverEventLoopDelay: after.eventLoopDelay,
        });
        log(`${label}: ack p50 ${figures.ack.p50Ms.toFixed(2)} p99 ${figures.ack.p99Ms.toFixed(2)} p99.9 ${figures.ack.p999Ms.toFixed(2)} ms`);
      }
    }

    // Largest produced topic per value size, for the consume runs.
    const produced = new Map<number, { topic: string; figures: ProduceFigures }>();
    if (wants(Workload.produce) || wants(Workload.consume)) {
      for (const valueBytes of plan.valueSizesBytes) {
        // With only consume selected, produce once (largest batches) as unreported setup.
        const batchSizes = wants(Workload.produce) ? plan.batchSizesBytes : [Math.max(...plan.batchSizesBytes)];
        for (const batchBytes of batchSizes) {
          const topic = await newTopic(`produce-${valueBytes}`);
          const label = `produce ${describeSize(valueBytes)} records, batch ${describeSize(batchBytes)}, linger 5 ms`;
          if (wants(Workload.produce)) beginProfile();
          meter.start();
          const figures = await runProduce(bus, {
            topic,
            partitions: options.partitions,
            valueBytes,
            batchBytes,
            lingerMs: 5,
            maxMessages: plan.produceMaxMessages,
            maxSeconds: plan.produceSeconds,
            // Enough for every in-flight request plus batches filling, without a long tail to drain.
            windowBytes: Math.min(16 * MIB, Math.max(4 * MIB, 8 * batchBytes)),
          });
          const cpu = meter.stop();
          if (wants(Workload.produce)) {
            results.push({ workload: 'produce', label, params: { valueBytes, batchBytes, lingerMs: 5, partitions: options.partitions }, figures, cpu });
            log(`${label}: ${figures.messagesPerSecond.toFixed(0)} msgs/s, ${figures.megabytesPerSecond.toFixed(1)} MB/s`);
          }
          const best = produced.get(valueBytes);
          if (best === undefined || figures.recordsInTopic >= best.figures.recordsInTopic) produced.set(valueBytes, { topic, figures });
        }
      }
    }

    if (wants(Workload.consume)) {
      for (const [valueBytes, { topic, figures: producedFigures }] of produced) {
        for (const mode of ['iterator', 'batches'] as ConsumeMode[]) {
          const label = `consume ${describeSize(valueBytes)} records, ${mode === 'iterator' ? 'async iterator' : 'batches()'}`;
          beginProfile();
          meter.start();
          const figures = await runConsume(bus, {
            topic,
            partitions: options.partitions,
            expectedMessages: producedFigures.recordsInTopic,
            mode,
            maxSeconds: plan.consumeMaxSeconds,
          });
          const cpu = meter.stop();
          results.push({ workload: 'consume', label, params: { valueBytes, mode, partitions: options.partitions }, figures, cpu });
          log(`${label}: ${figures.messagesPerSecond.toFixed(0)} msgs/s, ${figures.megabytesPerSecond.toFixed(1)} MB/s`);
        }
      }
    }
    if (profiler !== undefined && clientProfileFile !== undefined && profiling) {
      process.kill(serverPid, 'SIGUSR2');
      clientProfile = profiler.stop(clientProfileFile);
      if (serverProfileFile !== undefined) await waitForFile(serverProfileFile, 10_000);
    }
  } finally {
    await bus.close();
    await server.dispose();
  }

  let profiles: BenchReport['profiles'];
  if (serverProfileFile !== undefined && clientProfileFile !== undefined && clientProfile !== undefined) {
    const parts: string[] = [];
    if (await waitForFile(serverProfileFile, 10_000)) {
      const serverProfile = JSON.parse(readFileSync(serverProfileFile, 'utf8')) as CpuProfile;
      parts.push(formatProfileSummary('server', summarizeProfile(serverProfile)));
      const gcFile = `${serverProfileFile}.gc.json`;
      if (existsSync(gcFile)) parts.push(`server ${formatGcSummary(JSON.parse(readFileSync(gcFile, 'utf8')) as GcSummary)}`, '');
    } else {
      parts.push('(the server wrote no profile)');
    }
    parts.push(formatProfileSummary('client (this process)', summarizeProfile(clientProfile)));
    if (profiler?.gcSummary !== undefined) parts.push(`client ${formatGcSummary(profiler.gcSummary)}`, '');
    profiles = { serverFile: serverProfileFile, clientFile: clientProfileFile, markdown: parts.join('\n') };
  }

  const report: BenchReport = {
    environment: {
      date: startedAt.toISOString(),
      mode: options.mode,
      command: options.command,
      nproc: availableParallelism(),
      cpuModel: cpuModel(),
      node: process.version,
      commit: gitCommit(rootDir),
      loadAverageStart,
      loadAverageEnd: loadavg(),
      serverSettings,
      fsync,
    },
    results,
    targets: checkTargets(results),
    profiles,
  };
  mkdirSync(options.outDir, { recursive: true });
  // Profiled runs are slower (the sampler costs CPU on both sides): their names say so.
  const tags = [...(options.mode === 'full' ? [] : [options.mode]), ...(options.profile ? ['profile'] : [])];
  const base = path.join(options.outDir, ['native', ...tags, stamp].join('-'));
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdownReport(report));
  log(`wrote ${base}.md and ${base}.json`);
  return report;
}

function parseCommandLine(argv: readonly string[]): NativeBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      partitions: { type: 'string', default: '1' },
      'no-tail': { type: 'boolean', default: false },
      set: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/native.js [--quick | --smoke] [--only produce,consume,latency] [--profile]\n' +
        '                                 [--partitions N] [--no-tail] [--set key=value ...] [--out DIR]\n',
    );
    process.exit(0);
  }
  const all = Object.values(Workload);
  const workloads = new Set<Workload>();
  for (const name of (values.only ?? all.join(',')).split(',')) {
    const trimmed = name.trim() as Workload;
    if (!all.includes(trimmed)) throw new Error(`--only takes ${all.join(', ')}; got "${name}"`);
    workloads.add(trimmed);
  }
  const partitions = Number(values.partitions);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 64) throw new Error(`--partitions must be an integer 1..64, got ${values.partitions}`);
  const serverSettings: Record<string, string> = {};
  for (const setting of values.set) {
    const eq = setting.indexOf('=');
    if (eq <= 0) throw new Error(`--set takes key=value, got "${setting}"`);
    serverSettings[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  return {
    mode: values.smoke ? 'smoke' : values.quick ? 'quick' : 'full',
    workloads,
    partitions,
    tail: !values['no-tail'],
    profile: values.profile,
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    serverSettings,
    command: ['node dist/bench/native.js', ...argv].join(' '),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  const report = await runNativeBench(options);
  process.stdout.write('\n' + environmentLines(report.environment).join('\n') + '\n\n' + resultTables(report.results, report.targets) + '\n');
  if (report.profiles !== undefined) process.stdout.write('\n' + report.profiles.markdown + '\n');
}

runWhenInvoked(import.meta.url, main);
