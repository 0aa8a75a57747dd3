/**
 * The Kafka listener's cost: Kafka clients producing and consuming through the Kafka listener next
 * to the native client on the same `streambus dev` process, in the same run, with the same record
 * size and batch sizes, each workload repeated (default 3 times) and reported as medians. Two Kafka
 * clients: kafkajs (plain JavaScript, in this process) and librdkafka (C, through
 * confluent-kafka-python in a child process: ./kafka-librdkafka.py; skipped when Debian's
 * python3-confluent-kafka is missing). kafkajs's own encoding and decoding limit it before the
 * listener does, so librdkafka is the client that measures the listener. Besides client-side
 * throughput the bench records the server's CPU per MB moved, which isolates the listener from the
 * client libraries' own costs. Writes bench/results/kafka-<date>.md and .json.
 *
 * Every measured step starts on a quiet server. A produce leaves LevelDB compacting what it wrote
 * for a few seconds after the last acknowledgement (about 3 ms of CPU per MB written, on the
 * storage threads); without a pause that work lands in the next step's window, and more of it in a
 * longer window, so a client that starts slowly (a Python process, a group join) was charged up to
 * twice the fetch cost of the native client for work no fetch did. The bench therefore waits,
 * before each step, until the server has used under QUIET_CPU_SHARE of a core for QUIET_WINDOW_MS.
 * All consumers ask for the same 4 MiB per partition (the native consumer's default), so the
 * clients' requests have the same shape and the comparison is of the paths that serve them.
 *
 * Run: npm run bench:kafka -- [--quick | --smoke] [--repeats N] [--out DIR]
 * (or `npm run build && node dist/bench/kafka.js ...`). See bench/README.md.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Producer as KafkajsProducer } from 'kafkajs';
import { StreamBus } from '../client/index.js';
import { packageRoot } from './native.js';
import { processTreeCpuMs } from './harness/resources.js';
import { startBenchServer, type DevServer } from './harness/server.js';
import { median } from './harness/stats.js';
import { runConsume, runProduce, throughput, type ThroughputFigures } from './harness/workloads.js';

const KIB = 1024;
const MIB = 1024 * 1024;
/** The listener may cost at most this share of native throughput (issue 7). */
const TARGET_MAX_COST = 0.2;

type Mode = 'full' | 'quick' | 'smoke';

interface Plan {
  readonly valueBytes: number;
  readonly batchSizesBytes: readonly number[];
  readonly maxMessages: number;
  readonly maxSeconds: number;
}

const plans: Record<Mode, Plan> = {
  full: { valueBytes: KIB, batchSizesBytes: [16 * KIB, 256 * KIB], maxMessages: 200_000, maxSeconds: 5 },
  quick: { valueBytes: KIB, batchSizesBytes: [16 * KIB, 256 * KIB], maxMessages: 60_000, maxSeconds: 2 },
  smoke: { valueBytes: KIB, batchSizesBytes: [64 * KIB], maxMessages: 3_000, maxSeconds: 1 },
};

const PARTITIONS = 4;
/** Bytes of records sent and not yet acknowledged, per client: the same window for both. */
const WINDOW_BYTES = 16 * MIB;
const LINGER_MS = 5;
/** The native consumer's partition fetch size (client/consumer), asked of every consumer. */
const PARTITION_FETCH_BYTES = 4 * MIB;
/** The server is quiet when it used less than this share of one core over a QUIET_WINDOW_MS window. */
const QUIET_CPU_SHARE = 0.05;
const QUIET_WINDOW_MS = 500;
/** Longest wait for a quiet server before a step; the step then runs anyway and the wait is logged. */
const QUIET_MAX_MS = 20_000;

type Client = 'native' | 'kafkajs' | 'librdkafka';
const KAFKA_CLIENTS = ['kafkajs', 'librdkafka'] as const;
/** Debian's python3-confluent-kafka is installed for /usr/bin/python3, not for a pyenv python3. */
const PYTHON = '/usr/bin/python3';
type Workload = 'produce' | 'consume';

interface Sample extends ThroughputFigures {
  /** Server CPU (process tree) per MB moved. */
  readonly serverCpuMsPerMb: number;
  /** The benchmark process's CPU (where the client runs) per MB moved. */
  readonly clientCpuMsPerMb: number;
  /** Share of the run's wall time the server spent on a CPU. */
  readonly serverBusy: number;
}

interface Row {
  readonly workload: Workload;
  readonly batchBytes: number;
  readonly client: Client;
  readonly samples: readonly Sample[];
  readonly medianMbPerSecond: number;
  readonly medianMessagesPerSecond: number;
  readonly medianServerCpuMsPerMb: number;
  readonly medianClientCpuMsPerMb: number;
  readonly medianServerBusy: number;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The Kafka listener's address from the server's ready line. */
function kafkaAddress(server: DevServer): string {
  for (const line of server.logLines) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; kafka?: { host: string; port: number } };
    if (entry.msg === 'streambus ready' && entry.kafka !== undefined) return `127.0.0.1:${entry.kafka.port}`;
  }
  throw new Error('the server did not report its Kafka listener');
}

/** Sends batches of `batchBytes` of records with kafkajs (acks=all), a window of sends in flight. */
async function kafkajsProduce(kafka: Kafka, topic: string, plan: Plan, batchBytes: number): Promise<ThroughputFigures> {
  // A producer per run: kafkajs refreshes metadata for every topic a producer ever wrote to, and
  // the earlier runs' topics are deleted.
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    return await produceWith(producer, topic, plan, batchBytes);
  } finally {
    await producer.disconnect();
  }
}

async function produceWith(producer: KafkajsProducer, topic: string, plan: Plan, batchBytes: number): Promise<ThroughputFigures> {
  const value = randomBytes(plan.valueBytes);
  const perBatch = Math.max(1, Math.floor(batchBytes / plan.valueBytes));
  const messages = Array.from({ length: perBatch }, () => ({ value }));
  const window = Math.max(1, Math.floor(WINDOW_BYTES / batchBytes));
  await producer.send({ topic, acks: -1, messages: [{ value, partition: 0 }] });
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: unknown;
  let partition = 0;
  const inFlight = new Set<Promise<void>>();
  const startedAt = performance.now();
  const deadline = startedAt + plan.maxSeconds * 1000;
  while (sent < plan.maxMessages && performance.now() < deadline && errors === 0) {
    const count = Math.min(perBatch, plan.maxMessages - sent);
    const batch = count === perBatch ? messages : messages.slice(0, count);
    const p = partition;
    partition = (partition + 1) % PARTITIONS;
    const send: Promise<void> = producer
      .send({ topic, acks: -1, messages: batch.map((m) => ({ ...m, partition: p })) })
      .then(
        () => void (acked += count),
        (error: unknown) => {
          errors++;
          firstError ??= error;
        },
      )
      .finally(() => inFlight.delete(send));
    inFlight.add(send);
    sent += count;
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - startedAt) / 1000;
  return throughput(acked, acked * plan.valueBytes, seconds, errors, firstError);
}

/** Reads `expected` records from the beginning with a kafkajs consumer group of one (eachBatch), timed from the join. */
async function kafkajsConsume(kafka: Kafka, topic: string, expected: number, plan: Plan, groupId: string): Promise<ThroughputFigures> {
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 100,
    sessionTimeout: 30_000,
    maxBytesPerPartition: PARTITION_FETCH_BYTES,
    maxBytes: PARTITIONS * PARTITION_FETCH_BYTES,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let messages = 0;
  let bytes = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  // The clock starts once the group has handed this member its partitions (kafkajs has no
  // assign()), as the native consumer's starts at assign(): a kafkajs user joins once and then
  // reads for hours, and the join's 100-300 ms in a one-second read would be counted as if it
  // were fetching. The server CPU of the join is still counted (measured() spans the whole run).
  let startedAt = performance.now();
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (!joined) startedAt = performance.now();
    joined = true;
  });
  await consumer.run({
    autoCommit: false,
    eachBatch: ({ batch }) => {
      for (const message of batch.messages) bytes += message.value?.length ?? 0;
      messages += batch.messages.length;
      if (messages >= expected) done();
      return Promise.resolve();
    },
  });
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, Math.max(10, plan.maxSeconds * 4) * 1000).unref());
  await Promise.race([finished, timeout]);
  const seconds = (performance.now() - startedAt) / 1000;
  await consumer.disconnect();
  return throughput(Math.min(messages, expected), Math.min(bytes, expected * plan.valueBytes), seconds, messages < expected ? 1 : 0, messages < expected ? new Error(`read ${messages} of ${expected}`) : undefined);
}

/** A run's figures; `clientCpuMs` when the client ran in another process (librdkafka). */
type RunFigures = ThroughputFigures & { readonly clientCpuMs?: number };

/** Whether /usr/bin/python3 can import confluent_kafka. */
function librdkafkaAvailable(): Promise<boolean> {
  return new Promise((resolve) => execFile(PYTHON, ['-c', 'import confluent_kafka'], (error) => resolve(error === null)));
}

/** Runs ./kafka-librdkafka.py and reads its one JSON line. */
function librdkafka(rootDir: string, args: readonly string[], timeoutMs: number): Promise<RunFigures> {
  const script = path.join(rootDir, 'bench/kafka-librdkafka.py');
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [script, ...args], { timeout: timeoutMs, maxBuffer: MIB }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`${path.basename(script)} ${args[0] ?? ''} failed: ${error.message}\n${stderr}`));
      const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { messages: number; bytes: number; seconds: number; errors: number; firstError: string | null; cpuSeconds: number };
      resolve({ ...throughput(out.messages, out.bytes, out.seconds, out.errors, out.firstError ?? undefined), clientCpuMs: out.cpuSeconds * 1000 });
    });
  });
}

/**
 * Waits until the server's CPU over one window is below QUIET_CPU_SHARE of a core (its idle
 * timers use about 1%), or QUIET_MAX_MS passed. Returns how long it waited, and whether it got quiet.
 */
async function untilQuiet(serverPid: number): Promise<{ waitedMs: number; quiet: boolean }> {
  const startedAt = performance.now();
  for (;;) {
    const before = processTreeCpuMs(serverPid) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    const usedMs = (processTreeCpuMs(serverPid) ?? 0) - before;
    const waitedMs = performance.now() - startedAt;
    if (usedMs < QUIET_CPU_SHARE * QUIET_WINDOW_MS) return { waitedMs, quiet: true };
    if (waitedMs >= QUIET_MAX_MS) return { waitedMs, quiet: false };
  }
}

async function measured(serverPid: number, run: () => Promise<RunFigures>): Promise<Sample> {
  const settled = await untilQuiet(serverPid);
  if (!settled.quiet) log(`the server was still busy after ${Math.round(settled.waitedMs)} ms; measuring anyway`);
  const cpuBefore = processTreeCpuMs(serverPid) ?? 0;
  const clientBefore = process.cpuUsage();
  const { clientCpuMs, ...figures } = await run();
  const cpuMs = (processTreeCpuMs(serverPid) ?? 0) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  const clientMs = clientCpuMs ?? (client.user + client.system) / 1000;
  const mb = figures.bytes / 1e6;
  return {
    ...figures,
    serverCpuMsPerMb: mb === 0 ? 0 : cpuMs / mb,
    clientCpuMsPerMb: mb === 0 ? 0 : clientMs / mb,
    serverBusy: figures.seconds === 0 ? 0 : cpuMs / 1000 / figures.seconds,
  };
}

function rowOf(workload: Workload, batchBytes: number, client: Client, samples: readonly Sample[]): Row {
  return {
    workload,
    batchBytes,
    client,
    samples,
    medianMbPerSecond: median(samples.map((s) => s.megabytesPerSecond)),
    medianMessagesPerSecond: median(samples.map((s) => s.messagesPerSecond)),
    medianServerCpuMsPerMb: median(samples.map((s) => s.serverCpuMsPerMb)),
    medianClientCpuMsPerMb: median(samples.map((s) => s.clientCpuMsPerMb)),
    medianServerBusy: median(samples.map((s) => s.serverBusy)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, smoke: { type: 'boolean', default: false }, repeats: { type: 'string', default: '3' }, out: { type: 'string' } },
  });
  const mode: Mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 20) throw new Error(`--repeats must be an integer 1..20, got ${values.repeats}`);
  const plan = plans[mode];
  const rootDir = packageRoot();
  const outDir = values.out ?? path.join(rootDir, 'bench/results');
  const iso = new Date().toISOString();
  const stamp = `${iso.slice(0, 10)}-${iso.slice(11, 19).replace(/:/g, '')}`;

  const server = await startBenchServer({ rootDir, settings: { 'group.initial.rebalance.delay.ms': '0' } });
  const serverPid = server.child.pid!;
  const bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'bench-native' });
  const kafka = new Kafka({ brokers: [kafkaAddress(server)], clientId: 'bench-kafkajs', logLevel: logLevel.NOTHING });
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const withLibrdkafka = await librdkafkaAvailable();
  if (!withLibrdkafka) log(`${PYTHON} cannot import confluent_kafka (apt-get install python3-confluent-kafka): the librdkafka rows are skipped`);
  const clientsRun: readonly Client[] = withLibrdkafka ? ['native', 'kafkajs', 'librdkafka'] : ['native', 'kafkajs'];
  const samples = new Map<string, Sample[]>();
  const add = (key: string, sample: Sample): void => void samples.set(key, [...(samples.get(key) ?? []), sample]);
  let seq = 0;
  try {
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const batchBytes of plan.batchSizesBytes) {
        // Rotate which client goes first, so none always meets the warmer server.
        const clients = clientsRun.map((_, i) => clientsRun[(i + repeat) % clientsRun.length]!);
        for (const client of clients) {
          const topic = `bench-kafka-${stamp}-${seq++}`;
          // Created through the listener and awaited until every partition has a leader, so neither
          // client meets a topic the broker has not seen yet.
          await kafkaAdmin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
          const produced = await measured(serverPid, () =>
            client === 'native'
              ? runProduce(bus, { topic, partitions: PARTITIONS, valueBytes: plan.valueBytes, batchBytes, lingerMs: LINGER_MS, maxMessages: plan.maxMessages, maxSeconds: plan.maxSeconds, windowBytes: WINDOW_BYTES })
              : client === 'kafkajs'
                ? kafkajsProduce(kafka, topic, plan, batchBytes)
                : librdkafka(rootDir, ['produce', kafkaAddress(server), topic, `${PARTITIONS}`, `${plan.valueBytes}`, `${batchBytes}`, `${plan.maxMessages}`, `${plan.maxSeconds}`], (plan.maxSeconds + 90) * 1000),
          );
          add(`produce|${batchBytes}|${client}`, produced);
          // Both read what they produced plus the warm-up record.
          const expected = produced.messages + 1;
          const consumeSeconds = Math.max(10, plan.maxSeconds * 4);
          const consumed = await measured(serverPid, () =>
            client === 'native'
              ? runConsume(bus, { topic, partitions: PARTITIONS, expectedMessages: expected, mode: 'batches', maxSeconds: consumeSeconds })
              : client === 'kafkajs'
                ? kafkajsConsume(kafka, topic, expected, plan, `bench-${topic}`)
                : librdkafka(rootDir, ['consume', kafkaAddress(server), topic, `${PARTITIONS}`, `${expected}`, `${consumeSeconds}`], (consumeSeconds + 30) * 1000),
          );
          add(`consume|${batchBytes}|${client}`, consumed);
          log(
            `repeat ${repeat + 1}/${repeats} batch ${batchBytes / KIB} KiB ${client}: produce ${produced.megabytesPerSecond.toFixed(1)} MB/s (${produced.serverCpuMsPerMb.toFixed(1)} server ms/MB), consume ${consumed.megabytesPerSecond.toFixed(1)} MB/s (${consumed.serverCpuMsPerMb.toFixed(1)} server ms/MB)${produced.errors + consumed.errors > 0 ? `, errors: ${produced.firstError ?? consumed.firstError ?? ''}` : ''}`,
          );
          await kafkaAdmin.deleteTopics({ topics: [topic] });
        }
      }
    }
  } finally {
    await kafkaAdmin.disconnect();
    await bus.close();
    await server.dispose();
  }

  const rows: Row[] = [];
  for (const workload of ['produce', 'consume'] as const) {
    for (const batchBytes of plan.batchSizesBytes) {
      for (const client of clientsRun) rows.push(rowOf(workload, batchBytes, client, samples.get(`${workload}|${batchBytes}|${client}`) ?? []));
    }
  }
  const report = renderReport(mode, repeats, plan, rows);
  process.stdout.write(report);
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `kafka-${mode === 'full' ? '' : `${mode}-`}${stamp}`);
  writeFileSync(`${base}.md`, report);
  writeFileSync(`${base}.json`, JSON.stringify({ mode, repeats, plan, partitions: PARTITIONS, windowBytes: WINDOW_BYTES, rows }, null, 2));
  log(`wrote ${base}.md and .json`);
}

function renderReport(mode: Mode, repeats: number, plan: Plan, rows: readonly Row[]): string {
  const lines = [
    `# Kafka listener vs native client (${mode}, ${repeats} repeats, medians)`,
    '',
    `One \`streambus dev\` process, ${PARTITIONS} partitions, ${plan.valueBytes} B incompressible values, acks=all, up to ${plan.maxMessages} records or ${plan.maxSeconds} s per produce run, ${WINDOW_BYTES / MIB} MiB of records in flight per client. Consume reads back what the same client produced, every consumer asking for ${PARTITION_FETCH_BYTES / MIB} MiB per partition. Each step starts once the server has used under ${QUIET_CPU_SHARE * 100}% of a core for ${QUIET_WINDOW_MS} ms (LevelDB compacts for a few seconds after a produce; that work is not the next step's). Server CPU is the server process's CPU time per MB moved, and server busy its CPU time over the run's wall time (one core = 100%); client CPU is the benchmark process's per MB (native and kafkajs run there), or the librdkafka child's own (confluent-kafka-python, assigned partitions, clock started at its first record). The kafkajs consumer's clock starts when its group join completes, as the native consumer's starts at assign().`,
    '',
    '| workload | batch | client | MB/s | records/s | server CPU ms/MB | server busy | client CPU ms/MB | vs native (MB/s) | server CPU/MB vs native |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const checks: string[] = [];
  for (const row of rows) {
    const native = rows.find((r) => r.workload === row.workload && r.batchBytes === row.batchBytes && r.client === 'native');
    const kafkaClient = (KAFKA_CLIENTS as readonly Client[]).includes(row.client);
    const ratio = kafkaClient && native !== undefined && native.medianMbPerSecond > 0 ? row.medianMbPerSecond / native.medianMbPerSecond : undefined;
    const cpuRatio = kafkaClient && native !== undefined && native.medianServerCpuMsPerMb > 0 ? row.medianServerCpuMsPerMb / native.medianServerCpuMsPerMb : undefined;
    lines.push(
      `| ${row.workload} | ${row.batchBytes / KIB} KiB | ${row.client} | ${row.medianMbPerSecond.toFixed(1)} | ${Math.round(row.medianMessagesPerSecond)} | ${row.medianServerCpuMsPerMb.toFixed(2)} | ${(row.medianServerBusy * 100).toFixed(0)}% | ${row.medianClientCpuMsPerMb.toFixed(2)} | ${ratio === undefined ? '' : `${(ratio * 100).toFixed(0)}%`} | ${cpuRatio === undefined ? '' : `${(cpuRatio * 100).toFixed(0)}%`} |`,
    );
    if (ratio !== undefined) {
      checks.push(`- ${row.workload} ${row.batchBytes / KIB} KiB: ${row.client} through the listener at ${(ratio * 100).toFixed(0)}% of native throughput: ${1 - ratio <= TARGET_MAX_COST ? 'meets' : 'misses'} the ≤${TARGET_MAX_COST * 100}% cost target`);
    }
  }
  return [...lines, '', '## Target: the listener costs no more than 20% of native throughput', '', ...checks, ''].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
