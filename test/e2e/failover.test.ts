/**
 * The controller failing a cluster over by itself, with real processes: three `streambus
 * coordinator` and three `streambus broker` processes, a topic with replication factor 3 and
 * min.insync.replicas=2, default failure detection settings (session timeout 9 s, disconnect fence
 * 500 ms).
 *
 * In order: the partition's leader is killed (kill -9) under an acks=all load: a new leader comes
 * from the ISR, the killed broker leaves the ISR, and every acknowledged record is read back exactly
 * once (a record whose produce failed may or may not be there, once at most; nothing else is). The
 * killed broker restarts, catches up and rejoins the ISR; a preferred election gives it the lead
 * back. A follower paused with SIGSTOP leaves the ISR after replica.lag.time.max.ms (3 s here) and
 * rejoins after SIGCONT. A SIGTERM'd leader hands its leadership over before it exits.
 *
 * The load speaks the native protocol directly and finds the leader itself from broker metadata,
 * so it measures the controller, not a client's retry policy. The time from the kill to the first
 * metadata naming a new leader, and to the first acknowledged write on it, is printed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '../../client/index.js';
import { ErrorCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { BrokerProcess } from '../support/broker-process.js';
import { CoordinatorCluster } from '../support/coordinator-cluster.js';
import { cliPath } from '../support/dev-server.js';

const TOPIC = 'failover';
const BROKER_IDS = [101, 102, 103] as const;
const LAG_MS = 3_000;

let cluster: CoordinatorCluster;
const brokers: BrokerProcess[] = [];
let root = '';

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'streambus-failover-'));
  cluster = await CoordinatorCluster.start({ nodes: 3 });
  for (const nodeId of BROKER_IDS) {
    brokers.push(
      new BrokerProcess({ nodeId, dataDir: path.join(root, `broker-${nodeId}`), coordinators: cluster.bootstrap, settings: { 'replica.lag.time.max.ms': LAG_MS } }),
    );
  }
  await Promise.all(brokers.map((broker) => broker.start()));
  const connection = await connectTo(brokers[0]!);
  try {
    const created = await connection.request('CREATE_TOPICS', {
      topics: [{ name: TOPIC, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  } finally {
    await connection.close();
  }
  await eventually('the topic on every broker', async () => (await Promise.all(brokers.map((b) => partitionOn(b)))).every((p) => p !== undefined && p.leader > 0));
}, 120_000);

afterAll(async () => {
  await Promise.all(brokers.map((broker) => broker.kill()));
  await cluster?.dispose();
  if (root !== '') await rm(root, { recursive: true, force: true });
});

function connectTo(broker: BrokerProcess): Promise<Connection> {
  return connect({ host: broker.native.host, port: broker.native.port, requestTimeoutMs: 5_000 });
}

function brokerOf(nodeId: number): BrokerProcess {
  return brokers.find((b) => b.nodeId === nodeId)!;
}

/** The partition as `broker`'s followed metadata has it; undefined when it cannot answer. */
async function partitionOn(broker: BrokerProcess): Promise<M.PartitionInfo | undefined> {
  if (!broker.running) return undefined;
  const connection = await connectTo(broker).catch(() => undefined);
  if (connection === undefined) return undefined;
  try {
    const answer = await connection.request('METADATA', { topics: [TOPIC], allTopics: false, allowAutoTopicCreation: false }, { timeoutMs: 2_000 });
    return answer.topics[0]?.partitions[0];
  } catch {
    return undefined;
  } finally {
    await connection.close();
  }
}

/** The partition as the first running broker (other than `except`) sees it. */
async function partition(except?: number): Promise<M.PartitionInfo> {
  for (const broker of brokers) {
    if (broker.nodeId === except) continue;
    const found = await partitionOn(broker);
    if (found !== undefined) return found;
  }
  throw new Error('no broker answered METADATA');
}

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${cluster.logs(15)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * An acks=all load of one record per request, each value unique. It sends to the leader the
 * metadata names, and on any failure looks the leader up again and moves on to the next value: a
 * value it could not get acknowledged is never sent twice, so a record read twice is a real
 * duplicate.
 */
class Load {
  readonly acknowledged: string[] = [];
  readonly failed: string[] = [];
  /** When each value was acknowledged, and by which leader. */
  readonly acks: { value: string; atMs: number; leader: number }[] = [];
  #stop = false;
  #next = 0;
  #running: Promise<void> | undefined;

  constructor(readonly prefix: string) {}

  start(): void {
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
  }

  async #run(): Promise<void> {
    let connection: Connection | undefined;
    let leader = -1;
    while (!this.#stop) {
      try {
        if (connection === undefined) {
          const p = await partition();
          if (p.leader < 0) throw new Error('no leader yet');
          leader = p.leader;
          connection = await connectTo(brokerOf(leader));
        }
        const value = `${this.prefix}-${this.#next++}`;
        const records = encodeRecordBatchSync({ records: [{ value }], nowMs: Date.now() });
        let code: number = ErrorCode.UNKNOWN_SERVER_ERROR;
        try {
          const answer = await connection.request('PRODUCE', { acks: -1, timeoutMs: 2_000, topics: [{ name: TOPIC, partitions: [{ partition: 0, records }] }] });
          code = answer.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        } finally {
          if (code === ErrorCode.NONE) {
            this.acknowledged.push(value);
            this.acks.push({ value, atMs: performance.now(), leader });
          } else {
            this.failed.push(value);
          }
        }
        if (code !== ErrorCode.NONE) throw new Error(`produce failed with ${code}`);
      } catch {
        await connection?.close().catch(() => undefined);
        connection = undefined;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await connection?.close().catch(() => undefined);
  }
}

/** Every value in the partition, in offset order, read as a consumer from the leader. */
async function readAll(): Promise<string[]> {
  const p = await partition();
  const connection = await connectTo(brokerOf(p.leader));
  const values: string[] = [];
  try {
    for (let offset = 0; ; ) {
      const answer = await connection.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 8 << 20,
        isolationLevel: 0,
        topics: [{ name: TOPIC, partitions: [{ partition: 0, fetchOffset: offset, maxBytes: 4 << 20 }] }],
      });
      const result = answer.topics[0]!.partitions[0]!;
      expect(result.errorCode).toBe(ErrorCode.NONE);
      if (result.records.length === 0) break;
      for (const batch of decodeRecordBatchesSync(result.records)) {
        for (const record of batch.records) {
          values.push(record.value?.toString('utf8') ?? '');
          offset = record.offset + 1;
        }
      }
      if (offset >= result.highWatermark) break;
    }
  } finally {
    await connection.close();
  }
  return values;
}

/** Every acknowledged value exactly once; a failed one at most once; nothing else. */
function expectExactlyOnce(seen: readonly string[], loads: readonly Load[]): void {
  const counts = new Map<string, number>();
  for (const value of seen) counts.set(value, (counts.get(value) ?? 0) + 1);
  const failed = new Set(loads.flatMap((l) => l.failed));
  const acknowledged = loads.flatMap((l) => l.acknowledged);
  const lost = acknowledged.filter((v) => counts.get(v) !== 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
  const unknown = [...counts.keys()].filter((v) => !failed.has(v) && !acknowledged.includes(v));
  expect({ lost, duplicated, unknown }).toEqual({ lost: [], duplicated: [], unknown: [] });
}

let preferred = -1;
const loads: Load[] = [];

describe('failover > three coordinators, three brokers, RF=3, min.insync.replicas=2', () => {
  it('elects a new leader from the ISR when the leader is killed under acks=all load, and loses no acknowledged record', async () => {
    const before = await partition();
    preferred = before.replicas[0]!;
    expect(before.leader).toBe(preferred);
    const load = new Load('kill');
    loads.push(load);
    load.start();
    await eventually('some acknowledged writes', () => Promise.resolve(load.acknowledged.length >= 50));

    const killedAt = performance.now();
    await brokerOf(preferred).kill();
    let newLeaderAt = 0;
    await eventually('a new leader in the metadata', async () => {
      const p = await partition(preferred);
      if (p.leader <= 0 || p.leader === preferred) return false;
      newLeaderAt = performance.now();
      return true;
    }, 20_000);
    const after = await partition(preferred);
    expect(after.isr).toEqual(expect.not.arrayContaining([preferred]));
    expect(before.isr).toContain(after.leader);
    await eventually('acknowledged writes on the new leader', () => Promise.resolve(load.acks.some((a) => a.leader === after.leader && a.atMs > killedAt)));
    const firstAck = load.acks.find((a) => a.leader === after.leader && a.atMs > killedAt)!;
    process.stdout.write(
      `failover: kill -9 of broker ${preferred} -> new leader ${after.leader} in metadata after ${Math.round(newLeaderAt - killedAt)} ms, ` +
        `first acks=all write on it after ${Math.round(firstAck.atMs - killedAt)} ms\n`,
    );
    await eventually('more writes on the new leader', () => Promise.resolve(load.acks.filter((a) => a.leader === after.leader).length >= 50));
    await load.stop();
    expectExactlyOnce(await readAll(), loads);
  }, 60_000);

  it('lets the killed broker restart, catch up and rejoin the ISR, and a preferred election gives it the lead back', async () => {
    const load = new Load('rejoin');
    loads.push(load);
    load.start();
    await brokerOf(preferred).start();
    await eventually('the restarted broker back in the ISR', async () => (await partition()).isr.includes(preferred));
    await load.stop();
    const run = await cli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', TOPIC, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ partitions: [{ topic: TOPIC, partition: 0, leader: preferred, result: 'elected' }] });
    await eventually('the preferred leader in the metadata', async () => (await partition()).leader === preferred);
    expectExactlyOnce(await readAll(), loads);
  }, 60_000);

  it('takes a follower paused with SIGSTOP out of the ISR after replica.lag.time.max.ms, and back in after SIGCONT', async () => {
    const { replicas, leader } = await partition();
    const follower = brokerOf(replicas.find((id) => id !== leader)!);
    const load = new Load('pause');
    loads.push(load);
    load.start();
    follower.pause();
    const pausedAt = performance.now();
    try {
      await eventually('the paused follower out of the ISR', async () => !(await partition(follower.nodeId)).isr.includes(follower.nodeId), 15_000);
      // Left for lagging, before its session (9 s) would have fenced it.
      expect(performance.now() - pausedAt).toBeLessThan(9_000);
      const acked = load.acknowledged.length;
      await eventually('acks=all writes with the smaller ISR', () => Promise.resolve(load.acknowledged.length >= acked + 20));
    } finally {
      follower.resume();
    }
    await eventually('the resumed follower back in the ISR', async () => (await partition()).isr.includes(follower.nodeId));
    await load.stop();
    expectExactlyOnce(await readAll(), loads);
  }, 60_000);

  it('moves the leadership of a broker stopped with SIGTERM to another ISR member before the broker exits', async () => {
    const { leader, isr } = await partition();
    const stopping = brokerOf(leader);
    const load = new Load('shutdown');
    loads.push(load);
    load.start();
    await eventually('some acknowledged writes', () => Promise.resolve(load.acknowledged.length >= 20));
    await stopping.stop();
    // The broker logs this only once its own followed metadata showed it leading nothing, and
    // only then stopped its listeners.
    expect(stopping.lines.some((line) => line.includes('controlled shutdown: broker fenced and leads no partition'))).toBe(true);
    const after = await partition(leader);
    expect(after.leader).not.toBe(leader);
    expect(isr).toContain(after.leader);
    expect(after.isr).toEqual(expect.not.arrayContaining([leader]));
    await eventually('writes on the new leader', () => Promise.resolve(load.acks.some((a) => a.leader === after.leader)));
    await load.stop();
    expectExactlyOnce(await readAll(), loads);
  }, 60_000);
});

function cli(args: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args, '--coordinators', cluster.bootstrap.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`streambus ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
