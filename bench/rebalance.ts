/**
 * Rebalance time (issue 6): a 10-member consumer group on a 30-partition topic, written to
 * continuously; an 11th member joins. Measured from the moment the new member subscribes:
 *
 * - stable: every member is in the new generation with its partitions taken up (for the
 *   cooperative protocol: after the follow-up rebalance that hands over the revoked partitions);
 * - consuming: every partition has handed a record to a handler after that (the figure the target
 *   applies to: "every member consuming again");
 * - pause of kept partitions: the longest gap between two records of a partition whose owner did not
 *   change, from the join to the end (the eager protocol stops them all; the cooperative one should
 *   not stop them at all: the gap then is the producer's rhythm, ~20 ms).
 *
 * Members start a tenth of a heartbeat interval apart (their heartbeats are spread over the
 * interval, as in a real deployment), and the newcomer joins at an arbitrary moment of it.
 *
 * Scenarios: the default consumer settings (assignors ['cooperative-sticky', 'range'], which is the
 * eager protocol, heartbeat every 3 s), the same with a 300 ms heartbeat, and the cooperative
 * protocol (['cooperative-sticky']) with default settings. The server runs with default settings.
 *
 * Run: npm run bench:rebalance -- [--trials N] [--out DIR]
 * Writes bench/results/rebalance-<date>.md and .json. Target: consuming <= 1 s with default settings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { StreamBus, type GroupConsumer, type GroupConsumerOptions } from '../client/index.js';
import { eventually } from '../test/support/dev-server.js';
import { cpuModel, fileTimestamp, gitCommit } from './harness/machine.js';
import { startBenchServer, type DevServer } from './harness/server.js';
import { median } from './harness/stats.js';
import { packageRoot } from './native.js';

const PARTITIONS = 30;
const MEMBERS = 10;
const TARGET_MS = 1_000;

interface Scenario {
  readonly name: string;
  readonly options: Partial<GroupConsumerOptions>;
}

const scenarios: readonly Scenario[] = [
  { name: 'eager, default settings', options: {} },
  { name: 'eager, heartbeat 300 ms', options: { heartbeatIntervalMs: 300 } },
  { name: 'cooperative, default settings', options: { assignors: ['cooperative-sticky'] } },
];

interface Trial {
  readonly stableMs: number;
  readonly consumingMs: number;
  readonly keptPauseMs: number;
  readonly keptPartitions: number;
}

interface Member {
  readonly bus: StreamBus;
  readonly consumer: GroupConsumer;
  readonly running: Promise<void>;
}

async function trial(server: DevServer, topic: string, groupId: string, scenario: Scenario): Promise<Trial> {
  const lastAt = new Map<number, number>();
  const gapAfterJoin = new Map<number, number>();
  let joinedAt = Number.POSITIVE_INFINITY;
  let stableAt = Number.POSITIVE_INFINITY;
  const firstAfterStable = new Map<number, number>();
  const start = (index: number): Member => {
    const bus = new StreamBus({ brokers: [server.bootstrap], clientId: `bench-member-${index}` });
    const consumer = bus.consumer({ groupId, autoOffsetReset: 'latest', maxWaitMs: 100, ...scenario.options });
    consumer.subscribe([topic]);
    const running = consumer.run({
      eachMessage: (m) => {
        const now = performance.now();
        const prev = lastAt.get(m.partition);
        if (prev !== undefined && now >= joinedAt) gapAfterJoin.set(m.partition, Math.max(gapAfterJoin.get(m.partition) ?? 0, now - prev));
        lastAt.set(m.partition, now);
        if (now >= stableAt && !firstAfterStable.has(m.partition)) firstAfterStable.set(m.partition, now);
      },
    });
    return { bus, consumer, running };
  };
  // Members start a tenth of a heartbeat interval apart, so their heartbeat timers are spread over
  // the interval as they are in a real deployment (started together they would all learn of the
  // rebalance within milliseconds of each other, which flatters the eager protocol).
  const heartbeatMs = scenario.options.heartbeatIntervalMs ?? 3_000;
  const members: Member[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    members.push(start(i));
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs / MEMBERS));
  }
  const settled = (list: readonly Member[]): boolean => {
    const generation = list[0]!.consumer.generation;
    return (
      list.every((m) => m.consumer.state === 'stable' && m.consumer.generation === generation && m.consumer.assignment().length > 0) &&
      list.reduce((n, m) => n + m.consumer.assignment().length, 0) === PARTITIONS
    );
  };
  await eventually(() => settled(members), 60_000, 5);
  await eventually(() => lastAt.size === PARTITIONS, 30_000, 5);
  const ownerBefore = new Map<number, number>();
  members.forEach((m, i) => m.consumer.assignment().forEach((tp) => ownerBefore.set(tp.partition, i)));

  joinedAt = performance.now();
  const all = [...members, start(MEMBERS)];
  await eventually(() => settled(all) && all.every((m) => m.consumer.rebalanceCount > 0), 60_000, 2);
  stableAt = performance.now();
  await eventually(() => firstAfterStable.size === PARTITIONS, 30_000, 2);
  const consumingAt = Math.max(...firstAfterStable.values());
  const ownerAfter = new Map<number, number>();
  all.forEach((m, i) => m.consumer.assignment().forEach((tp) => ownerAfter.set(tp.partition, i)));
  const kept = [...ownerBefore].filter(([p, owner]) => ownerAfter.get(p) === owner).map(([p]) => p);
  const keptPauseMs = Math.max(0, ...kept.map((p) => gapAfterJoin.get(p) ?? 0));
  for (const m of all) await m.consumer.close();
  await Promise.all(all.map((m) => m.running.catch(() => undefined)));
  for (const m of all) await m.bus.close();
  return { stableMs: stableAt - joinedAt, consumingMs: consumingAt - joinedAt, keptPauseMs, keptPartitions: kept.length };
}

export async function runRebalanceBench(options: { trials: number; outDir: string }): Promise<void> {
  const rootDir = packageRoot();
  const server = await startBenchServer({ rootDir, settings: {} });
  const bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'bench-rebalance' });
  const topic = 'bench-rebalance';
  const results: { scenario: string; trials: Trial[] }[] = [];
  let producing = true;
  let writing: Promise<void> = Promise.resolve();
  try {
    await bus.admin().createTopics([{ topic, partitions: PARTITIONS }]);
    const producer = bus.producer({ lingerMs: 1 });
    writing = (async () => {
      for (let i = 0; producing; i++) {
        await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => producer.send({ topic, partition: p, value: `r${i}` })));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await producer.close();
    })();
    for (const scenario of scenarios) {
      const trials: Trial[] = [];
      for (let t = 0; t < options.trials; t++) {
        const result = await trial(server, topic, `bench-${scenario.name.replace(/[^a-z0-9]+/g, '-')}-${t}`, scenario);
        console.log(`${scenario.name} #${t + 1}: stable ${result.stableMs.toFixed(0)} ms, consuming ${result.consumingMs.toFixed(0)} ms, kept partitions ${result.keptPartitions}, their longest pause ${result.keptPauseMs.toFixed(0)} ms`);
        trials.push(result);
      }
      results.push({ scenario: scenario.name, trials });
    }
  } finally {
    producing = false;
    await writing.catch(() => undefined);
    await bus.close();
    await server.dispose();
  }
  const date = new Date();
  const summary = results.map((r) => ({
    scenario: r.scenario,
    stableMs: median(r.trials.map((t) => t.stableMs)),
    consumingMs: median(r.trials.map((t) => t.consumingMs)),
    keptPauseMs: median(r.trials.map((t) => t.keptPauseMs)),
    keptPartitions: median(r.trials.map((t) => t.keptPartitions)),
  }));
  const defaults = summary[0]!;
  const report = {
    date: date.toISOString(),
    commit: gitCommit(rootDir),
    cpu: cpuModel(),
    partitions: PARTITIONS,
    members: MEMBERS,
    trials: options.trials,
    target: { consumingMs: TARGET_MS, met: defaults.consumingMs <= TARGET_MS },
    summary,
    results,
  };
  mkdirSync(options.outDir, { recursive: true });
  const base = path.join(options.outDir, `rebalance-${fileTimestamp(date)}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  const lines = [
    `# Rebalance: ${MEMBERS} members + 1 joining, ${PARTITIONS} partitions`,
    '',
    `${report.date}, commit ${report.commit}, ${report.cpu}, ${options.trials} trial(s) per scenario (medians).`,
    '',
    '| scenario | stable (ms) | consuming (ms) | kept partitions | longest pause of a kept partition (ms) |',
    '|---|---:|---:|---:|---:|',
    ...summary.map((s) => `| ${s.scenario} | ${s.stableMs.toFixed(0)} | ${s.consumingMs.toFixed(0)} | ${s.keptPartitions} | ${s.keptPauseMs.toFixed(0)} |`),
    '',
    `Target: every member consuming again within ${TARGET_MS} ms with default settings: ${report.target.met ? 'met' : 'NOT met'} (${defaults.consumingMs.toFixed(0)} ms).`,
    '',
  ];
  writeFileSync(`${base}.md`, lines.join('\n'));
  console.log(`wrote ${base}.md`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { trials: { type: 'string' }, out: { type: 'string' } } });
  const trials = Number(values.trials ?? 3);
  if (!Number.isSafeInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, got ${values.trials ?? ''}`);
  await runRebalanceBench({ trials, outDir: values.out ?? path.join(packageRoot(), 'bench/results') });
}
