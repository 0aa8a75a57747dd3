import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { ConnectionOptions } from '../network/types.js';
import { seededRandom } from '../policy/random.js';
import { resolveRetryOptions } from '../policy/retry.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf } from '../testing/wait.js';
import { Cluster, type ConnectFn } from './cluster.js';
import { parseBrokerAddress } from './metadata.js';

function makeCluster(connect: ConnectFn, brokers: string[] = ['127.0.0.1:9093']): Cluster {
  return new Cluster({
    brokers,
    clientId: 'test',
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 1_000,
    metadataMaxAgeMs: 60_000,
    retry: resolveRetryOptions({ backoffMs: 5, backoffMaxMs: 20 }),
    random: seededRandom(1),
    connect,
    now: Date.now,
    maxInFlightPerConnection: 16,
  });
}

const metadataRequests = (broker: MiniBroker): { topics: string[] }[] =>
  broker.requests.filter((r) => r.api === 'METADATA').map((r) => r.body as { topics: string[] });

describe('cluster > metadata refresh', () => {
  it('shares one in-flight refresh among concurrent callers', async () => {
    const broker = new MiniBroker();
    broker.createTopic('a', 3);
    const cluster = makeCluster(broker.connect);
    const topics = await Promise.all(Array.from({ length: 5 }, () => cluster.topicMetadata('a')));
    expect(topics.every((t) => t.partitions.length === 3)).toBe(true);
    expect(metadataRequests(broker)).toHaveLength(1);
    await cluster.close();
  });

  it('runs exactly one follow-up refresh for topics the running refresh did not ask for', async () => {
    const broker = new MiniBroker();
    broker.createTopic('a');
    broker.createTopic('b');
    broker.createTopic('c');
    const cluster = makeCluster(broker.connect);
    const first = cluster.topicMetadata('a');
    const second = cluster.topicMetadata('b');
    const third = cluster.topicMetadata('c');
    await Promise.all([first, second, third]);
    const requests = metadataRequests(broker);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.topics).toEqual(['a']);
    expect([...requests[1]!.topics].sort()).toEqual(['a', 'b', 'c']);
    await cluster.close();
  });

  it('keeps asking for a topic that is being created until it appears', async () => {
    const broker = new MiniBroker();
    const cluster = makeCluster(broker.connect);
    const pending = cluster.topicMetadata('late', { deadlineMs: Date.now() + 2_000 });
    setTimeout(() => broker.createTopic('late', 2), 30);
    expect((await pending).partitions).toHaveLength(2);
    expect(metadataRequests(broker).length).toBeGreaterThan(1);
    await cluster.close();
  });

  it('rejects with UNKNOWN_TOPIC_OR_PARTITION once the deadline passes', async () => {
    const broker = new MiniBroker();
    const cluster = makeCluster(broker.connect);
    const error = await rejectionOf(cluster.topicMetadata('never', { deadlineMs: Date.now() + 60 }));
    expect(error).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, context: { topic: 'never' } });
    await cluster.close();
  });

  it('never steps back to metadata older than what it has seen', async () => {
    const broker = new MiniBroker();
    broker.createTopic('a', 1);
    const cluster = makeCluster(broker.connect);
    await cluster.topicMetadata('a');
    const current = cluster.snapshot.metadataOffset;
    cluster.applyMetadata({ clusterId: 'x', controllerId: 9, brokers: [], topics: [], metadataOffset: current - 1 });
    expect(cluster.snapshot.controllerId).toBe(broker.nodeId);
    expect(cluster.topic('a')).toBeDefined();
    await cluster.close();
  });

  it('lists leaderless partitions as unavailable', async () => {
    const broker = new MiniBroker();
    broker.createTopic('a', 3);
    broker.setLeader('a', 1, -1);
    const cluster = makeCluster(broker.connect);
    const topic = await cluster.topicMetadata('a');
    expect(topic.available).toEqual([0, 2]);
    expect(cluster.leaderOf('a', 1)).toBeUndefined();
    expect(cluster.leaderOf('a', 2)).toBe(broker.nodeId);
    await cluster.close();
  });
});

describe('cluster > connections', () => {
  it('reuses the bootstrap connection for the broker that advertises the same address', async () => {
    const broker = new MiniBroker();
    let opened = 0;
    const cluster = makeCluster((options) => {
      opened++;
      return broker.connect(options);
    });
    await cluster.refreshMetadata();
    await cluster.connection(broker.nodeId);
    await cluster.connection(broker.nodeId);
    expect(opened).toBe(1);
    await cluster.close();
  });

  it('opens a new connection after the old one failed, behind the same broker handle', async () => {
    const broker = new MiniBroker();
    let opened = 0;
    const cluster = makeCluster((options) => {
      opened++;
      return broker.connect(options);
    });
    await cluster.refreshMetadata();
    const first = await cluster.connection(broker.nodeId);
    broker.dropConnections();
    const second = await cluster.connection(broker.nodeId);
    expect(second).toBe(first);
    await second.request('METADATA', { topics: [], allTopics: false, allowAutoTopicCreation: false });
    expect(opened).toBe(2);
    expect(second.connected).toBe(true);
    await cluster.close();
  });

  it('falls back to the next bootstrap address when one is unreachable', async () => {
    const broker = new MiniBroker();
    const tried: string[] = [];
    const connect = (options: ConnectionOptions): ReturnType<ConnectFn> => {
      tried.push(`${options.host}:${options.port}`);
      if (options.port === 1111) return Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'refused'));
      return broker.connect(options);
    };
    const cluster = makeCluster(connect, ['127.0.0.1:1111', '127.0.0.1:9093']);
    await cluster.refreshMetadata();
    expect(cluster.snapshot.brokers.size).toBe(1);
    expect(tried).toContain('127.0.0.1:9093');
    await cluster.close();
  });

  it('moves on to the next broker within one refresh when the one it asks drops the request', async () => {
    const first = new MiniBroker({ nodeId: 1, port: 9101 });
    const second = new MiniBroker({ nodeId: 2, port: 9102, joins: first });
    first.createTopic('a', 1);
    const cluster = makeCluster(first.connect, ['127.0.0.1:9101', '127.0.0.1:9102']);
    await cluster.topicMetadata('a');
    // The broker it has a connection to is asked first: make that one fail as a dead connection would.
    const asked = cluster.brokerHealth().find((h) => h.connections > 0)!.nodeId === 1 ? first : second;
    const other = asked === first ? second : first;
    asked.faults.push({ api: 'METADATA', errorCode: ErrorCode.NETWORK_EXCEPTION, wholeRequest: true });
    const before = metadataRequests(other).length;
    first.setLeader('a', 0, 2);
    await cluster.refreshMetadata();
    expect(cluster.leaderOf('a', 0)).toBe(2);
    expect(metadataRequests(other).length).toBe(before + 1);
    await cluster.close();
  });

  it('asks a broker whose circuit is open only after every other one', async () => {
    const first = new MiniBroker({ nodeId: 1, port: 9101 });
    const second = new MiniBroker({ nodeId: 2, port: 9102, joins: first });
    first.createTopic('a', 1);
    const attempts = new Map<number, number>();
    const cluster = makeCluster((options) => {
      attempts.set(options.port, (attempts.get(options.port) ?? 0) + 1);
      return first.connect(options);
    }, ['127.0.0.1:9101', '127.0.0.1:9102']);
    await cluster.topicMetadata('a');
    first.setDown(true);
    // With no live connection, known brokers are asked in order: broker 1 is refused each time
    // until its circuit opens (3 failures), broker 2 answers.
    for (let i = 0; i < 3; i++) {
      second.dropConnections();
      await cluster.refreshMetadata();
    }
    expect(cluster.brokerHealth().find((h) => h.nodeId === 1)?.state).toBe('open');
    const refusedBefore = attempts.get(9101);
    for (let i = 0; i < 5; i++) {
      second.dropConnections();
      await cluster.refreshMetadata();
    }
    expect(attempts.get(9101)).toBe(refusedBefore);
    await cluster.close();
  });

  it('fails with NETWORK_EXCEPTION naming the addresses when no broker is reachable', async () => {
    const cluster = makeCluster(() => Promise.reject(new Error('refused')), ['127.0.0.1:1111']);
    const error = await rejectionOf(cluster.refreshMetadata());
    expect(error).toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    expect((error as Error).message).toContain('127.0.0.1:1111');
    await cluster.close();
  });

  it('rejects malformed broker addresses with INVALID_REQUEST', () => {
    expect(() => makeCluster(new MiniBroker().connect, ['no-port'])).toThrow(StreamBusError);
    expect(() => makeCluster(new MiniBroker().connect, [])).toThrow(/at least one/);
  });
});

describe('cluster > addresses', () => {
  it('parses host:port and bracketed IPv6', () => {
    expect(parseBrokerAddress('127.0.0.1:9093')).toEqual({ host: '127.0.0.1', port: 9093 });
    expect(parseBrokerAddress('[::1]:9093')).toEqual({ host: '::1', port: 9093 });
    expect(parseBrokerAddress('broker-1.example:19093')).toEqual({ host: 'broker-1.example', port: 19093 });
    expect(parseBrokerAddress('localhost')).toBeUndefined();
    expect(parseBrokerAddress(':9093')).toBeUndefined();
    expect(parseBrokerAddress('h:70000')).toBeUndefined();
  });
});
