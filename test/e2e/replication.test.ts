/**
 * Replication across real processes: three `streambus coordinator` processes and three
 * `streambus broker` processes, a topic with replication factor 3 and min.insync.replicas=2.
 *
 * What it shows: acks=all produce is acknowledged once every in-sync replica has the records and
 * consumers read them once, in order; every replica ends with the same log end offset. With a
 * follower killed (kill -9) the controller takes it out of the ISR (its connection closed), so
 * acks=all produce goes on with the two in-sync replicas left; restarted, the follower catches up
 * and consumers see every record exactly once, in order. Leader failover is test/e2e/failover.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus, connect } from '../../client/index.js';
import { ErrorCode } from '../../proto/errors.js';
import { encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { CoordinatorCluster } from '../support/coordinator-cluster.js';
import { cliPath, type Listener } from '../support/dev-server.js';

const TOPIC = 'replicated';
const BROKER_IDS = [101, 102, 103] as const;

/** A `streambus broker` child process, ready once it logs "streambus broker ready". */
class BrokerProcess {
  readonly lines: string[] = [];
  native: Listener = { host: '', port: 0 };
  admin: Listener = { host: '', port: 0 };
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly nodeId: number,
    readonly dir: string,
    readonly bootstrap: readonly string[],
  ) {}

  async start(timeoutMs = 30_000): Promise<void> {
    const settings: Record<string, string | number> = {
      'node.id': this.nodeId,
      coordinators: this.bootstrap.join(','),
      'data.dir': this.dir,
      'native.port': 0,
      'kafka.port': 0,
      'admin.port': 0,
      'broker.heartbeat.interval.ms': 500,
      'log.format': 'json',
      'log.level': 'info',
    };
    const args = [cliPath, 'broker', ...Object.entries(settings).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STREAMBUS_DATA_DIR: '', STREAMBUS_CONFIG: '' } });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16 * 1024)));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        this.lines.push(line);
        const entry = parseLine(line);
        if (entry?.msg !== 'streambus broker ready') return;
        this.native = entry.native as Listener;
        this.admin = entry.admin as Listener;
        resolve();
      });
      void this.#exited.then(() => reject(new Error(`broker ${this.nodeId} exited before it was ready\n${stderr}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`broker ${this.nodeId} not ready within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get address(): string {
    return `${this.native.host}:${this.native.port}`;
  }

  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    if (this.#child === undefined || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), 15_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** The partition's log end offset and high watermark, from this broker's /metrics. */
  async offsets(partition = 0): Promise<{ logEndOffset: number; highWatermark: number }> {
    const text = await (await fetch(`http://${this.admin.host}:${this.admin.port}/metrics`)).text();
    const gauge = (name: string): number => {
      const match = new RegExp(`^streambus_partition_${name}\\{[^}]*topic="${TOPIC}"[^}]*partition="${partition}"[^}]*\\} (\\d+)`, 'm').exec(text) ??
        new RegExp(`^streambus_partition_${name}\\{[^}]*partition="${partition}"[^}]*topic="${TOPIC}"[^}]*\\} (\\d+)`, 'm').exec(text);
      return match === null ? -1 : Number(match[1]);
    };
    return { logEndOffset: gauge('log_end_offset'), highWatermark: gauge('high_watermark') };
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let cluster: CoordinatorCluster;
let brokers: BrokerProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await CoordinatorCluster.start({ nodes: 3 });
  for (const nodeId of BROKER_IDS) {
    const dir = await mkdtemp(path.join(tmpdir(), `streambus-replica-${nodeId}-`));
    dirs.push(dir);
    brokers.push(new BrokerProcess(nodeId, dir, cluster.bootstrap));
  }
  await Promise.all(brokers.map((broker) => broker.start()));
}, 90_000);

afterAll(async () => {
  await Promise.all(brokers.map((broker) => broker.stop()));
  await cluster?.dispose();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  brokers = [];
});

function busOf(clientId: string): StreamBus {
  return new StreamBus({ brokers: brokers.map((broker) => broker.address), clientId });
}

async function consumeAll(bus: StreamBus, expected: number, timeoutMs = 15_000): Promise<string[]> {
  const consumer = bus.consumer({ maxWaitMs: 100 });
  consumer.assign([{ topic: TOPIC, partition: 0, offset: 0 }]);
  const seen: string[] = [];
  try {
    for await (const message of consumer.messages({ signal: AbortSignal.timeout(timeoutMs) })) {
      seen.push(message.value?.toString('utf8') ?? '');
      if (seen.length >= expected) break;
    }
  } catch (error) {
    if (!(error instanceof Error && error.name === 'TimeoutError') && !(error instanceof Error && /abort/i.test(error.message))) throw error;
  } finally {
    await consumer.close();
  }
  return seen;
}

function numbered(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
}

describe('replication > three brokers, RF=3, min.insync.replicas=2', () => {
  let leader: BrokerProcess;
  let follower: BrokerProcess;
  const before = numbered('before', 60);
  const during = numbered('during', 20);

  it('acknowledges acks=all once every replica has the records, and consumers read each once, in order', async () => {
    const bus = busOf('replication-e2e');
    try {
      await bus.admin().createTopics([{ topic: TOPIC, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
      const [described] = await bus.admin().describeTopics([TOPIC]);
      const partition = described!.partitions[0]!;
      expect([...partition.replicas].sort()).toEqual([...BROKER_IDS]);
      leader = brokers.find((broker) => broker.nodeId === partition.leader)!;
      follower = brokers.find((broker) => broker.nodeId !== partition.leader)!;

      const producer = bus.producer({ acks: -1, lingerMs: 0 });
      for (const value of before) await producer.send({ topic: TOPIC, partition: 0, value });
      await producer.close();
      // Acknowledged under acks=all: every ISR member has them, so the high watermark covers them.
      for (const broker of brokers) expect((await broker.offsets()).logEndOffset).toBe(before.length);
      expect(await consumeAll(bus, before.length)).toEqual(before);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('with a follower killed, the follower leaves the ISR and acks=all goes on with the other two replicas', async () => {
    await follower.kill();
    const bus = busOf('replication-e2e-outage');
    const connection = await connect({ host: leader.native.host, port: leader.native.port });
    try {
      await eventually('the killed follower out of the ISR', async () => {
        const [described] = await bus.admin().describeTopics([TOPIC]);
        return !described!.partitions[0]!.isr.includes(follower.nodeId);
      });
      const records = encodeRecordBatchSync({ records: [{ value: 'stuck' }], nowMs: Date.now() });
      const response = await connection.request('PRODUCE', { acks: -1, timeoutMs: 5_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records }] }] });
      expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);

      const producer = bus.producer({ acks: 1, lingerMs: 0 });
      for (const value of during) await producer.send({ topic: TOPIC, partition: 0, value });
      await producer.close();
      await eventually('the high watermark at the log end', async () => {
        const offsets = await leader.offsets();
        return offsets.logEndOffset === before.length + 1 + during.length && offsets.highWatermark === offsets.logEndOffset;
      });
      expect(await consumeAll(bus, before.length + 1 + during.length)).toEqual([...before, 'stuck', ...during]);
    } finally {
      await connection.close();
      await bus.close();
    }
  }, 60_000);

  it('a restarted follower catches up to the same log end, and consumers then see every record once, in order', async () => {
    await follower.start();
    const end = before.length + 1 + during.length;
    await eventually('every replica at the same log end offset', async () => {
      const all = await Promise.all(brokers.map((broker) => broker.offsets()));
      return all.every((o) => o.logEndOffset === end) && (await leader.offsets()).highWatermark === end;
    });
    const bus = busOf('replication-e2e-after');
    try {
      expect(await consumeAll(bus, end)).toEqual([...before, 'stuck', ...during]);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('refuses acks=all with NOT_ENOUGH_REPLICAS, writing nothing, when the ISR is smaller than min.insync.replicas', async () => {
    const bus = busOf('replication-e2e-min-isr');
    try {
      await bus.admin().createTopics([{ topic: 'thin', partitions: 1, replicationFactor: 1, configs: { 'min.insync.replicas': '2' } }]);
      const [described] = await bus.admin().describeTopics(['thin']);
      const owner = brokers.find((broker) => broker.nodeId === described!.partitions[0]!.leader)!;
      const connection = await connect({ host: owner.native.host, port: owner.native.port });
      try {
        const records = encodeRecordBatchSync({ records: [{ value: 'refused' }], nowMs: Date.now() });
        const produce = (acks: number) => connection.request('PRODUCE', { acks, timeoutMs: 1_000, topics: [{ name: 'thin', partitions: [{ partition: 0, records }] }] });
        expect((await produce(-1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
        const accepted = (await produce(1)).topics[0]!.partitions[0]!;
        expect(accepted.errorCode).toBe(ErrorCode.NONE);
        expect(accepted.baseOffset).toBe(0);
      } finally {
        await connection.close();
      }
    } finally {
      await bus.close();
    }
  }, 30_000);
});
