import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { Coordinator } from '../coordinator.js';
import { MemoryGroup, waitFor } from '../service/testing/memory-group.js';
import { encodeSubscription } from './consumer-protocol.js';
import type { GroupCoordinatorSettings } from './group-coordinator.js';
import type { JoinGroupRequest } from './group-types.js';

let group: MemoryGroup | undefined;
afterEach(async () => {
  await group?.close();
  group = undefined;
});

const settings: Partial<GroupCoordinatorSettings> = { minSessionTimeoutMs: 100, initialRebalanceDelayMs: 0 };

async function start(groups: Partial<GroupCoordinatorSettings> = settings): Promise<{ g: MemoryGroup; leader: Coordinator; leaderId: number }> {
  group = await MemoryGroup.start([1, 2, 3], { coordinator: { groups } });
  const leaderId = await group.leader();
  const leader = group.coordinator(leaderId);
  await leader.whenLeading();
  const { brokerEpoch, metadataOffset } = await leader.registerBroker({ nodeId: 1, incarnationId: 'i', host: '127.0.0.1', port: 9092, listeners: [] });
  await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset });
  await leader.createTopics([{ name: 'orders', numPartitions: 4, replicationFactor: 1, configs: {} }]);
  return { g: group, leader, leaderId };
}

const join = (overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest => ({
  groupId: 'billing',
  memberId: '',
  groupInstanceId: null,
  clientId: 'app',
  clientHost: '/127.0.0.1',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 5_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }],
  requireKnownMemberId: false,
  ...overrides,
});

/** One member joins, syncs its assignment; returns its member id (generation 1). */
async function stableMember(leader: Coordinator, groupId = 'billing'): Promise<string> {
  const joined = await leader.groups.joinGroup(join({ groupId }));
  expect(joined.error).toBe(ErrorCode.NONE);
  const synced = await leader.groups.syncGroup({
    groupId,
    generation: joined.generation,
    memberId: joined.memberId,
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [{ memberId: joined.memberId, assignment: new Uint8Array([1, 2]) }],
  });
  expect(synced.error).toBe(ErrorCode.NONE);
  return joined.memberId;
}

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  return error as StreamBusError;
}

describe('group coordinator > on the coordinator leader', () => {
  it('serves groups on the leader only: a follower answers NOT_COORDINATOR naming the leader', async () => {
    const { g, leaderId } = await start();
    const follower = g.coordinator(g.running.find((id) => id !== leaderId)!);
    const refused = await rejection(follower.groups.joinGroup(join()));
    expect(refused.code).toBe(ErrorCode.NOT_COORDINATOR);
    expect(refused.context.leaderId).toBe(leaderId);
    expect((await rejection(follower.groups.fetchOffsets({ groupId: 'billing', topics: null }))).code).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('commits offsets of a member and a simple committer, durably on every node, and fetches them', async () => {
    const { g, leader } = await start();
    const memberId = await stableMember(leader);
    const committed = await leader.groups.commitOffsets({
      groupId: 'billing',
      generation: 1,
      memberId,
      groupInstanceId: null,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 42, leaderEpoch: 3, metadata: 'm' }, { partition: 9, offset: 1, leaderEpoch: -1, metadata: null }] }],
    });
    expect(committed.error).toBe(ErrorCode.NONE);
    expect(committed.topics[0]!.partitions).toEqual([
      { partition: 0, error: ErrorCode.NONE },
      { partition: 9, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
    const stale = await leader.groups.commitOffsets({ groupId: 'billing', generation: 0, memberId, groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 1, offset: 1, leaderEpoch: -1, metadata: null }] }] });
    expect(stale.error).toBe(ErrorCode.ILLEGAL_GENERATION);
    const simple = await leader.groups.commitOffsets({ groupId: 'tool', generation: -1, memberId: '', groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 2, offset: 7, leaderEpoch: -1, metadata: null }] }] });
    expect(simple.error).toBe(ErrorCode.NONE);
    const fetched = await leader.groups.fetchOffsets({ groupId: 'billing', topics: [{ topic: 'orders', partitions: [0, 1] }] });
    expect(fetched.topics[0]!.partitions).toEqual([
      { partition: 0, offset: 42, leaderEpoch: 3, metadata: 'm', error: ErrorCode.NONE },
      { partition: 1, offset: -1, leaderEpoch: -1, metadata: '', error: ErrorCode.NONE },
    ]);
    // Applied on every node: a commit answered is in the replicated log.
    await g.applied(leader.log.committedOffset);
    for (const id of g.running) expect(g.member(id).log.state.groups.offset('billing', 'orders', 0)?.offset).toBe(42);
    expect((await leader.groups.listGroups()).map((l) => [l.groupId, l.state, l.protocolType])).toEqual([
      ['billing', 'Stable', 'consumer'],
      ['tool', 'Empty', ''],
    ]);
  });

  it('coalesces concurrent commits of many groups into few metadata entries', async () => {
    const { leader } = await start();
    const before = leader.groups.offsetStats;
    const commits = Array.from({ length: 400 }, (_, i) =>
      leader.groups.commitOffsets({ groupId: `g-${i % 50}`, generation: -1, memberId: '', groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: i % 4, offset: i, leaderEpoch: -1, metadata: null }] }] }),
    );
    const answers = await Promise.all(commits);
    expect(answers.every((a) => a.error === ErrorCode.NONE)).toBe(true);
    const after = leader.groups.offsetStats;
    expect(after.commits - before.commits).toBe(400);
    expect(after.batches - before.batches).toBeLessThanOrEqual(3);
    // Group g-0 committed i = 0, 50, ..., 350 to partitions i % 4: the last of each partition wins.
    expect(leader.state.groups.offset('g-0', 'orders', 0)?.offset).toBe(300);
    expect(leader.state.groups.offset('g-0', 'orders', 2)?.offset).toBe(350);
  });

  it('keeps the group and its offsets across a leader change: members carry on with their generation', async () => {
    const { g, leader, leaderId } = await start({ ...settings, minSessionTimeoutMs: 100 });
    const memberId = await stableMember(leader);
    await leader.groups.commitOffsets({ groupId: 'billing', generation: 1, memberId, groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 3, offset: 99, leaderEpoch: -1, metadata: null }] }] });
    await g.stopNode(leaderId);
    const nextId = await g.leader();
    const next = g.coordinator(nextId);
    await next.whenLeading();
    expect(await next.groups.heartbeat({ groupId: 'billing', generation: 1, memberId, groupInstanceId: null })).toBe(ErrorCode.NONE);
    const described = await next.groups.describeGroups(['billing', 'missing']);
    expect(described[0]).toMatchObject({ state: 'Stable', protocolName: 'range', members: [{ memberId }] });
    expect(described[0]!.members[0]!.assignment).toEqual(new Uint8Array([1, 2]));
    expect(described[1]).toMatchObject({ state: 'Dead', members: [] });
    const fetched = await next.groups.fetchOffsets({ groupId: 'billing', topics: null });
    expect(fetched.topics).toEqual([{ topic: 'orders', partitions: [{ partition: 3, offset: 99, leaderEpoch: -1, metadata: '', error: ErrorCode.NONE }] }]);
  });

  it('expires the offsets of an empty group after the retention, and deletes the group', async () => {
    const { leader } = await start({ ...settings, offsetsRetentionMs: 200 });
    await leader.groups.commitOffsets({ groupId: 'old', generation: -1, memberId: '', groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 5, leaderEpoch: -1, metadata: null }] }] });
    const memberId = await stableMember(leader, 'busy');
    await leader.groups.commitOffsets({ groupId: 'busy', generation: 1, memberId, groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 5, leaderEpoch: -1, metadata: null }] }] });
    expect(await leader.groups.expireOffsets()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await leader.groups.expireOffsets()).toBe(1);
    expect(leader.state.groups.group('old')).toBeUndefined();
    expect(leader.state.groups.offset('busy', 'orders', 0)?.offset).toBe(5);
    expect((await leader.groups.listGroups()).map((l) => l.groupId)).toEqual(['busy']);
  });

  it('deletes only empty groups, and offsets only of topics no member subscribes to', async () => {
    const { leader } = await start();
    const memberId = await stableMember(leader);
    await leader.groups.commitOffsets({ groupId: 'billing', generation: 1, memberId, groupInstanceId: null, topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 1, leaderEpoch: -1, metadata: null }] }] });
    expect(await leader.groups.deleteGroups(['billing', 'nothing', ''])).toEqual([
      { groupId: 'billing', error: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'nothing', error: ErrorCode.GROUP_ID_NOT_FOUND },
      { groupId: '', error: ErrorCode.INVALID_GROUP_ID },
    ]);
    const refused = await leader.groups.deleteOffsets('billing', [{ topic: 'orders', partitions: [0] }]);
    expect(refused.topics[0]!.partitions[0]!.error).toBe(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
    const left = await leader.groups.leaveGroup('billing', [{ memberId, groupInstanceId: null }]);
    expect(left.members[0]!.error).toBe(ErrorCode.NONE);
    await waitFor(() => leader.state.groups.group('billing')?.metadata?.members.length === 0, 'the emptied group to be stored');
    expect((await leader.groups.deleteOffsets('billing', [{ topic: 'orders', partitions: [0] }])).error).toBe(ErrorCode.NONE);
    expect(leader.state.groups.offset('billing', 'orders', 0)).toBeUndefined();
    expect(await leader.groups.deleteGroups(['billing'])).toEqual([{ groupId: 'billing', error: ErrorCode.NONE }]);
    expect(leader.state.groups.group('billing')).toBeUndefined();
  });

  it('refuses what the log could not keep: an empty group id, an empty instance id, an overlong protocol name, an oversized offset metadata', async () => {
    const { leader } = await start({ ...settings, offsetMetadataMaxBytes: 8 });
    expect((await leader.groups.joinGroup(join({ groupId: '' }))).error).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await leader.groups.joinGroup(join({ groupInstanceId: '' }))).error).toBe(ErrorCode.INVALID_REQUEST);
    expect((await leader.groups.joinGroup(join({ protocols: [{ name: 'x'.repeat(256), metadata: new Uint8Array(0) }] }))).error).toBe(ErrorCode.INVALID_REQUEST);
    const committed = await leader.groups.commitOffsets({
      groupId: 'tool',
      generation: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 1, leaderEpoch: -1, metadata: 'nine char' }, { partition: 1, offset: -5, leaderEpoch: -1, metadata: null }, { partition: 2, offset: 3, leaderEpoch: -1, metadata: 'ok' }] }],
    });
    expect(committed.topics[0]!.partitions.map((p) => p.error)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.INVALID_REQUEST, ErrorCode.NONE]);
    expect(leader.state.groups.offset('tool', 'orders', 2)?.offset).toBe(3);
    expect((await leader.groups.listGroups()).map((g) => g.groupId)).toEqual(['tool']);
  });

  it('answers a waiting join with NOT_COORDINATOR when the leader steps down, and stops waiting on abort', async () => {
    const { g, leader, leaderId } = await start();
    await stableMember(leader);
    const waiting = rejection(leader.groups.joinGroup(join({ clientId: 'second' })));
    const aborted = new AbortController();
    const abandoned = leader.groups.joinGroup(join({ clientId: 'third' }), { signal: aborted.signal });
    aborted.abort(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'gone'));
    expect((await rejection(abandoned)).code).toBe(ErrorCode.NETWORK_EXCEPTION);
    const other = g.running.find((id) => id !== leaderId)!;
    await leader.transferLeadership(other);
    expect((await waiting).code).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('holds a heartbeat in a Stable group and answers it REBALANCE_IN_PROGRESS the moment a member joins', async () => {
    const { leader } = await start();
    const memberId = await stableMember(leader);
    const member = { groupId: 'billing', generation: 1, memberId, groupInstanceId: null };
    const startedMs = performance.now();
    // Nothing happens: the hold ends and the heartbeat answers NONE.
    expect(await leader.groups.heartbeat(member, { holdMs: 150 })).toBe(ErrorCode.NONE);
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(140);
    const held = leader.groups.heartbeat(member, { holdMs: 4_000 });
    const heldSinceMs = performance.now();
    void leader.groups.joinGroup(join({ clientId: 'newcomer' })).catch(() => undefined);
    expect(await held).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(performance.now() - heldSinceMs).toBeLessThan(2_000);
    // Outside a Stable group, and without a hold, the answer comes at once.
    expect(await leader.groups.heartbeat(member, { holdMs: 4_000 })).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(await leader.groups.heartbeat({ ...member, memberId: 'nobody' }, { holdMs: 4_000 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('stops holding a heartbeat when its caller aborts, and fails held heartbeats with NOT_COORDINATOR when the leader steps down', async () => {
    const { g, leader, leaderId } = await start();
    const memberId = await stableMember(leader);
    const member = { groupId: 'billing', generation: 1, memberId, groupInstanceId: null };
    const aborted = new AbortController();
    const abandoned = leader.groups.heartbeat(member, { holdMs: 4_000, signal: aborted.signal });
    aborted.abort(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'gone'));
    expect((await rejection(abandoned)).code).toBe(ErrorCode.NETWORK_EXCEPTION);
    const held = rejection(leader.groups.heartbeat(member, { holdMs: 4_000 }));
    await leader.transferLeadership(g.running.find((id) => id !== leaderId)!);
    expect((await held).code).toBe(ErrorCode.NOT_COORDINATOR);
  });
});
