import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import type { Coordinator } from './coordinator.js';
import { MetadataCache } from './metadata/cache.js';
import type { MetadataCommand } from './metadata/commands.js';
import type { MetadataLog } from './metadata-log/metadata-log.js';
import { CLUSTER_ID, MemoryGroup, type GroupOptions, apiAddress, raftAddress, waitFor } from './service/testing/memory-group.js';

let group: MemoryGroup | undefined;
afterEach(async () => {
  await group?.close();
  group = undefined;
});

async function startGroup(voters: readonly number[], options: GroupOptions = {}): Promise<{ g: MemoryGroup; leader: Coordinator; leaderId: number }> {
  group = await MemoryGroup.start(voters, options);
  const leaderId = await group.leader();
  return { g: group, leader: group.coordinator(leaderId), leaderId };
}

const broker = { nodeId: 1, incarnationId: 'inc-1', host: '127.0.0.1', port: 9092, listeners: [{ name: 'kafka', host: '127.0.0.1', port: 9092 }] };

/** Registers `broker` and heartbeats it out of the fence, as a starting broker does. */
async function registerLive(coordinator: Coordinator, request: typeof broker = broker): Promise<number> {
  const { brokerEpoch, metadataOffset } = await coordinator.registerBroker(request);
  const beat = await coordinator.brokerHeartbeat({ nodeId: request.nodeId, brokerEpoch, metadataOffset });
  expect(beat.fenced).toBe(false);
  return brokerEpoch;
}

async function rejection(promise: Promise<unknown>): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  return error as StreamBusError;
}

async function commandsOf(log: MetadataLog, type: MetadataCommand['type']): Promise<MetadataCommand[]> {
  return (await log.read(log.startOffset, 10_000)).map((r) => r.command).filter((c) => c.type === type);
}

describe('coordinator > leadership', () => {
  it('has its first leader write init-cluster with the configured id and record its own addresses', async () => {
    const { g, leader, leaderId } = await startGroup([1, 2, 3]);
    await waitFor(() => leader.state.clusterId !== null && leader.state.coordinator(leaderId) !== undefined, 'the bootstrap records');
    expect(leader.state.clusterId).toBe(CLUSTER_ID);
    expect(leader.state.coordinator(leaderId)).toEqual({ nodeId: leaderId, raft: raftAddress(leaderId), api: apiAddress(leaderId) });
    const [init] = await commandsOf(leader.log, 'init-cluster');
    expect(init).toEqual({ type: 'init-cluster', clusterId: CLUSTER_ID });
    await g.applied(leader.log.committedOffset);
    for (const id of g.running) expect(g.member(id).log.state.clusterId).toBe(CLUSTER_ID);
  });

  it('refuses writes on a follower with NOT_CONTROLLER naming the leader, and serves reads there', async () => {
    const { g, leader, leaderId } = await startGroup([1, 2, 3]);
    await registerLive(leader);
    const follower = g.coordinator(g.running.find((id) => id !== leaderId)!);
    for (const write of [
      follower.createTopics([{ name: 'nope' }]),
      follower.registerBroker(broker),
      follower.brokerHeartbeat({ nodeId: 1, brokerEpoch: 0, metadataOffset: 0, wantFence: false, wantShutDown: false }),
      follower.changeMembership({ op: 'remove', nodeId: leaderId }),
      follower.transferLeadership(follower.nodeId),
    ]) {
      const error = await rejection(write);
      expect(error.code).toBe(ErrorCode.NOT_CONTROLLER);
      expect(error.context.leaderId).toBe(leaderId);
      expect(error.message).toContain(`node ${leaderId}`);
    }
    await g.applied(leader.log.committedOffset);
    const status = follower.status();
    expect(status).toMatchObject({ role: 'follower', leaderId, leaderApi: apiAddress(leaderId), clusterId: CLUSTER_ID, metadataOffset: leader.log.committedOffset });
    expect(status.members.find((m) => m.nodeId === leaderId)).toMatchObject({ voter: true, api: apiAddress(leaderId), matchIndex: undefined });
  });

  it('elects another leader when the leader stops, and writes continue there', async () => {
    const { g, leader, leaderId } = await startGroup([1, 2, 3]);
    await registerLive(leader);
    expect((await leader.createTopics([{ name: 'before' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
    await g.stopNode(leaderId);
    const nextId = await g.leader();
    expect(nextId).not.toBe(leaderId);
    const next = g.coordinator(nextId);
    expect(next.state.topic('before')).toBeDefined();
    const created = await next.createTopics([{ name: 'after' }]);
    expect(created.results[0]?.errorCode).toBe(ErrorCode.NONE);
    await g.startNode(leaderId);
    await g.applied(created.metadataOffset);
    expect(g.member(leaderId).log.state.topic('after')).toBeDefined();
  });

  it('hands leadership to another voter, which then takes writes', async () => {
    const { g, leader, leaderId } = await startGroup([1, 2, 3]);
    const target = g.running.find((id) => id !== leaderId)!;
    const moved = await leader.transferLeadership(target);
    expect(moved).toEqual({ leaderId: target, term: g.member(target).host.status().term });
    expect(await g.leader()).toBe(target);
    await registerLive(g.coordinator(target));
    expect((await g.coordinator(target).createTopics([{ name: 'moved' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
  });
});

describe('coordinator > the write pipeline', () => {
  it('validates concurrent writes against each other without waiting for commits, in few synced writes', async () => {
    const { leader, g, leaderId } = await startGroup([1, 2, 3]);
    await registerLive(leader);
    const storage = g.member(leaderId).storage;
    const synced = storage.syncedPersists;
    const names = Array.from({ length: 200 }, (_, i) => `t${i % 150}`);
    const outcomes = await Promise.all(names.map((name) => leader.createTopics([{ name }])));
    // The second creation of a name was validated while the first was still uncommitted.
    const codes = outcomes.map((o) => o.results[0]?.errorCode);
    expect(codes.slice(0, 150).every((c) => c === ErrorCode.NONE)).toBe(true);
    expect(codes.slice(150).every((c) => c === ErrorCode.TOPIC_ALREADY_EXISTS)).toBe(true);
    const offsets = outcomes.slice(0, 150).map((o) => o.metadataOffset);
    expect(new Set(offsets).size).toBe(150);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    // Proposals made in one turn of the event loop share a Raft Ready: far fewer fsyncs than writes.
    expect(storage.syncedPersists - synced).toBeLessThan(40);
    expect(leader.state.topics()).toHaveLength(150);
    await g.applied(leader.log.committedOffset);
    for (const id of g.running) expect(g.member(id).log.state.snapshot()).toEqual(leader.state.snapshot());
  });

  it('validates a write against a record that reached the log around the pipeline since its last write', async () => {
    const { leader } = await startGroup([1]);
    await registerLive(leader);
    expect((await leader.createTopics([{ name: 'first' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
    // The pipeline is drained now; a command appended to the log directly is not one it proposed.
    const partitions = [{ partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }];
    await leader.log.append([{ type: 'create-topic', name: 'direct', topicId: 'id-direct', partitions, configs: {} }]);
    const outcome = await leader.createTopics([{ name: 'direct' }, { name: 'second' }]);
    expect(outcome.results.map((r) => r.errorCode)).toEqual([ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.NONE]);
    expect(leader.state.topics().map((t) => t.name)).toEqual(['direct', 'first', 'second']);
  });

  it('answers a write that proposes nothing only once the writes it read have committed', async () => {
    const { leader } = await startGroup([1]);
    await registerLive(leader);
    const first = leader.createTopics([{ name: 'once' }]);
    const second = leader.createTopics([{ name: 'once' }]);
    const dry = leader.createTopics([{ name: 'dry' }], { validateOnly: true });
    const [a, b, c] = await Promise.all([first, second, dry]);
    expect(b.results[0]?.errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    expect(b.metadataOffset).toBeGreaterThanOrEqual(a.metadataOffset);
    expect(c.results[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(leader.state.topic('dry')).toBeUndefined();
  });

  it('fails writes when leadership is lost and starts again from the committed state when it leads again', async () => {
    const { g, leader, leaderId } = await startGroup([1, 2, 3], { host: { proposalTimeoutMs: 500 } });
    await registerLive(leader);
    await g.applied(leader.log.committedOffset);
    g.network.isolate(leaderId);
    const lost = Promise.all([leader.createTopics([{ name: 'lost-1' }]), leader.createTopics([{ name: 'lost-2' }]), leader.alterConfigs([{ name: 'lost-1', ops: [{ op: 'set', key: 'retention.ms', value: '5' }] }])]);
    const error = await rejection(lost);
    expect([ErrorCode.NOT_CONTROLLER, ErrorCode.REQUEST_TIMED_OUT]).toContain(error.code);
    const others = g.running.filter((id) => id !== leaderId);
    await waitFor(() => others.some((id) => g.coordinator(id).leading), 'a leader among the others');
    const otherLeader = g.coordinator(others.find((id) => g.coordinator(id).leading)!);
    await otherLeader.createTopics([{ name: 'elsewhere' }]);
    g.network.heal();
    await g.leader();
    // Back on the old leader: what it proposed alone never committed, and its writes validate
    // against the committed state again (lost-1 can be created; elsewhere exists).
    await otherLeader.transferLeadership(leaderId);
    await waitFor(() => leader.leading, 'the old leader to lead again');
    const again = await leader.createTopics([{ name: 'lost-1' }, { name: 'elsewhere' }]);
    expect(again.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);
    await g.applied(again.metadataOffset);
    for (const id of g.running) expect(g.member(id).log.state.snapshot()).toEqual(leader.state.snapshot());
    expect(g.running.every((id) => g.member(id).fatal.length === 0)).toBe(true);
  });

  it('does not start a write whose signal aborted while it waited for the new leader to catch up', async () => {
    group = await MemoryGroup.start([1, 2, 3]);
    const g = group;
    const leaderId = await g.leader();
    const target = g.running.find((id) => id !== leaderId)!;
    await g.coordinator(leaderId).transferLeadership(target);
    await g.leader();
    const controller = new AbortController();
    controller.abort();
    await expect(g.coordinator(target).createTopics([{ name: 'aborted' }], { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(g.coordinator(target).state.topic('aborted')).toBeUndefined();
  });

  it('refuses writes beyond maxPendingWrites with THROTTLING_QUOTA_EXCEEDED', async () => {
    const { leader } = await startGroup([1], { coordinator: { maxPendingWrites: 3 } });
    await registerLive(leader);
    const accepted = [1, 2, 3].map((i) => leader.createTopics([{ name: `p${i}` }]));
    expect((await rejection(leader.createTopics([{ name: 'p4' }]))).code).toBe(ErrorCode.THROTTLING_QUOTA_EXCEEDED);
    await Promise.all(accepted);
    expect((await leader.createTopics([{ name: 'p4' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it('serves a broker cache that follows its log', async () => {
    const { leader } = await startGroup([1]);
    await registerLive(leader);
    const cache = new MetadataCache();
    const follower = cache.follow(leader.log);
    await follower.caughtUp;
    const created = await leader.createTopics([{ name: 'followed', numPartitions: 4 }]);
    await cache.waitForOffset(created.metadataOffset, { signal: AbortSignal.timeout(5_000) });
    expect(cache.state.topic('followed')?.partitions).toHaveLength(4);
    expect(cache.state.snapshot()).toEqual(leader.state.snapshot());
    follower.stop();
  });
});

describe('coordinator > topic administration', () => {
  it('creates, alters, grows and deletes topics, and describes their configs', async () => {
    const { leader } = await startGroup([1]);
    await registerLive(leader);
    const created = await leader.createTopics([
      { name: 'orders', numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
      { name: 'payments' },
      { name: 'audit' },
      { name: 'bad/name' },
    ]);
    expect(created.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.INVALID_TOPIC]);
    expect(created.metadataOffset).toBe(leader.state.lastAppliedOffset);
    const altered = await leader.alterConfigs([{ name: 'orders', ops: [{ op: 'set', key: 'retention.ms', value: '60000' }, { op: 'delete', key: 'cleanup.policy' }] }]);
    expect(altered.results[0]?.errorCode).toBe(ErrorCode.NONE);
    expect((await leader.createPartitions([{ name: 'payments', count: 5 }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
    const deleted = await leader.deleteTopics(['audit', 'ghost']);
    expect(deleted.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const described = await leader.describeConfigs(['orders']);
    expect(described.results[0]?.configs.find((c) => c.name === 'retention.ms')).toMatchObject({ value: '60000', source: 'topic' });
    expect(leader.state.topics().map((t) => [t.name, t.partitions.length])).toEqual([
      ['orders', 3],
      ['payments', 5],
    ]);
  });

  it('keeps the broker epoch for an identical re-registration and moves it for a new incarnation', async () => {
    const { leader } = await startGroup([1]);
    await registerLive(leader);
    const again = await leader.registerBroker(broker);
    expect(again.brokerEpoch).toBe(leader.state.broker(1)?.brokerEpoch);
    const restarted = await leader.registerBroker({ ...broker, incarnationId: 'inc-2' });
    expect(restarted.brokerEpoch).toBeGreaterThan(again.brokerEpoch);
    expect(restarted.brokerEpoch).toBe(leader.state.broker(1)?.brokerEpoch);
  });

  it('refuses bad requests with typed errors: a malformed registration, node id 0, an unknown op', async () => {
    const { leader } = await startGroup([1]);
    expect((await rejection(leader.registerBroker({ ...broker, port: 0 }))).code).toBe(ErrorCode.INVALID_REQUEST);
    expect((await rejection(leader.changeMembership({ op: 'remove', nodeId: 0 }))).code).toBe(ErrorCode.INVALID_REQUEST);
    expect((await rejection(leader.transferLeadership(-1))).code).toBe(ErrorCode.INVALID_REQUEST);
    const unknownOp = { op: 'promote', nodeId: 2 } as unknown as Parameters<Coordinator['changeMembership']>[0];
    expect((await rejection(leader.changeMembership(unknownOp))).code).toBe(ErrorCode.INVALID_REQUEST);
    expect((await rejection(leader.changeMembership({ op: 'add', nodeId: 1, raft: raftAddress(1), api: undefined }))).message).toContain('already a voter');
    expect((await rejection(leader.changeMembership({ op: 'add', nodeId: 7, raft: { host: '', port: 9095 }, api: undefined }))).code).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe('coordinator > broker sessions', () => {
  it('keeps a new registration fenced until a heartbeat shows it caught up', async () => {
    const { leader } = await startGroup([1]);
    const { brokerEpoch } = await leader.registerBroker(broker);
    expect(leader.state.broker(1)?.fenced).toBe(true);
    const refused = await leader.createTopics([{ name: 'early' }]);
    expect(refused.results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICATION_FACTOR });
    expect(await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: brokerEpoch - 1 })).toEqual({ fenced: true, metadataOffset: brokerEpoch });
    expect(await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: brokerEpoch })).toEqual({ fenced: false, metadataOffset: brokerEpoch + 1 });
    expect((await leader.createTopics([{ name: 'later' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it('answers heartbeats of unknown brokers and superseded epochs with typed errors', async () => {
    const { leader } = await startGroup([1]);
    const first = await registerLive(leader);
    await expect(leader.brokerHeartbeat({ nodeId: 2, brokerEpoch: first, metadataOffset: 10 })).rejects.toMatchObject({ code: ErrorCode.BROKER_ID_NOT_REGISTERED });
    await leader.registerBroker({ ...broker, incarnationId: 'inc-restarted' });
    await expect(leader.brokerHeartbeat({ nodeId: 1, brokerEpoch: first, metadataOffset: 10 })).rejects.toMatchObject({ code: ErrorCode.STALE_BROKER_EPOCH });
    await expect(leader.brokerHeartbeat({ nodeId: 1, brokerEpoch: -3, metadataOffset: 10 })).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });

  it('fences a broker at its request (want fence or want shut down)', async () => {
    const { leader } = await startGroup([1]);
    const brokerEpoch = await registerLive(leader);
    const offset = leader.state.lastAppliedOffset;
    expect(await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: offset, wantFence: false, wantShutDown: true })).toEqual({
      fenced: true,
      metadataOffset: offset + 1,
    });
    expect((await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: offset + 1 })).fenced).toBe(false);
  });

  it('fences a broker whose heartbeats stop from the leader only, after resetting sessions on a new leader', async () => {
    let now = 0;
    const { g, leader, leaderId } = await startGroup([1, 2, 3], { coordinator: { sessionTimeoutMs: 200, nowMs: () => now } });
    const brokerEpoch = await registerLive(leader);
    now = 150;
    await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: leader.state.lastAppliedOffset });
    now = 351;
    expect(await leader.fenceExpiredBrokers()).toEqual([1]);
    expect((await leader.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: leader.state.lastAppliedOffset })).fenced).toBe(false);

    // A new leader knows nothing of the old one's heartbeat times: every broker gets a fresh
    // session from the moment it takes over, so nothing is fenced at once.
    const target = g.running.find((id) => id !== leaderId)!;
    await leader.transferLeadership(target);
    await waitFor(() => g.coordinator(target).leading, 'the new leader to take writes');
    const next = g.coordinator(target);
    expect(await next.fenceExpiredBrokers()).toEqual([]);
    await expect(leader.fenceExpiredBrokers()).rejects.toMatchObject({ code: ErrorCode.NOT_CONTROLLER });
    now = 10_000;
    // The new leader's own timer (every quarter of the timeout) fences the silent broker, once.
    await waitFor(() => next.state.broker(1)?.fenced === true, 'the new leader to fence the silent broker');
    await g.applied(next.log.committedOffset);
    expect(await commandsOf(next.log, 'fence-broker')).toHaveLength(2);
  });
});

describe('coordinator > membership', () => {
  it('adds a node: records its addresses, makes it a voter, catches it up; then removes it', async () => {
    const { g, leader } = await startGroup([1, 2, 3], { ids: [1, 2, 3, 4] });
    await registerLive(leader);
    await leader.createTopics([{ name: 'before-4' }]);
    await g.startNode(4);
    expect(g.member(4).host.status().voters).toEqual([]);
    const added = await leader.changeMembership({ op: 'add', nodeId: 4, raft: raftAddress(4), api: apiAddress(4) });
    expect(added.voters).toEqual([1, 2, 3, 4]);
    expect(leader.state.coordinator(4)).toEqual({ nodeId: 4, raft: raftAddress(4), api: apiAddress(4) });
    const created = await leader.createTopics([{ name: 'with-4' }]);
    await g.applied(created.metadataOffset);
    expect(g.member(4).log.state.snapshot()).toEqual(leader.state.snapshot());
    await waitFor(() => leader.status().members.every((m) => m.lag === 0), 'every member to catch up');
    // API addresses are known for nodes that have led (they record themselves) and added ones.
    const members = leader.status().members;
    expect(members.map((m) => [m.nodeId, m.voter, m.raft])).toEqual([1, 2, 3, 4].map((id) => [id, true, raftAddress(id)]));
    expect(members.find((m) => m.nodeId === 4)?.api).toEqual(apiAddress(4));
    expect(members.find((m) => m.nodeId === leader.nodeId)?.api).toEqual(apiAddress(leader.nodeId));
    expect(g.coordinator(4).status()).toMatchObject({ role: 'follower', leaderId: leader.nodeId, leaderApi: apiAddress(leader.nodeId) });

    const removed = await leader.changeMembership({ op: 'remove', nodeId: 4 });
    expect(removed.voters).toEqual([1, 2, 3]);
    expect((await leader.createTopics([{ name: 'after-4' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it('keeps a node that is not a founding voter empty until it is added, instead of electing itself', async () => {
    const { g } = await startGroup([1, 2, 3], { ids: [1, 2, 3, 5] });
    await g.startNode(5);
    // An observation window, not a wait for an event: over several election timeouts it must stay
    // without voters, term or state.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const status = g.coordinator(5).status();
    expect(status).toMatchObject({ role: 'follower', term: 0, metadataOffset: -1 });
    expect(g.coordinator(5).leading).toBe(false);
  });
});

describe('coordinator > metadata fetch', () => {
  it('long-polls at the end of the log until a commit, and answers empty when none comes', async () => {
    const { leader } = await startGroup([1]);
    await registerLive(leader);
    const next = leader.log.committedOffset + 1;
    const empty = await leader.fetchMetadata(next, 100, 50);
    expect(empty).toMatchObject({ kind: 'records', records: [] });
    const polled = leader.fetchMetadata(next, 100, 5_000);
    setTimeout(() => void leader.createTopics([{ name: 'wake' }]), 50);
    const woken = await polled;
    expect(woken.kind === 'records' && woken.records.map((r) => r.command.type)).toEqual(['create-topic']);
    await expect(leader.fetchMetadata(next + 5, 10, 0)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
    await expect(leader.fetchMetadata(-1, 10, 0)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
  });

  it('answers a fetch from below the compacted start with the snapshot', async () => {
    const { leader } = await startGroup([1], { host: { snapshotEntries: 5 }, log: { retainRecords: 2 } });
    await registerLive(leader);
    for (let i = 0; i < 12; i++) await leader.createTopics([{ name: `c${i}` }]);
    expect(leader.log.startOffset).toBeGreaterThan(0);
    const result = await leader.fetchMetadata(0, 100, 0);
    expect(result.kind).toBe('snapshot');
    if (result.kind !== 'snapshot') return;
    expect(result.offset).toBeGreaterThanOrEqual(result.startOffset - 1);
    expect(result.snapshot.lastAppliedOffset).toBe(result.offset);
    const rest = await leader.fetchMetadata(result.offset + 1, 100, 0);
    expect(rest.kind === 'records' && rest.records[0]?.offset).toBe(result.offset + 1);
  });

  it('wakes its long polls and refuses calls once closed', async () => {
    const { leader } = await startGroup([1]);
    const polled = leader.fetchMetadata(leader.log.committedOffset + 1, 10, 10_000);
    await leader.close();
    await expect(polled).resolves.toMatchObject({ kind: 'records', records: [] });
    await expect(leader.createTopics([{ name: 'late' }])).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
  });
});
