/**
 * The broker side of idempotent and transactional produce, over real TCP against a real single
 * node (coordinator and broker in one process, as `streambus dev` runs them, data in LevelDB
 * under a temp dir): dedupe and sequence errors on produce, WRITE_TXN_MARKERS and the last stable
 * offset, read_committed against read_uncommitted fetches, fencing of markers from an older
 * coordinator epoch, bad marker requests, and DESCRIBE_PRODUCERS. Batches are built with the
 * record-batch codec and sent with the native client's low-level connection, as a producer would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../cli/config/index.js';
import { startSingleNode, type SingleNode } from '../../cli/server/single-node.js';
import { connect, type Connection } from '../../client/index.js';
import { ErrorCode, errorName } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import { RawKafkaClient } from '../kafka/support/raw-client.js';

let root = '';
let node: SingleNode;
let connection: Connection;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streambus-txn-broker-'));
  const settings: Record<string, string> = { 'data.dir': root, 'native.port': '0', 'kafka.port': '0', 'admin.port': '0', 'raft.port': '0', 'schema.registry.port': '0' };
  const config = resolveConfig({ flags: Object.entries(settings).map(([key, value]) => ({ key, value, origin: '--set' })) });
  node = await startSingleNode(config, pino({ level: 'silent' }));
  connection = await connect({ host: '127.0.0.1', port: node.native.bound.port, requestTimeoutMs: 10_000 });
}, 60_000);

afterAll(async () => {
  await connection?.close();
  await node?.close();
  if (root !== '') await rm(root, { recursive: true, force: true });
});

async function createTopic(name: string): Promise<void> {
  const created = await connection.request('CREATE_TOPICS', { topics: [{ name, partitions: 1, replicationFactor: 1, configs: {} }], timeoutMs: 10_000, validateOnly: false });
  expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
}

interface BatchOptions {
  readonly producerId: number;
  readonly seq: number;
  readonly count?: number;
  readonly epoch?: number;
  readonly transactional?: boolean;
}

function producerBatch(options: BatchOptions): Buffer {
  const count = options.count ?? 1;
  return encodeRecordBatchSync({
    records: Array.from({ length: count }, (_, i) => ({ value: `p${options.producerId}-${options.seq + i}` })),
    nowMs: Date.now(),
    producerId: options.producerId,
    producerEpoch: options.epoch ?? 0,
    baseSequence: options.seq,
    isTransactional: options.transactional ?? false,
  });
}

async function produce(topic: string, records: Buffer): Promise<M.ProducePartitionResult> {
  const answer = await connection.request('PRODUCE', { acks: -1, timeoutMs: 10_000, topics: [{ name: topic, partitions: [{ partition: 0, records }] }] });
  return answer.topics[0]!.partitions[0]!;
}

async function markers(list: M.TxnMarker[]): Promise<M.WriteTxnMarkersResponse> {
  return connection.request('WRITE_TXN_MARKERS', { markers: list });
}

function marker(topic: string, producerId: number, committed: boolean, more: Partial<M.TxnMarker> = {}): M.TxnMarker {
  return { producerId, producerEpoch: 0, committed, coordinatorEpoch: 1, topics: [{ name: topic, partitions: [0] }], ...more };
}

async function fetchFrom(topic: string, isolationLevel: number, fetchOffset = 0): Promise<M.FetchPartitionResult> {
  const answer = await connection.request('FETCH', {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel,
    topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset, maxBytes: 1 << 20 }] }],
  });
  return answer.topics[0]!.partitions[0]!;
}

/** The values of data records, skipping control batches, and dropping aborted ones as a read_committed consumer does. */
function consume(result: M.FetchPartitionResult): string[] {
  const aborted = new Map(result.abortedTransactions.map((txn) => [txn.producerId, txn.firstOffset]));
  const out: string[] = [];
  for (const batch of decodeRecordBatchesSync(result.records)) {
    const abortedFrom = aborted.get(batch.header.producerId);
    if (batch.header.isControl) {
      if (abortedFrom !== undefined && abortedFrom <= batch.header.baseOffset) aborted.delete(batch.header.producerId);
      continue;
    }
    if (abortedFrom !== undefined && batch.header.baseOffset >= abortedFrom) continue;
    for (const record of batch.records) out.push(record.value?.toString() ?? '');
  }
  return out;
}

async function latest(topic: string, isolationLevel: number): Promise<number> {
  const answer = await connection.request('LIST_OFFSETS', { isolationLevel, topics: [{ name: topic, partitions: [{ partition: 0, timestamp: -1 }] }] });
  return answer.topics[0]!.partitions[0]!.offset;
}

function codeName(code: number): string {
  return errorName(code);
}

describe('txn broker > idempotent produce over the native protocol', () => {
  it('answers a retry of each of the last five batches with its original offset, and refuses older, gapped and fenced batches', async () => {
    await createTopic('idem');
    const offsets: number[] = [];
    for (let i = 0; i < 6; i++) offsets.push((await produce('idem', producerBatch({ producerId: 11, seq: i * 2, count: 2 }))).baseOffset);
    expect(offsets).toEqual([0, 2, 4, 6, 8, 10]);
    for (let i = 1; i < 6; i++) {
      const retry = await produce('idem', producerBatch({ producerId: 11, seq: i * 2, count: 2 }));
      expect([codeName(retry.errorCode), retry.baseOffset]).toEqual(['NONE', offsets[i]]);
    }
    expect(codeName((await produce('idem', producerBatch({ producerId: 11, seq: 0, count: 2 }))).errorCode)).toBe('DUPLICATE_SEQUENCE_NUMBER');
    expect(codeName((await produce('idem', producerBatch({ producerId: 11, seq: 14 }))).errorCode)).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    await produce('idem', producerBatch({ producerId: 12, seq: 0, epoch: 3 }));
    expect(codeName((await produce('idem', producerBatch({ producerId: 12, seq: 1, epoch: 2 }))).errorCode)).toBe('INVALID_PRODUCER_EPOCH');
    expect(codeName((await produce('idem', producerBatch({ producerId: 13, seq: 4 }))).errorCode)).toBe('UNKNOWN_PRODUCER_ID');
    // Nothing but the 12 records of producer 11 and the one of producer 12 was written.
    expect(await latest('idem', 0)).toBe(13);
  });
});

describe('txn broker > markers and the last stable offset', () => {
  it('holds the last stable offset at an open transaction until its marker, in fetch and in ListOffsets', async () => {
    await createTopic('lso');
    await produce('lso', producerBatch({ producerId: 20, seq: 0 }));
    await produce('lso', producerBatch({ producerId: 21, seq: 0, count: 2, transactional: true }));
    await produce('lso', producerBatch({ producerId: 20, seq: 1 }));
    const open = await fetchFrom('lso', 1);
    expect([open.highWatermark, open.lastStableOffset]).toEqual([4, 1]);
    expect(consume(open)).toEqual(['p20-0']);
    expect(await latest('lso', 1)).toBe(1);
    expect(await latest('lso', 0)).toBe(4);

    const answer = await markers([marker('lso', 21, true)]);
    expect(answer.markers[0]?.topics[0]?.partitions[0]).toMatchObject({ partition: 0, errorCode: ErrorCode.NONE });
    const committed = await fetchFrom('lso', 1);
    expect([committed.highWatermark, committed.lastStableOffset]).toEqual([5, 5]);
    expect(consume(committed)).toEqual(['p20-0', 'p21-0', 'p21-1', 'p20-1']);
    expect(committed.abortedTransactions).toEqual([]);
    expect(await latest('lso', 1)).toBe(5);
  });

  it('lists an aborted transaction for read_committed, which skips its records, while read_uncommitted sees them', async () => {
    await createTopic('abort');
    await produce('abort', producerBatch({ producerId: 30, seq: 0, count: 2, transactional: true }));
    await produce('abort', producerBatch({ producerId: 31, seq: 0 }));
    await markers([marker('abort', 30, false)]);
    await produce('abort', producerBatch({ producerId: 30, seq: 2, transactional: true }));
    await markers([marker('abort', 30, true)]);

    const committed = await fetchFrom('abort', 1);
    expect(committed.abortedTransactions).toEqual([{ producerId: 30, firstOffset: 0 }]);
    expect(consume(committed)).toEqual(['p31-0', 'p30-2']);
    const uncommitted = await fetchFrom('abort', 0);
    expect(uncommitted.abortedTransactions).toEqual([]);
    expect(consume(uncommitted)).toEqual(['p30-0', 'p30-1', 'p31-0', 'p30-2']);
    // A fetch starting after the abort marker needs no aborted list.
    expect((await fetchFrom('abort', 1, 4)).abortedTransactions).toEqual([]);

    // Kafka clients get the same through the Kafka listener: a list for read_committed, null otherwise.
    const raw = await RawKafkaClient.connect(node.kafka.bound.port);
    try {
      const kafkaFetch = async (isolationLevel: number) => {
        const answer = await raw.request('FETCH', 11, {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          isolationLevel,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: 'abort', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
          forgottenTopicsData: [],
          rackId: '',
        });
        return answer.responses[0]!.partitions[0]!;
      };
      const readCommitted = await kafkaFetch(1);
      expect([readCommitted.errorCode, readCommitted.lastStableOffset, readCommitted.abortedTransactions]).toEqual([0, 6, [{ producerId: 30, firstOffset: 0 }]]);
      expect((await kafkaFetch(0)).abortedTransactions).toBeNull();
    } finally {
      raw.close();
    }
  });

  it('refuses a marker from an older coordinator epoch and one for an older producer epoch, writing nothing', async () => {
    await createTopic('fenced');
    await produce('fenced', producerBatch({ producerId: 40, seq: 0, epoch: 2, transactional: true }));
    await markers([marker('fenced', 40, true, { producerEpoch: 2, coordinatorEpoch: 5 })]);
    const before = await latest('fenced', 0);
    const old = await markers([marker('fenced', 40, false, { producerEpoch: 2, coordinatorEpoch: 4 })]);
    expect(codeName(old.markers[0]!.topics[0]!.partitions[0]!.errorCode)).toBe('TRANSACTION_COORDINATOR_FENCED');
    const stale = await markers([marker('fenced', 40, false, { producerEpoch: 1, coordinatorEpoch: 5 })]);
    expect(codeName(stale.markers[0]!.topics[0]!.partitions[0]!.errorCode)).toBe('INVALID_PRODUCER_EPOCH');
    expect(await latest('fenced', 0)).toBe(before);
  });

  it('answers bad marker requests with typed errors per partition and leaves the log untouched', async () => {
    await createTopic('bad-markers');
    await produce('bad-markers', producerBatch({ producerId: 50, seq: 0, transactional: true }));
    const answer = await markers([
      marker('no-such-topic', 50, true),
      marker('bad-markers', -5, true),
      marker('bad-markers', 50, true, { topics: [{ name: 'bad-markers', partitions: [7] }] }),
      marker('bad-markers', 50, true, { producerEpoch: -1 }),
    ]);
    expect(answer.markers.map((m) => codeName(m.topics[0]!.partitions[0]!.errorCode))).toEqual([
      'UNKNOWN_TOPIC_OR_PARTITION',
      'INVALID_REQUEST',
      'UNKNOWN_TOPIC_OR_PARTITION',
      'INVALID_REQUEST',
    ]);
    const fetched = await fetchFrom('bad-markers', 0);
    expect([fetched.highWatermark, fetched.lastStableOffset]).toEqual([1, 0]);
  });

  it('refuses a control batch sent by a client and an unknown isolation level', async () => {
    await createTopic('control');
    const control = encodeRecordBatchSync({ records: [{ key: Buffer.alloc(4), value: Buffer.alloc(6) }], nowMs: 1, producerId: 1, producerEpoch: 0, isControl: true, isTransactional: true });
    expect(codeName((await produce('control', control)).errorCode)).toBe('INVALID_RECORD');
    await expect(
      connection.request('FETCH', { maxWaitMs: 0, minBytes: 0, maxBytes: 1024, isolationLevel: 2, topics: [{ name: 'control', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1024 }] }] }),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });
});

describe('txn broker > metrics', () => {
  it('exports each partition\'s last stable offset and producer count', async () => {
    await createTopic('gauged');
    await produce('gauged', producerBatch({ producerId: 70, seq: 0 }));
    await produce('gauged', producerBatch({ producerId: 71, seq: 0, transactional: true }));
    const text = await (await fetch(`http://127.0.0.1:${node.admin.bound.port}/metrics`)).text();
    const gauge = (name: string): number => Number(new RegExp(`^streambus_partition_${name}\\{[^}]*topic="gauged"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
    expect([gauge('last_stable_offset'), gauge('producers'), gauge('high_watermark')]).toEqual([1, 2, 2]);
  });
});

describe('txn broker > describe producers', () => {
  it('lists each producer with its epoch, last sequence, coordinator epoch and open transaction', async () => {
    await createTopic('described');
    await produce('described', producerBatch({ producerId: 60, seq: 0, count: 3, epoch: 1 }));
    await produce('described', producerBatch({ producerId: 61, seq: 0, transactional: true }));
    const answer = await connection.request('DESCRIBE_PRODUCERS', { topics: [{ name: 'described', partitions: [0, 3] }] });
    const [found, missing] = answer.topics[0]!.partitions;
    expect(found?.errorCode).toBe(ErrorCode.NONE);
    expect([...found!.activeProducers].sort((a, b) => a.producerId - b.producerId)).toEqual([
      { producerId: 60, producerEpoch: 1, lastSequence: 2, lastTimestampMs: expect.any(Number), coordinatorEpoch: -1, currentTxnStartOffset: -1 },
      { producerId: 61, producerEpoch: 0, lastSequence: 0, lastTimestampMs: expect.any(Number), coordinatorEpoch: -1, currentTxnStartOffset: 3 },
    ]);
    expect(codeName(missing!.errorCode)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});
