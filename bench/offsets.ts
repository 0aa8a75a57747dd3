/**
 * Benchmark of committed offsets on the coordinator group: offset commits per second on three real
 * `streambus coordinator` processes (test/support/coordinator-cluster.ts), and what that load does
 * to metadata writes, side by side.
 *
 * Setup per repeat (a fresh cluster, default settings unless --set): a topic of 16 partitions, and
 * --groups consumer groups with one member each (joined and synced through the group protocol).
 * Then three phases of --seconds each, all with the same metadata writes (alter-configs of one
 * topic, --meta-window in flight, as bench/coordinator.ts measures them; or with --meta-rate, that
 * many a second, open loop, so each phase carries the same metadata load rather than as much as
 * the closed loop gets through beside the commits):
 * - baseline: the metadata writes alone;
 * - paced: beside them, the members commit offsets at a fixed --rate (default 20,000 commits/s:
 *   the issue's target), open loop: each commit's latency counts from when it was due, so a
 *   coordinator that falls behind is charged for it;
 * - max: beside them, the members commit as fast as the coordinator takes them (closed loop,
 *   --window requests in flight on each of --clients connections): the throughput figure.
 * Commits are OffsetCommit requests of --partitions partitions each (a consumer commits all its
 * partitions at once), the groups spread over the connections.
 * A "commit" below is one partition offset committed; requests/s is also given. Every commit is
 * acknowledged only once applied on the leader after a quorum has it (the leader's batcher puts
 * all commits that arrive while one entry is in flight into the next), so the Raft entries per
 * second and offsets per entry are reported from the leader's commit index.
 *
 * Run: npm run bench:offsets -- [--quick | --smoke] [--groups N] [--partitions N] [--clients N]
 *      [--window N] [--meta-window N | --meta-rate N] [--rate N] [--seconds S] [--repeats N] [--set key=value ...] [--out DIR]
 * Writes bench/results/offsets-<date>.md and .json and prints the figures.
 */
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type MessagePort, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CoordinatorClient } from '../client/index.js';
import { encodeSubscription } from '../coordinator/index.js';
import { CoordinatorCluster, registerPaperBroker } from '../test/support/coordinator-cluster.js';
import { writeBenchReport } from './harness/report.js';
import { probeFsync } from './harness/disk.js';
import { cpuModel, gitCommit } from './harness/machine.js';
import type { TargetCheck } from './harness/report.js';
import { paceSends } from './harness/pacing.js';
import { processCpuMs } from './harness/resources.js';
import { median, summarizeLatencies, type LatencySummary } from './harness/stats.js';
import { packageRoot } from './native.js';
import { positiveNumber, runWhenInvoked } from './harness/cli.js';

export const OffsetsBenchMode = { full: 'full', quick: 'quick', smoke: 'smoke' } as const;
export type OffsetsBenchMode = (typeof OffsetsBenchMode)[keyof typeof OffsetsBenchMode];

interface ModePlan {
  readonly repeats: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

const plans: Record<OffsetsBenchMode, ModePlan> = {
  full: { repeats: 3, seconds: 10, warmupSeconds: 2 },
  quick: { repeats: 1, seconds: 5, warmupSeconds: 1 },
  smoke: { repeats: 1, seconds: 1, warmupSeconds: 0.3 },
};

const OFFSETS_TOPIC = 'bench-offsets';
const OFFSETS_TOPIC_PARTITIONS = 16;
const CONFIG_TOPIC = 'bench-configs';
const MAX_SAMPLES = 2_000_000;
const TARGET_COMMITS_PER_SECOND = 20_000;
/** Metadata writes "do not slow down" when their p99 under load stays within this factor of the baseline's. */
const TARGET_P99_FACTOR = 2;
/** Paced commit requests outstanding at once; beyond this the coordinator is not keeping up and sends are counted as errors. */
const MAX_PACED_OUTSTANDING = 8_192;

export interface OffsetsBenchOptions {
  readonly mode: OffsetsBenchMode;
  readonly groups: number;
  /** Partitions per OffsetCommit request. */
  readonly partitions: number;
  readonly clients: number;
  /** OffsetCommit requests in flight per client. */
  readonly window: number;
  /** Metadata writes in flight (closed loop), unless metaRate is given. */
  readonly metaWindow: number;
  /** Metadata writes per second, open loop (latency from when each was due), instead of metaWindow. */
  readonly metaRate: number | undefined;
  /** Commits per second in the paced phase. */
  readonly rate: number;
  readonly seconds: number;
  readonly repeats: number;
  readonly settings: Readonly<Record<string, string>>;
  readonly outDir: string;
  readonly command: string;
  readonly log: (line: string) => void;
}

export interface PhaseResult {
  readonly metadataWrites: number;
  readonly metadataWritesPerSecond: number;
  readonly metadata: LatencySummary;
  readonly commitRequests: number;
  readonly commitRequestsPerSecond: number;
  /** Partition offsets committed per second. */
  readonly commitsPerSecond: number;
  readonly commit: LatencySummary;
  /** Raft entries committed per second (from the leader's commit index). */
  readonly raftEntriesPerSecond: number;
  readonly leaderCorePct: number;
  /** The two followers together, percent of one core. */
  readonly followersCorePct: number;
  /** This benchmark process (the committers' worker thread included), percent of one core. */
  readonly benchCorePct: number;
  readonly errors: number;
  readonly firstError?: string | undefined;
}

export interface OffsetsRun {
  readonly leaderId: number;
  readonly baseline: PhaseResult;
  readonly paced: PhaseResult;
  readonly max: PhaseResult;
}

/** How a phase commits: not at all, at a fixed rate of commits per second, or as fast as it can. */
type CommitLoad = { readonly kind: 'none' } | { readonly kind: 'paced'; readonly commitsPerSecond: number } | { readonly kind: 'max' };

export interface OffsetsBenchReport {
  readonly environment: {
    readonly date: string;
    readonly mode: OffsetsBenchMode;
    readonly command: string;
    readonly nproc: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly commit: string;
    readonly loadAverageStart: readonly number[];
    readonly loadAverageEnd: readonly number[];
    readonly settings: Readonly<Record<string, string>>;
    readonly fsync: LatencySummary;
  };
  readonly params: {
    readonly groups: number;
    readonly partitions: number;
    readonly clients: number;
    readonly window: number;
    readonly metaWindow: number;
    readonly metaRate: number | undefined;
    readonly rate: number;
    readonly seconds: number;
    readonly repeats: number;
    readonly nodes: number;
  };
  readonly runs: readonly OffsetsRun[];
  readonly median: {
    /** The max phase. */
    readonly commitsPerSecond: number;
    readonly commitRequestsPerSecond: number;
    readonly commitP50Ms: number;
    readonly commitP99Ms: number;
    readonly raftEntriesPerSecond: number;
    /** The paced phase. */
    readonly pacedCommitsPerSecond: number;
    readonly pacedCommitP50Ms: number;
    readonly pacedCommitP99Ms: number;
    readonly pacedRaftEntriesPerSecond: number;
    readonly baselineMetaP50Ms: number;
    readonly baselineMetaP99Ms: number;
    readonly pacedMetaP50Ms: number;
    readonly pacedMetaP99Ms: number;
    readonly maxMetaP50Ms: number;
    readonly maxMetaP99Ms: number;
  };
  readonly targets: readonly TargetCheck[];
}

/** A group's one member, as the committers need it (plain data: it crosses to the worker). */
interface BenchMember {
  readonly groupId: string;
  readonly memberId: string;
  readonly generation: number;
  readonly partitions: readonly number[];
}

/** What the committer worker does (its workerData). */
interface CommitterJob {
  readonly bootstrap: readonly string[];
  readonly members: readonly BenchMember[];
  readonly clients: number;
  readonly window: number;
  readonly load: Exclude<CommitLoad, { readonly kind: 'none' }>;
  /** Offsets committed start here (each phase above the previous one). */
  readonly firstOffset: number;
}

/** What it reports when done. */
interface CommitterResult {
  readonly ok: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly latency: LatencySummary;
}

/** Messages from the main thread to the worker: when to warm up until, and when to stop (epoch ms). */
interface GoMessage {
  readonly warmupEndAt: number;
  readonly endAt: number;
}

/** Keeps `window` calls in flight until endMs; `done` gets each call's latency and error. */
async function pump(window: number, endMs: number, call: (worker: number) => Promise<unknown>, done: (latencyMs: number, error: string | undefined) => void): Promise<void> {
  const worker = async (index: number): Promise<void> => {
    while (performance.now() < endMs) {
      const sentMs = performance.now();
      try {
        await call(index);
        done(performance.now() - sentMs, undefined);
      } catch (error) {
        done(performance.now() - sentMs, error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: window }, (_, i) => worker(i)));
}

class Recorder {
  readonly samples: Float64Array;
  count = 0;
  ok = 0;
  errors = 0;
  firstError: string | undefined;

  constructor(capacity: number) {
    this.samples = new Float64Array(Math.min(MAX_SAMPLES, capacity));
  }

  readonly record = (latencyMs: number, error: string | undefined): void => {
    if (error !== undefined) {
      this.errors++;
      this.firstError ??= error;
      return;
    }
    this.ok++;
    if (this.count < this.samples.length) this.samples[this.count++] = latencyMs;
  };
}

/** Joins one member per group (spread over the clients), each synced with its share of partitions. */
async function joinMembers(clients: readonly CoordinatorClient[], options: OffsetsBenchOptions): Promise<BenchMember[]> {
  return Promise.all(
    Array.from({ length: options.groups }, async (_, g) => {
      const client = clients[g % clients.length]!;
      const groupId = `bench-group-${g}`;
      const joined = await client.groups.joinGroup({ groupId, sessionTimeoutMs: 45_000, rebalanceTimeoutMs: 60_000, protocols: [{ name: 'range', metadata: encodeSubscription([OFFSETS_TOPIC]) }] });
      await client.groups.syncGroup({ groupId, generation: joined.generation, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('all') }] });
      const first = (g * options.partitions) % OFFSETS_TOPIC_PARTITIONS;
      const partitions = Array.from({ length: options.partitions }, (_, i) => (first + i) % OFFSETS_TOPIC_PARTITIONS);
      return { groupId, memberId: joined.memberId, generation: joined.generation, partitions: [...new Set(partitions)] };
    }),
  );
}

/**
 * Sends `commit` at `requestsPerSecond` until endMs, open loop: each send's latency counts from
 * when it was due (paceSends charges a stalled generator to the sends it held back). More than
 * MAX_PACED_OUTSTANDING outstanding means the coordinator is not keeping up: such sends are
 * recorded as errors instead of queued without bound.
 */
async function paced(requestsPerSecond: number, startMs: number, endMs: number, commit: () => Promise<unknown>, done: (latencyMs: number, error: string | undefined) => void): Promise<void> {
  const total = Math.max(0, Math.floor(((endMs - startMs) / 1000) * requestsPerSecond));
  const inFlight = new Set<Promise<unknown>>();
  await paceSends({ total, ratePerSecond: requestsPerSecond, startMs }, (_, intendedMs) => {
    if (inFlight.size >= MAX_PACED_OUTSTANDING) {
      done(0, `more than ${MAX_PACED_OUTSTANDING} commits outstanding: the coordinator is not keeping up with the rate`);
      return;
    }
    const sent = commit().then(
      () => done(performance.now() - intendedMs, undefined),
      (error: unknown) => done(performance.now() - intendedMs, error instanceof Error ? error.message : String(error)),
    );
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  });
  await Promise.all(inFlight);
}

/**
 * The committers, in a worker thread: their own connections and event loop, so the metadata
 * writes measured in the main thread wait for the coordinator, not behind the commits' client work.
 */
async function runCommitter(job: CommitterJob, port: MessagePort): Promise<void> {
  const clients = Array.from({ length: job.clients }, (_, i) => new CoordinatorClient({ bootstrap: job.bootstrap, clientId: `bench-committer-${i}`, requestTimeoutMs: 30_000, maxInFlightPerConnection: Math.max(64, job.window) }));
  try {
    await Promise.all(clients.map((c) => c.groups.findCoordinator(job.members[0]!.groupId)));
    const go = await new Promise<GoMessage>((resolve) => {
      port.once('message', (message: GoMessage) => resolve(message));
      port.postMessage({ type: 'ready' });
    });
    const at = (epochMs: number): number => performance.now() + (epochMs - Date.now());
    const perClient = clients.map((_, c) => job.members.filter((_, g) => g % clients.length === c));
    let next = job.firstOffset;
    /** One client's commits: its groups in turn, each committing the next offset of its partitions. */
    const commitFor = (c: number): (() => Promise<unknown>) => {
      let turn = 0;
      return (): Promise<unknown> => {
        const member = perClient[c]![turn++ % perClient[c]!.length]!;
        const offset = next++;
        return clients[c]!.groups.commitOffsets({
          groupId: member.groupId,
          generation: member.generation,
          memberId: member.memberId,
          offsets: member.partitions.map((partition) => ({ topic: OFFSETS_TOPIC, partition, offset })),
        });
      };
    };
    const partitionsPerRequest = job.members.reduce((n, m) => n + m.partitions.length, 0) / job.members.length;
    const run = (startMs: number, endMs: number, done: (latencyMs: number, error: string | undefined) => void): Promise<void[]> => {
      const load = job.load;
      if (load.kind === 'max') return Promise.all(clients.map((_, c) => pump(job.window, endMs, commitFor(c), done)));
      const perClientRate = load.commitsPerSecond / partitionsPerRequest / clients.length;
      return Promise.all(clients.map((_, c) => paced(perClientRate, startMs, endMs, commitFor(c), done)));
    };
    const warmupEndMs = at(go.warmupEndAt);
    await run(performance.now(), warmupEndMs, () => undefined);
    const recorder = new Recorder(((go.endAt - go.warmupEndAt) / 1000) * 50_000 + 1_000);
    await run(warmupEndMs, at(go.endAt), recorder.record);
    const result: CommitterResult = { ok: recorder.ok, errors: recorder.errors, firstError: recorder.firstError, latency: summarizeLatencies(recorder.samples, recorder.count) };
    port.postMessage({ type: 'done', result });
  } finally {
    for (const client of clients) await client.close();
  }
}

/** Starts the committer worker; resolves once its clients found the coordinator, with a way to start it and its result. */
async function startCommitter(job: CommitterJob): Promise<{ go: (message: GoMessage) => void; result: Promise<CommitterResult> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const result = new Promise<CommitterResult>((resolve, reject) => {
    worker.on('message', (message: { type: 'ready' } | { type: 'done'; result: CommitterResult }) => {
      if (message.type === 'ready') ready();
      else resolve(message.result);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the committer worker exited with ${code} before it reported`)));
  });
  await Promise.race([isReady, result]);
  return { go: (message) => worker.postMessage(message), result };
}

/** One phase: metadata writes for `seconds`, with or without offset commits (in a worker) beside them. */
async function runPhase(
  admin: CoordinatorClient,
  bootstrap: readonly string[],
  members: readonly BenchMember[],
  options: OffsetsBenchOptions,
  plan: ModePlan,
  load: CommitLoad,
  leader: { readonly nodeId: number; readonly pid: number; readonly followerPids: readonly number[] },
): Promise<PhaseResult> {
  const phase = ['none', 'paced', 'max'].indexOf(load.kind);
  let value = 1_000_000 * (phase + 1);
  const metaWrite = (): Promise<unknown> => admin.alterConfigs([{ topic: CONFIG_TOPIC, set: { 'retention.ms': String(value++) } }]);
  const committer = load.kind === 'none' ? undefined : await startCommitter({ bootstrap, members, clients: options.clients, window: options.window, load, firstOffset: 1_000_000_000 * phase });
  const warmupEndAt = Date.now() + plan.warmupSeconds * 1000;
  const endAt = warmupEndAt + options.seconds * 1000;
  committer?.go({ warmupEndAt, endAt });
  const at = (epochMs: number): number => performance.now() + (epochMs - Date.now());
  // The same metadata load in every phase: a closed loop of metaWindow writes, or metaRate a second.
  const metaLoad = (endMs: number, done: (latencyMs: number, error: string | undefined) => void): Promise<void> =>
    options.metaRate === undefined ? pump(options.metaWindow, endMs, metaWrite, done) : paced(options.metaRate, performance.now(), endMs, metaWrite, done);
  await metaLoad(at(warmupEndAt), () => undefined);

  const meta = new Recorder(options.seconds * 20_000 + 1_000);
  const before = await admin.clusterStatus();
  const cpuBefore = processCpuMs(leader.pid) ?? Number.NaN;
  const followersCpu = (): number => leader.followerPids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? Number.NaN), 0);
  const followersBefore = followersCpu();
  const benchBefore = process.cpuUsage();
  const startMs = performance.now();
  await metaLoad(at(endAt), meta.record);
  const elapsedS = (performance.now() - startMs) / 1000;
  const after = await admin.clusterStatus();
  const cpuAfter = processCpuMs(leader.pid) ?? Number.NaN;
  const followersAfter = followersCpu();
  const bench = process.cpuUsage(benchBefore);
  const commits = committer === undefined ? undefined : await committer.result;
  const partitionsPerRequest = members.reduce((n, m) => n + m.partitions.length, 0) / Math.max(1, members.length);
  return {
    metadataWrites: meta.ok,
    metadataWritesPerSecond: meta.ok / elapsedS,
    metadata: summarizeLatencies(meta.samples, meta.count),
    commitRequests: commits?.ok ?? 0,
    commitRequestsPerSecond: (commits?.ok ?? 0) / elapsedS,
    commitsPerSecond: ((commits?.ok ?? 0) * partitionsPerRequest) / elapsedS,
    commit: commits?.latency ?? summarizeLatencies(new Float64Array(0), 0),
    raftEntriesPerSecond: (after.commitIndex - before.commitIndex) / elapsedS,
    leaderCorePct: (100 * (cpuAfter - cpuBefore)) / (elapsedS * 1000),
    followersCorePct: (100 * (followersAfter - followersBefore)) / (elapsedS * 1000),
    benchCorePct: (bench.user + bench.system) / 1000 / (elapsedS * 10),
    errors: meta.errors + (commits?.errors ?? 0),
    firstError: meta.firstError ?? commits?.firstError,
  };
}

function describePhase(name: string, r: PhaseResult): string {
  const commits = r.commitRequests === 0 ? '' : `${r.commitsPerSecond.toFixed(0)} commits/s (${r.commitRequestsPerSecond.toFixed(0)} requests/s, p50 ${r.commit.p50Ms.toFixed(2)} ms, p99 ${r.commit.p99Ms.toFixed(2)} ms), `;
  return `${name}: ${commits}${r.raftEntriesPerSecond.toFixed(0)} Raft entries/s; metadata writes ${r.metadataWritesPerSecond.toFixed(0)}/s, p50 ${r.metadata.p50Ms.toFixed(2)} ms, p99 ${r.metadata.p99Ms.toFixed(2)} ms; ${r.errors} errors`;
}

async function runOnce(options: OffsetsBenchOptions, plan: ModePlan, repeat: number): Promise<OffsetsRun> {
  const cluster = await CoordinatorCluster.start({ nodes: 3, settings: options.settings });
  const admin = new CoordinatorClient({ bootstrap: cluster.bootstrap, clientId: 'bench-admin', requestTimeoutMs: 30_000 });
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new CoordinatorClient({ bootstrap: cluster.bootstrap, clientId: `bench-committer-${i}`, requestTimeoutMs: 30_000, maxInFlightPerConnection: Math.max(64, options.window) }),
  );
  try {
    await registerPaperBroker(admin, cluster.clusterId);
    await admin.createTopics([
      { topic: OFFSETS_TOPIC, partitions: OFFSETS_TOPIC_PARTITIONS, replicationFactor: 1 },
      { topic: CONFIG_TOPIC, partitions: 1, replicationFactor: 1 },
    ]);
    const status = await admin.clusterStatus();
    const pid = cluster.node(status.nodeId).pid!;
    const followerPids = cluster.nodes.filter((n) => n.pid !== pid && n.pid !== undefined).map((n) => n.pid!);
    const joinStart = performance.now();
    const members = await joinMembers(clients, options);
    options.log(`repeat ${repeat + 1}: leader is node ${status.nodeId}; ${members.length} groups joined in ${((performance.now() - joinStart) / 1000).toFixed(1)} s`);
    const leader = { nodeId: status.nodeId, pid, followerPids };
    const baseline = await runPhase(admin, cluster.bootstrap, members, options, plan, { kind: 'none' }, leader);
    options.log(`repeat ${repeat + 1} ${describePhase('baseline', baseline)}`);
    const pacedPhase = await runPhase(admin, cluster.bootstrap, members, options, plan, { kind: 'paced', commitsPerSecond: options.rate }, leader);
    options.log(`repeat ${repeat + 1} ${describePhase(`paced at ${options.rate} commits/s`, pacedPhase)}`);
    const max = await runPhase(admin, cluster.bootstrap, members, options, plan, { kind: 'max' }, leader);
    options.log(`repeat ${repeat + 1} ${describePhase('max', max)}`);
    return { leaderId: status.nodeId, baseline, paced: pacedPhase, max };
  } finally {
    for (const client of clients) await client.close();
    await admin.close();
    await cluster.dispose();
  }
}

function checkTargets(med: OffsetsBenchReport['median'], runs: readonly OffsetsRun[], rate: number): TargetCheck[] {
  const errors = (phase: 'baseline' | 'paced' | 'max'): number => runs.reduce((sum, r) => sum + r[phase].errors, 0);
  const limit = med.baselineMetaP99Ms * TARGET_P99_FACTOR;
  return [
    {
      target: `offset commits >= ${TARGET_COMMITS_PER_SECOND.toLocaleString('en-US')}/s (3 nodes, max phase)`,
      measured: `${med.commitsPerSecond.toFixed(0)}/s`,
      met: med.commitsPerSecond >= TARGET_COMMITS_PER_SECOND && errors('max') === 0,
    },
    {
      target: `metadata write p99 with ${rate.toLocaleString('en-US')} commits/s beside them <= ${TARGET_P99_FACTOR}x its baseline (${fmt(limit)} ms)`,
      measured: `${fmt(med.pacedMetaP99Ms)} ms`,
      met: med.pacedMetaP99Ms <= limit && errors('paced') === 0 && errors('baseline') === 0,
    },
  ];
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

export function offsetsMarkdown(report: OffsetsBenchReport): string {
  const env = report.environment;
  const p = report.params;
  const m = report.median;
  const phaseRow = (repeat: number, name: string, r: PhaseResult): string =>
    `| ${repeat} | ${name} | ${fmt(r.metadataWritesPerSecond, 0)} | ${fmt(r.metadata.p50Ms)} | ${fmt(r.metadata.p99Ms)} | ${fmt(r.commitsPerSecond, 0)} | ${fmt(r.commitRequestsPerSecond, 0)} | ${fmt(r.commit.p50Ms)} | ${fmt(r.commit.p99Ms)} | ${fmt(r.raftEntriesPerSecond, 0)} | ${fmt(r.leaderCorePct, 0)} % | ${fmt(r.followersCorePct, 0)} % | ${fmt(r.benchCorePct, 0)} % | ${r.errors} |`;
  const lines = [
    `# StreamBus offset commit benchmark, ${env.date} (${env.mode})`,
    '',
    `- machine: ${env.nproc} cores, ${env.cpuModel}; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\``,
    `- ${p.nodes} coordinator processes on 127.0.0.1, settings: ${Object.entries(env.settings).map(([k, v]) => `${k}=${v}`).join(', ') || 'defaults'}; the benchmark's clients run in one more process on the same machine`,
    `- offsets: ${p.groups} consumer groups with one member each (joined and synced), each OffsetCommit request carries ${p.partitions} partitions of its group, over ${p.clients} client connections. ` +
      'A commit is one partition offset; it is acknowledged once applied on the leader after a quorum has it.',
    `- phases (${p.seconds} s each after a warm-up, ${p.repeats} repeats on fresh clusters), all with the same metadata writes (alter-configs of one topic, ${p.metaRate === undefined ? `${p.metaWindow} in flight, closed loop` : `${p.metaRate.toLocaleString('en-US')}/s, open loop, latency from when each was due`}): ` +
      `baseline (metadata writes alone), paced (commits at ${p.rate.toLocaleString('en-US')}/s, open loop, latency from when each was due), max (commits as fast as they are taken, ${p.window} requests in flight per connection)`,
    '- Raft entries/s: the leader\'s commit index over the phase (each metadata write is an entry, and each commit-offsets entry carries every commit that arrived while the previous one was in flight)',
    `- load average at start ${env.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}`,
    `- disk: 4 KiB write + fdatasync in the temp filesystem, p50 ${fmt(env.fsync.p50Ms)} ms, p99 ${fmt(env.fsync.p99Ms)} ms`,
    '- latency in ms; CPU is percent of one core over the phase: the leader, the two followers together, and this benchmark process (its committers included); the machine has ' + String(availableParallelism()) + ' cores in all.',
    '',
    '### Runs',
    '',
    '| repeat | phase | metadata writes/s | metadata p50 | metadata p99 | commits/s | commit requests/s | commit p50 | commit p99 | Raft entries/s | leader CPU | followers CPU | benchmark CPU | errors |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.runs.flatMap((r, i) => [phaseRow(i + 1, 'baseline', r.baseline), phaseRow(i + 1, 'paced', r.paced), phaseRow(i + 1, 'max', r.max)]),
    '',
    '### Medians',
    '',
    '| phase | commits/s | commit p50 | commit p99 | Raft entries/s | metadata p50 | metadata p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| baseline | - | - | - | - | ${fmt(m.baselineMetaP50Ms)} | ${fmt(m.baselineMetaP99Ms)} |`,
    `| paced | ${fmt(m.pacedCommitsPerSecond, 0)} | ${fmt(m.pacedCommitP50Ms)} | ${fmt(m.pacedCommitP99Ms)} | ${fmt(m.pacedRaftEntriesPerSecond, 0)} | ${fmt(m.pacedMetaP50Ms)} | ${fmt(m.pacedMetaP99Ms)} |`,
    `| max | ${fmt(m.commitsPerSecond, 0)} (${fmt(m.commitRequestsPerSecond, 0)} requests/s) | ${fmt(m.commitP50Ms)} | ${fmt(m.commitP99Ms)} | ${fmt(m.raftEntriesPerSecond, 0)} | ${fmt(m.maxMetaP50Ms)} | ${fmt(m.maxMetaP99Ms)} |`,
    '',
    '### Targets',
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...report.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ];
  const failed = report.runs.flatMap((r) => [r.baseline, r.paced, r.max]).filter((r) => r.firstError !== undefined);
  if (failed.length > 0) lines.push('### Errors', '', ...failed.map((r) => `- ${r.errors} failed; first: ${r.firstError ?? ''}`), '');
  return lines.join('\n');
}

export async function runOffsetsBench(options: OffsetsBenchOptions): Promise<OffsetsBenchReport> {
  const plan = plans[options.mode];
  const startedAt = new Date();
  const loadAverageStart = loadavg();
  const fsync = probeFsync({ dir: tmpdir(), writes: options.mode === 'smoke' ? 20 : 200, writeBytes: 4096, maxMs: options.mode === 'smoke' ? 300 : 2000 });
  const runs: OffsetsRun[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) runs.push(await runOnce(options, plan, repeat));
  const med = (pick: (r: OffsetsRun) => number): number => median(runs.map(pick));
  const medians: OffsetsBenchReport['median'] = {
    commitsPerSecond: med((r) => r.max.commitsPerSecond),
    commitRequestsPerSecond: med((r) => r.max.commitRequestsPerSecond),
    commitP50Ms: med((r) => r.max.commit.p50Ms),
    commitP99Ms: med((r) => r.max.commit.p99Ms),
    raftEntriesPerSecond: med((r) => r.max.raftEntriesPerSecond),
    pacedCommitsPerSecond: med((r) => r.paced.commitsPerSecond),
    pacedCommitP50Ms: med((r) => r.paced.commit.p50Ms),
    pacedCommitP99Ms: med((r) => r.paced.commit.p99Ms),
    pacedRaftEntriesPerSecond: med((r) => r.paced.raftEntriesPerSecond),
    baselineMetaP50Ms: med((r) => r.baseline.metadata.p50Ms),
    baselineMetaP99Ms: med((r) => r.baseline.metadata.p99Ms),
    pacedMetaP50Ms: med((r) => r.paced.metadata.p50Ms),
    pacedMetaP99Ms: med((r) => r.paced.metadata.p99Ms),
    maxMetaP50Ms: med((r) => r.max.metadata.p50Ms),
    maxMetaP99Ms: med((r) => r.max.metadata.p99Ms),
  };
  const report: OffsetsBenchReport = {
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
      fsync,
    },
    params: {
      groups: options.groups,
      partitions: options.partitions,
      clients: options.clients,
      window: options.window,
      metaWindow: options.metaWindow,
      metaRate: options.metaRate,
      rate: options.rate,
      seconds: options.seconds,
      repeats: options.repeats,
      nodes: 3,
    },
    runs,
    median: medians,
    targets: checkTargets(medians, runs, options.rate),
  };
  const tags = options.mode === 'full' ? [] : [options.mode];
  writeBenchReport({ outDir: options.outDir, name: 'offsets', tags, startedAt, json: report, markdown: offsetsMarkdown(report), log: options.log });
  return report;
}


function parseCommandLine(argv: readonly string[]): OffsetsBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      groups: { type: 'string' },
      partitions: { type: 'string' },
      clients: { type: 'string' },
      window: { type: 'string' },
      'meta-window': { type: 'string' },
      'meta-rate': { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      repeats: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/offsets.js [--quick | --smoke] [--groups N] [--partitions N] [--clients N] [--window N] [--meta-window N | --meta-rate N] [--rate N] [--seconds S] [--repeats N] [--set key=value ...] [--out DIR]\n',
    );
    process.exit(0);
  }
  const mode: OffsetsBenchMode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const plan = plans[mode];
  const settings: Record<string, string> = {};
  for (const setting of values.set) {
    const eq = setting.indexOf('=');
    if (eq <= 0) throw new Error(`--set takes key=value, got "${setting}"`);
    settings[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  const partitions = positiveNumber(values.partitions, 'partitions', 8, true);
  if (partitions > OFFSETS_TOPIC_PARTITIONS) throw new Error(`--partitions must be at most ${OFFSETS_TOPIC_PARTITIONS}, got ${partitions}`);
  return {
    mode,
    groups: positiveNumber(values.groups, 'groups', mode === 'smoke' ? 20 : 200, true),
    partitions,
    clients: positiveNumber(values.clients, 'clients', 8, true),
    window: positiveNumber(values.window, 'window', 32, true),
    metaWindow: positiveNumber(values['meta-window'], 'meta-window', 4, true),
    metaRate: values['meta-rate'] === undefined ? undefined : positiveNumber(values['meta-rate'], 'meta-rate', 1, false),
    rate: positiveNumber(values.rate, 'rate', TARGET_COMMITS_PER_SECOND, true),
    seconds: positiveNumber(values.seconds, 'seconds', plan.seconds, false),
    repeats: positiveNumber(values.repeats, 'repeats', plan.repeats, true),
    settings,
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    command: ['node dist/bench/offsets.js', ...argv].join(' '),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const report = await runOffsetsBench(parseCommandLine(process.argv.slice(2)));
  process.stdout.write('\n' + offsetsMarkdown(report) + '\n');
}

if (!isMainThread && parentPort !== null) {
  // The committer worker (startCommitter): the same module, run with the job as workerData.
  const port = parentPort;
  runCommitter(workerData as CommitterJob, port).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`committer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}

runWhenInvoked(import.meta.url, main);
