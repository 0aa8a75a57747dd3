/**
 * Producer state and transactions survive what real brokers go through: a kill -9 and restart of
 * the broker process (the state comes back from its LevelDB side keys), and a leader change on a
 * three-broker cluster (followers applied the same batches while replicating, so the new leader
 * dedupes retries, keeps the open transaction's last stable offset and the aborted index).
 *
 * Real processes: one `streambus coordinator` and three `streambus broker` (the compiled CLI).
 * Batches are built with the record-batch codec and sent over the native protocol, so the test
 * exercises the broker, not a client's retry policy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection } from '../../client/index.js';
import { ErrorCode, errorName } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { BrokerProcess } from '../support/broker-process.js';
import { CoordinatorCluster } from '../support/coordinator-cluster.js';

const BROKER_IDS = [101, 102, 103] as const;
const REPLICATED = 'txn-replicated';
const SINGLE = 'txn-single';

let cluster: CoordinatorCluster;
const brokers: BrokerProcess[] = [];
let root = '';

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'streambus-txn-failover-'));
  cluster = await CoordinatorCluster.start({ nodes: 1 });
  for (const nodeId of BROKER_IDS) {
    brokers.push(new BrokerProcess({ nodeId, dataDir: path.join(root, `broker-${nodeId}`), coordinators: cluster.bootstrap, settings: { 'replica.lag.time.max.ms': 3_000 } }));
  }
  await Promise.all(brokers.map((broker) => broker.start()));
  await withBroker(brokers[0]!, async (connection) => {
    const created = await connection.request('CREATE_TOPICS', {
      topics: [
        { name: REPLICATED, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
        { name: SINGLE, partitions: 1, replicationFactor: 1, configs: {} },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  });
  await eventually('both topics led, the replicated one with a full ISR', async () => {
    const replicated = await partitionInfo(REPLICATED);
    const single = await partitionInfo(SINGLE);
    return replicated !== undefined && replicated.leader > 0 && replicated.isr.length === 3 && single !== undefined && single.leader > 0;
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(brokers.map((broker) => broker.kill()));
  await cluster?.dispose();
  if (root !== '') await rm(root, { recursive: true, force: true });
});

async function withBroker<T>(broker: BrokerProcess, run: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await connect({ host: broker.native.host, port: broker.native.port, requestTimeoutMs: 10_000 });
  try {
    return await run(connection);
  } finally {
    await connection.close();
  }
}

function brokerOf(nodeId: number): BrokerProcess {
  return brokers.find((b) => b.nodeId === nodeId)!;
}

/** The partition as the first running broker that answers sees it. */
async function partitionInfo(topic: string): Promise<M.PartitionInfo | undefined> {
  for (const broker of brokers) {
    if (!broker.running) continue;
    const found = await withBroker(broker, async (connection) => {
      const answer = await connection.request('METADATA', { topics: [topic], allTopics: false, allowAutoTopicCreation: false }, { timeoutMs: 2_000 });
      return answer.topics[0]?.partitions[0];
    }).catch(() => undefined);
    if (found !== undefined) return found;
  }
  return undefined;
}

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${cluster.logs(15)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function producerBatch(producerId: number, seq: number, count = 1, transactional = false): Buffer {
  return encodeRecordBatchSync({
    records: Array.from({ length: count }, (_, i) => ({ value: `p${producerId}-${seq + i}` })),
    nowMs: Date.now(),
    producerId,
    producerEpoch: 0,
    baseSequence: seq,
    isTransactional: transactional,
  });
}

async function produce(connection: Connection, topic: string, records: Buffer): Promise<M.ProducePartitionResult> {
  const answer = await connection.request('PRODUCE', { acks: -1, timeoutMs: 10_000, topics: [{ name: topic, partitions: [{ partition: 0, records }] }] });
  return answer.topics[0]!.partitions[0]!;
}

async function writeMarker(connection: Connection, topic: string, producerId: number, committed: boolean, coordinatorEpoch: number): Promise<string> {
  const answer = await connection.request('WRITE_TXN_MARKERS', {
    markers: [{ producerId, producerEpoch: 0, committed, coordinatorEpoch, topics: [{ name: topic, partitions: [0] }] }],
  });
  return errorName(answer.markers[0]!.topics[0]!.partitions[0]!.errorCode);
}

async function fetchCommitted(connection: Connection, topic: string): Promise<M.FetchPartitionResult> {
  const answer = await connection.request('FETCH', {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 1,
    topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }],
  });
  return answer.topics[0]!.partitions[0]!;
}

function dataValues(result: M.FetchPartitionResult): string[] {
  return decodeRecordBatchesSync(result.records)
    .filter((batch) => !batch.header.isControl)
    .flatMap((batch) => batch.records.map((record) => record.value?.toString() ?? ''));
}

/**
 * Writes, on `topic`'s leader: five one-record batches of producer `idem` (sequences 0-4), an
 * open transaction of producer `open` (two records), and an aborted transaction of producer
 * `aborted` (marker from coordinator epoch 3). Returns the offsets the five batches got and the
 * first offsets of the two transactions.
 */
async function writeHistory(connection: Connection, topic: string, ids: { idem: number; open: number; aborted: number }): Promise<{ idem: number[]; open: number; aborted: number }> {
  const idem: number[] = [];
  const abortedAt = (await produce(connection, topic, producerBatch(ids.aborted, 0, 1, true))).baseOffset;
  expect(await writeMarker(connection, topic, ids.aborted, false, 3)).toBe('NONE');
  for (let seq = 0; seq < 5; seq++) {
    const result = await produce(connection, topic, producerBatch(ids.idem, seq));
    expect(errorName(result.errorCode)).toBe('NONE');
    idem.push(result.baseOffset);
  }
  const open = (await produce(connection, topic, producerBatch(ids.open, 0, 2, true))).baseOffset;
  return { idem, open, aborted: abortedAt };
}

/** What must hold on whichever broker now leads: dedupe, sequence errors, LSO, aborted index, fencing. */
async function checkHistory(connection: Connection, topic: string, ids: { idem: number; open: number; aborted: number }, history: { idem: number[]; open: number; aborted: number }): Promise<void> {
  for (let seq = 0; seq < 5; seq++) {
    const retry = await produce(connection, topic, producerBatch(ids.idem, seq));
    expect([errorName(retry.errorCode), retry.baseOffset]).toEqual(['NONE', history.idem[seq]]);
  }
  expect(errorName((await produce(connection, topic, producerBatch(ids.idem, 6))).errorCode)).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  expect(await writeMarker(connection, topic, ids.aborted, false, 2)).toBe('TRANSACTION_COORDINATOR_FENCED');
  await eventually('the last stable offset held at the open transaction', async () => (await fetchCommitted(connection, topic)).lastStableOffset === history.open);
  const held = await fetchCommitted(connection, topic);
  expect(held.abortedTransactions).toEqual([{ producerId: ids.aborted, firstOffset: history.aborted }]);
  expect(dataValues(held)).not.toContain(`p${ids.open}-0`);

  expect(await writeMarker(connection, topic, ids.open, true, 3)).toBe('NONE');
  const released = await fetchCommitted(connection, topic);
  expect(released.lastStableOffset).toBe(released.highWatermark);
  expect(dataValues(released)).toEqual(expect.arrayContaining([`p${ids.open}-0`, `p${ids.open}-1`]));
}

describe('txn broker > state across process restarts and leader changes', () => {
  it('keeps producer state, the open transaction and the aborted index across a kill -9 and restart of the broker', async () => {
    const ids = { idem: 80, open: 81, aborted: 82 };
    const leader = brokerOf((await partitionInfo(SINGLE))!.leader);
    const history = await withBroker(leader, (connection) => writeHistory(connection, SINGLE, ids));
    await leader.kill();
    await leader.start();
    await eventually('the restarted broker leads its partition again', async () => (await partitionInfo(SINGLE))?.leader === leader.nodeId);
    await eventually('the restarted broker serves produce', () =>
      withBroker(leader, async (connection) => errorName((await produce(connection, SINGLE, producerBatch(83, 0))).errorCode) === 'NONE'),
    );
    await withBroker(leader, (connection) => checkHistory(connection, SINGLE, ids, history));
  }, 90_000);

  it('keeps producer state, the open transaction and the aborted index on the new leader after the leader is killed', async () => {
    const ids = { idem: 90, open: 91, aborted: 92 };
    const before = (await partitionInfo(REPLICATED))!;
    const history = await withBroker(brokerOf(before.leader), (connection) => writeHistory(connection, REPLICATED, ids));
    await brokerOf(before.leader).kill();
    // min.insync.replicas is 2: wait for a new leader with a follower in its ISR, so acks=all produce can succeed.
    await eventually('another broker leads, with an ISR of two', async () => {
      const now = await partitionInfo(REPLICATED);
      return now !== undefined && now.leader > 0 && now.leader !== before.leader && now.isr.length >= 2;
    });
    const after = (await partitionInfo(REPLICATED))!;
    // A follower writes no marker: only the leader may.
    const follower = brokers.find((b) => b.running && b.nodeId !== after.leader)!;
    expect(await withBroker(follower, (connection) => writeMarker(connection, REPLICATED, ids.open, true, 3))).toBe('NOT_LEADER_OR_FOLLOWER');
    await withBroker(brokerOf(after.leader), (connection) => checkHistory(connection, REPLICATED, ids, history));
    await brokerOf(before.leader).start();
  }, 90_000);
});
