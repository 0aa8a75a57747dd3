/**
 * OffsetFetch and transactions (KIP-447's require_stable, done by waiting): offsets a transaction
 * holds pending are never answered as "not yet committed" to a member that would then process the
 * transaction's input again; the fetch waits until the transaction ends, and answers a retriable
 * COORDINATOR_LOAD_IN_PROGRESS if it does not end within the wait.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { MemoryGroup, waitFor } from '../service/testing/memory-group.js';
import { MarkerBroker } from '../transactions/testing/marker-broker.js';
import { TxnState } from '../transactions/txn-types.js';

let group: MemoryGroup | undefined;
let broker: MarkerBroker | undefined;

afterEach(async () => {
  await group?.close();
  group = undefined;
  await broker?.close();
  broker = undefined;
});

async function start(): Promise<{ g: MemoryGroup; leaderId: number }> {
  broker = await MarkerBroker.start();
  group = await MemoryGroup.start([1, 2, 3], { coordinator: { sessionTimeoutMs: 120_000, groups: { minSessionTimeoutMs: 100, initialRebalanceDelayMs: 0 } } });
  const leaderId = await group.leader();
  const leader = group.coordinator(leaderId);
  const { brokerEpoch, metadataOffset } = await leader.registerBroker({ nodeId: 1, incarnationId: 'b1', host: '127.0.0.1', port: broker.port, listeners: [] });
  await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset });
  await leader.createTopics([{ name: 'orders', numPartitions: 2, replicationFactor: 1, configs: {} }]);
  return { g: group, leaderId };
}

describe('groups > OffsetFetch with transactional offsets pending', () => {
  it('waits for a commit whose offsets are pending and answers the offsets it published, while other partitions answer at once', async () => {
    const { g, leaderId } = await start();
    const leader = g.coordinator(leaderId);
    let release = false;
    broker!.answer = () => (release ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const init = await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    const p = { transactionalId: 'tx', producerId: init.producerId, producerEpoch: init.producerEpoch };
    await leader.transactions.addPartitions({ ...p, topics: [{ topic: 'orders', partitions: [1] }] });
    await leader.transactions.addOffsets({ ...p, groupId: 'copier' });
    const offsets = [{ topic: 'orders', partitions: [{ partition: 0, offset: 50, leaderEpoch: -1, metadata: '' }] }];
    expect((await leader.transactions.commitOffsets({ ...p, groupId: 'copier', generation: -1, memberId: '', groupInstanceId: null, topics: offsets })).error).toBe(ErrorCode.NONE);
    const fetch = (partition: number): Promise<number | undefined> =>
      leader.groups.fetchOffsets({ groupId: 'copier', topics: [{ topic: 'orders', partitions: [partition] }] }).then((r) => r.topics[0]?.partitions[0]?.offset);

    expect(await fetch(1)).toBe(-1);
    let settled = false;
    const pending = fetch(0).finally(() => (settled = true));
    expect(await leader.transactions.endTransaction({ ...p, commit: true })).toBe(ErrorCode.NONE);
    await waitFor(() => broker!.received.length >= 1, 'the first marker refused');
    expect(g.member(leaderId).log.state.transactions.transaction('tx')?.state).toBe(TxnState.PREPARE_COMMIT);
    expect(settled).toBe(false);
    release = true;
    expect(await pending).toBe(50);
  });

  it('answers the offset from before an aborted transaction once the abort is done', async () => {
    const { g, leaderId } = await start();
    const leader = g.coordinator(leaderId);
    const init = await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    const p = { transactionalId: 'tx', producerId: init.producerId, producerEpoch: init.producerEpoch };
    await leader.transactions.addOffsets({ ...p, groupId: 'copier' });
    const offsets = [{ topic: 'orders', partitions: [{ partition: 0, offset: 70, leaderEpoch: -1, metadata: '' }] }];
    await leader.transactions.commitOffsets({ ...p, groupId: 'copier', generation: -1, memberId: '', groupInstanceId: null, topics: offsets });
    let settled = false;
    const pending = leader.groups.fetchOffsets({ groupId: 'copier', topics: null }).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    expect(await leader.transactions.endTransaction({ ...p, commit: false })).toBe(ErrorCode.NONE);
    expect(await pending).toEqual({ error: ErrorCode.NONE, topics: [] });
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS, which clients retry, when the transaction stays open past the wait', async () => {
    const { g, leaderId } = await start();
    const leader = g.coordinator(leaderId);
    const init = await leader.transactions.initProducerId({ transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    const p = { transactionalId: 'tx', producerId: init.producerId, producerEpoch: init.producerEpoch };
    await leader.transactions.addOffsets({ ...p, groupId: 'copier' });
    const offsets = [{ topic: 'orders', partitions: [{ partition: 1, offset: 9, leaderEpoch: -1, metadata: '' }] }];
    await leader.transactions.commitOffsets({ ...p, groupId: 'copier', generation: -1, memberId: '', groupInstanceId: null, topics: offsets });
    const answer = await leader.groups.fetchOffsets({ groupId: 'copier', topics: [{ topic: 'orders', partitions: [1] }] });
    expect(answer.error).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  }, 15_000);
});
