/**
 * Benchmark of the schema registry from a client's side, against one real `streambus dev`:
 *
 * 1. Lookup latency, p50/p99/max of sequential calls:
 *    - cached: the client's id → schema cache (SchemaRegistryClient.getSchema on a known id) and a
 *      serializer's subject → id (schemaId on a known topic): what every record pays;
 *    - uncached: the caches cleared before each call, so each is one HTTP request to the registry's
 *      REST API: GET /schemas/ids/{id} (by id) and POST /subjects/{subject} (by subject + schema).
 * 2. Produce throughput with schema-id validation on and off, side by side in the same run: two
 *    topics of one partition, one with confluent.value.schema.validation=true, the same framed
 *    Avro values (the id registered under the validated topic's subject) sent as fast as the
 *    server takes them (a window of sends in flight), alternating off/on phases --repeats times;
 *    the cost is 1 − median(on) / median(off). Target: under 10 %.
 *
 * 3. The check's own CPU cost, in process and so free of the run-to-run noise of (2): ns per
 *    record of checkSchemaIds over a batch of 1000 framed records, next to the ns per record a
 *    produce costs end to end (1 / the validation-off throughput): their ratio is the share of a
 *    produce the check adds.
 *
 * Run: npm run bench:registry -- [--quick | --smoke] [--seconds S] [--repeats N] [--lookups N] [--value-bytes N] [--out DIR]
 * Writes bench/results/registry-<date>.md and .json and prints the figures.
 */
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AvroSerializer, SchemaFormat, SchemaRegistryClient, StreamBus, encodeFrame, type Producer } from '../client/index.js';
import { SchemaStore } from '../coordinator/index.js';
import { encodeRecordBatch } from '../proto/record-batch/index.js';
import { checkSchemaIds, storeSchemaIdLookup } from '../broker/server/schema-validation.js';
import { writeBenchReport } from './harness/report.js';
import { probeFsync } from './harness/disk.js';
import { cpuModel, gitCommit } from './harness/machine.js';
import { environmentLines, targetsTable, type Environment, type TargetCheck } from './harness/report.js';
import { startBenchServer } from './harness/server.js';
import { median, summarizeLatencies, type LatencySummary } from './harness/stats.js';
import { positiveNumber, runWhenInvoked } from './harness/cli.js';
import { packageRoot } from './native.js';

interface Plan {
  readonly seconds: number;
  readonly repeats: number;
  readonly lookups: number;
  readonly cachedLookups: number;
  readonly valueBytes: number;
  /** checkSchemaIds calls per round of the in-process measurement. */
  readonly checkIterations: number;
}

const plans = {
  full: { seconds: 5, repeats: 3, lookups: 2000, cachedLookups: 200_000, valueBytes: 100, checkIterations: 2000 },
  quick: { seconds: 2, repeats: 2, lookups: 500, cachedLookups: 50_000, valueBytes: 100, checkIterations: 1000 },
  // Keeps the harness from rotting (bench/schema-registry.smoke.test.ts): tiny counts, figures meaningless.
  smoke: { seconds: 0.3, repeats: 1, lookups: 20, cachedLookups: 200, valueBytes: 100, checkIterations: 20 },
} as const satisfies Record<string, Plan>;

/** Sends in flight at once: enough to keep the server busy, as a batching producer would. */
const SEND_WINDOW = 2000;
const VALIDATED_TOPIC = 'bench-registry-validated';
const PLAIN_TOPIC = 'bench-registry-plain';
const COST_TARGET = 0.1;

const orderSchema = {
  type: 'record',
  name: 'Order',
  namespace: 'bench',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'note', type: 'string' },
  ],
};

export interface LookupRow {
  readonly label: string;
  readonly latency: LatencySummary;
}

export interface ProducePhase {
  readonly validation: boolean;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly errors: number;
}

export interface RegistryBenchReport {
  readonly environment: Environment;
  readonly lookups: readonly LookupRow[];
  readonly produce: readonly ProducePhase[];
  readonly medianOffPerSecond: number;
  readonly medianOnPerSecond: number;
  readonly validationCost: number;
  /** checkSchemaIds CPU time per record, in process. */
  readonly checkNsPerRecord: number;
  /** checkNsPerRecord ÷ the ns per record of a produce with validation off. */
  readonly checkShareOfProduce: number;
  readonly targets: readonly TargetCheck[];
}

async function timeCalls(count: number, call: () => Promise<unknown>, before?: () => void): Promise<LatencySummary> {
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i += 1) {
    before?.();
    const started = performance.now();
    await call();
    samples[i] = performance.now() - started;
  }
  return summarizeLatencies(samples, count);
}

async function measureLookups(registryUrl: string, plan: Plan): Promise<LookupRow[]> {
  const client = new SchemaRegistryClient({ url: registryUrl });
  const input = { schemaType: SchemaFormat.AVRO, schema: JSON.stringify(orderSchema) };
  const id = await client.register(`${VALIDATED_TOPIC}-value`, input);
  const serializer = new AvroSerializer(client, { schema: orderSchema, autoRegister: false });
  await serializer.schemaId(VALIDATED_TOPIC);
  const clear = (): void => client.clearCaches();
  const rows = [
    { label: 'cached: schema by id (client cache)', latency: await timeCalls(plan.cachedLookups, () => client.getSchema(id)) },
    { label: 'cached: serializer schema id for a topic', latency: await timeCalls(plan.cachedLookups, () => serializer.schemaId(VALIDATED_TOPIC)) },
    { label: 'uncached: GET /schemas/ids/{id}', latency: await timeCalls(plan.lookups, () => client.getSchema(id), clear) },
    { label: 'uncached: POST /subjects/{subject} (by schema)', latency: await timeCalls(plan.lookups, () => client.lookupId(`${VALIDATED_TOPIC}-value`, input), clear) },
  ];
  return rows;
}

/** Sends `value` to `topic` as fast as the window allows for `seconds`; counts acknowledged records. */
async function producePhase(producer: Producer, topic: string, value: Buffer, seconds: number, validation: boolean): Promise<ProducePhase> {
  let inFlight = 0;
  let acked = 0;
  let errors = 0;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    inFlight -= 1;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    if (inFlight >= SEND_WINDOW) {
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    inFlight += 1;
    producer.send({ topic, partition: 0, value }).then(
      () => {
        acked += 1;
        settle();
      },
      () => {
        errors += 1;
        settle();
      },
    );
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  const elapsed = (performance.now() - started) / 1000;
  return { validation, records: acked, seconds: elapsed, recordsPerSecond: acked / elapsed, errors };
}

/** ns per record of checkSchemaIds on a batch of 1000 records framed with a registered id (median of 5 rounds). */
async function measureCheck(valueBytes: number, iterations: number): Promise<number> {
  const store = SchemaStore.empty();
  const schema = JSON.stringify(orderSchema);
  store.apply({ type: 'schema-register', subject: `${VALIDATED_TOPIC}-value`, version: 1, id: 1, schemaType: 'AVRO', schema, canonical: schema, references: [] });
  const lookup = storeSchemaIdLookup(() => store);
  const value = encodeFrame(1, Buffer.alloc(Math.max(0, valueBytes - 5), 0x61));
  const batch = await encodeRecordBatch({ records: Array.from({ length: 1000 }, () => ({ value })), nowMs: 0 });
  const check = { topic: VALIDATED_TOPIC, partition: 0, validation: { key: undefined, value: 'TopicNameStrategy' as const }, lookup };
  const rounds: number[] = [];
  for (let round = 0; round < 5; round += 1) {
    const started = performance.now();
    for (let i = 0; i < iterations; i += 1) await checkSchemaIds(batch, check);
    rounds.push(((performance.now() - started) * 1e6) / (iterations * 1000));
  }
  return median(rounds);
}

export interface RegistryBenchOptions {
  readonly plan: Plan;
  readonly mode: string;
  readonly command: string;
  readonly outDir: string;
  readonly log: (line: string) => void;
}

export async function runRegistryBench(options: RegistryBenchOptions): Promise<RegistryBenchReport> {
  const { plan, log } = options;
  const rootDir = packageRoot();
  const loadAverageStart = loadavg();
  const fsync = probeFsync({ dir: tmpdir(), writes: 200, writeBytes: 4096, maxMs: 2000 });
  const server = await startBenchServer({ rootDir, settings: {} });
  const bus = new StreamBus({ brokers: [server.bootstrap] });
  try {
    await bus.admin().createTopics([
      { topic: VALIDATED_TOPIC, partitions: 1, configs: { 'confluent.value.schema.validation': 'true' } },
      { topic: PLAIN_TOPIC, partitions: 1 },
    ]);
    log('lookup latency…');
    const lookups = await measureLookups(server.registryUrl, plan);
    const id = await new SchemaRegistryClient({ url: server.registryUrl }).register(`${VALIDATED_TOPIC}-value`, {
      schemaType: SchemaFormat.AVRO,
      schema: JSON.stringify(orderSchema),
    });
    const value = encodeFrame(id, Buffer.alloc(Math.max(0, plan.valueBytes - 5), 0x61));
    const producer = bus.producer();
    const produce: ProducePhase[] = [];
    try {
      // A short warm-up of each path, then alternating phases so drift (disk, other load) hits both alike.
      const warmupSeconds = Math.min(0.5, plan.seconds);
      await producePhase(producer, PLAIN_TOPIC, value, warmupSeconds, false);
      await producePhase(producer, VALIDATED_TOPIC, value, warmupSeconds, true);
      for (let r = 0; r < plan.repeats; r += 1) {
        for (const validation of r % 2 === 0 ? [false, true] : [true, false]) {
          const phase = await producePhase(producer, validation ? VALIDATED_TOPIC : PLAIN_TOPIC, value, plan.seconds, validation);
          log(`produce validation ${validation ? 'on ' : 'off'}: ${phase.recordsPerSecond.toFixed(0)} records/s (${phase.errors} errors)`);
          produce.push(phase);
        }
      }
    } finally {
      await producer.close();
    }
    const medianOff = median(produce.filter((p) => !p.validation).map((p) => p.recordsPerSecond));
    const medianOn = median(produce.filter((p) => p.validation).map((p) => p.recordsPerSecond));
    const cost = 1 - medianOn / medianOff;
    log('check cost in process…');
    const checkNsPerRecord = await measureCheck(plan.valueBytes, plan.checkIterations);
    const checkShareOfProduce = checkNsPerRecord / (1e9 / medianOff);
    const errors = produce.reduce((sum, p) => sum + p.errors, 0);
    const targets: TargetCheck[] = [
      { target: `validation on costs under ${COST_TARGET * 100} % of produce throughput`, measured: `${(cost * 100).toFixed(1)} %`, met: cost < COST_TARGET },
      {
        target: `the check's CPU per record is under ${COST_TARGET * 100} % of a produce's (in process)`,
        measured: `${(checkShareOfProduce * 100).toFixed(1)} %`,
        met: checkShareOfProduce < COST_TARGET,
      },
      { target: 'no produce errors', measured: String(errors), met: errors === 0 },
    ];
    const environment: Environment = {
      date: new Date().toISOString(),
      mode: options.mode,
      command: options.command,
      nproc: availableParallelism(),
      cpuModel: cpuModel(),
      node: process.version,
      commit: gitCommit(rootDir),
      loadAverageStart,
      loadAverageEnd: loadavg(),
      serverSettings: {},
      fsync,
    };
    const report: RegistryBenchReport = { environment, lookups, produce, medianOffPerSecond: medianOff, medianOnPerSecond: medianOn, validationCost: cost, checkNsPerRecord, checkShareOfProduce, targets };
    writeReport(report, options.outDir, log);
    return report;
  } finally {
    await bus.close();
    await server.dispose();
  }
}

const ms = (value: number): string => (value < 0.1 ? value.toFixed(4) : value < 10 ? value.toFixed(2) : value.toFixed(1));

export function registryMarkdown(report: RegistryBenchReport): string {
  const lookupRows = report.lookups.map((r) => `| ${r.label} | ${r.latency.count} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} | ${ms(r.latency.maxMs)} |`);
  const produceRows = report.produce.map((p) => `| ${p.validation ? 'on' : 'off'} | ${p.records} | ${p.seconds.toFixed(1)} | ${p.recordsPerSecond.toFixed(0)} | ${p.errors} |`);
  return [
    `# StreamBus schema registry benchmark, ${report.environment.date} (${report.environment.mode})`,
    '',
    ...environmentLines(report.environment),
    '',
    '### Lookup latency (ms, sequential calls from one client)',
    '',
    '| lookup | calls | p50 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    ...lookupRows,
    '',
    `### Produce throughput, schema-id validation off vs on (one partition, acks=all, ${SEND_WINDOW} sends in flight)`,
    '',
    '| validation | records | seconds | records/s | errors |',
    '|---|---:|---:|---:|---:|',
    ...produceRows,
    '',
    `Median off ${report.medianOffPerSecond.toFixed(0)} records/s, on ${report.medianOnPerSecond.toFixed(0)} records/s: validation costs ${(report.validationCost * 100).toFixed(1)} %${report.validationCost < 0 ? ' (negative: on was faster, i.e. noise)' : ''}.`,
    '',
    '### The check alone (in process)',
    '',
    `checkSchemaIds: ${report.checkNsPerRecord.toFixed(0)} ns per record (batches of 1000 framed records, the produce phases' values); ` +
      `a produce with validation off costs ${(1e9 / report.medianOffPerSecond).toFixed(0)} ns per record end to end, so the check adds ${(report.checkShareOfProduce * 100).toFixed(1)} %.`,
    '',
    '### Targets',
    '',
    targetsTable(report.targets),
    '',
  ].join('\n');
}

function writeReport(report: RegistryBenchReport, outDir: string, log: (line: string) => void): void {
  writeBenchReport({ outDir, name: 'registry', startedAt: new Date(), json: report, markdown: registryMarkdown(report), log });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      repeats: { type: 'string' },
      lookups: { type: 'string' },
      'value-bytes': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const base: Plan = plans[mode];
  const plan: Plan = {
    seconds: positiveNumber(values.seconds, 'seconds', base.seconds, false),
    repeats: positiveNumber(values.repeats, 'repeats', base.repeats, true),
    lookups: positiveNumber(values.lookups, 'lookups', base.lookups, true),
    cachedLookups: base.cachedLookups,
    checkIterations: base.checkIterations,
    valueBytes: positiveNumber(values['value-bytes'], 'value-bytes', base.valueBytes, true),
  };
  const report = await runRegistryBench({
    plan,
    mode,
    command: `npm run bench:registry -- ${process.argv.slice(2).join(' ')}`.trim(),
    outDir: values.out ?? path.join(packageRoot(), 'bench/results'),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(registryMarkdown(report));
}

runWhenInvoked(import.meta.url, main, 'bench:registry');
