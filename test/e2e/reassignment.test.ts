/**
 * Operating a cluster with real processes: three `streambus coordinator` and four `streambus
 * broker` processes (ids 1-4), driven through the `streambus` CLI as an operator would.
 *
 * In order: a partition with data moves from brokers {1, 2, 3} to {2, 3, 4} under an acks=all
 * load: broker 4 copies the data and joins the ISR before the controller switches the partition,
 * broker 1 (its leader) hands over and deletes its copy, and a consumer then reads every
 * acknowledged record once, in order. A move onto a broker that cannot copy (paused) stays in
 * progress until it is cancelled, which reverts it. Draining a broker moves every leadership it
 * holds elsewhere while it stays in the ISRs; undraining and a preferred election bring them back.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClusterMetadata } from '../../cli/commands/cluster-brokers.js';
import { CoordinatorClient, connect, type Connection } from '../../client/index.js';
import type { MetadataStateView, PartitionAssignment } from '../../coordinator/index.js';
import { ErrorCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { BrokerProcess } from '../support/broker-process.js';
import { CoordinatorCluster } from '../support/coordinator-cluster.js';
import { cliPath } from '../support/dev-server.js';

const MOVED = 'moved';
const DRAINED = 'drained';

let cluster: CoordinatorCluster;
let coordinators: CoordinatorClient;
const brokers: BrokerProcess[] = [];
let root = '';
/** Brokers paused with SIGSTOP: nothing asks them anything meanwhile. */
const paused = new Set<number>();

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'streambus-reassignment-'));
  cluster = await CoordinatorCluster.start({ nodes: 3 });
  coordinators = new CoordinatorClient({ bootstrap: cluster.bootstrap, requestTimeoutMs: 15_000 });
  for (const nodeId of [1, 2, 3, 4]) {
    brokers.push(new BrokerProcess({ nodeId, dataDir: path.join(root, `broker-${nodeId}`), coordinators: cluster.bootstrap, settings: { 'replica.lag.time.max.ms': 5_000 } }));
  }
  // Broker 4 joins later, so the first topic's replicas are 1, 2 and 3.
  await Promise.all(brokers.slice(0, 3).map((broker) => broker.start()));
  await coordinators.createTopics([{ topic: MOVED, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
  // The same brokers in a known order (no data to copy: it completes at once), led by broker 1.
  await expectCli(['partitions', 'reassign', '--plan', await plan([{ topic: MOVED, partition: 0, replicas: [1, 2, 3] }]), '--execute']);
  await expectCli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', MOVED]);
  await brokerOf(4).start();
  await eventually('the partition led by broker 1 on every broker', async () => {
    const seen = await Promise.all(brokers.map((b) => partitionOn(b, MOVED)));
    return seen.every((p) => p?.leader === 1 && p.isr.length === 3);
  });
}, 120_000);

afterAll(async () => {
  await coordinators?.close();
  await Promise.all(brokers.map((broker) => broker.kill()));
  await cluster?.dispose();
  if (root !== '') await rm(root, { recursive: true, force: true });
});

function brokerOf(nodeId: number): BrokerProcess {
  return brokers.find((b) => b.nodeId === nodeId)!;
}

function connectTo(broker: BrokerProcess): Promise<Connection> {
  return connect({ host: broker.native.host, port: broker.native.port, requestTimeoutMs: 5_000 });
}

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${cluster.logs(15)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The partition as `broker`'s followed metadata has it; undefined when it cannot answer. */
async function partitionOn(broker: BrokerProcess, topic: string, partition = 0): Promise<M.PartitionInfo | undefined> {
  if (!broker.running) return undefined;
  const connection = await connectTo(broker).catch(() => undefined);
  if (connection === undefined) return undefined;
  try {
    const answer = await connection.request('METADATA', { topics: [topic], allTopics: false, allowAutoTopicCreation: false }, { timeoutMs: 2_000 });
    return answer.topics[0]?.partitions[partition];
  } catch {
    return undefined;
  } finally {
    await connection.close();
  }
}

/** The coordinators' committed metadata, read to its end. */
async function committedState(): Promise<MetadataStateView> {
  const state = await readClusterMetadata(coordinators, 15_000, AbortSignal.timeout(20_000));
  if (state === undefined) throw new Error('the committed metadata could not be read');
  return state;
}

/** A partition as the coordinators' committed metadata has it. */
async function committed(topic: string, partition = 0): Promise<PartitionAssignment> {
  return (await committedState()).topic(topic)!.partitions[partition]!;
}

/** The partitions of `topic` that broker `nodeId` leads, committed. */
async function leadsOf(topic: string, nodeId: number): Promise<number[]> {
  return (await committedState()).topic(topic)!.partitions.filter((p) => p.leader === nodeId).map((p) => p.partition);
}

/** Runs the CLI against the coordinators (every command used here talks to them alone). */
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

async function expectCli(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const run = await cli(args);
  expect(run.code, `streambus ${args.join(' ')}\n${run.stdout}\n${run.stderr}`).toBe(0);
  return run;
}

async function plan(partitions: readonly { topic: string; partition: number; replicas: number[] }[]): Promise<string> {
  const file = path.join(root, `plan-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify({ version: 1, partitions }));
  return file;
}

/**
 * An acks=all load of one record per request, each value unique, to the leader the metadata names;
 * on any failure it looks the leader up again and moves on to the next value, so a value read twice
 * is a real duplicate.
 */
class Load {
  readonly acknowledged: string[] = [];
  readonly failed: string[] = [];
  #stop = false;
  #next = 0;
  #running: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    readonly prefix: string,
  ) {}

  start(): void {
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
  }

  async #run(): Promise<void> {
    let connection: Connection | undefined;
    while (!this.#stop) {
      try {
        if (connection === undefined) {
          const p = await leaderOf(this.topic);
          connection = await connectTo(brokerOf(p));
        }
        const value = `${this.prefix}-${this.#next++}`;
        const records = encodeRecordBatchSync({ records: [{ value }], nowMs: Date.now() });
        let code: number = ErrorCode.UNKNOWN_SERVER_ERROR;
        try {
          const answer = await connection.request('PRODUCE', { acks: -1, timeoutMs: 2_000, topics: [{ name: this.topic, partitions: [{ partition: 0, records }] }] });
          code = answer.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        } finally {
          (code === ErrorCode.NONE ? this.acknowledged : this.failed).push(value);
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

/** The leader of partition 0 of `topic`, as the first running broker that answers names it. */
async function leaderOf(topic: string): Promise<number> {
  for (const broker of brokers) {
    if (paused.has(broker.nodeId)) continue;
    const p = await partitionOn(broker, topic);
    if (p !== undefined && p.leader > 0) return p.leader;
  }
  throw new Error(`no broker names a leader of ${topic}-0`);
}

/** `count` records in batches of 100, acks=all, to the leader; their values. */
async function preload(topic: string, count: number): Promise<string[]> {
  const connection = await connectTo(brokerOf(await leaderOf(topic)));
  const values: string[] = [];
  try {
    for (let i = 0; i < count; i += 100) {
      const batch = Array.from({ length: Math.min(100, count - i) }, (_, k) => `pre-${i + k}`);
      const answer = await connection.request('PRODUCE', {
        acks: -1,
        timeoutMs: 5_000,
        topics: [{ name: topic, partitions: [{ partition: 0, records: encodeRecordBatchSync({ records: batch.map((value) => ({ value })), nowMs: Date.now() }) }] }],
      });
      expect(answer.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
      values.push(...batch);
    }
  } finally {
    await connection.close();
  }
  return values;
}

/** Every value of partition 0, in offset order, read as a consumer from `broker` (below its high watermark). */
async function readAll(topic: string, broker: BrokerProcess): Promise<string[]> {
  const connection = await connectTo(broker);
  const values: string[] = [];
  try {
    for (let offset = 0; ; ) {
      const answer = await connection.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 8 << 20,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: offset, maxBytes: 4 << 20 }] }],
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

/** Every acknowledged value exactly once and in the order acknowledged; a failed one at most once; nothing else. */
function expectExactlyOnceInOrder(seen: readonly string[], acknowledged: readonly string[], failed: readonly string[]): void {
  const counts = new Map<string, number>();
  for (const value of seen) counts.set(value, (counts.get(value) ?? 0) + 1);
  const acked = new Set(acknowledged);
  const lost = acknowledged.filter((v) => counts.get(v) !== 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
  const unknown = [...counts.keys()].filter((v) => !acked.has(v) && !failed.includes(v));
  expect({ lost, duplicated, unknown }).toEqual({ lost: [], duplicated: [], unknown: [] });
  expect(seen.filter((v) => acked.has(v))).toEqual(acknowledged);
}

describe('reassignment > three coordinators, four brokers', () => {
  it('moves a partition with data from {1,2,3} to {2,3,4} under acks=all load: 4 copies first, 1 hands over and deletes its copy', async () => {
    const preloaded = await preload(MOVED, 3_000);
    const load = new Load(MOVED, 'live');
    load.start();
    await eventually('acknowledged writes under load', () => Promise.resolve(load.acknowledged.length >= 20));

    const target = await plan([{ topic: MOVED, partition: 0, replicas: [2, 3, 4] }]);
    const preview = await expectCli(['partitions', 'reassign', '--plan', target]);
    expect(preview.stdout).toMatch(/moved\s+0\s+1,2,3\s+2,3,4\s+moves/);
    expect((await committed(MOVED)).replicas).toEqual([1, 2, 3]);
    expect((await committed(MOVED)).leader).toBe(1);
    await expectCli(['partitions', 'reassign', '--plan', target, '--execute']);

    await eventually('the move done', async () => {
      const verify = await cli(['partitions', 'reassign', '--verify', '--plan', target, '--json']);
      return verify.code === 0 && (JSON.parse(verify.stdout) as { complete: boolean }).complete;
    });
    const after = await committed(MOVED);
    expect(after).toMatchObject({ replicas: [2, 3, 4], leader: 2 });
    expect(after.addingReplicas).toBeUndefined();
    // 4 is in the ISR: it joined only once it had copied up to the high watermark.
    expect(after.isr).toContain(4);
    await eventually('broker 4 serving what it copied', async () => (await readAll(MOVED, brokerOf(4))).length >= preloaded.length);
    expect((await readAll(MOVED, brokerOf(4))).slice(0, preloaded.length)).toEqual(preloaded);

    await eventually('writes acknowledged by the new leader', async () => {
      const before = load.acknowledged.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return load.acknowledged.length >= before + 10;
    });
    await load.stop();
    expectExactlyOnceInOrder(await readAll(MOVED, brokerOf(2)), [...preloaded, ...load.acknowledged], load.failed);

    await eventually('broker 1 deleting its copy', () =>
      Promise.resolve(brokerOf(1).lines.some((line) => line.includes('deleted the data of a partition reassigned away from this broker') && line.includes(`"topic":"${MOVED}"`))),
    );
    const fromOne = await connectTo(brokerOf(1));
    try {
      const answer = await fromOne.request('FETCH', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [{ name: MOVED, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }],
      });
      expect(answer.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    } finally {
      await fromOne.close();
    }
  }, 60_000);

  it('keeps a move onto a broker that cannot copy in progress until it is cancelled, which reverts it', async () => {
    const one = brokerOf(1);
    one.pause();
    paused.add(1);
    try {
      const target = await plan([{ topic: MOVED, partition: 0, replicas: [2, 3, 1] }]);
      await expectCli(['partitions', 'reassign', '--plan', target, '--execute']);
      const listed = await expectCli(['partitions', 'reassign', '--list', '--json']);
      expect(JSON.parse(listed.stdout)).toMatchObject({ reassignments: [{ topic: MOVED, partition: 0, replicas: [2, 3, 1, 4], addingReplicas: [1], removingReplicas: [4] }] });
      const load = new Load(MOVED, 'cancel');
      load.start();
      await eventually('writes during the move', () => Promise.resolve(load.acknowledged.length >= 20));
      const verify = await expectCli(['partitions', 'reassign', '--verify', '--plan', target, '--json']);
      expect(JSON.parse(verify.stdout)).toMatchObject({ complete: false, partitions: [{ status: 'in-progress' }] });

      const cancelled = await expectCli(['partitions', 'reassign', '--cancel', '--plan', target, '--json']);
      expect(JSON.parse(cancelled.stdout)).toMatchObject({ partitions: [{ topic: MOVED, partition: 0, result: 'cancelled' }] });
      expect(await committed(MOVED)).toMatchObject({ replicas: [2, 3, 4], leader: 2 });
      expect((await committed(MOVED)).addingReplicas).toBeUndefined();
      await load.stop();
      const seen = await readAll(MOVED, brokerOf(2));
      expectExactlyOnceInOrder(
        seen.filter((v) => v.startsWith('cancel-')),
        load.acknowledged,
        load.failed,
      );
      expect((await expectCli(['partitions', 'reassign', '--list'])).stdout).toBe('No reassignment is in progress.\n');
    } finally {
      one.resume();
      paused.delete(1);
    }
  }, 60_000);

  it('drains every leadership off a broker that stays in the ISRs, and undrain with a preferred election brings them back', async () => {
    await coordinators.createTopics([{ topic: DRAINED, partitions: 8, replicationFactor: 3 }]);
    const drained = 3;
    const before = await leadsOf(DRAINED, drained);
    expect(before.length).toBeGreaterThan(0);

    const run = await expectCli(['broker', 'drain', String(drained), '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({ brokerId: drained, draining: true, leadersMoved: before.length, leadersKept: [] });
    const state = await committedState();
    expect(state.topic(DRAINED)!.partitions.filter((p) => p.leader === drained)).toEqual([]);
    // It keeps its replicas and stays in sync.
    for (const p of state.topic(DRAINED)!.partitions.filter((x) => x.replicas.includes(drained))) expect(p.isr).toContain(drained);
    const listed = JSON.parse((await expectCli(['cluster', 'brokers', '--json'])).stdout) as { brokers: { nodeId: number; draining: boolean; leaders: number }[] };
    expect(listed.brokers.find((b) => b.nodeId === drained)).toMatchObject({ draining: true, leaders: 0 });
    // A preferred election leaves it alone while it drains.
    await cli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', DRAINED]);
    expect(await leadsOf(DRAINED, drained)).toEqual([]);

    await expectCli(['broker', 'undrain', String(drained)]);
    await expectCli(['partitions', 'elect-leaders', '--type', 'preferred', '--topic', DRAINED]);
    expect(await leadsOf(DRAINED, drained)).toEqual(before);
  }, 60_000);
});
