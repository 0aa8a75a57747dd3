/**
 * The coordinator client's group calls over real TCP, against three in-process coordinator nodes
 * (a Raft group on the in-memory network), each serving the coordinator API on its own port.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { CoordinatorHandler } from '../../coordinator/service/handler.js';
import { MemoryGroup } from '../../coordinator/service/testing/memory-group.js';
import { encodeSubscription } from '../../coordinator/groups/consumer-protocol.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { AdminError } from '../errors.js';
import { CoordinatorClient } from './coordinator-client.js';
import type { JoinGroupSpec } from './group-types.js';

let group: MemoryGroup;
let client: CoordinatorClient;
const servers = new Map<number, NativeServer>();

beforeAll(async () => {
  group = await MemoryGroup.start([1, 2, 3], { coordinator: { groups: { minSessionTimeoutMs: 100, initialRebalanceDelayMs: 0 } } });
  for (const id of group.running) {
    const coordinator = group.coordinator(id);
    const server = new NativeServer({
      handler: new CoordinatorHandler({ coordinator, serverVersion: 'test', maxFrameBytes: 1 << 20, maxInFlight: 64 }),
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    await server.listen();
    servers.set(id, server);
    coordinator.setApiEndpoint({ host: '127.0.0.1', port: server.port });
  }
  const leader = group.coordinator(await group.leader());
  await leader.whenLeading();
  const { brokerEpoch, metadataOffset } = await leader.registerBroker({ nodeId: 1, incarnationId: 'i', host: '127.0.0.1', port: 9092, listeners: [] });
  await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset });
  await leader.createTopics([{ name: 'orders', numPartitions: 4, replicationFactor: 1, configs: {} }]);
  client = new CoordinatorClient({ bootstrap: [...servers.values()].map((s) => `127.0.0.1:${s.port}`), requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await client?.close();
  for (const server of servers.values()) await server.close();
  await group?.close();
});

const spec = (groupId: string, extra: Partial<JoinGroupSpec> = {}): JoinGroupSpec => ({
  groupId,
  sessionTimeoutMs: 5_000,
  rebalanceTimeoutMs: 3_000,
  protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }],
  ...extra,
});

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  return error as StreamBusError;
}

describe('coordinator client > groups', () => {
  it('finds the coordinator on the leader, joins (answering MEMBER_ID_REQUIRED itself), syncs and heartbeats', async () => {
    const leaderId = await group.leader();
    const found = await client.groups.findCoordinator('first');
    expect(found).toEqual({ nodeId: leaderId, endpoint: { host: '127.0.0.1', port: servers.get(leaderId)!.port } });
    const joined = await client.groups.joinGroup(spec('first'));
    expect(joined).toMatchObject({ generation: 1, protocolType: 'consumer', protocolName: 'range', isLeader: true, skipAssignment: false });
    expect(joined.memberId).toMatch(/^streambus-coordinator-client-/);
    expect(joined.members.map((m) => m.memberId)).toEqual([joined.memberId]);
    const synced = await client.groups.syncGroup({ groupId: 'first', generation: 1, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('p0-p3') }] });
    expect(synced.assignment.toString()).toBe('p0-p3');
    await client.groups.heartbeat({ groupId: 'first', generation: 1, memberId: joined.memberId });
    const stale = await rejection(client.groups.heartbeat({ groupId: 'first', generation: 0, memberId: joined.memberId }));
    expect(stale.code).toBe(ErrorCode.ILLEGAL_GENERATION);
  });

  it('waits in joinGroup for the members of the group: the second member\'s join completes once the first rejoins', async () => {
    const a = await client.groups.joinGroup(spec('pair'));
    await client.groups.syncGroup({ groupId: 'pair', generation: a.generation, memberId: a.memberId, assignments: [{ memberId: a.memberId, assignment: Buffer.from('all') }] });
    const secondJoin = client.groups.joinGroup(spec('pair', { groupInstanceId: 'pod-2' }));
    const rebalancing = await rejection(client.groups.heartbeat({ groupId: 'pair', generation: a.generation, memberId: a.memberId }));
    expect(rebalancing.code).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const again = await client.groups.joinGroup(spec('pair', { memberId: a.memberId }));
    const b = await secondJoin;
    expect(again).toMatchObject({ generation: 2, isLeader: true });
    expect(again.members.map((m) => m.groupInstanceId)).toEqual([undefined, 'pod-2']);
    expect(b).toMatchObject({ generation: 2, isLeader: false, members: [] });
    const [syncA, syncB] = await Promise.all([
      client.groups.syncGroup({ groupId: 'pair', generation: 2, memberId: a.memberId, assignments: [{ memberId: a.memberId, assignment: Buffer.from('p0') }, { memberId: b.memberId, assignment: Buffer.from('p1') }] }),
      client.groups.syncGroup({ groupId: 'pair', generation: 2, memberId: b.memberId, groupInstanceId: 'pod-2' }),
    ]);
    expect([syncA.assignment.toString(), syncB.assignment.toString()]).toEqual(['p0', 'p1']);
    const [described] = await client.groups.describeGroups(['pair']);
    expect(described).toMatchObject({ groupId: 'pair', state: 'Stable', protocolType: 'consumer', protocolName: 'range', error: undefined });
    expect(described!.members.map((m) => [m.groupInstanceId, m.assignment.toString()])).toEqual([
      [undefined, 'p0'],
      ['pod-2', 'p1'],
    ]);
    const left = await client.groups.leaveGroup('pair', [{ groupInstanceId: 'pod-2' }, { memberId: 'nobody' }]);
    expect(left.map((m) => m.error?.code)).toEqual([undefined, ErrorCode.UNKNOWN_MEMBER_ID]);
  });

  it('commits and fetches offsets, naming each partition that failed', async () => {
    await client.groups.commitOffsets({ groupId: 'offsets', offsets: [{ topic: 'orders', partition: 0, offset: 10, metadata: 'a' }, { topic: 'orders', partition: 1, offset: 11 }] });
    const failed = await rejection(client.groups.commitOffsets({ groupId: 'offsets', offsets: [{ topic: 'orders', partition: 2, offset: 5 }, { topic: 'orders', partition: 99, offset: 5 }] }));
    expect(failed).toBeInstanceOf(AdminError);
    expect((failed as AdminError).failures.map((f) => [f.topic, f.partition, f.error.code])).toEqual([['orders', 99, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
    expect(await client.groups.fetchOffsets('offsets')).toEqual([
      { topic: 'orders', partition: 0, offset: 10, leaderEpoch: -1, metadata: 'a' },
      { topic: 'orders', partition: 1, offset: 11, leaderEpoch: -1, metadata: '' },
      { topic: 'orders', partition: 2, offset: 5, leaderEpoch: -1, metadata: '' },
    ]);
    expect(await client.groups.fetchOffsets('offsets', [{ topic: 'orders', partitions: [3] }])).toEqual([{ topic: 'orders', partition: 3, offset: -1, leaderEpoch: -1, metadata: '' }]);
    const refused = await rejection(client.groups.commitOffsets({ groupId: 'first', generation: 9, memberId: 'x', offsets: [{ topic: 'orders', partition: 0, offset: 1 }] }));
    expect(refused.code).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    await client.groups.deleteOffsets('offsets', [{ topic: 'orders', partitions: [1] }]);
    expect((await client.groups.fetchOffsets('offsets')).map((o) => o.partition)).toEqual([0, 2]);
    expect((await client.groups.listGroups({ states: ['Empty'] })).map((g) => g.groupId)).toContain('offsets');
    expect(await client.groups.deleteGroups(['offsets', 'first'])).toEqual([
      { groupId: 'offsets', error: undefined },
      { groupId: 'first', error: expect.objectContaining({ code: ErrorCode.NON_EMPTY_GROUP }) },
    ]);
  });

  it('refuses bad arguments with INVALID_REQUEST before sending anything', async () => {
    for (const call of [
      () => client.groups.joinGroup(spec('')),
      () => client.groups.joinGroup(spec('g', { sessionTimeoutMs: 0 })),
      () => client.groups.joinGroup(spec('g', { protocols: [] })),
      () => client.groups.commitOffsets({ groupId: 'g', offsets: [{ topic: 'orders', partition: -1, offset: 0 }] }),
      () => client.groups.leaveGroup('g', [{}]),
      () => client.groups.describeGroups([]),
    ]) {
      expect((await rejection(call())).code).toBe(ErrorCode.INVALID_REQUEST);
    }
  });

  it('follows the coordinator to the new leader: a member carries on and its committed offsets are there', async () => {
    const joined = await client.groups.joinGroup(spec('moving'));
    await client.groups.syncGroup({ groupId: 'moving', generation: joined.generation, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('x') }] });
    await client.groups.commitOffsets({ groupId: 'moving', generation: joined.generation, memberId: joined.memberId, offsets: [{ topic: 'orders', partition: 3, offset: 77 }] });
    const leaderId = await group.leader();
    const next = group.running.find((id) => id !== leaderId)!;
    await group.coordinator(leaderId).transferLeadership(next);
    await client.groups.heartbeat({ groupId: 'moving', generation: joined.generation, memberId: joined.memberId });
    expect(client.groups.knownCoordinator?.nodeId).toBe(next);
    expect(await client.groups.fetchOffsets('moving', [{ topic: 'orders', partitions: [3] }])).toEqual([{ topic: 'orders', partition: 3, offset: 77, leaderEpoch: -1, metadata: '' }]);
  });
});
