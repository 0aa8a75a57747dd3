import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import type { MetadataCommand } from './commands.js';
import {
  type PlacementBroker,
  alterConfigs,
  createPartitions,
  createTopics,
  deleteTopics,
  describeConfigs,
  placeReplicas,
  registerBroker,
} from './controller.js';
import { seededRandomSource } from './random.js';
import { MetadataState } from './state.js';

const defaults = { numPartitions: 3, replicationFactor: 1 };
const single: PlacementBroker[] = [{ nodeId: 7, rack: null }];

function stateWith(commands: MetadataCommand[]): MetadataState {
  const state = MetadataState.empty();
  commands.forEach((command, offset) => state.apply({ offset, command }));
  return state;
}

function applyTo(state: MetadataState, commands: MetadataCommand[]): void {
  for (const command of commands) state.apply({ offset: state.lastAppliedOffset + 1, command });
}

function withOrders(): MetadataState {
  const state = MetadataState.empty();
  const { commands } = createTopics(state, [{ name: 'orders', numPartitions: 2, configs: { 'retention.ms': '1000' } }], {
    defaults,
    brokers: single,
    random: seededRandomSource(1),
  });
  applyTo(state, commands);
  return state;
}

describe('controller > createTopics', () => {
  it('places every replica on the only node of a single-node cluster', () => {
    const { results, commands } = createTopics(MetadataState.empty(), [{ name: 'orders' }], {
      defaults,
      brokers: single,
      random: seededRandomSource(1),
    });
    expect(results).toEqual([
      { name: 'orders', errorCode: 0, errorMessage: null, topicId: expect.stringMatching(/^[0-9a-f-]{36}$/), numPartitions: 3, replicationFactor: 1 },
    ]);
    expect(commands).toHaveLength(1);
    const command = commands[0]!;
    expect(command.type === 'create-topic' && command.partitions).toEqual([0, 1, 2].map((partition) => ({
      partition,
      replicas: [7],
      isr: [7],
      leader: 7,
      leaderEpoch: 0,
      partitionEpoch: 0,
    })));
  });

  it('gives one bad topic its own error and still creates the good ones', () => {
    const state = withOrders();
    const { results, commands } = createTopics(
      state,
      [
        { name: 'good-1' },
        { name: 'bad name!' },
        { name: 'orders' },
        { name: 'zero', numPartitions: 0 },
        { name: 'too-many', numPartitions: 10_001 },
        { name: 'rf', replicationFactor: 2 },
        { name: 'rf0', replicationFactor: 0 },
        { name: 'cfg', configs: { 'retention.ms': 'soon' } },
        { name: 'good-2', numPartitions: 1, configs: { 'cleanup.policy': 'compact' } },
      ],
      { defaults, brokers: single, random: seededRandomSource(2) },
    );
    expect(results.map((r) => [r.name, r.errorCode])).toEqual([
      ['good-1', ErrorCode.NONE],
      ['bad name!', ErrorCode.INVALID_TOPIC],
      ['orders', ErrorCode.TOPIC_ALREADY_EXISTS],
      ['zero', ErrorCode.INVALID_PARTITIONS],
      ['too-many', ErrorCode.INVALID_PARTITIONS],
      ['rf', ErrorCode.INVALID_REPLICATION_FACTOR],
      ['rf0', ErrorCode.INVALID_REPLICATION_FACTOR],
      ['cfg', ErrorCode.INVALID_CONFIG],
      ['good-2', ErrorCode.NONE],
    ]);
    expect(results.find((r) => r.name === 'rf')?.errorMessage).toBe('replication factor 2 is larger than the number of registered brokers (1)');
    expect(results.find((r) => r.name === 'cfg')?.errorMessage).toContain("retention.ms='soon'");
    expect(commands.map((c) => c.type === 'create-topic' && c.name)).toEqual(['good-1', 'good-2']);
    applyTo(state, commands);
    expect(state.topic('good-2')?.configs).toEqual({ 'cleanup.policy': 'compact' });
  });

  it('answers a topic named twice in one request with INVALID_REQUEST for each', () => {
    const { results, commands } = createTopics(MetadataState.empty(), [{ name: 'a' }, { name: 'a' }, { name: 'b' }], {
      defaults,
      brokers: single,
      random: seededRandomSource(3),
    });
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.NONE]);
    expect(commands).toHaveLength(1);
  });

  it("refuses a name that collides with another through '.' and '_', also within one request", () => {
    const state = withOrders();
    applyTo(state, createTopics(state, [{ name: 'a.b' }], { defaults, brokers: single, random: seededRandomSource(4) }).commands);
    const { results } = createTopics(state, [{ name: 'a_b' }, { name: 'x.y' }, { name: 'x_y' }], {
      defaults,
      brokers: single,
      random: seededRandomSource(5),
    });
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_TOPIC, ErrorCode.NONE, ErrorCode.INVALID_TOPIC]);
    expect(results[0]?.errorMessage).toContain("collides with topic 'a.b'");
  });

  it('validates without producing commands when validateOnly is set', () => {
    const { results, commands } = createTopics(MetadataState.empty(), [{ name: 'a' }, { name: '' }], {
      defaults,
      brokers: single,
      random: seededRandomSource(6),
      validateOnly: true,
    });
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.INVALID_TOPIC]);
    expect(results[0]?.topicId).toBeUndefined();
    expect(commands).toEqual([]);
  });

  it('uses the defaults for -1 and for omitted counts', () => {
    const { results } = createTopics(MetadataState.empty(), [{ name: 'a', numPartitions: -1, replicationFactor: -1 }], {
      defaults: { numPartitions: 5, replicationFactor: 1 },
      brokers: single,
      random: seededRandomSource(7),
    });
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE, numPartitions: 5, replicationFactor: 1 });
  });

  it('fails every creation with INVALID_REPLICATION_FACTOR while no broker is registered', () => {
    const { results } = createTopics(MetadataState.empty(), [{ name: 'a' }], { defaults, brokers: [], random: seededRandomSource(8) });
    expect(results[0]?.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });

  it('produces the same commands from the same seed', () => {
    const run = (): MetadataCommand[] =>
      createTopics(MetadataState.empty(), [{ name: 'a' }, { name: 'b' }], { defaults, brokers: single, random: seededRandomSource(9) }).commands;
    expect(run()).toEqual(run());
  });
});

describe('controller > placeReplicas', () => {
  const brokers: PlacementBroker[] = [1, 2, 3, 4].map((nodeId) => ({ nodeId, rack: null }));

  it('spreads leaders evenly and never repeats a broker within a partition', () => {
    const lists = placeReplicas(brokers, 8, 3, seededRandomSource(1));
    const leaders = new Map<number, number>();
    for (const replicas of lists) {
      expect(new Set(replicas).size).toBe(3);
      leaders.set(replicas[0]!, (leaders.get(replicas[0]!) ?? 0) + 1);
    }
    expect([...leaders.values()]).toEqual([2, 2, 2, 2]);
  });

  it('puts the replicas of a partition on distinct racks while racks suffice', () => {
    const racked: PlacementBroker[] = [
      { nodeId: 1, rack: 'a' },
      { nodeId: 2, rack: 'a' },
      { nodeId: 3, rack: 'b' },
      { nodeId: 4, rack: 'b' },
      { nodeId: 5, rack: 'c' },
      { nodeId: 6, rack: 'c' },
    ];
    const rackOf = new Map(racked.map((b) => [b.nodeId, b.rack]));
    for (const replicas of placeReplicas(racked, 12, 3, seededRandomSource(2))) {
      expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
    }
    for (const replicas of placeReplicas(racked, 12, 4, seededRandomSource(3))) {
      expect(new Set(replicas).size).toBe(4);
      expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
    }
  });
});

describe('controller > deleteTopics', () => {
  it('deletes existing topics and reports unknown ones', () => {
    const state = withOrders();
    const { results, commands } = deleteTopics(state, ['orders', 'ghost']);
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(results[0]?.topicId).toBe(state.topic('orders')?.topicId);
    expect(commands).toEqual([{ type: 'delete-topic', name: 'orders', topicId: state.topic('orders')?.topicId }]);
  });
});

describe('controller > alterConfigs', () => {
  it('sets and deletes overrides incrementally', () => {
    const state = withOrders();
    const { results, commands } = alterConfigs(state, [
      { name: 'orders', ops: [{ op: 'set', key: 'cleanup.policy', value: 'compact' }, { op: 'delete', key: 'retention.ms' }] },
    ]);
    expect(results[0]?.errorCode).toBe(ErrorCode.NONE);
    applyTo(state, commands);
    expect(state.topic('orders')?.configs).toEqual({ 'cleanup.policy': 'compact' });
  });

  it('logs nothing when the merged configs do not change', () => {
    const state = withOrders();
    const { results, commands } = alterConfigs(state, [{ name: 'orders', ops: [{ op: 'set', key: 'retention.ms', value: ' 1000' }] }]);
    expect(results[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(commands).toEqual([]);
  });

  it('reports per topic: unknown topic, bad value, unknown key to delete, repeated key', () => {
    const state = withOrders();
    const { results, commands } = alterConfigs(state, [
      { name: 'ghost', ops: [] },
      { name: 'orders', ops: [{ op: 'set', key: 'min.insync.replicas', value: '0' }] },
    ]);
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_CONFIG]);
    expect(commands).toEqual([]);
    const more = alterConfigs(state, [{ name: 'orders', ops: [{ op: 'delete', key: 'retention.msec' }] }]);
    expect(more.results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_CONFIG, errorMessage: expect.stringContaining("did you mean 'retention.ms'") });
    const repeated = alterConfigs(state, [
      { name: 'orders', ops: [{ op: 'set', key: 'retention.ms', value: '1' }, { op: 'delete', key: 'retention.ms' }] },
    ]);
    expect(repeated.results[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('changes nothing under validateOnly', () => {
    const state = withOrders();
    const { results, commands } = alterConfigs(state, [{ name: 'orders', ops: [{ op: 'set', key: 'retention.ms', value: '5' }] }], {
      validateOnly: true,
    });
    expect(results[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(commands).toEqual([]);
  });
});

describe('controller > createPartitions', () => {
  it('adds partitions numbered after the existing ones', () => {
    const state = withOrders();
    const { results, commands } = createPartitions(state, [{ name: 'orders', count: 4 }], { brokers: single, random: seededRandomSource(1) });
    expect(results[0]?.errorCode).toBe(ErrorCode.NONE);
    applyTo(state, commands);
    expect(state.topic('orders')?.partitions.map((p) => [p.partition, p.replicas])).toEqual([[0, [7]], [1, [7]], [2, [7]], [3, [7]]]);
  });

  it('refuses to keep or shrink the count, and unknown topics, each on its own', () => {
    const state = withOrders();
    const { results, commands } = createPartitions(
      state,
      [{ name: 'orders', count: 2 }, { name: 'ghost', count: 3 }],
      { brokers: single, random: seededRandomSource(1) },
    );
    expect(results.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_PARTITIONS, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(results[0]?.errorMessage).toBe("topic 'orders' already has 2 partitions");
    expect(commands).toEqual([]);
    const shrink = createPartitions(state, [{ name: 'orders', count: 1 }], { brokers: single, random: seededRandomSource(1) });
    expect(shrink.results[0]?.errorMessage).toMatch(/cannot shrink/);
  });
});

describe('controller > registerBroker', () => {
  const request = { nodeId: 1, incarnationId: 'inc-1', host: '127.0.0.1', port: 9092, listeners: [{ name: 'kafka', host: '127.0.0.1', port: 9092 }] };

  it('logs a registration, and nothing for an identical repeat', () => {
    const state = stateWith([]);
    const first = registerBroker(state, request);
    expect(first.command).toMatchObject({ type: 'register-broker', nodeId: 1, rack: null });
    applyTo(state, [first.command!]);
    expect(registerBroker(state, request)).toEqual({ command: null, brokerEpoch: 0 });
    expect(registerBroker(state, { ...request, incarnationId: 'inc-2' }).command).not.toBeNull();
  });

  it('refuses a malformed registration with INVALID_REQUEST', () => {
    expect(() => registerBroker(stateWith([]), { ...request, port: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }));
    expect(() => registerBroker(stateWith([]), { ...request, listeners: [request.listeners[0]!, request.listeners[0]!] })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }),
    );
  });
});

describe('controller > describeConfigs', () => {
  it('describes known topics and reports unknown ones', () => {
    const results = describeConfigs(withOrders(), ['orders', 'ghost']);
    expect(results[0]?.configs.find((c) => c.name === 'retention.ms')).toMatchObject({ value: '1000', source: 'topic' });
    expect(results[1]).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, configs: [] });
  });
});
