import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeServer } from '../../broker/network/index.js';
import { CoordinatorClient } from '../../client/coordinator/coordinator-client.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { freePort } from '../../test/support/coordinator-cluster.js';
import { waitFor } from '../raft/host/testing/host-cluster.js';
import type { Endpoint } from './coordinator-api.js';
import { CoordinatorNode, type CoordinatorNodeOptions } from './coordinator-node.js';
import { CoordinatorHandler } from './handler.js';
import { parseVoters } from './voters.js';

const CLUSTER = 'tcp-group';
const HOST = '127.0.0.1';

let root: string;
const running = new Map<number, CoordinatorNode>();
const servers: NativeServer[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'streambus-coordinator-node-'));
});

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const node of running.values()) await node.close();
  running.clear();
  await rm(root, { recursive: true, force: true });
});

async function votersOf(ids: readonly number[]): Promise<Map<number, Endpoint>> {
  const voters = new Map<number, Endpoint>();
  for (const id of ids) voters.set(id, { host: HOST, port: await freePort(HOST) });
  return voters;
}

function options(id: number, voters: ReadonlyMap<number, Endpoint> | undefined, extra: Partial<CoordinatorNodeOptions> = {}): CoordinatorNodeOptions {
  return {
    nodeId: id,
    clusterId: CLUSTER,
    dataDir: join(root, `node-${id}`),
    ...(voters === undefined ? {} : { voters }),
    raftListen: voters?.get(id) ?? { host: HOST, port: 0 },
    defaults: { numPartitions: 1, replicationFactor: 1 },
    raft: { tickMs: 50 },
    ...extra,
  };
}

async function start(id: number, voters: ReadonlyMap<number, Endpoint> | undefined, extra: Partial<CoordinatorNodeOptions> = {}): Promise<CoordinatorNode> {
  const node = await CoordinatorNode.start(options(id, voters, extra));
  running.set(id, node);
  return node;
}

async function stop(id: number): Promise<void> {
  await running.get(id)?.close();
  running.delete(id);
}

/** The one node that leads and takes writes, once every running voter agrees on it. */
async function leaderOf(timeoutMs = 15_000): Promise<CoordinatorNode> {
  let found: CoordinatorNode | undefined;
  await waitFor(
    () => {
      const leading = [...running.values()].filter((n) => n.coordinator.leading);
      if (leading.length !== 1) return false;
      found = leading[0];
      const voters = found!.host.status().voters;
      return [...running.values()].filter((n) => voters.includes(n.nodeId)).every((n) => n.host.leaderId === found!.nodeId);
    },
    'one leader among the running coordinators',
    timeoutMs,
  );
  return found!;
}

async function registerBroker(node: CoordinatorNode): Promise<void> {
  const { brokerEpoch, metadataOffset } = await node.coordinator.registerBroker({ nodeId: 1, incarnationId: 'i', host: HOST, port: 9092 });
  await node.coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset });
}

async function failure(run: () => Promise<unknown>): Promise<StreamBusError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error('expected a failure');
}

describe('coordinator node > three nodes over TCP', () => {
  it('elects a leader that takes writes; followers refuse them naming the leader and apply them', async () => {
    const voters = await votersOf([1, 2, 3]);
    for (const id of voters.keys()) await start(id, voters);
    const leader = await leaderOf();
    await registerBroker(leader);
    const created = await leader.coordinator.createTopics([{ name: 'orders', numPartitions: 3 }]);
    expect(created.results[0]?.errorCode).toBe(ErrorCode.NONE);
    for (const node of running.values()) {
      await waitFor(() => node.log.committedOffset >= created.metadataOffset, `node ${node.nodeId} to apply the topic`);
      expect(node.log.state.topic('orders')?.partitions).toHaveLength(3);
      expect(node.clusterId).toBe(CLUSTER);
    }
    const follower = [...running.values()].find((n) => n !== leader)!;
    const refused = await failure(() => follower.coordinator.createTopics([{ name: 'nope' }]));
    expect(refused).toMatchObject({ code: ErrorCode.NOT_CONTROLLER, context: { leaderId: leader.nodeId } });
  });

  it('elects another leader when the leader stops, keeps taking writes, and catches the restarted node up', async () => {
    const voters = await votersOf([1, 2, 3]);
    for (const id of voters.keys()) await start(id, voters);
    const first = await leaderOf();
    await registerBroker(first);
    await first.coordinator.createTopics([{ name: 'before' }]);
    const stopped = first.nodeId;
    await stop(stopped);
    const second = await leaderOf();
    expect(second.nodeId).not.toBe(stopped);
    const created = await second.coordinator.createTopics([{ name: 'during' }]);
    expect(created.results[0]?.errorCode).toBe(ErrorCode.NONE);
    const restarted = await start(stopped, voters);
    await waitFor(() => restarted.log.committedOffset >= created.metadataOffset, 'the restarted node to catch up');
    expect(restarted.log.state.snapshot()).toEqual(second.log.state.snapshot());
  });

  it('adds a fourth node that started empty, transfers leadership to it, and removes it again', async () => {
    const voters = await votersOf([1, 2, 3]);
    for (const id of voters.keys()) await start(id, voters);
    const leader = await leaderOf();
    await registerBroker(leader);
    const raft4 = { host: HOST, port: await freePort(HOST) };
    const fourth = await start(4, voters, { raftListen: raft4 });
    expect(fourth.host.status().voters).toEqual([]);
    const added = await leader.coordinator.changeMembership({ op: 'add', nodeId: 4, raft: raft4, api: { host: HOST, port: 19_094 } });
    expect(added.voters).toEqual([1, 2, 3, 4]);
    await waitFor(() => fourth.log.committedOffset >= leader.log.committedOffset, 'node 4 to catch up');
    expect(fourth.log.state.coordinator(4)).toEqual({ nodeId: 4, raft: raft4, api: { host: HOST, port: 19_094 } });

    await leader.coordinator.transferLeadership(4);
    expect((await leaderOf()).nodeId).toBe(4);
    expect((await fourth.coordinator.createTopics([{ name: 'led-by-4' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
    await fourth.coordinator.transferLeadership(leader.nodeId);
    const back = await leaderOf();
    expect((await back.coordinator.changeMembership({ op: 'remove', nodeId: 4 })).voters).toEqual([1, 2, 3]);
    expect((await back.coordinator.createTopics([{ name: 'after-4' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it('serves the coordinator client through the protocol handler on every node', async () => {
    const voters = await votersOf([1, 2, 3]);
    const bootstrap: string[] = [];
    for (const id of voters.keys()) {
      const node = await start(id, voters);
      const server = new NativeServer({
        handler: new CoordinatorHandler({ coordinator: node.coordinator, serverVersion: 'test', maxFrameBytes: 1 << 20, maxInFlight: 32 }),
        port: 0,
        logger: pino({ level: 'silent' }),
      });
      await server.listen();
      servers.push(server);
      node.coordinator.setApiEndpoint({ host: HOST, port: server.port });
      bootstrap.push(`${HOST}:${server.port}`);
    }
    const leader = await leaderOf();
    const client = new CoordinatorClient({ bootstrap: [bootstrap[0]!], requestTimeoutMs: 15_000 });
    try {
      const status = await client.clusterStatus();
      expect(status).toMatchObject({ clusterId: CLUSTER, role: 'leader', leaderId: leader.nodeId });
      await registerBroker(leader);
      const created = await client.createTopics([{ topic: 'via-client', partitions: 2 }]);
      expect(created.metadataOffset).toBeGreaterThan(0);
      expect(leader.log.state.topic('via-client')?.partitions).toHaveLength(2);
    } finally {
      await client.close();
    }
  });
});

describe('coordinator node > a group of one', () => {
  it('leads at once and keeps a generated cluster id across restarts', async () => {
    const node = await start(1, undefined, { clusterId: undefined, generateClusterId: true });
    await node.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    const clusterId = node.clusterId;
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await registerBroker(node);
    await node.coordinator.createTopics([{ name: 'kept' }]);
    await stop(1);
    const again = await start(1, undefined, { clusterId: undefined, generateClusterId: true });
    await again.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    expect(again.clusterId).toBe(clusterId);
    expect(again.log.state.clusterId).toBe(clusterId);
    expect(again.log.state.topic('kept')).toBeDefined();
  });
});

describe('coordinator node > bad configuration', () => {
  it('refuses node id 0 with INVALID_CONFIG', async () => {
    const error = await failure(() => start(0, undefined));
    expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('node.id') });
  });

  it('refuses a data directory of another cluster with INCONSISTENT_CLUSTER_ID', async () => {
    await start(1, undefined);
    await stop(1);
    const error = await failure(() => start(1, undefined, { clusterId: 'another-cluster' }));
    expect(error.code).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    expect(error.message).toContain(`belongs to cluster "${CLUSTER}"`);
  });

  it('refuses a data directory of another node id with INVALID_CONFIG', async () => {
    await start(1, undefined);
    await stop(1);
    const error = await failure(() => start(2, undefined, { dataDir: join(root, 'node-1') }));
    expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('belongs to node 1') });
  });

  it('refuses a new data directory without a cluster id unless it may generate one', async () => {
    const error = await failure(() => start(1, undefined, { clusterId: undefined }));
    expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('cluster.id is not set') });
  });

  it('refuses a data directory written by an older StreamBus instead of starting a new cluster next to it', async () => {
    const dataDir = join(root, 'old');
    await mkdir(join(dataDir, 'coordinator', 'metadata-log'), { recursive: true });
    await writeFile(join(dataDir, 'coordinator', 'metadata-log', 'CURRENT'), 'MANIFEST-000001\n');
    const error = await failure(() => start(1, undefined, { dataDir }));
    expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('older StreamBus') });
  });

  it('refuses a raft port that is already taken, naming the address', async () => {
    const voters = await votersOf([1]);
    await start(1, voters);
    const error = await failure(() => start(2, voters, { raftListen: voters.get(1)!, dataDir: join(root, 'second') }));
    expect(error).toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('cannot listen for raft peers') });
  });

  it('starts a node that is not among the voters empty, waiting to be added rather than leading a group of its own', async () => {
    const voters = parseVoters(`1@${HOST}:1,2@${HOST}:2,3@${HOST}:3`);
    const node = await start(7, voters, { raftListen: { host: HOST, port: 0 } });
    // An observation window over several election timeouts, not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(node.host.status()).toMatchObject({ voters: [], term: 0, role: 'follower' });
    expect(node.coordinator.leading).toBe(false);
  });
});
