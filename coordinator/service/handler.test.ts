import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { connect } from '../../client/network/connection.js';
import type { Connection } from '../../client/network/types.js';
import { ErrorCode } from '../../proto/errors.js';
import { decodeMetadataCommand } from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';
import { CoordinatorHandler } from './handler.js';
import { CLUSTER_ID, MemoryGroup, apiAddress, waitFor } from './testing/memory-group.js';

let group: MemoryGroup;
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
  group = await MemoryGroup.start([1, 2, 3]);
  leaderId = await group.leader();
  followerId = group.running.find((id) => id !== leaderId)!;
  // The leader records its API address in the log; followers learn it once they apply that.
  await waitFor(() => group.coordinator(followerId).status().leaderApi !== undefined, 'the follower to learn the leader\'s API address');
  connections.set(leaderId, await serve(leaderId));
  connections.set(followerId, await serve(followerId));
});

afterAll(async () => {
  for (const connection of connections.values()) await connection.close();
  for (const server of servers) await server.close();
  await group.close();
});

const leader = (): Connection => connections.get(leaderId)!;
const follower = (): Connection => connections.get(followerId)!;

const registration = { nodeId: 1, incarnationId: 'inc-1', clusterId: CLUSTER_ID, host: '127.0.0.1', port: 9092, rack: '', listeners: [{ name: 'native', host: '127.0.0.1', port: 9092 }] };

describe('coordinator handler > identity and status', () => {
  it('answers ApiVersions with the coordinator APIs only, its cluster id and node id', async () => {
    const versions = await leader().request('API_VERSIONS', { clientId: 'test', clientSoftware: 'vitest' });
    expect(versions).toMatchObject({ errorCode: ErrorCode.NONE, clusterId: CLUSTER_ID, nodeId: leaderId });
    expect(versions.apis.map((a) => a.api)).toEqual([0, 5, 6, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 47, 48]);
  });

  it('reports the group on any node: a follower names the leader and its API address', async () => {
    const status = await follower().request('COORDINATOR_STATUS', {});
    expect(status).toMatchObject({
      errorCode: ErrorCode.NONE,
      clusterId: CLUSTER_ID,
      nodeId: followerId,
      role: 'follower',
      leaderId,
      leaderApiHost: '127.0.0.1',
      leaderApiPort: apiAddress(leaderId).port,
    });
    expect(status.members.map((m) => m.nodeId)).toEqual([1, 2, 3]);
    expect(status.members.every((m) => m.matchIndex === -1 && m.lag === -1)).toBe(true);
    const onLeader = await leader().request('COORDINATOR_STATUS', {});
    expect(onLeader.role).toBe('leader');
    expect(onLeader.members.every((m) => m.matchIndex >= 0 && m.voter)).toBe(true);
  });

  it('answers a broker API with an ErrorResponse saying brokers serve it', async () => {
    await expect(leader().request('METADATA', { topics: [], allTopics: true, allowAutoTopicCreation: false })).rejects.toMatchObject({
      code: ErrorCode.UNKNOWN_API,
      message: expect.stringContaining('served by brokers'),
    });
  });
});

describe('coordinator handler > writes', () => {
  it('registers a broker, unfences it by heartbeat, and refuses one of another cluster', async () => {
    const registered = await leader().request('BROKER_REGISTRATION', registration);
    expect(registered).toMatchObject({ errorCode: ErrorCode.NONE, metadataOffset: registered.brokerEpoch });
    const beat = await leader().request('BROKER_HEARTBEAT', {
      nodeId: 1,
      brokerEpoch: registered.brokerEpoch,
      metadataOffset: registered.metadataOffset,
      wantFence: false,
      wantShutDown: false,
    });
    expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, fenced: false });
    const foreign = await leader().request('BROKER_REGISTRATION', { ...registration, clusterId: 'someone-else' });
    expect(foreign).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, brokerEpoch: -1 });
    const stale = await leader().request('BROKER_HEARTBEAT', { nodeId: 1, brokerEpoch: 0, metadataOffset: 0, wantFence: false, wantShutDown: false });
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
  });

  it('creates topics on the leader and answers each topic NOT_CONTROLLER on a follower, naming the leader', async () => {
    const request = { topics: [{ name: 'h1', partitions: 2, replicationFactor: 0, configs: {} }, { name: 'h2', partitions: 0, replicationFactor: 0, configs: {} }], timeoutMs: 0, validateOnly: false };
    const refused = await follower().request('CREATE_TOPICS', request);
    expect(refused.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NOT_CONTROLLER, ErrorCode.NOT_CONTROLLER]);
    expect(refused.topics[0]?.errorMessage).toContain(`node ${leaderId}`);
    const created = await leader().request('CREATE_TOPICS', request);
    expect(created.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['h1', ErrorCode.NONE],
      ['h2', ErrorCode.NONE],
    ]);
    expect(created.topics.every((t) => t.topicId !== '')).toBe(true);
    expect(group.coordinator(leaderId).state.topic('h1')?.partitions).toHaveLength(2);
  });

  it('alters configs, grows and deletes topics, and answers an unknown config op with INVALID_REQUEST', async () => {
    await leader().request('CREATE_TOPICS', { topics: [{ name: 'h3', partitions: 1, replicationFactor: 1, configs: {} }], timeoutMs: 0, validateOnly: false });
    const altered = await leader().request('ALTER_CONFIGS', { topics: [{ name: 'h3', ops: [{ name: 'retention.ms', value: '1000', op: 0 }] }], validateOnly: false });
    expect(altered.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const badOp = await leader().request('ALTER_CONFIGS', { topics: [{ name: 'h3', ops: [{ name: 'retention.ms', op: 7 }] }], validateOnly: false });
    expect(badOp.topics[0]).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: expect.stringContaining('op 7') });
    const grown = await leader().request('CREATE_PARTITIONS', { topics: [{ name: 'h3', count: 3 }], timeoutMs: 0, validateOnly: false });
    expect(grown.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const deleted = await leader().request('DELETE_TOPICS', { names: ['h3', 'ghost'], timeoutMs: 0 });
    expect(deleted.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  });

  it('refuses bad membership and transfer requests with INVALID_REQUEST in the response', async () => {
    const unknownOp = await leader().request('CHANGE_MEMBERSHIP', { op: 'promote', nodeId: 4, raftHost: '127.0.0.1', raftPort: 9095, apiHost: '', apiPort: 0 });
    expect(unknownOp).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, voters: [] });
    const noRaft = await leader().request('CHANGE_MEMBERSHIP', { op: 'add', nodeId: 4, raftHost: '', raftPort: 0, apiHost: '', apiPort: 0 });
    expect(noRaft).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: expect.stringContaining('raft host') });
    const notVoter = await leader().request('TRANSFER_LEADERSHIP', { toNodeId: 9 });
    expect(notVoter).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, leaderId });
    const onFollower = await follower().request('TRANSFER_LEADERSHIP', { toNodeId: followerId });
    expect(onFollower).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, leaderId });
  });
});

describe('coordinator handler > metadata fetch', () => {
  it('serves committed records as encoded commands, on a follower too, and OFFSET_OUT_OF_RANGE past the end', async () => {
    const leaderLog = group.member(leaderId).log;
    await group.applied(leaderLog.committedOffset);
    const fetched = await follower().request('FETCH_METADATA', { fromOffset: 0, maxRecords: 1000, maxWaitMs: 0, brokerId: -1 });
    expect(fetched).toMatchObject({ errorCode: ErrorCode.NONE, startOffset: 0, hasSnapshot: false });
    const state = MetadataState.empty();
    for (const record of fetched.records) state.apply({ offset: record.offset, command: decodeMetadataCommand(record.command) });
    expect(state.clusterId).toBe(CLUSTER_ID);
    expect(state.lastAppliedOffset).toBe(fetched.committedOffset);
    const past = await follower().request('FETCH_METADATA', { fromOffset: fetched.committedOffset + 3, maxRecords: 10, maxWaitMs: 0, brokerId: -1 });
    expect(past).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: [] });
  });

  it('long-polls at the end of the log until a write commits', async () => {
    const next = group.member(leaderId).log.committedOffset + 1;
    const polled = leader().request('FETCH_METADATA', { fromOffset: next, maxRecords: 10, maxWaitMs: 5_000, brokerId: -1 });
    setTimeout(() => void group.coordinator(leaderId).createTopics([{ name: 'poll-wake' }]), 50);
    const woken = await polled;
    expect(woken.records.map((r) => decodeMetadataCommand(r.command).type)).toEqual(['create-topic']);
  });
});

describe('coordinator handler > the controller', () => {
  it('serves ALTER_PARTITION on the leader with per-partition results, and NOT_CONTROLLER as a whole on a follower', async () => {
    const request = { brokerId: 1, brokerEpoch: 0, partitions: [{ topicId: 'no-such-topic', partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1] }] };
    const refused = await follower().request('ALTER_PARTITION', request);
    expect(refused).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, partitions: [], metadataOffset: -1 });
    const registered = await leader().request('BROKER_REGISTRATION', { ...registration, nodeId: 6, incarnationId: 'inc-6' });
    const answered = await leader().request('ALTER_PARTITION', { ...request, brokerId: 6, brokerEpoch: registered.brokerEpoch });
    expect(answered.errorCode).toBe(ErrorCode.NONE);
    expect(answered.partitions).toEqual([
      expect.objectContaining({ topicId: 'no-such-topic', partition: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, leader: -1, isr: [] }),
    ]);
    const malformed = await leader().request('ALTER_PARTITION', { brokerId: 6, brokerEpoch: registered.brokerEpoch, partitions: [] });
    expect(malformed.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('serves ELECT_LEADERS with per-partition results, and refuses an unknown election type with INVALID_REQUEST', async () => {
    const unknown = await leader().request('ELECT_LEADERS', { electionType: 0, topics: [{ name: 'ghost-topic', partitions: [] }] });
    expect(unknown).toMatchObject({ errorCode: ErrorCode.NONE, results: [{ topic: 'ghost-topic', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, leader: -1 }] });
    const badType = await leader().request('ELECT_LEADERS', { electionType: 5, topics: [] });
    expect(badType).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: expect.stringContaining('election type') });
  });

  it('fences a broker soon after the connection carrying its heartbeats closes', async () => {
    const own = await connect({ host: '127.0.0.1', port: servers[0]!.port, requestTimeoutMs: 10_000 });
    const { brokerEpoch } = await own.request('BROKER_REGISTRATION', { ...registration, nodeId: 7, incarnationId: 'inc-7' });
    const coordinator = group.coordinator(leaderId);
    const beat = await own.request('BROKER_HEARTBEAT', { nodeId: 7, brokerEpoch, metadataOffset: coordinator.state.lastAppliedOffset, wantFence: false, wantShutDown: false });
    expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, fenced: false });
    const closedAt = Date.now();
    await own.close();
    await waitFor(() => coordinator.state.broker(7)?.fenced === true, 'the coordinator to fence the disconnected broker');
    // Well before the 9 s session timeout.
    expect(Date.now() - closedAt).toBeLessThan(5_000);
  });
});
