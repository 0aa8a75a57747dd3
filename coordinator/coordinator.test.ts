import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../proto/errors.js';
import {
  Coordinator,
  MemoryMetadataLog,
  MetadataCache,
  type CoordinatorOptions,
  type MetadataCommand,
  type MetadataLog,
  seededRandomSource,
} from './index.js';

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streambus-coordinator-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const options = (dir: string, extra: Partial<CoordinatorOptions> = {}): CoordinatorOptions => ({
  dir,
  nodeId: 1,
  defaults: { numPartitions: 2, replicationFactor: 1 },
  random: seededRandomSource(42),
  ...extra,
});

const broker = { nodeId: 1, incarnationId: 'inc-1', host: '127.0.0.1', port: 9092, listeners: [{ name: 'kafka', host: '127.0.0.1', port: 9092 }] };

/** Registers `broker` and heartbeats it out of the fence, as a starting broker does. */
async function registerLive(coordinator: Coordinator, request: typeof broker = broker): Promise<number> {
  const { brokerEpoch, metadataOffset } = await coordinator.registerBroker(request);
  const beat = await coordinator.brokerHeartbeat({ nodeId: request.nodeId, brokerEpoch, metadataOffset });
  expect(beat.fenced).toBe(false);
  return brokerEpoch;
}

async function started(extra: Partial<CoordinatorOptions> = {}): Promise<{ coordinator: Coordinator; dir: string }> {
  const dir = join(root, `node-${counter++}`);
  const coordinator = await Coordinator.open(options(dir, extra));
  await registerLive(coordinator);
  return { coordinator, dir };
}

/** Resolves with the first committed command of `type`, or rejects after 5 s. */
function nextCommitted(log: MetadataLog, type: MetadataCommand['type']): Promise<MetadataCommand> {
  const signal = AbortSignal.timeout(5_000);
  return new Promise((resolve, reject) => {
    const unsubscribe = log.onCommit((records) => {
      const found = records.find((r) => r.command.type === type);
      if (found === undefined) return;
      unsubscribe();
      resolve(found.command);
    });
    signal.addEventListener('abort', () => {
      unsubscribe();
      reject(new Error(`no ${type} command within 5 s`));
    });
  });
}

describe('coordinator > lifecycle', () => {
  it('creates, alters, grows and deletes topics, and finds the same state after a restart', async () => {
    const { coordinator, dir } = await started();
    expect(coordinator.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const created = await coordinator.createTopics([
      { name: 'orders', numPartitions: 3, configs: { 'cleanup.policy': 'compact' } },
      { name: 'payments' },
      { name: 'audit' },
      { name: 'bad/name' },
    ]);
    expect(created.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.INVALID_TOPIC]);
    expect(created.metadataOffset).toBe(coordinator.state.lastAppliedOffset);
    expect(coordinator.state.topic('orders')?.topicId).toBe(created.results[0]?.topicId);

    const altered = await coordinator.alterConfigs([
      { name: 'orders', ops: [{ op: 'set', key: 'retention.ms', value: '60000' }, { op: 'delete', key: 'cleanup.policy' }] },
    ]);
    expect(altered.results[0]?.errorCode).toBe(ErrorCode.NONE);
    const grown = await coordinator.createPartitions([{ name: 'payments', count: 5 }]);
    expect(grown.results[0]?.errorCode).toBe(ErrorCode.NONE);
    const deleted = await coordinator.deleteTopics(['audit', 'ghost']);
    expect(deleted.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);

    const described = await coordinator.describeConfigs(['orders']);
    expect(described.results[0]?.configs.find((c) => c.name === 'retention.ms')).toMatchObject({ value: '60000', source: 'topic' });
    expect(described.results[0]?.configs.find((c) => c.name === 'cleanup.policy')).toMatchObject({ value: 'delete', source: 'default' });

    const before = JSON.stringify(coordinator.state.snapshot());
    const clusterId = coordinator.clusterId;
    await coordinator.close();

    const restarted = await Coordinator.open(options(dir));
    expect(JSON.stringify(restarted.state.snapshot())).toBe(before);
    expect(restarted.clusterId).toBe(clusterId);
    expect(restarted.state.topics().map((t) => [t.name, t.partitions.length])).toEqual([['orders', 3], ['payments', 5]]);
    await restarted.close();
  });

  it('refuses to start on a log that belongs to another cluster', async () => {
    const dir = join(root, `node-${counter++}`);
    const first = await Coordinator.open(options(dir, { clusterId: 'cluster-one' }));
    await first.close();
    await expect(Coordinator.open(options(dir, { clusterId: 'cluster-two' }))).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('belongs to cluster cluster-one'),
    });
    const again = await Coordinator.open(options(dir, { clusterId: 'cluster-one' }));
    expect(again.clusterId).toBe('cluster-one');
    await again.close();
  });

  it('refuses bad options with INVALID_CONFIG', async () => {
    await expect(Coordinator.open(options(join(root, 'bad'), { defaults: { numPartitions: 0, replicationFactor: 1 } }))).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
    });
  });

  it('rejects operations after close with SHUTTING_DOWN', async () => {
    const { coordinator } = await started();
    await coordinator.close();
    await expect(coordinator.createTopics([{ name: 'late' }])).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
  });
});

describe('coordinator > admin operations', () => {
  it('runs operations one at a time, so only one of two racing creations of a topic wins', async () => {
    const { coordinator } = await started();
    const [a, b] = await Promise.all([coordinator.createTopics([{ name: 'race' }]), coordinator.createTopics([{ name: 'race' }])]);
    expect([a.results[0]?.errorCode, b.results[0]?.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS]);
    await coordinator.close();
  });

  it('changes nothing for validateOnly requests', async () => {
    const { coordinator } = await started();
    const offset = coordinator.state.lastAppliedOffset;
    const outcome = await coordinator.createTopics([{ name: 'dry' }], { validateOnly: true });
    expect(outcome.results[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.state.topic('dry')).toBeUndefined();
    expect(coordinator.log.committedOffset).toBe(offset);
    await coordinator.close();
  });

  it('keeps the broker epoch for an identical re-registration and moves it for a new incarnation', async () => {
    const { coordinator } = await started();
    const again = await coordinator.registerBroker(broker);
    expect(again.brokerEpoch).toBe(coordinator.state.broker(1)?.brokerEpoch);
    const restartedBroker = await coordinator.registerBroker({ ...broker, incarnationId: 'inc-2' });
    expect(restartedBroker.brokerEpoch).toBeGreaterThan(again.brokerEpoch);
    await coordinator.close();
  });

  it('does not start an operation whose signal aborted while it waited', async () => {
    const { coordinator } = await started();
    const controller = new AbortController();
    const first = coordinator.createTopics([{ name: 'first' }]);
    const second = coordinator.createTopics([{ name: 'second' }], { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    await first;
    expect(coordinator.state.topic('second')).toBeUndefined();
    await coordinator.close();
  });

  it('serves a broker cache that follows its log', async () => {
    const { coordinator } = await started();
    const cache = new MetadataCache();
    const follower = cache.follow(coordinator.log);
    await follower.caughtUp;
    const created = await coordinator.createTopics([{ name: 'followed', numPartitions: 4 }]);
    await cache.waitForOffset(created.metadataOffset, { signal: AbortSignal.timeout(5_000) });
    expect(cache.state.topic('followed')?.partitions).toHaveLength(4);
    expect(JSON.stringify(cache.state.snapshot())).toBe(JSON.stringify(coordinator.state.snapshot()));
    follower.stop();
    await coordinator.close();
  });

  it('runs on any MetadataLog, such as an in-memory one', async () => {
    const log = new MemoryMetadataLog();
    const coordinator = await Coordinator.open(options(join(root, 'unused'), { log, clusterId: 'mem' }));
    await registerLive(coordinator);
    await coordinator.createTopics([{ name: 'in-memory' }]);
    expect(log.committedOffset).toBe(3);
    expect((await log.read(0, 10)).map((r) => r.command.type)).toEqual(['init-cluster', 'register-broker', 'unfence-broker', 'create-topic']);
    await coordinator.close();
  });

  it('stops taking admin operations once its state can no longer follow the log', async () => {
    const log = new MemoryMetadataLog();
    const coordinator = await Coordinator.open(options(join(root, 'unused'), { log, clusterId: 'mem' }));
    // Written around the controller: the state machine asserts on it, and the coordinator must not
    // go on validating against a state that no longer matches its log.
    await log.append([{ type: 'delete-topic', name: 'ghost', topicId: 'x' }]);
    await expect(coordinator.createTopics([{ name: 'a' }])).rejects.toMatchObject({
      code: ErrorCode.UNKNOWN_SERVER_ERROR,
      cause: expect.objectContaining({ name: 'MetadataAssertionError' }),
    });
    await coordinator.close();
  });
});

describe('coordinator > broker sessions', () => {
  it('keeps a new registration fenced, so it takes no replicas, until a heartbeat shows it caught up', async () => {
    const coordinator = await Coordinator.open(options(join(root, `node-${counter++}`)));
    const { brokerEpoch } = await coordinator.registerBroker(broker);
    expect(coordinator.state.broker(1)?.fenced).toBe(true);
    const refused = await coordinator.createTopics([{ name: 'early' }]);
    expect(refused.results[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      errorMessage: expect.stringContaining('available brokers (0)'),
    });

    const behind = await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: brokerEpoch - 1 });
    expect(behind).toEqual({ fenced: true, metadataOffset: brokerEpoch });
    const caughtUp = await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: brokerEpoch });
    expect(caughtUp).toEqual({ fenced: false, metadataOffset: brokerEpoch + 1 });
    expect(coordinator.state.broker(1)?.fenced).toBe(false);
    const again = await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: brokerEpoch + 1 });
    expect(again).toEqual({ fenced: false, metadataOffset: brokerEpoch + 1 });
    expect((await coordinator.createTopics([{ name: 'later' }])).results[0]?.errorCode).toBe(ErrorCode.NONE);
    await coordinator.close();
  });

  it('answers heartbeats of unknown brokers and superseded epochs with typed errors', async () => {
    const { coordinator } = await started();
    const first = coordinator.state.broker(1)!.brokerEpoch;
    await expect(coordinator.brokerHeartbeat({ nodeId: 2, brokerEpoch: first, metadataOffset: 10 })).rejects.toMatchObject({
      code: ErrorCode.BROKER_ID_NOT_REGISTERED,
    });
    await coordinator.registerBroker({ ...broker, incarnationId: 'inc-restarted' });
    await expect(coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch: first, metadataOffset: 10 })).rejects.toMatchObject({
      code: ErrorCode.STALE_BROKER_EPOCH,
    });
    await expect(coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch: -3, metadataOffset: 10 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_REQUEST,
    });
    await coordinator.close();
  });

  it('fences a broker at its request, and unfences it when it heartbeats normally again', async () => {
    const { coordinator } = await started();
    const { brokerEpoch } = coordinator.state.broker(1)!;
    const offset = coordinator.state.lastAppliedOffset;
    expect(await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: offset, wantFence: true })).toEqual({
      fenced: true,
      metadataOffset: offset + 1,
    });
    expect(coordinator.state.broker(1)?.fenced).toBe(true);
    expect((await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: offset + 1 })).fenced).toBe(false);
    await coordinator.close();
  });

  it('fences a broker whose heartbeats stop, from its own timer, and unfences it when they resume', async () => {
    let now = 0;
    const log = new MemoryMetadataLog();
    const coordinator = await Coordinator.open(options(join(root, 'unused'), { log, clusterId: 'mem', sessionTimeoutMs: 200, nowMs: () => now }));
    const brokerEpoch = await registerLive(coordinator);
    now = 150;
    await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: coordinator.state.lastAppliedOffset });
    now = 350;
    expect(await coordinator.fenceExpiredBrokers()).toEqual([]);
    const fenced = nextCommitted(log, 'fence-broker');
    now = 351;
    expect(await fenced).toEqual({ type: 'fence-broker', nodeId: 1, brokerEpoch });
    expect(coordinator.state.broker(1)?.fenced).toBe(true);
    expect(await coordinator.fenceExpiredBrokers()).toEqual([]);

    const back = await coordinator.brokerHeartbeat({ nodeId: 1, brokerEpoch, metadataOffset: coordinator.state.lastAppliedOffset });
    expect(back.fenced).toBe(false);
    const fences = (await log.read(0, 100)).filter((r) => r.command.type === 'fence-broker');
    expect(fences).toHaveLength(1);
    await coordinator.close();
  });

  it('gives every broker a fresh session when it opens, so a restart does not fence live brokers at once', async () => {
    let now = 0;
    const dir = join(root, `node-${counter++}`);
    const first = await Coordinator.open(options(dir, { sessionTimeoutMs: 1000, nowMs: () => now }));
    await registerLive(first);
    await first.close();

    now = 1_000_000;
    const reopened = await Coordinator.open(options(dir, { sessionTimeoutMs: 1000, nowMs: () => now }));
    expect(reopened.state.broker(1)?.fenced).toBe(false);
    expect(await reopened.fenceExpiredBrokers()).toEqual([]);
    now = 1_001_001;
    expect(await reopened.fenceExpiredBrokers()).toEqual([1]);
    expect(reopened.state.broker(1)?.fenced).toBe(true);
    await reopened.close();
  });

  it('refuses a session timeout below 1 ms with INVALID_CONFIG', async () => {
    await expect(Coordinator.open(options(join(root, 'bad-timeout'), { sessionTimeoutMs: 0 }))).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('sessionTimeoutMs'),
    });
  });
});
