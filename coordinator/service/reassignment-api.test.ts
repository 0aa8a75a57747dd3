/**
 * The coordinator's reassignment and maintenance APIs (ALTER_PARTITION_REASSIGNMENTS,
 * LIST_PARTITION_REASSIGNMENTS, BROKER_MAINTENANCE) over a real TCP connection, served by the
 * handler in front of a real coordinator group (three nodes on LevelDB, in memory networking).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { CoordinatorClient } from '../../client/coordinator/coordinator-client.js';
import { connect } from '../../client/network/connection.js';
import type { Connection } from '../../client/network/types.js';
import { ErrorCode } from '../../proto/errors.js';
import type { Coordinator } from '../coordinator.js';
import { CoordinatorHandler } from './handler.js';
import { MemoryGroup } from './testing/memory-group.js';

let group: MemoryGroup;
let coordinator: Coordinator;
let leaderId: number;
let followerId: number;
const servers: NativeServer[] = [];
const connections = new Map<number, Connection>();
const epochs = new Map<number, number>();
let client: CoordinatorClient;

async function serve(nodeId: number): Promise<NativeServer> {
  const server = new NativeServer({
    handler: new CoordinatorHandler({ coordinator: group.coordinator(nodeId), serverVersion: 'test', maxFrameBytes: 1 << 20, maxInFlight: 16 }),
    port: 0,
    logger: pino({ level: 'silent' }),
  });
  await server.listen();
  servers.push(server);
  connections.set(nodeId, await connect({ host: '127.0.0.1', port: server.port, requestTimeoutMs: 10_000 }));
  return server;
}

beforeAll(async () => {
  group = await MemoryGroup.start([1, 2, 3]);
  leaderId = await group.leader();
  followerId = group.running.find((id) => id !== leaderId)!;
  coordinator = group.coordinator(leaderId);
  const leaderServer = await serve(leaderId);
  await serve(followerId);
  client = new CoordinatorClient({ bootstrap: [`127.0.0.1:${leaderServer.port}`], requestTimeoutMs: 5_000 });
  for (const nodeId of [1, 2, 3, 4]) {
    const { brokerEpoch, metadataOffset } = await coordinator.registerBroker({ nodeId, incarnationId: `inc-${nodeId}`, host: '127.0.0.1', port: 9000 + nodeId });
    await coordinator.brokerHeartbeat({ nodeId, brokerEpoch, metadataOffset });
    epochs.set(nodeId, brokerEpoch);
  }
}, 30_000);

afterAll(async () => {
  await client.close();
  for (const connection of connections.values()) await connection.close();
  for (const server of servers) await server.close();
  await group.close();
});

const leader = (): Connection => connections.get(leaderId)!;

/** The partition's leader asks for every replica in the ISR (its followers caught up). */
async function everyoneCaughtUp(name: string): Promise<void> {
  const topic = coordinator.state.topic(name)!;
  const p = topic.partitions[0]!;
  await coordinator.alterPartition({
    brokerId: p.leader,
    brokerEpoch: epochs.get(p.leader)!,
    partitions: [{ topicId: topic.topicId, partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [p.leader, ...p.replicas.filter((id) => id !== p.leader)] }],
  });
}

/** A topic with one partition on brokers [1, 2, 3] led by 1 (placed anywhere, then moved there). */
async function topic(name: string): Promise<void> {
  const created = await coordinator.createTopics([{ name, numPartitions: 1, replicationFactor: 3 }]);
  expect(created.results[0]!.errorCode).toBe(ErrorCode.NONE);
  await coordinator.alterPartitionReassignments([{ topic: name, partition: 0, replicas: [1, 2, 3] }]);
  await everyoneCaughtUp(name);
  await coordinator.electLeaders({ type: 'preferred', topics: [{ topic: name }] });
  expect(coordinator.state.topic(name)!.partitions[0]).toMatchObject({ replicas: [1, 2, 3], leader: 1 });
}

describe('coordinator API > partition reassignments', () => {
  it('starts a move, lists it, completes it when the new replica joins the ISR, and lists nothing after', async () => {
    await topic('moving');
    const started = await leader().request('ALTER_PARTITION_REASSIGNMENTS', { topics: [{ name: 'moving', partitions: [{ partition: 0, replicas: [2, 3, 4], cancel: false }] }] });
    expect(started).toMatchObject({ errorCode: ErrorCode.NONE, results: [{ topic: 'moving', partition: 0, errorCode: ErrorCode.NONE, errorMessage: '' }] });
    const listed = await leader().request('LIST_PARTITION_REASSIGNMENTS', { topics: [] });
    expect(listed.reassignments).toEqual([{ topic: 'moving', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] }]);
    await everyoneCaughtUp('moving');
    expect(coordinator.state.topic('moving')!.partitions[0]).toMatchObject({ replicas: [2, 3, 4], leader: 2 });
    expect((await client.listPartitionReassignments([{ topic: 'moving' }])).reassignments).toEqual([]);
  });

  it('answers per partition: NO_REASSIGNMENT_IN_PROGRESS for a cancel without one, INVALID_REPLICA_ASSIGNMENT for an empty target', async () => {
    await topic('steady');
    const answer = await leader().request('ALTER_PARTITION_REASSIGNMENTS', {
      topics: [{ name: 'steady', partitions: [{ partition: 0, replicas: [], cancel: true }] }, { name: 'moving', partitions: [{ partition: 0, replicas: [], cancel: false }] }],
    });
    expect(answer.results.map((r) => [r.topic, r.errorCode])).toEqual([
      ['steady', ErrorCode.NO_REASSIGNMENT_IN_PROGRESS],
      ['moving', ErrorCode.INVALID_REPLICA_ASSIGNMENT],
    ]);
  });

  it('refuses a cancel that names replicas with INVALID_REQUEST for the whole request', async () => {
    const answer = await leader().request('ALTER_PARTITION_REASSIGNMENTS', { topics: [{ name: 'steady', partitions: [{ partition: 0, replicas: [1], cancel: true }] }] });
    expect(answer).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, results: [], metadataOffset: -1 });
  });

  it('fails a list naming a topic that does not exist with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const answer = await leader().request('LIST_PARTITION_REASSIGNMENTS', { topics: [{ name: 'ghost', partitions: [] }] });
    expect(answer.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('starts and cancels through the client, which reports per-partition errors as typed errors', async () => {
    await topic('client-moved');
    const started = await client.reassignPartitions([{ topic: 'client-moved', partition: 0, replicas: [1, 2, 4] }]);
    expect(started.results.map((r) => r.error)).toEqual([undefined]);
    const cancelled = await client.reassignPartitions([
      { topic: 'client-moved', partition: 0, replicas: null },
      { topic: 'client-moved', partition: 3, replicas: null },
    ]);
    expect(cancelled.results[0]!.error).toBeUndefined();
    expect(cancelled.results[1]!.error).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, context: { topic: 'client-moved', partition: 3 } });
    expect(coordinator.state.topic('client-moved')!.partitions[0]).toMatchObject({ replicas: [1, 2, 3] });
  });

  it('refuses malformed calls in the client with INVALID_REQUEST before sending anything', async () => {
    await expect(client.reassignPartitions([])).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await expect(client.reassignPartitions([{ topic: 'steady', partition: -1, replicas: [1] }])).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await expect(client.reassignPartitions([{ topic: '', partition: 0, replicas: null }])).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await expect(client.brokerMaintenance(-1, true)).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });

  it('answers NOT_CONTROLLER on a follower', async () => {
    const answer = await connections.get(followerId)!.request('ALTER_PARTITION_REASSIGNMENTS', { topics: [{ name: 'steady', partitions: [{ partition: 0, replicas: [1, 2, 3], cancel: false }] }] });
    expect(answer.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
  });
});

describe('coordinator API > broker maintenance', () => {
  it('drains a broker: its leaderships move, and undraining ends it', async () => {
    await topic('drained');
    const drained = await leader().request('BROKER_MAINTENANCE', { brokerId: 1, enable: true });
    expect(drained).toMatchObject({ errorCode: ErrorCode.NONE, draining: true, leadersKept: [] });
    expect(drained.leadersMoved).toBeGreaterThan(0);
    expect(coordinator.state.broker(1)!.draining).toBe(true);
    expect(coordinator.state.topics().flatMap((t) => t.partitions).filter((p) => p.leader === 1)).toEqual([]);
    const undrained = await client.brokerMaintenance(1, false);
    expect(undrained).toMatchObject({ brokerId: 1, draining: false, leadersMoved: 0, leadersKept: [] });
    expect(coordinator.state.broker(1)).not.toHaveProperty('draining');
  });

  it('refuses a broker id no broker registered with BROKER_ID_NOT_REGISTERED', async () => {
    const answer = await leader().request('BROKER_MAINTENANCE', { brokerId: 77, enable: true });
    expect(answer).toMatchObject({ errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED, errorMessage: 'broker 77 is not registered', metadataOffset: -1 });
    await expect(client.brokerMaintenance(77, true)).rejects.toMatchObject({ code: ErrorCode.BROKER_ID_NOT_REGISTERED });
  });
});
