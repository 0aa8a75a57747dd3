/**
 * Runs the comparison: installs and starts the selected systems, runs every workload on each
 * (repeats interleaved so a change in machine load hits every system alike), stops everything,
 * and writes bench/results/peers-<date>.{md,json} and the two SVG plots.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { probeFsync } from '../harness/disk.js';
import { cpuModel, fileTimestamp, gitCommit } from '../harness/machine.js';
import { ResourceMeter } from '../harness/resources.js';
import { Cleanup, ensureTools, type DebianTool } from './processes.js';
import { startNats } from './nats-system.js';
import { startRedis } from './redis-system.js';
import { latencySvg, markdownReport, summarize, throughputSvg, type PeerRun, type PeersReport, type PeerWorkload, type SystemInfo } from './report.js';
import { startStreamBus } from './streambus-system.js';
import { startKafkajs } from './kafkajs-system.js';
import type { BenchSystem, SystemId } from './system.js';
import { measureConsume, measureLatency, measurePublish } from './workloads.js';

const KIB = 1024;
const MIB = 1024 * 1024;

export const PeersMode = { full: 'full', quick: 'quick', smoke: 'smoke' } as const;
export type PeersMode = (typeof PeersMode)[keyof typeof PeersMode];

interface PeersPlan {
  readonly repeats: number;
  readonly valueSizesBytes: readonly number[];
  readonly publishSeconds: number;
  readonly publishMaxMessages: number;
  /** Unacknowledged value bytes at most, per publisher (divided by the value size, capped below). */
  readonly windowBytes: number;
  readonly windowMessagesMax: number;
  readonly consumeMaxSeconds: number;
  readonly latencyRatesPerSecond: readonly number[];
  readonly latencySeconds: number;
  readonly latencyValueBytes: number;
  readonly drainSeconds: number;
}

/**
 * Budgets: full ≈ 6–7 minutes with all five systems (3 repeats × 5 × ~25 s), quick ≈ 75 s (one
 * repeat), smoke a few seconds (StreamBus only, for the test suite).
 */
const plans: Record<PeersMode, PeersPlan> = {
  full: {
    repeats: 3,
    valueSizesBytes: [KIB, 100],
    publishSeconds: 3,
    publishMaxMessages: 3_000_000,
    windowBytes: 16 * MIB,
    windowMessagesMax: 200_000,
    consumeMaxSeconds: 20,
    latencyRatesPerSecond: [5_000, 20_000],
    latencySeconds: 6,
    latencyValueBytes: KIB,
    drainSeconds: 15,
  },
  quick: {
    repeats: 1,
    valueSizesBytes: [KIB, 100],
    publishSeconds: 1.5,
    publishMaxMessages: 1_000_000,
    windowBytes: 16 * MIB,
    windowMessagesMax: 200_000,
    consumeMaxSeconds: 10,
    latencyRatesPerSecond: [5_000, 20_000],
    latencySeconds: 3,
    latencyValueBytes: KIB,
    drainSeconds: 10,
  },
  smoke: {
    repeats: 1,
    valueSizesBytes: [KIB, 100],
    publishSeconds: 0.3,
    publishMaxMessages: 5_000,
    windowBytes: 4 * MIB,
    windowMessagesMax: 200_000,
    consumeMaxSeconds: 5,
    latencyRatesPerSecond: [5_000, 20_000],
    latencySeconds: 0.4,
    latencyValueBytes: KIB,
    drainSeconds: 5,
  },
};

export interface PeersOptions {
  readonly mode: PeersMode;
  readonly systems: readonly SystemId[];
  readonly workloads: ReadonlySet<PeerWorkload>;
  /** Overrides the plan's repeat count. */
  readonly repeats?: number | undefined;
  readonly rootDir: string;
  readonly outDir: string;
  /** Echoed into the report. */
  readonly command: string;
  readonly log: (line: string) => void;
}

export interface PeersResult {
  readonly report: PeersReport;
  /** Paths of the files written. */
  readonly files: readonly string[];
}

const describeSize = (bytes: number): string => (bytes >= KIB && bytes % KIB === 0 ? `${bytes / KIB} KiB` : `${bytes} B`);

const TOOLS: Partial<Record<SystemId, DebianTool>> = {
  nats: { packageName: 'nats-server', binary: 'nats-server' },
  'nats-inbox': { packageName: 'nats-server', binary: 'nats-server' },
  redis: { packageName: 'redis-server', binary: 'redis-server' },
};

async function startSystem(id: SystemId, options: PeersOptions, binaries: ReadonlyMap<string, string>, cleanup: Cleanup): Promise<BenchSystem> {
  // One temp folder per server: its guard deletes it when the server stops, even after kill -9
  // of this process; the cleanup step covers a server that never started.
  const dataDir = (name: string): string => {
    const dir = mkdtempSync(path.join(tmpdir(), `streambus-bench-${name}-`));
    cleanup.add(`remove ${dir}`, () => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    return dir;
  };
  switch (id) {
    case 'streambus':
      return startStreamBus({ id, label: 'StreamBus', rootDir: options.rootDir, settings: {} });
    case 'streambus-interval':
      return startStreamBus({ id, label: 'StreamBus (interval fsync)', rootDir: options.rootDir, settings: { durability: 'interval', 'durability.interval.ms': '1000' } });
    case 'streambus-kafkajs':
      return startKafkajs({ id, label: 'StreamBus via kafkajs', rootDir: options.rootDir });
    case 'nats':
      return startNats({ id, label: 'NATS JetStream (js.publish)', publishMode: 'js.publish', binary: binaries.get('nats-server')!, dataDir: dataDir('nats') });
    case 'nats-inbox':
      return startNats({ id, label: 'NATS JetStream (inbox acks)', publishMode: 'inbox', binary: binaries.get('nats-server')!, dataDir: dataDir('nats-inbox') });
    case 'redis':
      return startRedis({ binary: binaries.get('redis-server')!, dataDir: dataDir('redis') });
  }
}

/** Repeat r starts with system r mod n, so no system always runs first (or last) in a round. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}

export async function runPeersBench(options: PeersOptions): Promise<PeersResult> {
  const plan = plans[options.mode];
  const repeats = options.repeats ?? plan.repeats;
  const log = options.log;
  const startedAt = new Date();
  const startedMono = performance.now();
  const stamp = fileTimestamp(startedAt);
  const loadAverageStart = loadavg();
  log(`load average ${loadAverageStart.map((v) => v.toFixed(2)).join(' ')} on ${availableParallelism()} cores`);

  const tools = [...new Map(options.systems.map((s) => TOOLS[s]).filter((t): t is DebianTool => t !== undefined).map((t) => [t.packageName, t])).values()];
  const binaries = ensureTools(tools, log);
  for (const [binary, where] of binaries) log(`${binary}: ${where}`);

  const fsync = probeFsync({ dir: tmpdir(), writes: options.mode === 'smoke' ? 20 : 200, writeBytes: 4096, maxMs: options.mode === 'smoke' ? 300 : 2000 });
  log(`fsync probe: p50 ${fsync.p50Ms.toFixed(2)} ms, p99 ${fsync.p99Ms.toFixed(2)} ms`);

  const cleanup = new Cleanup();
  const runs: PeerRun[] = [];
  const systems: BenchSystem[] = [];
  let streamSeq = 0;
  const newStream = async (system: BenchSystem, prefix: string): Promise<string> => {
    // Letters, digits and dashes only: valid as a topic, a JetStream stream and subject, and a key.
    const name = `bench-${prefix}-${stamp}-${streamSeq++}`;
    await system.createStream(name);
    return name;
  };
  const wants = (w: PeerWorkload): boolean => options.workloads.has(w);

  try {
    for (const id of options.systems) {
      const system = await startSystem(id, options, binaries, cleanup);
      cleanup.add(`stop ${system.label}`, () => system.close());
      systems.push(system);
      log(`${system.label} up (server pid ${system.serverPid}): ${system.description.version}`);
    }
    const meterOf = (system: BenchSystem): ResourceMeter => new ResourceMeter(system.serverPid, { includeChildren: system.serverForks });

    // Latency first, on fresh stores: the throughput runs leave gigabytes being compacted
    // (LevelDB) or rewritten (Redis AOF) in the background, which no steady stream would see.
    if (wants('latency')) {
      for (let repeat = 1; repeat <= repeats; repeat++) {
        for (const system of rotate(systems, repeat - 1)) {
          for (const ratePerSecond of plan.latencyRatesPerSecond) {
            const caseName = `latency ${ratePerSecond.toLocaleString('en-US')} msgs/s`;
            const stream = await newStream(system, `lat-${ratePerSecond}`);
            const meter = meterOf(system);
            meter.start();
            const figures = await measureLatency(system, {
              stream,
              valueBytes: plan.latencyValueBytes,
              ratePerSecond,
              seconds: plan.latencySeconds,
              drainSeconds: plan.drainSeconds,
            });
            const cpu = meter.stop();
            await system.deleteStream(stream);
            runs.push({ workload: 'latency', system: system.id, repeat, caseName, valueBytes: plan.latencyValueBytes, ratePerSecond, figures, cpu });
            log(
              `[${repeat}/${repeats}] ${system.label}, ${caseName}: ack p50 ${figures.ack.p50Ms.toFixed(2)} p99 ${figures.ack.p99Ms.toFixed(2)} p99.9 ${figures.ack.p999Ms.toFixed(2)} ms; ` +
                `e2e p99 ${figures.endToEnd.p99Ms.toFixed(2)} ms; server ${cpu.serverCorePct.toFixed(0)} %, client ${cpu.clientCorePct.toFixed(0)} %${figures.errors > 0 ? `; ${figures.errors} errors: ${figures.firstError ?? ''}` : ''}`,
            );
          }
        }
      }
    }

    if (wants('publish') || wants('consume')) {
      for (let repeat = 1; repeat <= repeats; repeat++) {
        for (const system of rotate(systems, repeat - 1)) {
          for (const valueBytes of plan.valueSizesBytes) {
            const stream = await newStream(system, `thr-${valueBytes}`);
            const windowMessages = Math.min(plan.windowMessagesMax, Math.max(64, Math.floor(plan.windowBytes / valueBytes)));
            let meter = meterOf(system);
            meter.start();
            const published = await measurePublish(system, { stream, valueBytes, windowMessages, maxSeconds: plan.publishSeconds, maxMessages: plan.publishMaxMessages });
            let cpu = meter.stop();
            const publishCase = `publish ${describeSize(valueBytes)}`;
            if (wants('publish')) {
              runs.push({ workload: 'publish', system: system.id, repeat, caseName: publishCase, valueBytes, windowMessages, figures: published, cpu });
              log(
                `[${repeat}/${repeats}] ${system.label}, ${publishCase}: ${published.messagesPerSecond.toFixed(0)} msgs/s, ${published.megabytesPerSecond.toFixed(1)} MB/s; ` +
                  `server ${cpu.serverCorePct.toFixed(0)} %, client ${cpu.clientCorePct.toFixed(0)} %${published.errors > 0 ? `; ${published.errors} errors: ${published.firstError ?? ''}` : ''}`,
              );
            }
            if (wants('consume')) {
              const consumeCase = `consume ${describeSize(valueBytes)}`;
              meter = meterOf(system);
              meter.start();
              const figures = await measureConsume(system, { stream, expectedMessages: published.messagesInStream, maxSeconds: plan.consumeMaxSeconds });
              cpu = meter.stop();
              runs.push({ workload: 'consume', system: system.id, repeat, caseName: consumeCase, valueBytes, figures, cpu });
              log(
                `[${repeat}/${repeats}] ${system.label}, ${consumeCase}: ${figures.messagesPerSecond.toFixed(0)} msgs/s, ${figures.megabytesPerSecond.toFixed(1)} MB/s; ` +
                  `server ${cpu.serverCorePct.toFixed(0)} %, client ${cpu.clientCorePct.toFixed(0)} %${figures.errors > 0 ? `; ${figures.errors} errors: ${figures.firstError ?? ''}` : ''}`,
              );
            }
            await system.deleteStream(stream);
          }
        }
      }
    }
  } finally {
    await cleanup.run();
  }

  const systemInfos: SystemInfo[] = systems.map((s) => ({ id: s.id, label: s.label, mainThreadMeaningful: s.mainThreadMeaningful, description: s.description }));
  const report: PeersReport = {
    environment: {
      date: startedAt.toISOString(),
      mode: options.mode,
      command: options.command,
      durationSeconds: (performance.now() - startedMono) / 1000,
      nproc: availableParallelism(),
      cpuModel: cpuModel(),
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      commit: gitCommit(options.rootDir),
      loadAverageStart,
      loadAverageEnd: loadavg(),
      repeats,
      fsync,
      plan: {
        'publish seconds': plan.publishSeconds,
        'value bytes': plan.valueSizesBytes,
        'publish window': `${plan.windowBytes / MIB} MiB of values, at most ${plan.windowMessagesMax} messages`,
        'latency rates msgs/s': plan.latencyRatesPerSecond,
        'latency seconds': plan.latencySeconds,
        'latency value bytes': plan.latencyValueBytes,
      },
    },
    systems: systemInfos,
    runs,
    summary: summarize(
      runs,
      systems.map((s) => s.id),
    ),
  };

  mkdirSync(options.outDir, { recursive: true });
  const base = ['peers', ...(options.mode === 'full' ? [] : [options.mode]), stamp].join('-');
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    const file = path.join(options.outDir, name);
    writeFileSync(file, text);
    files.push(file);
  };
  const throughputPlot = throughputSvg(report);
  const latencyPlot = latencySvg(report);
  if (throughputPlot !== undefined) write(`${base}-throughput.svg`, throughputPlot);
  if (latencyPlot !== undefined) write(`${base}-latency.svg`, latencyPlot);
  write(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  write(
    `${base}.md`,
    markdownReport(report, {
      throughputSvg: throughputPlot === undefined ? undefined : `${base}-throughput.svg`,
      latencySvg: latencyPlot === undefined ? undefined : `${base}-latency.svg`,
    }),
  );
  log(`wrote ${files.join(', ')}`);
  return { report, files };
}
