/**
 * kafkajs 2.2.4 (npm), unmodified, as an idempotent and a transactional producer through the Kafka
 * listener of a real single-node cluster (`streambus dev`'s startSingleNode, in process). The
 * listener forwards InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and
 * EndTxn to the transaction coordinator; the partitions keep producer state, write the markers
 * and answer read_committed fetches. Checked as a user would: what a read_committed kafkajs
 * consumer sees (committed records only) against a read_uncommitted one (everything), offsets sent
 * in a transaction becoming the group's only on commit, and a second producer with the same
 * transactional id fencing the first. What was written is also read back batch by batch (producer
 * ids, sequences, the transactional bit, the control batches).
 */
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBatches, startKafkaNode, type KafkaNode } from './support/kafka-node.js';

/** Two topics, three partitions: a transaction spans both. */
const A = 'txn-a';
const B = 'txn-b';
const WAIT_MS = 20_000;

let node: KafkaNode;
let kafka: Kafka;
let admin: Admin;
const producers: Producer[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  node = await startKafkaNode({ 'group.initial.rebalance.delay.ms': '0' });
  kafka = new Kafka({ brokers: [node.bootstrap], clientId: 'kafkajs-txn', logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: A, numPartitions: 2 },
      { topic: B, numPartitions: 1 },
      { topic: 'txn-idempotent', numPartitions: 1 },
      { topic: 'txn-source', numPartitions: 1 },
      { topic: 'txn-zombie', numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
});

afterAll(async () => {
  for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
  for (const producer of producers) await producer.disconnect().catch(() => undefined);
  await admin?.disconnect();
  await node?.close();
});

async function transactionalProducer(transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, retry: { retries: 3, initialRetryTime: 50 } });
  producers.push(producer);
  await producer.connect();
  return producer;
}

/** Sends `${label}-<topic>-<partition>` to each of the three partitions (A:0, A:1, B:0) in one transaction, then commits or aborts it. */
async function transactionOfThree(producer: Producer, label: string, end: 'commit' | 'abort'): Promise<string[]> {
  const txn = await producer.transaction();
  const values = [`${label}-${A}-0`, `${label}-${A}-1`, `${label}-${B}-0`];
  await txn.send({ topic: A, messages: [{ partition: 0, value: values[0] ?? '' }, { partition: 1, value: values[1] ?? '' }] });
  await txn.send({ topic: B, messages: [{ partition: 0, value: values[2] ?? '' }] });
  await (end === 'commit' ? txn.commit() : txn.abort());
  return values;
}

/**
 * A kafkajs consumer (a group of its own, from the beginning) of `topics`, collecting values until
 * `done` holds; returns them in arrival order per partition.
 */
async function consumeUntil(topics: string[], readUncommitted: boolean, done: (values: string[]) => boolean): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${consumers.length}-${String(readUncommitted)}`, readUncommitted, maxWaitTimeInMs: 100, retry: { retries: 5, initialRetryTime: 50 } });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const values: string[] = [];
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await consumer.run({
    eachMessage: ({ message }) => {
      values.push(message.value?.toString() ?? '');
      if (done(values)) finish();
      return Promise.resolve();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`consumer saw only ${JSON.stringify(values)} within ${WAIT_MS} ms`)), WAIT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return values;
}

/** Polls `check` until it holds, failing at the deadline. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not met within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const hasAll =
  (...wanted: string[]) =>
  (values: string[]): boolean =>
    wanted.every((w) => values.includes(w));

describe('kafka listener > kafkajs idempotent producer', () => {
  it('gets a producer id with InitProducerId (no transactional id) and numbers its batches from sequence 0 on', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    producers.push(producer);
    await producer.connect();
    for (let round = 0; round < 3; round++) {
      await producer.send({ topic: 'txn-idempotent', acks: -1, messages: [{ value: `i-${round}-a` }, { value: `i-${round}-b` }] });
    }
    const batches = await readBatches(node, 'txn-idempotent', 0);
    expect(batches.map((b) => [b.header.baseOffset, b.header.baseSequence, b.header.isTransactional])).toEqual([
      [0, 0, false],
      [2, 2, false],
      [4, 4, false],
    ]);
    const ids = new Set(batches.map((b) => b.header.producerId));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeGreaterThanOrEqual(0);
    expect(batches[0]?.header.producerEpoch).toBe(0);
  });
});

describe('kafka listener > kafkajs transactions', () => {
  it('commits a transaction across three partitions of two topics: its records carry the transactional bit and each partition ends with a commit marker', async () => {
    const producer = await transactionalProducer('tx-commit');
    const values = await transactionOfThree(producer, 'committed', 'commit');
    const seen = await consumeUntil([A, B], false, hasAll(...values));
    expect(seen.sort()).toEqual([...values].sort());
    for (const [topic, partition] of [
      [A, 0],
      [A, 1],
      [B, 0],
    ] as const) {
      const batches = await readBatches(node, topic, partition);
      const data = batches.filter((b) => !b.header.isControl);
      const markers = batches.filter((b) => b.header.isControl);
      expect(data.every((b) => b.header.isTransactional)).toBe(true);
      // A control record's key is int16 version 0 + int16 type (1: commit).
      expect(markers.map((m) => m.records[0]?.key?.readInt16BE(2))).toContain(1);
    }
  });

  it('hides an aborted transaction and an open one from a read_committed consumer, and shows both to a read_uncommitted one', async () => {
    const producer = await transactionalProducer('tx-abort');
    const aborted = await transactionOfThree(producer, 'aborted', 'abort');
    const after = await transactionOfThree(producer, 'after-abort', 'commit');
    // An open transaction: its records are written but neither committed nor aborted yet.
    const open = await producer.transaction();
    await open.send({ topic: B, messages: [{ partition: 0, value: 'still-open' }] });

    // Per partition, the records after the aborted ones arrive only once those were passed over.
    const committedView = await consumeUntil([A, B], false, hasAll(...after));
    expect(committedView).toEqual(expect.arrayContaining(after));
    for (const value of [...aborted, 'still-open']) expect(committedView).not.toContain(value);

    const uncommittedView = await consumeUntil([A, B], true, hasAll(...aborted, ...after, 'still-open'));
    expect(uncommittedView).toEqual(expect.arrayContaining([...aborted, ...after, 'still-open']));

    await open.abort();
    const markerTypes = async (): Promise<(number | undefined)[]> =>
      (await readBatches(node, B, 0)).filter((b) => b.header.isControl).map((m) => m.records[0]?.key?.readInt16BE(2));
    // commit (previous test), abort, commit, abort (of the open one): in the order the transactions
    // ended. EndTxn answers once the outcome is decided; the marker follows.
    await eventually(async () => (await markerTypes()).length === 4);
    expect(await markerTypes()).toEqual([1, 0, 1, 0]);
  });

  it('makes offsets sent in a transaction the group\'s committed offsets only when it commits', async () => {
    const source = kafka.producer();
    producers.push(source);
    await source.connect();
    await source.send({ topic: 'txn-source', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `s-${i}` })) });
    const groupId = 'txn-offsets-group';
    const committed = async (): Promise<string | undefined> => (await admin.fetchOffsets({ groupId, topics: ['txn-source'] }))[0]?.partitions[0]?.offset;

    const producer = await transactionalProducer('tx-offsets');
    const aborted = await producer.transaction();
    await aborted.send({ topic: A, messages: [{ partition: 0, value: 'offsets-aborted' }] });
    await aborted.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: 'txn-source', partitions: [{ partition: 0, offset: '4' }] }] });
    await aborted.abort();
    expect(await committed()).toBe('-1');

    const txn = await producer.transaction();
    await txn.send({ topic: A, messages: [{ partition: 0, value: 'offsets-committed' }] });
    await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: 'txn-source', partitions: [{ partition: 0, offset: '7' }] }] });
    // No fetchOffsets while it is open: the coordinator holds OffsetFetch back until the
    // transaction ends (KIP-447's stable offsets), so the group never reads a pending offset.
    await txn.commit();
    // EndTxn answers once the outcome is decided; the offsets are published as the transaction completes.
    await eventually(async () => (await committed()) === '7');
  });

  it('fences a zombie: a second producer with the same transactional id aborts the first one\'s open transaction, and the first can no longer commit', async () => {
    const zombie = await transactionalProducer('tx-zombie');
    const stale = await zombie.transaction();
    await stale.send({ topic: 'txn-zombie', messages: [{ value: 'from-zombie' }] });

    // kafkajs sends InitProducerId for a transactional id when its first transaction begins.
    const successor = await transactionalProducer('tx-zombie');
    const fresh = await successor.transaction();
    await expect(stale.commit()).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' });

    await fresh.send({ topic: 'txn-zombie', messages: [{ value: 'from-successor' }] });
    await fresh.commit();

    const seen = await consumeUntil(['txn-zombie'], false, hasAll('from-successor'));
    expect(seen).toEqual(['from-successor']);
    const batches = await readBatches(node, 'txn-zombie', 0);
    const data = batches.filter((b) => !b.header.isControl);
    expect(data.map((b) => b.header.producerId)).toEqual([data[0]?.header.producerId, data[0]?.header.producerId]);
    // The successor writes with the bumped epoch; the zombie's batch was aborted with it.
    expect(data[1]?.header.producerEpoch).toBeGreaterThan(data[0]?.header.producerEpoch ?? Infinity);
  });
});
