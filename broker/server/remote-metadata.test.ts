/**
 * The broker's links to a remote coordinator group, against a stand-in group over real TCP
 * (client/testing/mini-coordinators.ts) with the real CoordinatorClient and MetadataCache:
 * following the committed log (live, from a snapshot, across coordinator outages, with its own
 * compaction), and forwarding admin and session requests. Answers no real coordinator sends
 * (records with a gap, another cluster's snapshot) come from a scripted client stream.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoordinatorClient, type CoordinatorClientOptions, type MetadataUpdate as CoordinatorUpdate } from '../../client/index.js';
import { MiniCoordinators } from '../../client/testing/mini-coordinators.js';
import { rejectionOf, waitFor } from '../../client/testing/wait.js';
import { MetadataCache, MetadataEventType, MetadataState, type Logger, type MetadataEvent, type MetadataRecord } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { BrokerLifecycle } from './broker-lifecycle.js';
import { RemoteMetadataLog, remoteControllerGateway } from './remote-metadata.js';

let group: MiniCoordinators;
const clients: CoordinatorClient[] = [];
const logs: RemoteMetadataLog[] = [];

beforeEach(async () => {
  group = await MiniCoordinators.start(3);
});

afterEach(async () => {
  await Promise.all(logs.splice(0).map((log) => log.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await group.close();
});

function client(options: Partial<CoordinatorClientOptions> = {}): CoordinatorClient {
  const c = new CoordinatorClient({ bootstrap: group.bootstrap, requestTimeoutMs: 5_000, retryBackoffMs: 10, retryBackoffMaxMs: 20, ...options });
  clients.push(c);
  return c;
}

function remoteLog(options: Partial<ConstructorParameters<typeof RemoteMetadataLog>[0]> = {}): RemoteMetadataLog {
  const log = new RemoteMetadataLog({ client: client(), maxWaitMs: 200, retryBackoffMs: 20, ...options });
  logs.push(log);
  return log;
}

/** A cache following `log`, with every event it applied. */
function follow(log: RemoteMetadataLog): { cache: MetadataCache; events: MetadataEvent[] } {
  const cache = new MetadataCache();
  const events: MetadataEvent[] = [];
  cache.subscribe((update) => events.push(...update.events));
  cache.follow(log);
  return { cache, events };
}

async function createTopic(name: string, partitions = 1): Promise<number> {
  const { metadataOffset } = await client().createTopics([{ topic: name, partitions }]);
  return metadataOffset;
}

function recordingLogger(): Logger & { readonly messages: string[] } {
  const messages: string[] = [];
  const keep = (_fields: object, message: string): void => {
    messages.push(message);
  };
  return { messages, debug: keep, info: keep, warn: keep, error: keep };
}

describe('remote metadata log > following', () => {
  it('gives a following cache every committed record, then each new commit as the coordinator makes it', async () => {
    await createTopic('orders', 2);
    const log = remoteLog();
    const { cache } = follow(log);
    log.start();
    await log.caughtUp();
    expect(log.committedOffset).toBe(group.state.lastAppliedOffset);
    expect(cache.state.clusterId).toBe(group.clusterId);
    expect(cache.state.topic('orders')?.partitions).toHaveLength(2);

    const offset = await createTopic('payments');
    await cache.waitForOffset(offset, { signal: AbortSignal.timeout(5_000) });
    expect(cache.state.topic('payments')).toBeDefined();
    expect(log.lag).toBe(0);
  });

  it('loads the coordinator snapshot when the offsets it needs were compacted away, then reads on from it', async () => {
    await createTopic('orders');
    await createTopic('payments');
    group.compactBefore = group.state.lastAppliedOffset + 1;
    const logger = recordingLogger();
    const log = remoteLog({ logger });
    const { cache, events } = follow(log);
    log.start();
    await log.caughtUp();
    expect(log.startOffset).toBe(group.compactBefore);
    expect(events.map((e) => e.type)).toEqual([MetadataEventType.SNAPSHOT_LOADED]);
    expect(cache.state.snapshot()).toEqual(group.state.snapshot());
    expect(logger.messages).toContain('loaded a metadata snapshot from the coordinator group');

    const offset = await createTopic('refunds');
    await cache.waitForOffset(offset, { signal: AbortSignal.timeout(5_000) });
    expect(cache.state.topic('refunds')).toBeDefined();
    expect(await log.read(offset, 10)).toHaveLength(1);
  });

  it('keeps following from the offset after its last record when the leader dies, without a gap or a repeat', async () => {
    const log = remoteLog();
    const { cache } = follow(log);
    log.start();
    await log.caughtUp();
    await createTopic('before');
    await waitFor(() => cache.state.topic('before') !== undefined, 'the first topic');

    await group.stopNode(1);
    group.elect(2);
    const offset = await createTopic('after');
    // A gap or a repeated record would have stopped the follower, and this wait would reject.
    await cache.waitForOffset(offset, { signal: AbortSignal.timeout(10_000) });
    expect(cache.state.topic('after')).toBeDefined();
  });

  it('starts following again after no coordinator answered for longer than the request timeout', async () => {
    const logger = recordingLogger();
    const log = new RemoteMetadataLog({ client: client({ requestTimeoutMs: 300, connectTimeoutMs: 100, probeTimeoutMs: 100 }), maxWaitMs: 100, retryBackoffMs: 20, logger });
    logs.push(log);
    const { cache } = follow(log);
    log.start();
    await log.caughtUp();
    for (const node of group.nodes) await group.stopNode(node.nodeId);
    await waitFor(() => logger.messages.includes('lost the coordinator metadata stream; following again shortly'), 'the stream to fail', 10_000);

    group.append({ type: 'no-op' });
    for (const node of group.nodes) await group.startNode(node.nodeId);
    await cache.waitForOffset(group.state.lastAppliedOffset, { signal: AbortSignal.timeout(10_000) });
    await waitFor(() => logger.messages.includes('following the coordinator metadata again'), 'the stream to come back');
  });
});

describe('remote metadata log > its own compaction', () => {
  it('folds old records into a snapshot of its own, which a cache that starts late loads', async () => {
    const log = remoteLog({ retainRecords: 2 });
    log.start();
    for (let i = 0; i < 8; i++) await createTopic(`topic-${i}`);
    await waitFor(() => log.committedOffset === group.state.lastAppliedOffset, 'the log to receive every record');
    expect(log.startOffset).toBeGreaterThan(0);
    const held = await log.snapshot();
    expect(held?.offset).toBe(log.startOffset - 1);

    const { cache, events } = follow(log);
    await cache.waitForOffset(log.committedOffset, { signal: AbortSignal.timeout(5_000) });
    expect(events[0]?.type).toBe(MetadataEventType.SNAPSHOT_LOADED);
    expect(cache.state.snapshot()).toEqual(group.state.snapshot());
  });

  it('has no snapshot before it has folded anything', async () => {
    const log = remoteLog();
    log.start();
    await log.caughtUp();
    expect(await log.snapshot()).toBeUndefined();
    expect(log.startOffset).toBe(0);
  });
});

describe('remote metadata log > bad input', () => {
  it('refuses reads outside what it holds with OFFSET_OUT_OF_RANGE and a bad maxRecords with INVALID_REQUEST', async () => {
    const log = remoteLog({ retainRecords: 1 });
    log.start();
    for (let i = 0; i < 4; i++) await createTopic(`topic-${i}`);
    await waitFor(() => log.committedOffset === group.state.lastAppliedOffset, 'the log to receive every record');
    const below = await rejectionOf(log.read(log.startOffset - 1, 10));
    const past = await rejectionOf(log.read(log.committedOffset + 2, 10));
    const badMax = await rejectionOf(log.read(log.startOffset, 0));
    expect(below).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(past).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(badMax).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(await log.read(log.committedOffset + 1, 10)).toEqual([]);
  });

  it('refuses options that are not whole numbers and a second start with typed errors', () => {
    const c = client();
    expect(() => new RemoteMetadataLog({ client: c, retainRecords: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
    expect(() => new RemoteMetadataLog({ client: c, retryBackoffMs: 1.5 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
    const log = remoteLog();
    log.start();
    expect(() => log.start()).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }));
  });

  it('rejects caughtUp with SHUTTING_DOWN when closed before it caught up, and refuses to start again', async () => {
    for (const node of group.nodes) await group.stopNode(node.nodeId);
    const log = remoteLog();
    log.start();
    const waiting = log.caughtUp();
    await log.close();
    expect(await rejectionOf(waiting)).toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    expect(await rejectionOf(log.caughtUp())).toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    expect(() => log.start()).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }));
  });

  it('refuses records that skip an offset and follows again from the offset after its last record', async () => {
    const record = (offset: number): MetadataRecord => ({ offset, command: offset === 0 ? { type: 'init-cluster', clusterId: 'c1' } : { type: 'no-op' } });
    const script: CoordinatorUpdate[][] = [
      [{ kind: 'records', records: [record(0), record(1)], committedOffset: 3 }, { kind: 'records', records: [record(3)], committedOffset: 3 }],
      [{ kind: 'records', records: [record(2), record(3)], committedOffset: 3 }],
    ];
    const { client: scripted, asked } = scriptedClient(script);
    const logger = recordingLogger();
    const log = new RemoteMetadataLog({ client: scripted, retryBackoffMs: 1, logger });
    logs.push(log);
    const { cache } = follow(log);
    log.start();
    await log.caughtUp({ signal: AbortSignal.timeout(5_000) });
    expect(asked).toEqual([0, 2]);
    expect(cache.lastAppliedOffset).toBe(3);
    expect(logger.messages).toContain('lost the coordinator metadata stream; following again shortly');
  });

  it('refuses a snapshot of another cluster and keeps what it has', async () => {
    const other = MetadataState.empty();
    other.apply({ offset: 0, command: { type: 'init-cluster', clusterId: 'other' } });
    other.apply({ offset: 1, command: { type: 'no-op' } });
    other.apply({ offset: 2, command: { type: 'no-op' } });
    const script: (CoordinatorUpdate | Error)[][] = [
      [
        { kind: 'records', records: [{ offset: 0, command: { type: 'init-cluster', clusterId: 'mine' } }], committedOffset: 0 },
        new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'connection lost'),
      ],
      [{ kind: 'snapshot', offset: 2, snapshot: other.snapshot(), committedOffset: 2 }],
    ];
    const { client: scripted, asked } = scriptedClient(script);
    const log = new RemoteMetadataLog({ client: scripted, retryBackoffMs: 1 });
    logs.push(log);
    const { cache } = follow(log);
    log.start();
    await waitFor(() => asked.length >= 3, 'the log to ask again after refusing the snapshot');
    expect(cache.state.clusterId).toBe('mine');
    expect(log.committedOffset).toBe(0);
    expect(await log.snapshot()).toBeUndefined();
  });
});

/**
 * A followMetadata that plays one list of updates per call (an Error in the list is thrown
 * there), then waits until aborted (as a long poll with nothing new does), and records the offset
 * each call started from.
 */
function scriptedClient(script: (CoordinatorUpdate | Error)[][]): { client: Pick<CoordinatorClient, 'followMetadata'>; asked: number[] } {
  const asked: number[] = [];
  return {
    asked,
    client: {
      async *followMetadata(fromOffset, options = {}) {
        asked.push(fromOffset);
        for (const update of script[asked.length - 1] ?? []) {
          if (update instanceof Error) throw update;
          yield update;
        }
        const signal = options.signal;
        if (signal === undefined || signal.aborted) return;
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      },
    },
  };
}

describe('remote controller gateway > topics', () => {
  const defaults = { numPartitions: 3, replicationFactor: 1 };
  const newTopic = (name: string, partitions = 0): M.NewTopic => ({ name, partitions, replicationFactor: 0, configs: {} });
  const gateway = (): ReturnType<typeof remoteControllerGateway> => remoteControllerGateway({ client: client(), clusterId: () => group.clusterId });

  it('creates topics on the leader and answers per topic, with the offset at which the created ones are visible', async () => {
    await createTopic('taken');
    const outcome = await gateway().createTopics({ topics: [newTopic('orders', 2), newTopic('taken')], timeoutMs: 0, validateOnly: false }, defaults);
    expect(outcome.results.map((r) => [r.name, r.errorCode])).toEqual([
      ['orders', ErrorCode.NONE],
      ['taken', ErrorCode.TOPIC_ALREADY_EXISTS],
    ]);
    expect(outcome.results[0]?.topicId).toBe(group.state.topic('orders')?.topicId);
    expect(outcome.metadataOffset).toBe(group.state.lastAppliedOffset);
  });

  it('fills in the broker default for a partition count of 0 and refuses a negative one with INVALID_PARTITIONS', async () => {
    const outcome = await gateway().createTopics({ topics: [newTopic('orders'), newTopic('bad', -5)], timeoutMs: 0, validateOnly: false }, defaults);
    expect(group.state.topic('orders')?.partitions).toHaveLength(3);
    expect(outcome.results[1]?.errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(group.state.topic('bad')).toBeUndefined();
  });

  it('answers INVALID_REQUEST for each occurrence of a topic named twice and sends neither', async () => {
    const outcome = await gateway().createTopics({ topics: [newTopic('twice'), newTopic('twice')], timeoutMs: 0, validateOnly: false }, defaults);
    expect(outcome.results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
    expect(outcome.metadataOffset).toBe(-1);
    expect(group.requests.filter((r) => r.api === 'CREATE_TOPICS')).toEqual([]);
  });

  it('finds the new leader after a leader change and applies the write once', async () => {
    const g = gateway();
    await createTopic('orders');
    group.elect(3);
    const outcome = await g.alterConfigs({ topics: [{ name: 'orders', ops: [{ name: 'retention.ms', value: '1000', op: 0 }] }], validateOnly: false });
    expect(outcome.results[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(group.state.topic('orders')?.configs['retention.ms']).toBe('1000');
    expect(group.requests.filter((r) => r.api === 'ALTER_CONFIGS').at(-1)?.nodeId).toBe(3);
  });

  it('answers an unknown config op with INVALID_REQUEST and an unknown topic with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await createTopic('orders');
    const outcome = await gateway().alterConfigs(
      {
        topics: [
          { name: 'orders', ops: [{ name: 'retention.ms', op: 7 }] },
          { name: 'missing', ops: [{ name: 'retention.ms', op: 1 }] },
        ],
        validateOnly: false,
      },
    );
    expect(outcome.results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  });

  it('deletes topics and names the ones that do not exist', async () => {
    await createTopic('orders');
    const outcome = await gateway().deleteTopics({ names: ['orders', 'missing'], timeoutMs: 0 });
    expect(outcome.results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(group.state.topic('orders')).toBeUndefined();
    expect(outcome.metadataOffset).toBe(group.state.lastAppliedOffset);
  });
});

describe('remote controller gateway > broker session', () => {
  it('registers under the followed cluster id and heartbeats until the broker is unfenced', async () => {
    const log = remoteLog();
    const { cache } = follow(log);
    log.start();
    await log.caughtUp();
    const lifecycle = new BrokerLifecycle({
      controller: remoteControllerGateway({ client: client(), clusterId: () => cache.state.clusterId }),
      registration: { nodeId: 7, incarnationId: 'incarnation-1', host: '127.0.0.1', port: 9093, rack: 'r1', listeners: [{ name: 'native', host: '127.0.0.1', port: 9093 }] },
      metadataOffset: () => cache.lastAppliedOffset,
      heartbeatIntervalMs: 50,
    });
    try {
      await lifecycle.start();
      await lifecycle.waitUntilUnfenced({ signal: AbortSignal.timeout(5_000) });
      await waitFor(() => cache.state.broker(7) !== undefined, 'the registration to reach the cache');
      expect(cache.state.broker(7)).toMatchObject({ host: '127.0.0.1', port: 9093, rack: 'r1' });
      expect(lifecycle.brokerEpoch).toBeGreaterThan(0);
    } finally {
      await lifecycle.close();
    }
  });

  it('refuses to register before the cluster id is known, with INVALID_REQUEST', async () => {
    const gateway = remoteControllerGateway({ client: client(), clusterId: () => null });
    const error = await rejectionOf(gateway.registerBroker({ nodeId: 7, incarnationId: 'i', host: '127.0.0.1', port: 9093 }));
    expect(error).toBeInstanceOf(StreamBusError);
    expect(error).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(group.requests.filter((r) => r.api === 'BROKER_REGISTRATION')).toEqual([]);
  });
});
