/**
 * Failover time (issue 5): how long a partition takes to accept acks=all writes again after its
 * leader is killed, on a local cluster of real processes (three `streambus coordinator`, three
 * `streambus broker`, test/support/faults/cluster.ts) with DEFAULT settings, under an acks=all load from
 * the native client with its default options.
 *
 * Each trial kills (-9) the leader of one partition (round-robin over three), and measures from the
 * kill to the first acknowledgement of a record sent to that partition after the kill: such a record
 * can only have been written by the next leader. Then it restarts the killed broker and waits until
 * every partition has its full ISR again before the next trial.
 *
 * Where the time goes, per trial, from the processes' own logs and a trace of the client's requests
 * (all on this machine's clock):
 * - fenced: the coordinator leader's "fenced broker" log line (detection: the broker's heartbeat
 *   connection closed, plus broker.disconnect.fence.ms, plus one metadata commit, which carries the
 *   new leader and ISR);
 * - leading: the new leader's "leading partition" log line (metadata propagated to that broker);
 * - client knows: the first METADATA answer the client got naming the new leader;
 * - first send: the first PRODUCE the client sent to the new leader for that partition;
 * - acknowledged: the first acknowledgement, as above (the figure the targets apply to).
 * The client columns also count the failed produce attempts and the metadata requests in between.
 *
 * After the last trial a consumer reads everything back from offset 0 and the report says how many
 * acknowledged records were lost (must be 0) and how many were written twice.
 *
 * Run: npm run bench:failover -- [--trials N] [--rate R] [--broker-set key=value ...]
 *      [--coordinator-set key=value ...] [--out DIR]
 * Writes bench/results/failover-<date>.md and .json. Targets: p50 <= 1.5 s, p99 <= 3 s.
 */
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { StreamBus, connect as defaultConnect, type ConnectFn, type Connection } from '../client/index.js';
import type * as M from '../proto/messages.js';
import { LocalCluster, eventually } from '../test/support/faults/cluster.js';
import { Ledger, Load } from '../test/support/faults/load.js';
import { describeVerdict, readAndVerify, type Verdict } from '../test/support/faults/verify.js';
import { writeBenchReport } from './harness/report.js';
import { cpuModel, gitCommit } from './harness/machine.js';
import type { TargetCheck } from './harness/report.js';
import { summarizeLatencies, type LatencySummary } from './harness/stats.js';
import { packageRoot } from './native.js';
import { runWhenInvoked } from './harness/cli.js';

const TOPIC = 'failover-bench';
const PARTITIONS = 3;
const TARGET_P50_MS = 1_500;
const TARGET_P99_MS = 3_000;

export interface FailoverBenchOptions {
  readonly trials: number;
  /** Records per second of the load, over all partitions. */
  readonly ratePerSecond: number;
  /** Settings on top of the defaults (the report lists them); empty for the measurement. */
  readonly brokerSettings: Readonly<Record<string, string>>;
  readonly coordinatorSettings: Readonly<Record<string, string>>;
  readonly outDir: string;
  readonly command: string;
  readonly log: (line: string) => void;
}

/** One trial; every time in ms after the kill, undefined when the evidence was not found. */
export interface FailoverTrial {
  readonly trial: number;
  readonly victim: number;
  readonly partition: number;
  readonly newLeader: number;
  readonly fencedMs: number | undefined;
  readonly leadingMs: number | undefined;
  readonly clientKnowsMs: number | undefined;
  readonly firstSendMs: number | undefined;
  readonly acknowledgedMs: number;
  /** Produce requests for the partition that got an answer other than success, or none, between the kill and the acknowledgement. */
  readonly failedAttempts: number;
  /** Connects the client tried that failed in the same span (to the dead broker). */
  readonly failedConnects: number;
  /** METADATA requests the client made in the same span. */
  readonly metadataRequests: number;
}

export interface FailoverReport {
  readonly environment: {
    readonly date: string;
    readonly command: string;
    readonly nproc: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly commit: string;
    readonly loadAverageStart: readonly number[];
    readonly loadAverageEnd: readonly number[];
    readonly brokerSettings: Readonly<Record<string, string>>;
    readonly coordinatorSettings: Readonly<Record<string, string>>;
    readonly ratePerSecond: number;
  };
  readonly trials: readonly FailoverTrial[];
  readonly summary: {
    readonly fenced: LatencySummary;
    readonly leading: LatencySummary;
    readonly clientKnows: LatencySummary;
    readonly firstSend: LatencySummary;
    readonly acknowledged: LatencySummary;
  };
  readonly verification: Verdict & { readonly sent: number; readonly failed: number };
  readonly targets: readonly TargetCheck[];
}

/** A client request seen by the trace: when, to which broker address, what it was about. */
interface TracedRequest {
  readonly api: 'METADATA' | 'PRODUCE';
  readonly address: string;
  readonly sentAt: number;
  readonly answeredAt: number;
  /** METADATA: the leader each partition of the topic had in the answer. */
  readonly leaders?: readonly number[];
  /** PRODUCE: the partitions of the topic it carried, and whether each was acknowledged. */
  readonly partitions?: readonly { readonly partition: number; readonly ok: boolean }[];
}

/**
 * Wraps the client's connections to record its METADATA and PRODUCE requests (the bench's
 * window into metadata refreshes, backoffs and retries; nothing in the client changes).
 */
class RequestTrace {
  readonly requests: TracedRequest[] = [];

  /** When each connect the client tried failed (a dead broker refuses; its circuit then stops further tries). */
  readonly failedConnects: number[] = [];

  readonly connect: ConnectFn = async (options) => {
    try {
      return this.#wrap(await defaultConnect(options), `${options.host}:${options.port}`);
    } catch (error) {
      this.failedConnects.push(Date.now());
      throw error;
    }
  };

  #wrap(connection: Connection, address: string): Connection {
    const requests = this.requests;
    const request: Connection['request'] = async (api, body, options) => {
      const sentAt = Date.now();
      try {
        const response = await connection.request(api, body, options);
        if (api === 'METADATA') {
          const topic = (response as M.MetadataResponse).topics.find((t) => t.name === TOPIC);
          if (topic !== undefined) requests.push({ api, address, sentAt, answeredAt: Date.now(), leaders: partitionLeaders(topic.partitions) });
        } else if (api === 'PRODUCE') {
          const partitions = (response as M.ProduceResponse).topics.find((t) => t.name === TOPIC)?.partitions.map((p) => ({ partition: p.partition, ok: p.errorCode === 0 })) ?? [];
          requests.push({ api, address, sentAt, answeredAt: Date.now(), partitions });
        }
        return response;
      } catch (error) {
        if (api === 'PRODUCE') {
          const partitions = (body as M.ProduceRequest).topics.find((t) => t.name === TOPIC)?.partitions.map((p) => ({ partition: p.partition, ok: false })) ?? [];
          requests.push({ api, address, sentAt, answeredAt: Date.now(), partitions });
        } else if (api === 'METADATA') {
          requests.push({ api, address, sentAt, answeredAt: Date.now() });
        }
        throw error;
      }
    };
    return {
      host: connection.host,
      port: connection.port,
      request,
      send: (api, body, options) => connection.send(api, body, options),
      get connected() {
        return connection.connected;
      },
      close: () => connection.close(),
    };
  }
}

function partitionLeaders(partitions: readonly { partition: number; leader: number }[]): number[] {
  const leaders: number[] = [];
  for (const p of partitions) leaders[p.partition] = p.leader;
  return leaders;
}

/** The epoch-ms `time` of the first JSON log line at or after `sinceMs` that `match` accepts. */
function firstLogTime(lines: readonly string[], sinceMs: number, match: (entry: Record<string, unknown>) => boolean): number | undefined {
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const time = entry.time;
    if (typeof time === 'number' && time >= sinceMs && match(entry)) return time;
  }
  return undefined;
}

async function runTrial(cluster: LocalCluster, ledger: Ledger, trace: RequestTrace, trial: number, log: (line: string) => void): Promise<FailoverTrial> {
  await eventually(`trial ${trial}: every partition fully in sync`, () => cluster.fullyInSync(TOPIC), 60_000, () => cluster.logs());
  const partition = (trial - 1) % PARTITIONS;
  const before = await cluster.partition(TOPIC, partition);
  const victim = before.leader;
  const killedAt = Date.now();
  const killedAtPerf = performance.now();
  const delivered = ledger.nextDelivery(partition, killedAtPerf, 60_000);
  await cluster.kill(victim);
  const acknowledgedMs = (await delivered) - killedAtPerf;
  const acknowledgedAt = killedAt + acknowledgedMs;
  const after = await cluster.partition(TOPIC, partition, victim);
  const newLeader = after.leader;
  const newLeaderBroker = cluster.broker(newLeader);
  const newLeaderAddress = newLeaderBroker.address;
  await cluster.restart(victim);

  const span = trace.requests.filter((r) => r.sentAt >= killedAt && r.sentAt <= acknowledgedAt);
  const fenced = cluster.coordinators.nodes
    .map((node) => firstLogTime(node.logLines, killedAt, (e) => e.nodeId === victim && typeof e.msg === 'string' && e.msg.startsWith('fenced broker')))
    .filter((t): t is number => t !== undefined);
  const leading = firstLogTime(newLeaderBroker.lines, killedAt, (e) => e.msg === 'leading partition' && e.topic === TOPIC && e.partition === partition);
  const knows = trace.requests.find((r) => r.api === 'METADATA' && r.answeredAt >= killedAt && r.leaders?.[partition] === newLeader);
  const firstSend = trace.requests
    .filter((r) => r.api === 'PRODUCE' && r.sentAt >= killedAt && r.address === newLeaderAddress && r.partitions?.some((p) => p.partition === partition))
    .sort((a, b) => a.sentAt - b.sentAt)[0];
  const result: FailoverTrial = {
    trial,
    victim,
    partition,
    newLeader,
    fencedMs: fenced.length === 0 ? undefined : Math.min(...fenced) - killedAt,
    leadingMs: leading === undefined ? undefined : leading - killedAt,
    clientKnowsMs: knows === undefined ? undefined : knows.answeredAt - killedAt,
    firstSendMs: firstSend === undefined ? undefined : firstSend.sentAt - killedAt,
    acknowledgedMs,
    failedAttempts: span.filter((r) => r.api === 'PRODUCE' && r.partitions?.some((p) => p.partition === partition && !p.ok)).length,
    metadataRequests: span.filter((r) => r.api === 'METADATA').length,
    failedConnects: trace.failedConnects.filter((t) => t >= killedAt && t <= acknowledgedAt).length,
  };
  // The trace only needs the current trial.
  trace.requests.length = 0;
  trace.failedConnects.length = 0;
  log(
    `trial ${trial}: killed ${victim} (partition ${partition}) -> leader ${newLeader}; fenced ${ms(result.fencedMs)}, leading ${ms(result.leadingMs)}, ` +
      `client knows ${ms(result.clientKnowsMs)}, first send ${ms(result.firstSendMs)}, acknowledged ${ms(result.acknowledgedMs)} ms ` +
      `(${result.failedAttempts} failed produce requests, ${result.failedConnects} failed connects, ${result.metadataRequests} metadata requests)`,
  );
  return result;
}

function ms(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(0);
}

function summarize(values: readonly (number | undefined)[]): LatencySummary {
  const present = values.filter((v): v is number => v !== undefined);
  return summarizeLatencies(Float64Array.from(present), present.length);
}

export async function runFailoverBench(options: FailoverBenchOptions): Promise<FailoverReport> {
  const startedAt = new Date();
  const loadAverageStart = loadavg();
  // The broker harness heartbeats every 500 ms; the product default is 2000.
  const brokerSettings = { 'broker.heartbeat.interval.ms': 2000, ...options.brokerSettings };
  const cluster = await LocalCluster.start({ brokers: 3, brokerSettings, coordinatorSettings: options.coordinatorSettings });
  const trace = new RequestTrace();
  const ledger = new Ledger(PARTITIONS);
  const trials: FailoverTrial[] = [];
  let bus: StreamBus | undefined;
  let verification: FailoverReport['verification'];
  try {
    await cluster.createTopic({ name: TOPIC, partitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    bus = new StreamBus({ brokers: cluster.bootstrap, clientId: 'failover-bench', connect: trace.connect });
    const load = new Load({ bus, topic: TOPIC, ledger, prefix: 'bench', ratePerSecond: options.ratePerSecond, maxPending: 1_000 });
    load.start();
    try {
      await ledger.nextDelivery(0, performance.now(), 30_000);
      for (let trial = 1; trial <= options.trials; trial++) trials.push(await runTrial(cluster, ledger, trace, trial, options.log));
    } finally {
      await load.stop();
    }
    const verdict = await readAndVerify(bus, TOPIC, ledger, ledger.snapshot(), 60_000);
    options.log(`read back: ${describeVerdict(verdict)}`);
    verification = { ...verdict, sent: ledger.sent.size, failed: [...ledger.failed].filter((id) => !ledger.acked.has(id)).length };
  } finally {
    await bus?.close();
    await cluster.dispose();
  }
  const summary = {
    fenced: summarize(trials.map((t) => t.fencedMs)),
    leading: summarize(trials.map((t) => t.leadingMs)),
    clientKnows: summarize(trials.map((t) => t.clientKnowsMs)),
    firstSend: summarize(trials.map((t) => t.firstSendMs)),
    acknowledged: summarize(trials.map((t) => t.acknowledgedMs)),
  };
  const lost = verification.lost.length + verification.misplaced.length;
  const report: FailoverReport = {
    environment: {
      date: startedAt.toISOString(),
      command: options.command,
      nproc: availableParallelism(),
      cpuModel: cpuModel(),
      node: process.version,
      commit: gitCommit(packageRoot()),
      loadAverageStart,
      loadAverageEnd: loadavg(),
      brokerSettings: options.brokerSettings,
      coordinatorSettings: options.coordinatorSettings,
      ratePerSecond: options.ratePerSecond,
    },
    trials,
    summary,
    verification,
    targets: [
      { target: `failover p50 <= ${TARGET_P50_MS} ms (kill -9 to first acks=all write on the new leader)`, measured: `${ms(summary.acknowledged.p50Ms)} ms`, met: summary.acknowledged.p50Ms <= TARGET_P50_MS },
      { target: `failover p99 <= ${TARGET_P99_MS} ms`, measured: `${ms(summary.acknowledged.p99Ms)} ms`, met: summary.acknowledged.p99Ms <= TARGET_P99_MS },
      { target: 'no acknowledged record lost', measured: `${lost} lost`, met: lost === 0 },
    ],
  };
  writeBenchReport({ outDir: options.outDir, name: 'failover', startedAt, json: report, markdown: failoverMarkdown(report), log: options.log });
  return report;
}

export function failoverMarkdown(report: FailoverReport): string {
  const env = report.environment;
  const settings = (s: Readonly<Record<string, string>>): string => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(', ') || 'defaults';
  const row = (name: string, s: LatencySummary): string => `| ${name} | ${s.count} | ${ms(s.p50Ms)} | ${ms(s.p99Ms)} | ${ms(s.maxMs)} | ${ms(s.meanMs)} |`;
  const v = report.verification;
  return [
    `# StreamBus failover benchmark, ${env.date}`,
    '',
    `- machine: ${env.nproc} cores, ${env.cpuModel}; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\``,
    `- cluster: 3 coordinator and 3 broker processes on 127.0.0.1; broker settings: ${settings(env.brokerSettings)}; coordinator settings: ${settings(env.coordinatorSettings)}`,
    `- topic: ${PARTITIONS} partitions, replication factor 3, min.insync.replicas=2`,
    `- load: native client, default client and producer options (acks=all), ${env.ratePerSecond} records/s round-robin over the partitions`,
    `- trial: kill -9 the leader of one partition (round-robin), time to the first acknowledgement of a record sent to it after the kill; restart the broker, wait for the full ISR`,
    `- load average at start ${env.loadAverageStart.map((x) => x.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((x) => x.toFixed(2)).join(' ')}`,
    '- percentiles are nearest-rank: with 20 trials p99 is the slowest trial.',
    '',
    '### Where the time goes (ms after the kill)',
    '',
    '| step | trials | p50 | p99 | max | mean |',
    '|---|---:|---:|---:|---:|---:|',
    row('fenced, new leader committed (coordinator log)', report.summary.fenced),
    row('new leader leading (its log)', report.summary.leading),
    row('client metadata names the new leader', report.summary.clientKnows),
    row('first produce sent to the new leader', report.summary.firstSend),
    row('**first acks=all write acknowledged**', report.summary.acknowledged),
    '',
    '### Trials',
    '',
    '| trial | killed | partition | new leader | fenced | leading | client knows | first send | acknowledged | failed produce requests | failed connects | metadata requests |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.trials.map(
      (t) =>
        `| ${t.trial} | ${t.victim} | ${t.partition} | ${t.newLeader} | ${ms(t.fencedMs)} | ${ms(t.leadingMs)} | ${ms(t.clientKnowsMs)} | ${ms(t.firstSendMs)} | ${ms(t.acknowledgedMs)} | ${t.failedAttempts} | ${t.failedConnects} | ${t.metadataRequests} |`,
    ),
    '',
    '### Read back from offset 0 after the last trial',
    '',
    `${v.sent} sent, ${v.acknowledged} acknowledged, ${v.failed} failed; lost ${v.lost.length}, misplaced ${v.misplaced.length}, duplicates ${v.duplicates}, foreign ${v.foreign.length}, reordered ${v.reordered.length} (the load runs with the default maxInFlightRequests 5, where a retry may land after a later batch: docs/clients.md).`,
    '',
    '### Targets',
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...report.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ].join('\n');
}

function parseSettings(list: readonly string[], flag: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const setting of list) {
    const eq = setting.indexOf('=');
    if (eq <= 0) throw new Error(`--${flag} takes key=value, got "${setting}"`);
    settings[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  return settings;
}

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return value;
}

function parseCommandLine(argv: readonly string[]): FailoverBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      trials: { type: 'string' },
      rate: { type: 'string' },
      'broker-set': { type: 'string', multiple: true, default: [] },
      'coordinator-set': { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/failover.js [--trials N] [--rate R] [--broker-set key=value ...] [--coordinator-set key=value ...] [--out DIR]\n');
    process.exit(0);
  }
  return {
    trials: positiveInteger(values.trials, 'trials', 20),
    ratePerSecond: positiveInteger(values.rate, 'rate', 200),
    brokerSettings: parseSettings(values['broker-set'], 'broker-set'),
    coordinatorSettings: parseSettings(values['coordinator-set'], 'coordinator-set'),
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    command: ['node dist/bench/failover.js', ...argv].join(' '),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const report = await runFailoverBench(parseCommandLine(process.argv.slice(2)));
  process.stdout.write('\n' + failoverMarkdown(report) + '\n');
}

runWhenInvoked(import.meta.url, main);
