/**
 * How Kafka transaction requests reach the transaction coordinator, with raw requests to a second
 * broker (`streambus broker`, which holds no coordinator) of a real cluster: FindCoordinator with
 * key type 1 names the asked broker, which forwards InitProducerId, AddPartitionsToTxn,
 * AddOffsetsToTxn, TxnOffsetCommit and EndTxn to the coordinator leader. Checked without producing
 * a record: a committed transaction leaves a commit marker on each partition it added and makes
 * its offsets the group's, an aborted one leaves abort markers and no offsets, a newer epoch
 * fences the older one (INVALID_PRODUCER_EPOCH, as Kafka tells clients of these versions), and
 * bad requests get Kafka's codes.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaErrorCode } from '../../proto/kafka/index.js';
import { readBatches, startKafkaBroker, startKafkaNode, type KafkaBroker, type KafkaNode } from './support/kafka-node.js';
import { RawKafkaClient } from './support/raw-client.js';

const TOPIC = 'raw-txn';

let node: KafkaNode;
let second: KafkaBroker;
let raw: RawKafkaClient;

beforeAll(async () => {
  node = await startKafkaNode({ 'group.initial.rebalance.delay.ms': '0' });
  second = await startKafkaBroker(node, 2);
  const admin = new Kafka({ brokers: [second.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  raw = await RawKafkaClient.connect(second.broker.kafka.bound.port);
});

afterAll(async () => {
  raw?.close();
  await second?.close();
  await node?.close();
});

/** InitProducerId for `transactionalId` at v1: its producer id and epoch. */
async function init(transactionalId: string): Promise<{ transactionalId: string; producerId: number; producerEpoch: number }> {
  const answer = await raw.request('INIT_PRODUCER_ID', 1, { transactionalId, transactionTimeoutMs: 30_000 });
  expect(answer.errorCode).toBe(KafkaErrorCode.NONE);
  return { transactionalId, producerId: answer.producerId, producerEpoch: answer.producerEpoch };
}

/** The control batches of a partition as [producer id, type]: 0 abort, 1 commit; read from whichever broker leads it. */
async function markers(partition: number): Promise<[number, number | undefined][]> {
  const batches = await readBatches(second, TOPIC, partition).catch(() => readBatches(node, TOPIC, partition));
  return batches.filter((b) => b.header.isControl).map((b) => [b.header.producerId, b.records[0]?.key?.readInt16BE(2)]);
}

/** Polls until `check` holds (markers are written right after EndTxn answers). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('kafka listener > transaction routing', () => {
  it('names the asked broker as the coordinator of a transactional id, and refuses an empty one', async () => {
    expect(await raw.request('FIND_COORDINATOR', 1, { key: 'tx-any', keyType: 1 })).toEqual({
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      nodeId: 2,
      host: '127.0.0.1',
      port: second.broker.kafka.bound.port,
    });
    expect(await raw.request('FIND_COORDINATOR', 2, { key: '', keyType: 1 })).toMatchObject({ errorCode: KafkaErrorCode.INVALID_REQUEST, nodeId: -1 });
  });

  it('hands out a fresh producer id to each idempotent producer (null transactional id) at v0', async () => {
    const first = await raw.request('INIT_PRODUCER_ID', 0, { transactionalId: null, transactionTimeoutMs: 60_000 });
    const again = await raw.request('INIT_PRODUCER_ID', 0, { transactionalId: null, transactionTimeoutMs: -1 });
    expect([first.errorCode, again.errorCode]).toEqual([0, 0]);
    expect(first.producerId).toBeGreaterThanOrEqual(0);
    expect(again.producerId).not.toBe(first.producerId);
    expect([first.producerEpoch, again.producerEpoch]).toEqual([0, 0]);
  });

  it('commits a transaction: a commit marker on each partition added, and the offsets sent become the group\'s', async () => {
    const member = await init('tx-raw-commit');
    const added = await raw.request('ADD_PARTITIONS_TO_TXN', 0, { ...member, topics: [{ name: TOPIC, partitions: [0, 1] }] });
    expect(added.results).toEqual([{ name: TOPIC, results: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }]);
    expect(await raw.request('ADD_OFFSETS_TO_TXN', 0, { ...member, groupId: 'raw-txn-group' })).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    const offsets = await raw.request('TXN_OFFSET_COMMIT', 2, {
      ...member,
      groupId: 'raw-txn-group',
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 1, committedOffset: 17, committedLeaderEpoch: 0, committedMetadata: 'md' }] }],
    });
    expect(offsets.topics).toEqual([{ name: TOPIC, partitions: [{ partitionIndex: 1, errorCode: 0 }] }]);
    // (An OffsetFetch now would wait for the transaction to end: KIP-447's stable offsets.)

    expect(await raw.request('END_TXN', 1, { ...member, committed: true })).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    await eventually(async () => (await markers(0)).length > 0 && (await markers(1)).length > 0);
    expect(await markers(0)).toEqual([[member.producerId, 1]]);
    expect(await markers(1)).toEqual([[member.producerId, 1]]);
    await eventually(async () => {
      const fetched = await raw.request('OFFSET_FETCH', 1, { groupId: 'raw-txn-group', topics: [{ name: TOPIC, partitionIndexes: [1] }] });
      return fetched.topics[0]?.partitions[0]?.committedOffset === 17;
    });
  });

  it('aborts a transaction: abort markers, and the offsets sent never become the group\'s', async () => {
    const member = await init('tx-raw-abort');
    await raw.request('ADD_PARTITIONS_TO_TXN', 1, { ...member, topics: [{ name: TOPIC, partitions: [0] }] });
    await raw.request('ADD_OFFSETS_TO_TXN', 1, { ...member, groupId: 'raw-txn-aborted' });
    await raw.request('TXN_OFFSET_COMMIT', 0, {
      ...member,
      groupId: 'raw-txn-aborted',
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    expect(await raw.request('END_TXN', 0, { ...member, committed: false })).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    await eventually(async () => (await markers(0)).some(([producerId]) => producerId === member.producerId));
    expect((await markers(0)).filter(([producerId]) => producerId === member.producerId)).toEqual([[member.producerId, 0]]);
    const fetched = await raw.request('OFFSET_FETCH', 1, { groupId: 'raw-txn-aborted', topics: [{ name: TOPIC, partitionIndexes: [0] }] });
    expect(fetched.topics[0]?.partitions[0]?.committedOffset).toBe(-1);
  });

  it('fences the older epoch once InitProducerId bumps it: INVALID_PRODUCER_EPOCH in every transaction API', async () => {
    const older = await init('tx-raw-fenced');
    const newer = await init('tx-raw-fenced');
    expect(newer.producerId).toBe(older.producerId);
    expect(newer.producerEpoch).toBe(older.producerEpoch + 1);
    const added = await raw.request('ADD_PARTITIONS_TO_TXN', 0, { ...older, topics: [{ name: TOPIC, partitions: [0] }] });
    expect(added.results[0]?.results[0]?.errorCode).toBe(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
    expect((await raw.request('ADD_OFFSETS_TO_TXN', 0, { ...older, groupId: 'g' })).errorCode).toBe(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
    expect((await raw.request('END_TXN', 1, { ...older, committed: true })).errorCode).toBe(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
    const newerAdded = await raw.request('ADD_PARTITIONS_TO_TXN', 0, { ...newer, topics: [{ name: TOPIC, partitions: [0] }] });
    expect(newerAdded.results[0]?.results[0]?.errorCode).toBe(KafkaErrorCode.NONE);
    expect((await raw.request('END_TXN', 1, { ...newer, committed: false })).errorCode).toBe(KafkaErrorCode.NONE);
  });

  it('answers bad transaction requests with Kafka codes: an unknown partition, an empty transactional id, a timeout of 0, an EndTxn with nothing open', async () => {
    const member = await init('tx-raw-bad');
    const unknown = await raw.request('ADD_PARTITIONS_TO_TXN', 0, { ...member, topics: [{ name: TOPIC, partitions: [0, 9] }] });
    expect(unknown.results[0]?.results.map((r) => r.errorCode)).toEqual([KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect((await raw.request('INIT_PRODUCER_ID', 0, { transactionalId: '', transactionTimeoutMs: 1000 })).errorCode).toBe(KafkaErrorCode.INVALID_REQUEST);
    expect((await raw.request('INIT_PRODUCER_ID', 1, { transactionalId: 'tx-raw-bad', transactionTimeoutMs: 0 })).errorCode).toBe(KafkaErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await raw.request('END_TXN', 0, { ...member, committed: true })).errorCode).toBe(KafkaErrorCode.INVALID_TXN_STATE);
  });
});
