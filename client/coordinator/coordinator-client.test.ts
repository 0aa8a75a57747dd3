/**
 * The coordinator client against a stand-in coordinator group over real TCP
 * (client/testing/mini-coordinators.ts): leader discovery, retries and their limits, status,
 * topic and broker calls, membership, and following the metadata log. The real coordinator
 * processes are exercised by test/e2e/coordinator-cluster.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { AdminError } from '../errors.js';
import { seededRandom } from '../policy/random.js';
import { MiniCoordinators } from '../testing/mini-coordinators.js';
import { rejectionOf } from '../testing/wait.js';
import { CoordinatorClient } from './coordinator-client.js';
import type { CoordinatorClientOptions, MetadataUpdate } from './types.js';

let group: MiniCoordinators;
const clients: CoordinatorClient[] = [];

beforeEach(async () => {
  group = await MiniCoordinators.start(3);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await group.close();
});

function client(options: Partial<CoordinatorClientOptions> = {}): CoordinatorClient {
  const c = new CoordinatorClient({ bootstrap: group.bootstrap, requestTimeoutMs: 5_000, random: seededRandom(7), ...options });
  clients.push(c);
  return c;
}

function writesTo(api: string): number[] {
  return group.requests.filter((r) => r.api === api).map((r) => r.nodeId);
}

function recordsOfType(type: string): number {
  return group.records.filter((r) => JSON.parse(Buffer.from(r.bytes).toString('utf8')).command.type === type).length;
}

async function collect(iterator: AsyncGenerator<MetadataUpdate>, until: (updates: MetadataUpdate[]) => boolean): Promise<MetadataUpdate[]> {
  const updates: MetadataUpdate[] = [];
  for await (const update of iterator) {
    updates.push(update);
    if (until(updates)) break;
  }
  return updates;
}

function offsetsOf(updates: readonly MetadataUpdate[]): number[] {
  return updates.flatMap((u) => (u.kind === 'records' ? u.records.map((r) => r.offset) : [`snapshot@${u.offset}` as never]));
}

describe('coordinator client > leader discovery', () => {
  it('finds the leader from a bootstrap list that names only a follower', async () => {
    group.elect(3);
    const c = client({ bootstrap: [group.bootstrap[1]!] });
    const created = await c.createTopics([{ topic: 'orders', partitions: 2 }]);
    expect(created.topics[0]?.topicId).not.toBe('');
    expect(writesTo('CREATE_TOPICS')).toEqual([3]);
    expect(c.knownLeader?.nodeId).toBe(3);
  });

  it('resolves a write with the metadata offset from which it is visible', async () => {
    const c = client();
    const { metadataOffset } = await c.createTopics([{ topic: 'orders' }]);
    expect(metadataOffset).toBe(group.state.lastAppliedOffset);
    expect(group.state.topic('orders')).toBeDefined();
  });

  it('after NOT_CONTROLLER finds the new leader and the write commits exactly once', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    group.elect(2);
    await c.alterConfigs([{ topic: 'orders', set: { 'retention.ms': '1000' } }]);
    expect(writesTo('ALTER_CONFIGS')).toEqual([1, 2]);
    expect(recordsOfType('alter-topic-configs')).toBe(1);
    expect(group.state.topic('orders')?.configs['retention.ms']).toBe('1000');
  });

  it('moves to the new leader when the old one stops listening', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    await group.stopNode(1);
    group.elect(2);
    await c.alterConfigs([{ topic: 'orders', set: { 'retention.ms': '2000' } }]);
    expect(group.state.topic('orders')?.configs['retention.ms']).toBe('2000');
  });

  it('keeps retrying through an election and commits once a leader appears', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    group.elect(0);
    const write = c.createTopics([{ topic: 'payments' }]);
    setTimeout(() => group.elect(3), 300);
    await write;
    expect(group.state.topic('payments')).toBeDefined();
    expect(c.knownLeader?.nodeId).toBe(3);
  });

  it('rejects with NOT_CONTROLLER naming what each node said when no leader appears before the deadline', async () => {
    group.elect(0);
    const error = await rejectionOf(client().createTopics([{ topic: 'orders' }], { timeoutMs: 400 }));
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.NOT_CONTROLLER);
    expect((error as StreamBusError).message).toMatch(/no coordinator leader is known \(.*candidate/);
    expect(group.state.topic('orders')).toBeUndefined();
  });

  it('rejects with NETWORK_EXCEPTION when no coordinator is reachable', async () => {
    await group.close();
    const error = await rejectionOf(client().clusterStatus({ timeoutMs: 300 }));
    expect((error as StreamBusError).code).toBe(ErrorCode.NOT_CONTROLLER);
    expect((error as StreamBusError).message).toContain('NETWORK_EXCEPTION');
  });
});

describe('coordinator client > retries', () => {
  it('does not repeat a create whose answer was lost, and says its outcome is unknown', async () => {
    const c = client();
    await c.clusterStatus();
    group.dropAfterApply = 'CREATE_TOPICS';
    const error = (await rejectionOf(c.createTopics([{ topic: 'orders' }]))) as StreamBusError;
    expect(error).toBeInstanceOf(StreamBusError);
    expect(error.code).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(error.message).toMatch(/outcome is unknown/);
    expect(writesTo('CREATE_TOPICS')).toEqual([1]);
    expect(recordsOfType('create-topic')).toBe(1);
  });

  it('repeats an alter-configs whose answer was lost, since applying it twice changes nothing more', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    group.dropAfterApply = 'ALTER_CONFIGS';
    await c.alterConfigs([{ topic: 'orders', set: { 'cleanup.policy': 'compact' } }]);
    expect(writesTo('ALTER_CONFIGS')).toEqual([1, 1]);
    expect(group.state.topic('orders')?.configs['cleanup.policy']).toBe('compact');
  });

  it('judges a request-level failure reported in each topic\'s result like a failed request', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    group.failTopicsOnce = { api: 'ALTER_CONFIGS', errorCode: ErrorCode.REQUEST_TIMED_OUT };
    await c.alterConfigs([{ topic: 'orders', set: { 'retention.ms': '9' } }]);
    expect(group.state.topic('orders')?.configs['retention.ms']).toBe('9');

    group.failTopicsOnce = { api: 'CREATE_TOPICS', errorCode: ErrorCode.REQUEST_TIMED_OUT };
    const error = (await rejectionOf(c.createTopics([{ topic: 'payments' }]))) as StreamBusError;
    expect(error).not.toBeInstanceOf(AdminError);
    expect(error.code).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect(error.message).toMatch(/outcome is unknown/);

    group.failTopicsOnce = { api: 'CREATE_TOPICS', errorCode: ErrorCode.NOT_CONTROLLER };
    await c.createTopics([{ topic: 'payments' }]);
    expect(group.state.topic('payments')).toBeDefined();
  });

  it('hands back the server\'s considered answer without retrying it', async () => {
    const c = client();
    const error = await rejectionOf(c.alterConfigs([{ topic: 'missing', set: { 'retention.ms': '1' } }]));
    expect(error).toBeInstanceOf(AdminError);
    expect((error as AdminError).code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(writesTo('ALTER_CONFIGS')).toEqual([1]);
  });

  it('reports each failed topic in an AdminError and applies the others', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    const error = (await rejectionOf(c.createTopics([{ topic: 'orders' }, { topic: 'payments' }]))) as AdminError;
    expect(error).toBeInstanceOf(AdminError);
    expect(error.failures.map((f) => [f.topic, f.error.codeName])).toEqual([['orders', 'TOPIC_ALREADY_EXISTS']]);
    expect(group.state.topic('payments')).toBeDefined();
  });

  it('stops waiting when the signal aborts, with the signal\'s reason', async () => {
    group.elect(0);
    const controller = new AbortController();
    const write = client().createTopics([{ topic: 'orders' }], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 100);
    await expect(write).rejects.toThrow('user gave up');
  });
});

describe('coordinator client > status', () => {
  it('status(node) is that node\'s own view; match and lag are known only in the leader\'s', async () => {
    const c = client();
    const follower = await c.status(`127.0.0.1:${group.node(2).port}`);
    expect(follower).toMatchObject({ nodeId: 2, role: 'follower', leaderId: 1, leaderApi: { host: '127.0.0.1', port: group.node(1).port } });
    expect(follower.members.map((m) => m.lag)).toEqual([undefined, undefined, undefined]);
    const leader = await c.clusterStatus();
    expect(leader.nodeId).toBe(1);
    expect(leader.members.map((m) => [m.nodeId, m.voter, m.lag, m.active])).toEqual([
      [1, true, 0, true],
      [2, true, 0, true],
      [3, true, 0, true],
    ]);
    expect(leader.members[0]?.raft).toEqual({ host: '127.0.0.1', port: 19_001 });
  });

  it('status() without a node answers from the first node that is up', async () => {
    await group.stopNode(1);
    const status = await client().status();
    expect([2, 3]).toContain(status.nodeId);
  });
});

describe('coordinator client > brokers and membership', () => {
  it('registers a broker, keeps its epoch when the same incarnation registers again, and heartbeats', async () => {
    const c = client();
    const spec = { nodeId: 7, incarnationId: 'inc-1', clusterId: group.clusterId, host: '127.0.0.1', port: 9093, listeners: [{ name: 'native', host: '127.0.0.1', port: 9093 }] };
    const first = await c.registerBroker(spec);
    const again = await c.registerBroker(spec);
    expect(again.brokerEpoch).toBe(first.brokerEpoch);
    const heartbeat = await c.brokerHeartbeat({ nodeId: 7, brokerEpoch: first.brokerEpoch, metadataOffset: first.metadataOffset });
    expect(heartbeat.fenced).toBe(false);
  });

  it('adds and removes a voter and hands leadership to another node', async () => {
    const c = client();
    expect((await c.changeMembership({ op: 'add', nodeId: 4, raft: '127.0.0.1:19004', api: '127.0.0.1:19104' })).voters).toEqual([1, 2, 3, 4]);
    expect((await c.changeMembership({ op: 'remove', nodeId: 4 })).voters).toEqual([1, 2, 3]);
    const moved = await c.transferLeadership(2);
    expect(moved.leaderId).toBe(2);
    expect((await c.clusterStatus()).nodeId).toBe(2);
  });

  it('reports a refused membership change with the server\'s error', async () => {
    const error = (await rejectionOf(client().changeMembership({ op: 'add', nodeId: 2, raft: '127.0.0.1:19002' }))) as StreamBusError;
    expect(error.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(error.message).toContain('already a voter');
  });
});

describe('coordinator client > metadata log', () => {
  it('follows committed records from offset 0 in order, decoded, and long-polls for new ones', async () => {
    const c = client();
    await c.createTopics([{ topic: 'orders' }]);
    const controller = new AbortController();
    const iterator = c.followMetadata(0, { signal: controller.signal, maxWaitMs: 2_000 });
    setTimeout(() => void c.alterConfigs([{ topic: 'orders', set: { 'retention.ms': '5' } }]), 200);
    const updates = await collect(iterator, (u) => offsetsOf(u).includes(2));
    expect(offsetsOf(updates)).toEqual([0, 1, 2]);
    const commands = updates.flatMap((u) => (u.kind === 'records' ? u.records.map((r) => r.command.type) : []));
    expect(commands).toEqual(['init-cluster', 'create-topic', 'alter-topic-configs']);
    controller.abort();
  });

  it('hands over a snapshot when the offset was compacted away, then continues with records', async () => {
    const c = client();
    await c.createTopics([{ topic: 'a' }]);
    await c.createTopics([{ topic: 'b' }]);
    await c.createTopics([{ topic: 'c' }]);
    group.compactBefore = 3;
    const updates = await collect(c.followMetadata(0), (u) => offsetsOf(u).includes(3));
    expect(updates[0]?.kind).toBe('snapshot');
    const first = updates[0];
    const snapshot = first?.kind === 'snapshot' ? first.snapshot : undefined;
    expect(snapshot?.topics.map((t) => t.name)).toEqual(['a', 'b']);
    expect(offsetsOf(updates)).toEqual(['snapshot@2', 3]);
  });

  it('ends the iteration, without an error, when the signal aborts during a long poll', async () => {
    const controller = new AbortController();
    const iterator = client().followMetadata(1, { signal: controller.signal, maxWaitMs: 10_000 });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    expect(await collect(iterator, () => false)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps following, without gaps or repeats, when the node it reads from goes away', async () => {
    const c = client();
    const controller = new AbortController();
    const iterator = c.followMetadata(0, { signal: controller.signal, maxWaitMs: 500 });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const update of iterator) {
        if (update.kind === 'records') seen.push(...update.records.map((r) => r.offset));
        if (seen.includes(2)) break;
      }
    })();
    await c.createTopics([{ topic: 'a' }]);
    await group.stopNode(1);
    group.elect(2);
    await c.createTopics([{ topic: 'b' }]);
    await reading;
    expect(seen).toEqual([0, 1, 2]);
    controller.abort();
  });

  it('refuses a negative or fractional start offset with INVALID_REQUEST', async () => {
    const c = client();
    for (const bad of [-1, 1.5, Number.NaN]) {
      const error = (await rejectionOf(c.followMetadata(bad).next())) as StreamBusError;
      expect(error.code, String(bad)).toBe(ErrorCode.INVALID_REQUEST);
    }
  });
});

describe('coordinator client > bad input', () => {
  it('refuses missing or malformed addresses with INVALID_REQUEST and bad options with INVALID_CONFIG', () => {
    const codeOf = (build: () => unknown): number | undefined => {
      try {
        build();
      } catch (error) {
        return (error as StreamBusError).code;
      }
      return undefined;
    };
    expect(codeOf(() => new CoordinatorClient({ bootstrap: [] }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(codeOf(() => new CoordinatorClient({ bootstrap: ['no-port'] }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(codeOf(() => new CoordinatorClient({ bootstrap: ['127.0.0.1:70000'] }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(codeOf(() => new CoordinatorClient({ bootstrap: [{ host: '', port: 1 }] }))).toBe(ErrorCode.INVALID_REQUEST);
    expect(codeOf(() => new CoordinatorClient({ bootstrap: ['127.0.0.1:1'], requestTimeoutMs: 0 }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(codeOf(() => new CoordinatorClient({ bootstrap: ['127.0.0.1:1'], maxInFlightPerConnection: 1.5 }))).toBe(ErrorCode.INVALID_CONFIG);
  });

  it('refuses bad call arguments with INVALID_REQUEST before sending anything', async () => {
    const c = client();
    const attempts: Promise<unknown>[] = [
      c.createTopics([]),
      c.createTopics([{ topic: '' }]),
      c.createTopics([{ topic: 'a', partitions: 0 }]),
      c.createTopics([{ topic: 'a' }, { topic: 'a' }]),
      c.alterConfigs([{ topic: 'a' }]),
      c.createPartitions([{ topic: 'a', count: -2 }]),
      c.deleteTopics([]),
      c.transferLeadership(0),
      c.changeMembership({ op: 'add', nodeId: 4, raft: 'nowhere' }),
      c.changeMembership({ op: 'grow', nodeId: 4 } as never),
      c.brokerHeartbeat({ nodeId: 1, brokerEpoch: -1, metadataOffset: 0 }),
      c.registerBroker({ nodeId: 1, incarnationId: '', clusterId: 'x', host: 'h', port: 1 }),
      c.clusterStatus({ timeoutMs: -5 }),
    ];
    for (const [i, attempt] of attempts.entries()) {
      const error = (await rejectionOf(attempt)) as StreamBusError;
      expect(error.code, `attempt ${i}: ${error.message}`).toBe(ErrorCode.INVALID_REQUEST);
    }
    expect(group.requests.filter((r) => r.api !== 'API_VERSIONS' && r.api !== 'COORDINATOR_STATUS')).toEqual([]);
  });

  it('rejects calls after close() with NETWORK_EXCEPTION', async () => {
    const c = client();
    await c.close();
    expect(((await rejectionOf(c.clusterStatus())) as StreamBusError).code).toBe(ErrorCode.NETWORK_EXCEPTION);
  });
});
