/**
 * What transactions cost (issue 8): transactional produce next to non-transactional produce, in
 * the same run, on one `streambus dev` process (bench/harness/server.ts, default settings).
 *
 * Cases, each with 100 B and 1 KiB values (random, incompressible, no key), to a topic of three
 * partitions, records spread over them round-robin (so a transaction of 10 or more records touches
 * all three, and ends with three commit markers):
 * - idempotent: the default producer (acks=all, idempotent), no transactions; send() is not
 *   awaited, a window of pending records keeps requests in flight, as bench/native.ts does;
 * - txn x10 and txn x1000: a producer with a transactionalId running `producer.transaction()` one
 *   after another, each sending 10 or 1,000 records with tx.sendBatch() and committing.
 *   One producer runs one transaction at a time (the API's rule), so transactions/s is what one
 *   producer instance gets; records/s = transactions/s x records per transaction.
 * Each case runs for --seconds (the clock stops when the last record or commit is acknowledged),
 * on a fresh topic, --repeats times; the report gives every run and the medians, transaction
 * latency (transaction() call to its resolution, i.e. the commit decided) p50/p99, and
 * records/s as a fraction of the idempotent case.
 *
 * Run: npm run bench:txn -- [--quick | --smoke] [--seconds S] [--repeats N] [--set key=value ...] [--out DIR]
 * Writes bench/results/txn-<date>.md and .json (txn-quick-, txn-smoke- for those modes).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { StreamBus, type Producer, type ProducerRecord } from '../client/index.js';
import { writeBenchReport } from './harness/report.js';
import { positiveNumber, runWhenInvoked } from './harness/cli.js';
import { cpuModel, gitCommit } from './harness/machine.js';
import { startBenchServer } from './harness/server.js';
import { median, summarizeLatencies, type LatencySummary } from './harness/stats.js';
import { packageRoot } from './native.js';

export const TxnBenchMode = { full: 'full', quick: 'quick', smoke: 'smoke' } as const;
export type TxnBenchMode = (typeof TxnBenchMode)[keyof typeof TxnBenchMode];

const plans: Record<TxnBenchMode, { readonly seconds: number; readonly repeats: number }> = {
  full: { seconds: 5, repeats: 3 },
  quick: { seconds: 2, repeats: 1 },
  smoke: { seconds: 0.5, repeats: 1 },
};

const PARTITIONS = 3;
const VALUE_SIZES = [100, 1024] as const;
/** Records per transaction of the transactional cases; 0 is the idempotent, non-transactional case. */
const KINDS = [0, 10, 1000] as const;
/** Records the idempotent case keeps pending (about what a 1 MiB batch per partition holds for 1 KiB records). */
const WINDOW_RECORDS = 4_000;
/** Records per send in the idempotent case. */
const CHUNK_RECORDS = 500;

export interface TxnCaseResult {
  /** "idempotent", "txn x10" or "txn x1000". */
  readonly kind: string;
  readonly recordsPerTxn: number;
  readonly valueBytes: number;
  readonly repeat: number;
  readonly records: number;
  readonly transactions: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly transactionsPerSecond: number;
  /** transaction() latency; empty for the idempotent case. */
  readonly transaction: LatencySummary;
  readonly errors: number;
  readonly firstError?: string | undefined;
}

export interface TxnCaseMedian {
  readonly kind: string;
  readonly recordsPerTxn: number;
  readonly valueBytes: number;
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly transactionsPerSecond: number;
  readonly transactionP50Ms: number;
  readonly transactionP99Ms: number;
  /** records/s over the idempotent case's with the same value size. */
  readonly ofIdempotent: number;
}

export interface TxnBenchReport {
  readonly environment: {
    readonly date: string;
    readonly mode: TxnBenchMode;
    readonly command: string;
    readonly nproc: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly commit: string;
    readonly loadAverageStart: readonly number[];
    readonly loadAverageEnd: readonly number[];
    readonly settings: Readonly<Record<string, string>>;
  };
  readonly params: { readonly seconds: number; readonly repeats: number; readonly partitions: number };
  readonly runs: readonly TxnCaseResult[];
  readonly medians: readonly TxnCaseMedian[];
}

export interface TxnBenchOptions {
  readonly mode: TxnBenchMode;
  readonly seconds: number;
  readonly repeats: number;
  readonly settings: Readonly<Record<string, string>>;
  readonly outDir: string;
  readonly command: string;
  readonly log: (line: string) => void;
}

const kindName = (recordsPerTxn: number): string => (recordsPerTxn === 0 ? 'idempotent' : `txn x${recordsPerTxn}`);

/** `count` records of `valueBytes` random bytes, round-robin over the partitions from `first`. */
function records(topic: string, valueBytes: number, count: number, first: number, pool: Buffer): ProducerRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const at = ((first + i) * 7919) % (pool.length - valueBytes);
    return { topic, partition: (first + i) % PARTITIONS, value: pool.subarray(at, at + valueBytes) };
  });
}

interface Tally {
  records: number;
  transactions: number;
  errors: number;
  firstError: string | undefined;
  latencies: number[];
}

function failed(tally: Tally, error: unknown): void {
  tally.errors++;
  tally.firstError ??= error instanceof Error ? error.message : String(error);
}

/** The idempotent case: chunks sent without waiting, up to WINDOW_RECORDS pending, until the deadline. */
async function produceIdempotent(producer: Producer, topic: string, valueBytes: number, endMs: number, pool: Buffer, tally: Tally): Promise<void> {
  const pending = new Set<Promise<void>>();
  let next = 0;
  while (performance.now() < endMs) {
    while (pending.size * CHUNK_RECORDS >= WINDOW_RECORDS) await Promise.race(pending);
    const chunk = producer.sendBatch(records(topic, valueBytes, CHUNK_RECORDS, next, pool)).then(
      (sent) => void (tally.records += sent.length),
      (error: unknown) => failed(tally, error),
    );
    next += CHUNK_RECORDS;
    pending.add(chunk);
    void chunk.finally(() => pending.delete(chunk));
  }
  await Promise.all(pending);
}

/** A transactional case: one transaction of `perTxn` records after another until the deadline. */
async function produceTransactions(producer: Producer, topic: string, valueBytes: number, perTxn: number, endMs: number, pool: Buffer, tally: Tally): Promise<void> {
  let next = 0;
  while (performance.now() < endMs) {
    const batch = records(topic, valueBytes, perTxn, next, pool);
    next += perTxn;
    const startMs = performance.now();
    try {
      await producer.transaction(async (tx) => {
        await tx.sendBatch(batch);
      });
      tally.latencies.push(performance.now() - startMs);
      tally.transactions++;
      tally.records += perTxn;
    } catch (error) {
      failed(tally, error);
    }
  }
}

async function runCase(bus: StreamBus, recordsPerTxn: number, valueBytes: number, repeat: number, seconds: number, pool: Buffer): Promise<TxnCaseResult> {
  const kind = kindName(recordsPerTxn);
  const topic = `bench-txn-${recordsPerTxn}-${valueBytes}-${repeat}`;
  await bus.admin().createTopics([{ topic, partitions: PARTITIONS }]);
  const producer =
    recordsPerTxn === 0 ? bus.producer({ acks: 'all', lingerMs: 5 }) : bus.producer({ transactionalId: `bench-${topic}`, lingerMs: 5 });
  const tally: Tally = { records: 0, transactions: 0, errors: 0, firstError: undefined, latencies: [] };
  try {
    // A warm-up: the producer id (and for the transactional cases, the first transaction) and the topic's metadata.
    if (recordsPerTxn === 0) await producer.sendBatch(records(topic, valueBytes, PARTITIONS, 0, pool));
    else await producer.transaction(async (tx) => void (await tx.sendBatch(records(topic, valueBytes, PARTITIONS, 0, pool))));
    const startMs = performance.now();
    const endMs = startMs + seconds * 1000;
    if (recordsPerTxn === 0) await produceIdempotent(producer, topic, valueBytes, endMs, pool, tally);
    else await produceTransactions(producer, topic, valueBytes, recordsPerTxn, endMs, pool, tally);
    const elapsedS = (performance.now() - startMs) / 1000;
    const latencies = Float64Array.from(tally.latencies);
    return {
      kind,
      recordsPerTxn,
      valueBytes,
      repeat,
      records: tally.records,
      transactions: tally.transactions,
      seconds: elapsedS,
      recordsPerSecond: tally.records / elapsedS,
      megabytesPerSecond: (tally.records * valueBytes) / 1e6 / elapsedS,
      transactionsPerSecond: tally.transactions / elapsedS,
      transaction: summarizeLatencies(latencies, latencies.length),
      errors: tally.errors,
      firstError: tally.firstError,
    };
  } finally {
    await producer.close();
  }
}

function mediansOf(runs: readonly TxnCaseResult[]): TxnCaseMedian[] {
  const cases = VALUE_SIZES.flatMap((valueBytes) => KINDS.map((recordsPerTxn) => ({ valueBytes, recordsPerTxn })));
  const base = new Map(VALUE_SIZES.map((v) => [v, median(runs.filter((r) => r.recordsPerTxn === 0 && r.valueBytes === v).map((r) => r.recordsPerSecond))]));
  return cases.map(({ valueBytes, recordsPerTxn }) => {
    const mine = runs.filter((r) => r.recordsPerTxn === recordsPerTxn && r.valueBytes === valueBytes);
    const recordsPerSecond = median(mine.map((r) => r.recordsPerSecond));
    return {
      kind: kindName(recordsPerTxn),
      recordsPerTxn,
      valueBytes,
      recordsPerSecond,
      megabytesPerSecond: median(mine.map((r) => r.megabytesPerSecond)),
      transactionsPerSecond: median(mine.map((r) => r.transactionsPerSecond)),
      transactionP50Ms: median(mine.map((r) => r.transaction.p50Ms)),
      transactionP99Ms: median(mine.map((r) => r.transaction.p99Ms)),
      ofIdempotent: recordsPerSecond / (base.get(valueBytes) ?? Number.NaN),
    };
  });
}

const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-');
const size = (bytes: number): string => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);

export function txnMarkdown(report: TxnBenchReport): string {
  const env = report.environment;
  const lines = [
    `# StreamBus transactional produce benchmark, ${env.date} (${env.mode})`,
    '',
    `- machine: ${env.nproc} cores, ${env.cpuModel}; Node ${env.node}`,
    `- commit: ${env.commit}`,
    `- command: \`${env.command}\``,
    `- one \`streambus dev\` process on 127.0.0.1, settings: ${Object.entries(env.settings).map(([k, v]) => `${k}=${v}`).join(', ') || 'defaults'}; the client runs in the benchmark process`,
    `- each case: a fresh topic of ${report.params.partitions} partitions, records round-robin over them, random values, acks=all, lingerMs 5; ${report.params.seconds} s per run, ${report.params.repeats} repeat(s)`,
    '- idempotent: the default producer, no transactions, sends not awaited (a window of 4,000 records pending); txn xN: one producer, `transaction()` after `transaction()`, each `tx.sendBatch()` of N records, then commit',
    '- transaction latency: from the `transaction()` call to its resolution (the commit decided by the coordinator)',
    `- load average at start ${env.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, at end ${env.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}`,
    '',
    '### Medians',
    '',
    '| value | case | records/s | MB/s | transactions/s | transaction p50 (ms) | transaction p99 (ms) | records/s vs idempotent |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...report.medians.map(
      (m) =>
        `| ${size(m.valueBytes)} | ${m.kind} | ${fmt(m.recordsPerSecond)} | ${fmt(m.megabytesPerSecond, 2)} | ${m.recordsPerTxn === 0 ? '-' : fmt(m.transactionsPerSecond, 1)} | ${m.recordsPerTxn === 0 ? '-' : fmt(m.transactionP50Ms, 1)} | ${m.recordsPerTxn === 0 ? '-' : fmt(m.transactionP99Ms, 1)} | ${fmt(100 * m.ofIdempotent, 1)} % |`,
    ),
    '',
    '### Runs',
    '',
    '| value | case | repeat | records | transactions | seconds | records/s | transactions/s | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...report.runs.map(
      (r) =>
        `| ${size(r.valueBytes)} | ${r.kind} | ${r.repeat + 1} | ${r.records} | ${r.transactions} | ${r.seconds.toFixed(2)} | ${fmt(r.recordsPerSecond)} | ${r.recordsPerTxn === 0 ? '-' : fmt(r.transactionsPerSecond, 1)} | ${r.errors} |`,
    ),
    '',
  ];
  const failures = report.runs.filter((r) => r.firstError !== undefined);
  if (failures.length > 0) lines.push('### Errors', '', ...failures.map((r) => `- ${size(r.valueBytes)} ${r.kind} repeat ${r.repeat + 1}: ${r.errors} failed; first: ${r.firstError ?? ''}`), '');
  return lines.join('\n');
}

export async function runTxnBench(options: TxnBenchOptions): Promise<TxnBenchReport> {
  const startedAt = new Date();
  const loadAverageStart = loadavg();
  const rootDir = packageRoot();
  const server = await startBenchServer({ rootDir, settings: options.settings });
  const bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'bench-txn' });
  const pool = randomBytes(1 << 20);
  const runs: TxnCaseResult[] = [];
  try {
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const valueBytes of VALUE_SIZES) {
        for (const recordsPerTxn of KINDS) {
          const result = await runCase(bus, recordsPerTxn, valueBytes, repeat, options.seconds, pool);
          runs.push(result);
          options.log(
            `repeat ${repeat + 1}, ${size(valueBytes)}, ${result.kind}: ${fmt(result.recordsPerSecond)} records/s` +
              (recordsPerTxn === 0 ? '' : `, ${fmt(result.transactionsPerSecond, 1)} transactions/s, p50 ${fmt(result.transaction.p50Ms, 1)} ms`) +
              (result.errors > 0 ? `; ${result.errors} errors, first: ${result.firstError ?? ''}` : ''),
          );
        }
      }
    }
  } finally {
    await bus.close();
    await server.dispose();
  }
  const report: TxnBenchReport = {
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
      settings: options.settings,
    },
    params: { seconds: options.seconds, repeats: options.repeats, partitions: PARTITIONS },
    runs,
    medians: mediansOf(runs),
  };
  const tags = options.mode === 'full' ? [] : [options.mode];
  writeBenchReport({ outDir: options.outDir, name: 'txn', tags, startedAt, json: report, markdown: txnMarkdown(report), log: options.log });
  return report;
}

function parseCommandLine(argv: readonly string[]): TxnBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      repeats: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/transactions.js [--quick | --smoke] [--seconds S] [--repeats N] [--set key=value ...] [--out DIR]\n');
    process.exit(0);
  }
  const mode: TxnBenchMode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const settings: Record<string, string> = {};
  for (const setting of values.set) {
    const eq = setting.indexOf('=');
    if (eq <= 0) throw new Error(`--set takes key=value, got "${setting}"`);
    settings[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  return {
    mode,
    seconds: positiveNumber(values.seconds, 'seconds', plans[mode].seconds, false),
    repeats: positiveNumber(values.repeats, 'repeats', plans[mode].repeats, true),
    settings,
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    command: ['node dist/bench/transactions.js', ...argv].join(' '),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const report = await runTxnBench(parseCommandLine(process.argv.slice(2)));
  process.stdout.write('\n' + txnMarkdown(report) + '\n');
}

runWhenInvoked(import.meta.url, main);
