import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { connect } from '../../client/network/connection.js';
import type { Connection } from '../../client/network/types.js';
import { ErrorCode } from '../../proto/errors.js';
import { CoordinatorHandler } from '../service/handler.js';
import { MemoryGroup, apiAddress, waitFor } from '../service/testing/memory-group.js';
import { MarkerBroker } from './testing/marker-broker.js';

let group: MemoryGroup;
let broker: MarkerBroker;
let leaderId: number;
let followerId: number;
const servers: NativeServer[] = [];
const connections = new Map<number, Connection>();

async function serve(nodeId: number): Promise<Connection> {
  const server = new NativeServer({
    handler: new CoordinatorHandler({ coordinator: group.coordinator(nodeId), serverVersion: 'test', maxFrameBytes: 1 << 20, maxInFlight: 16 }),
    port: 0,
    logger: pino({ level: 'silent' }),
  });
  await server.listen();
  servers.push(server);
  return connect({ host: '127.0.0.1', port: server.port, requestTimeoutMs: 10_000 });
}

beforeAll(async () => {
  broker = await MarkerBroker.start();
  group = await MemoryGroup.start([1, 2, 3], { coordinator: { sessionTimeoutMs: 120_000 } });
  leaderId = await group.leader();
  followerId = group.running.find((id) => id !== leaderId)!;
  const leader = group.coordinator(leaderId);
  const { brokerEpoch, metadataOffset } = await leader.registerBroker({ nodeId: 1, incarnationId: 'b1', host: '127.0.0.1', port: broker.port, listeners: [] });
  await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset });
  await leader.createTopics([{ name: 'orders', numPartitions: 2, replicationFactor: 1, configs: {} }]);
  await waitFor(() => group.coordinator(followerId).status().leaderApi !== undefined, 'the follower to learn the leader\'s API address');
  connections.set(leaderId, await serve(leaderId));
  connections.set(followerId, await serve(followerId));
});

afterAll(async () => {
  for (const connection of connections.values()) await connection.close();
  for (const server of servers) await server.close();
  await group.close();
  await broker.close();
});

const leader = (): Connection => connections.get(leaderId)!;
const follower = (): Connection => connections.get(followerId)!;

describe('transaction APIs > over the native protocol', () => {
  it('finds the transaction coordinator (key type 1) from a follower: the leader\'s API address', async () => {
    const found = await follower().request('FIND_COORDINATOR', { key: 'tx', keyType: 1 });
    expect(found).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '', nodeId: leaderId, host: '127.0.0.1', port: apiAddress(leaderId).port });
  });

  it('answers NOT_COORDINATOR on a follower, naming the leader', async () => {
    const answer = await follower().request('INIT_PRODUCER_ID', { transactionalId: 'tx', transactionTimeoutMs: 10_000, producerId: -1, producerEpoch: -1 });
    expect(answer.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(answer.errorMessage).toContain(`node ${leaderId} leads`);
  });

  it('runs a transaction with offsets from init to a completed commit, and lists and describes it', async () => {
    const init = await leader().request('INIT_PRODUCER_ID', { transactionalId: 'tx', transactionTimeoutMs: 10_000, producerId: -1, producerEpoch: -1 });
    expect(init).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    const caller = { transactionalId: 'tx', producerId: init.producerId, producerEpoch: init.producerEpoch };
    const added = await leader().request('ADD_PARTITIONS_TO_TXN', { ...caller, topics: [{ name: 'orders', partitions: [0, 1] }] });
    expect(added).toEqual({
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      topics: [{ name: 'orders', partitions: [0, 1].map((partition) => ({ partition, errorCode: ErrorCode.NONE, errorMessage: '' })) }],
    });
    expect((await leader().request('ADD_OFFSETS_TO_TXN', { ...caller, groupId: 'billing' })).errorCode).toBe(ErrorCode.NONE);
    const offsets = await leader().request('TXN_OFFSET_COMMIT', {
      ...caller,
      groupId: 'billing',
      generationId: -1,
      memberId: '',
      groupInstanceId: '',
      topics: [{ name: 'orders', partitions: [{ partition: 1, committedOffset: 17, committedLeaderEpoch: -1, committedMetadata: '' }] }],
    });
    expect(offsets.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    const described = await leader().request('DESCRIBE_TRANSACTIONS', { transactionalIds: ['tx', 'nope'] });
    expect(described.transactions[0]).toMatchObject({ state: 'Ongoing', producerId: init.producerId, topics: [{ name: 'orders', partitions: [0, 1] }], groups: ['billing'], transactionTimeoutMs: 10_000 });
    expect(described.transactions[1]).toMatchObject({ transactionalId: 'nope', errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND });
    expect(await leader().request('END_TXN', { ...caller, committed: true })).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '' });
    await waitFor(() => group.member(leaderId).log.state.transactions.transaction('tx')?.state === 'CompleteCommit', 'the commit to complete');
    const fetched = await leader().request('OFFSET_FETCH', { groupId: 'billing', topics: [{ name: 'orders', partitions: [1] }], allTopics: false });
    expect(fetched.topics[0]?.partitions[0]?.committedOffset).toBe(17);
    const listed = await leader().request('LIST_TRANSACTIONS', { stateFilters: ['CompleteCommit'], producerIdFilters: [] });
    expect(listed.transactions).toEqual([{ transactionalId: 'tx', producerId: init.producerId, state: 'CompleteCommit' }]);
    expect(broker.written.map((m) => m.partition).sort()).toEqual([0, 1]);
  });

  it('answers a zombie producer PRODUCER_FENCED and a bad timeout INVALID_TRANSACTION_TIMEOUT', async () => {
    const first = await leader().request('INIT_PRODUCER_ID', { transactionalId: 'zombie', transactionTimeoutMs: 10_000, producerId: -1, producerEpoch: -1 });
    const second = await leader().request('INIT_PRODUCER_ID', { transactionalId: 'zombie', transactionTimeoutMs: 10_000, producerId: -1, producerEpoch: -1 });
    expect(second.producerEpoch).toBe(first.producerEpoch + 1);
    const fenced = await leader().request('END_TXN', { transactionalId: 'zombie', producerId: first.producerId, producerEpoch: first.producerEpoch, committed: false });
    expect(fenced.errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    const tooLong = await leader().request('INIT_PRODUCER_ID', { transactionalId: 'zombie', transactionTimeoutMs: 900_001, producerId: -1, producerEpoch: -1 });
    expect(tooLong.errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  });
});
