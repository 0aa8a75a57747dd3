import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { clusterState } from '../metadata/testing/cluster-state.js';
import { nativeMarkerSender, planMarkers, type TxnMarkerSender } from './marker-sender.js';
import { MarkerBroker } from './testing/marker-broker.js';

const opened: MarkerBroker[] = [];
const senders: TxnMarkerSender[] = [];
afterEach(async () => {
  for (const sender of senders.splice(0)) await sender.close();
  for (const broker of opened.splice(0)) await broker.close();
});

const marker = { producerId: 5, producerEpoch: 2, committed: true, coordinatorEpoch: 7, topics: [{ name: 'orders', partitions: [0, 1] }] };

describe('transaction markers > where they go', () => {
  it('groups partitions by their current leader, waits for leaderless ones and drops deleted ones', () => {
    const state = clusterState({
      live: [1, 2],
      topics: {
        orders: { partitions: [{ replicas: [1, 2] }, { replicas: [2, 1] }, { replicas: [1], leader: -1 }, { replicas: [2] }] },
        audit: { partitions: [{ replicas: [1] }] },
      },
    });
    const plan = planMarkers(state, [
      { topic: 'orders', partition: 0 },
      { topic: 'orders', partition: 1 },
      { topic: 'orders', partition: 2 },
      { topic: 'orders', partition: 3 },
      { topic: 'audit', partition: 0 },
      { topic: 'gone', partition: 0 },
      { topic: 'orders', partition: 99 },
    ]);
    expect(plan.byBroker).toEqual([
      { broker: { nodeId: 1, host: '127.0.0.1', port: 9093 }, topics: [{ name: 'orders', partitions: [0] }, { name: 'audit', partitions: [0] }] },
      { broker: { nodeId: 2, host: '127.0.0.2', port: 9093 }, topics: [{ name: 'orders', partitions: [1, 3] }] },
    ]);
    expect(plan.waiting).toEqual([{ topic: 'orders', partition: 2 }]);
    expect(plan.gone).toEqual([
      { topic: 'gone', partition: 0 },
      { topic: 'orders', partition: 99 },
    ]);
  });
});

describe('transaction markers > the native sender', () => {
  it('sends WRITE_TXN_MARKERS over TCP and returns each partition\'s answer', async () => {
    const broker = await MarkerBroker.start();
    opened.push(broker);
    broker.answer = (m) => (m.partition === 1 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE);
    const sender = nativeMarkerSender();
    senders.push(sender);
    const response = await sender.send({ nodeId: 1, host: '127.0.0.1', port: broker.port }, { markers: [marker] }, AbortSignal.timeout(5_000));
    expect(response.markers[0]?.topics[0]?.partitions.map((p) => [p.partition, p.errorCode])).toEqual([
      [0, ErrorCode.NONE],
      [1, ErrorCode.NOT_LEADER_OR_FOLLOWER],
    ]);
    expect(broker.received[0]).toMatchObject({ producerId: 5, producerEpoch: 2, committed: true, coordinatorEpoch: 7 });
  });

  it('rejects while the broker is down and reaches it again once it is back at its address', async () => {
    const broker = await MarkerBroker.start();
    const port = broker.port;
    const sender = nativeMarkerSender({ connectTimeoutMs: 1_000 });
    senders.push(sender);
    const target = { nodeId: 1, host: '127.0.0.1', port };
    await sender.send(target, { markers: [marker] }, AbortSignal.timeout(5_000));
    await broker.close();
    await expect(sender.send(target, { markers: [marker] }, AbortSignal.timeout(5_000))).rejects.toThrow();
    const back = await MarkerBroker.start(port);
    opened.push(back);
    const response = await sender.send(target, { markers: [marker] }, AbortSignal.timeout(5_000));
    expect(response.markers).toHaveLength(1);
    expect(back.written).toHaveLength(2);
  });
});
