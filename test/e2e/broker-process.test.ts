/**
 * A real `streambus broker` process following three real `streambus coordinator` processes
 * (test/support/coordinator-cluster.ts), used through the client library over real TCP: topics
 * created through the broker land on the coordinator leader, records go in and come back out, the
 * broker keeps serving while the coordinator leader is killed (kill -9) and forwards admin calls
 * to the next leader, it asks to be fenced when stopped, and a restart after the coordinators
 * compacted their log loads their snapshot and keeps the data it had.
 *
 * The coordinators snapshot their Raft log every 10 000 entries and drop records a snapshot covers
 * once they hold more than 10 000 (neither is a setting yet), so the compaction test writes a
 * little over 10 000 config changes to get there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError, CoordinatorClient, StreamBus, type Message } from '../../client/index.js';
import { MetadataState } from '../../coordinator/index.js';
import { ErrorCode } from '../../proto/errors.js';
import { CoordinatorCluster } from '../support/coordinator-cluster.js';
import { cliPath, type Listener } from '../support/dev-server.js';

const BROKER_ID = 101;
/** Writes past the coordinators' snapshot interval and retained records (10 000 each, see above). */
const COMPACTION_WRITES = 10_600;
const WRITERS = 32;

let cluster: CoordinatorCluster;
let coordinators: CoordinatorClient;
let broker: BrokerProcess;
let dataDir: string;

beforeAll(async () => {
  cluster = await CoordinatorCluster.start({ nodes: 3 });
  coordinators = new CoordinatorClient({ bootstrap: cluster.bootstrap, requestTimeoutMs: 15_000 });
  dataDir = await mkdtemp(path.join(tmpdir(), 'streambus-broker-'));
  broker = await BrokerProcess.start(cluster.bootstrap, dataDir);
}, 90_000);

afterAll(async () => {
  await broker?.stop();
  await coordinators?.close();
  await cluster?.dispose();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

/** A `streambus broker` child process; the harness waits for its "streambus broker ready" line. */
class BrokerProcess {
  readonly native: Listener;
  readonly logLines: string[];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;

  private constructor(native: Listener, logLines: string[], child: ChildProcess, exited: Promise<number | null>) {
    this.native = native;
    this.logLines = logLines;
    this.#child = child;
    this.#exited = exited;
  }

  static async start(bootstrap: readonly string[], dir: string, overrides: Readonly<Record<string, string | number>> = {}, timeoutMs = 30_000): Promise<BrokerProcess> {
    const settings: Record<string, string | number> = {
      'node.id': BROKER_ID,
      coordinators: bootstrap.join(','),
      'data.dir': dir,
      'native.port': 0,
      'kafka.port': 0,
      'admin.port': 0,
      'broker.heartbeat.interval.ms': 500,
      'log.format': 'json',
      'log.level': 'info',
      ...overrides,
    };
    const args = [cliPath, 'broker', ...Object.entries(settings).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STREAMBUS_DATA_DIR: '', STREAMBUS_CONFIG: '' } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const logLines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-32 * 1024);
    });
    const ready = new Promise<Listener>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        logLines.push(line);
        const entry = parseLine(line);
        if (entry?.msg === 'streambus broker ready' && entry.native !== undefined) resolve(entry.native as Listener);
      });
      void exited.then((code) => reject(new Error(`streambus broker exited with ${String(code)} before it was ready\n${stderr}\n${logLines.join('\n')}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`streambus broker was not ready within ${timeoutMs} ms\n${stderr}\n${logLines.join('\n')}`)), timeoutMs);
    });
    try {
      return new BrokerProcess(await Promise.race([ready, timeout]), logLines, child, exited);
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get bootstrap(): string {
    return `${this.native.host}:${this.native.port}`;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.#child.exitCode;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  logged(message: string): boolean {
    return this.logLines.some((line) => parseLine(line)?.msg === message);
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

/** Retries `probe` until it resolves, failing with the last error and every log after `timeoutMs`. */
async function eventually<T>(what: string, probe: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: not within ${timeoutMs} ms (last error: ${String(error)})\n${cluster.logs()}\n--- broker\n${broker.logLines.slice(-40).join('\n')}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The coordinators' committed metadata, read with the coordinator client from offset 0. */
async function coordinatorMetadata(): Promise<{ state: MetadataState; startedWithSnapshot: boolean }> {
  let state = MetadataState.empty();
  let startedWithSnapshot: boolean | undefined;
  for await (const update of coordinators.followMetadata(0, { maxWaitMs: 100, signal: AbortSignal.timeout(30_000) })) {
    if (update.kind === 'snapshot') state = MetadataState.restore(update.snapshot);
    else for (const record of update.records) state.apply(record);
    startedWithSnapshot ??= update.kind === 'snapshot';
    if (state.lastAppliedOffset >= update.committedOffset) break;
  }
  return { state, startedWithSnapshot: startedWithSnapshot === true };
}

async function produce(bus: StreamBus, topic: string, values: readonly string[]): Promise<void> {
  const producer = bus.producer({ acks: -1, lingerMs: 2 });
  try {
    await Promise.all(values.map((value, i) => producer.send({ topic, partition: i % 2, key: value, value })));
  } finally {
    await producer.close();
  }
}

async function consumeValues(bus: StreamBus, topic: string, partitions: number, expected: number): Promise<string[]> {
  const consumer = bus.consumer({ maxWaitMs: 100 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  const values: string[] = [];
  try {
    for await (const message of consumer.messages({ signal: AbortSignal.timeout(15_000) })) {
      values.push(valueOf(message));
      if (values.length >= expected) break;
    }
  } finally {
    await consumer.close();
  }
  return values.sort();
}

function valueOf(message: Message): string {
  return message.value === null ? '' : message.value.toString('utf8');
}

function numbered(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
}

describe('broker process > following a coordinator group', () => {
  it('creates a topic through the broker on the coordinator leader, and serves produce and fetch for it', async () => {
    const bus = new StreamBus({ brokers: [broker.bootstrap], clientId: 'broker-e2e' });
    try {
      await bus.admin().createTopics([{ topic: 'orders', partitions: 2 }]);
      const [described] = await bus.admin().describeTopics(['orders']);
      expect(described?.partitions.map((p) => p.leader)).toEqual([BROKER_ID, BROKER_ID]);

      // The creation is in the coordinators' log: creating it there again is refused.
      const again = await coordinators.createTopics([{ topic: 'orders' }]).catch((error: unknown) => error);
      expect(again).toBeInstanceOf(AdminError);
      expect((again as AdminError).code).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);

      const sent = numbered('before', 40);
      await produce(bus, 'orders', sent);
      expect(await consumeValues(bus, 'orders', 2, sent.length)).toEqual(sent);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('keeps serving produce and fetch while the coordinator leader is dead, and its admin calls succeed again under the next leader', async () => {
    const bus = new StreamBus({ brokers: [broker.bootstrap], clientId: 'broker-e2e-failover' });
    const { leaderId } = await coordinators.clusterStatus();
    try {
      await cluster.node(leaderId).kill();
      const during = numbered('during', 20);
      await produce(bus, 'orders', during);
      const all = await consumeValues(bus, 'orders', 2, 60);
      expect(all).toEqual([...numbered('before', 40), ...during].sort());

      await eventually('a topic created through the broker after the leader died', () => bus.admin().createTopics([{ topic: 'after-failover', partitions: 2 }]));
      const status = await coordinators.clusterStatus();
      expect(status.leaderId).not.toBe(leaderId);
      await produce(bus, 'after-failover', ['x', 'y']);
      expect(await consumeValues(bus, 'after-failover', 2, 2)).toEqual(['x', 'y']);
      expect(broker.running).toBe(true);
    } finally {
      await bus.close();
      await cluster.restart(leaderId);
    }
  }, 90_000);

  it('asks to be fenced when stopped, and after the coordinators compacted their log a restart loads their snapshot and keeps its data', async () => {
    expect(await broker.stop()).toBe(0);
    expect(broker.logged('broker fenced for shutdown')).toBe(true);
    const { state: afterStop } = await coordinatorMetadata();
    expect(afterStop.broker(BROKER_ID)?.fenced).toBe(true);

    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < COMPACTION_WRITES) {
        const n = next++;
        // Retention far longer than the test, so these changes delete no data.
        await coordinators.alterConfigs([{ topic: 'orders', set: { 'retention.ms': String(86_400_000 + n) } }]);
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    const { startedWithSnapshot } = await eventually('the coordinators to serve offset 0 from a snapshot', async () => {
      const read = await coordinatorMetadata();
      if (!read.startedWithSnapshot) throw new Error('offset 0 is still served as records');
      return read;
    });
    expect(startedWithSnapshot).toBe(true);

    broker = await BrokerProcess.start(cluster.bootstrap, dataDir);
    expect(broker.logged('loaded a metadata snapshot from the coordinator group')).toBe(true);
    const bus = new StreamBus({ brokers: [broker.bootstrap], clientId: 'broker-e2e-restart' });
    try {
      const { state } = await coordinatorMetadata();
      expect(state.broker(BROKER_ID)?.fenced).toBe(false);
      const [config] = await bus.admin().describeConfigs(['orders']);
      expect(config?.entries.find((e) => e.name === 'retention.ms')?.value).toBe(state.topic('orders')?.configs['retention.ms']);
      expect(await consumeValues(bus, 'orders', 2, 60)).toEqual([...numbered('before', 40), ...numbered('during', 20)].sort());
    } finally {
      await bus.close();
    }
  }, 180_000);
});

describe('broker process > refusing to start', () => {
  it('refuses a node.id below 1 with INVALID_CONFIG', async () => {
    await expect(BrokerProcess.start(cluster.bootstrap, dataDir, { 'node.id': 0 })).rejects.toThrow(/INVALID_CONFIG.*node\.id must be at least 1/);
  }, 40_000);

  it('refuses coordinators of another cluster than cluster.id with INCONSISTENT_CLUSTER_ID', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'streambus-broker-other-'));
    try {
      await expect(BrokerProcess.start(cluster.bootstrap, dir, { 'node.id': 102, 'cluster.id': 'another-cluster' })).rejects.toThrow(/INCONSISTENT_CLUSTER_ID/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it("refuses another broker's data directory with INVALID_CONFIG and leaves that data alone", async () => {
    await expect(BrokerProcess.start(cluster.bootstrap, dataDir, { 'node.id': 102 })).rejects.toThrow(/INVALID_CONFIG.*belongs to node 101/);
    const bus = new StreamBus({ brokers: [broker.bootstrap], clientId: 'broker-e2e-refusal' });
    try {
      expect(await consumeValues(bus, 'orders', 2, 60)).toHaveLength(60);
    } finally {
      await bus.close();
    }
  }, 40_000);
});
