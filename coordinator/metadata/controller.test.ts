import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import type { MetadataCommand } from './commands.js';
import {
  type BrokerHeartbeatRequest,
  type PlacementBroker,
  alterConfigs,
  brokerHeartbeat,
  createPartitions,
  createTopics,
  deleteTopics,
  describeConfigs,
  fenceBroker,
  placeReplicas,
  placementBrokers,
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
    expect(results.find((r) => r.name === 'rf')?.errorMessage).toBe(
      'replication factor 2 is larger than the number of available brokers (1): only registered, unfenced brokers that are not draining take new replicas',
    );
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

/** Per broker: how many partitions it leads and how many replicas it holds. */
function load(lists: number[][]): { leaders: Map<number, number>; replicas: Map<number, number> } {
  const leaders = new Map<number, number>();
  const replicas = new Map<number, number>();
  for (const list of lists) {
    leaders.set(list[0]!, (leaders.get(list[0]!) ?? 0) + 1);
    for (const id of list) replicas.set(id, (replicas.get(id) ?? 0) + 1);
  }
  return { leaders, replicas };
}

const spread = (counts: Map<number, number>): number => Math.max(...counts.values()) - Math.min(...counts.values());

describe('controller > placeReplicas', () => {
  const brokers: PlacementBroker[] = [1, 2, 3, 4].map((nodeId) => ({ nodeId, rack: null }));

  it.each([
    [5, 3, 1000],
    [5, 3, 997],
    [7, 2, 500],
    [3, 3, 31],
  ])('balances leaders and replicas over %i brokers (RF %i, %i partitions) to within one or two', (n, rf, count) => {
    const many: PlacementBroker[] = Array.from({ length: n }, (_, i) => ({ nodeId: i + 1, rack: null }));
    for (const seed of [1, 2, 3]) {
      const lists = placeReplicas(many, count, rf, seededRandomSource(seed));
      const { leaders, replicas } = load(lists);
      expect(leaders.size).toBe(n);
      expect(spread(leaders)).toBeLessThanOrEqual(1);
      expect(spread(replicas)).toBeLessThanOrEqual(2);
      expect([...replicas.values()].reduce((a, b) => a + b, 0)).toBe(count * rf);
    }
  });

  it('balances across racks as well as within them when racks are the same size', () => {
    const racked: PlacementBroker[] = Array.from({ length: 9 }, (_, i) => ({ nodeId: i + 1, rack: `rack-${i % 3}` }));
    const rackOf = new Map(racked.map((b) => [b.nodeId, b.rack]));
    const lists = placeReplicas(racked, 900, 3, seededRandomSource(4));
    for (const replicas of lists) expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
    const { leaders, replicas } = load(lists);
    expect(spread(leaders)).toBeLessThanOrEqual(1);
    expect(spread(replicas)).toBeLessThanOrEqual(2);
  });

  it('prefers spreading a partition over racks to evening out brokers when racks differ in size', () => {
    const uneven: PlacementBroker[] = [
      { nodeId: 1, rack: 'a' },
      { nodeId: 2, rack: 'a' },
      { nodeId: 3, rack: 'a' },
      { nodeId: 4, rack: 'b' },
    ];
    const lists = placeReplicas(uneven, 400, 2, seededRandomSource(5));
    // Every partition keeps a copy outside rack a, so the lone broker of rack b holds one of each.
    for (const replicas of lists) expect(replicas.some((id) => id === 4)).toBe(true);
    expect(spread(load(lists).leaders)).toBeLessThanOrEqual(1);
  });

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

describe('controller > placement and fencing', () => {
  const registration = (nodeId: number, rack: string | null): MetadataCommand => ({
    type: 'register-broker',
    nodeId,
    incarnationId: `inc-${nodeId}`,
    host: '127.0.0.1',
    port: 9000 + nodeId,
    rack,
    listeners: [],
  });

  /** Brokers 1..4 registered at offsets 0..3; the ones named in `unfenced` unfenced. */
  function cluster(unfenced: number[], racks: (string | null)[] = [null, null, null, null]): MetadataState {
    const state = stateWith(racks.map((rack, i) => registration(i + 1, rack)));
    applyTo(state, unfenced.map((nodeId) => ({ type: 'unfence-broker', nodeId, brokerEpoch: nodeId - 1 })));
    return state;
  }

  it('places new replicas only on unfenced brokers', () => {
    const state = cluster([1, 3, 4]);
    expect(placementBrokers(state).map((b) => b.nodeId)).toEqual([1, 3, 4]);
    const { results, commands } = createTopics(state, [{ name: 't', numPartitions: 12, replicationFactor: 3 }], {
      defaults,
      brokers: placementBrokers(state),
      random: seededRandomSource(11),
    });
    expect(results[0]?.errorCode).toBe(ErrorCode.NONE);
    const command = commands[0]!;
    const used = new Set(command.type === 'create-topic' ? command.partitions.flatMap((p) => p.replicas) : []);
    expect([...used].sort()).toEqual([1, 3, 4]);
  });

  it('refuses a replication factor above the unfenced brokers with INVALID_REPLICATION_FACTOR naming how many are available', () => {
    const state = cluster([2, 3]);
    const created = createTopics(state, [{ name: 't', replicationFactor: 3 }], { defaults, brokers: placementBrokers(state), random: seededRandomSource(12) });
    expect(created.results[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      errorMessage: expect.stringContaining('number of available brokers (2)'),
    });
    applyTo(state, createTopics(state, [{ name: 'rf2', numPartitions: 1, replicationFactor: 2 }], {
      defaults,
      brokers: placementBrokers(state),
      random: seededRandomSource(13),
    }).commands);
    applyTo(state, [{ type: 'fence-broker', nodeId: 3, brokerEpoch: 2 }]);
    const grown = createPartitions(state, [{ name: 'rf2', count: 2 }], { brokers: placementBrokers(state), random: seededRandomSource(14) });
    expect(grown.results[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      errorMessage: expect.stringContaining('number of available brokers (1)'),
    });
    expect(grown.commands).toEqual([]);
  });

  it('keeps placing across racks with the unfenced brokers that are left', () => {
    const state = cluster([1, 2, 3], ['a', 'a', 'b', 'b']);
    const rackOf = new Map(state.brokers().map((b) => [b.nodeId, b.rack]));
    for (const replicas of placeReplicas(placementBrokers(state), 30, 2, seededRandomSource(15))) {
      expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(2);
      expect(replicas).not.toContain(4);
    }
  });
});

describe('controller > brokerHeartbeat', () => {
  /** Broker 1 registered at offset 1, fenced; the log has 3 records. */
  function registeredAt1(): MetadataState {
    return stateWith([
      { type: 'init-cluster', clusterId: 'c' },
      { type: 'register-broker', nodeId: 1, incarnationId: 'i', host: 'h', port: 1, rack: null, listeners: [] },
      { type: 'no-op' },
    ]);
  }

  it('keeps a fenced broker fenced until its metadata reaches its own registration, then unfences it', () => {
    const state = registeredAt1();
    expect(brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 1, metadataOffset: 0 })).toEqual({ command: null, fenced: true });
    const outcome = brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 1, metadataOffset: 1 });
    expect(outcome).toEqual({ command: { type: 'unfence-broker', nodeId: 1, brokerEpoch: 1 }, fenced: false });
    applyTo(state, [outcome.command!]);
    expect(brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 1, metadataOffset: 3 })).toEqual({ command: null, fenced: false });
  });

  it('fences a broker that asks for it, and keeps it fenced while it keeps asking', () => {
    const state = registeredAt1();
    applyTo(state, [{ type: 'unfence-broker', nodeId: 1, brokerEpoch: 1 }]);
    const outcome = brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 1, metadataOffset: 3, wantFence: true });
    expect(outcome).toEqual({ command: { type: 'fence-broker', nodeId: 1, brokerEpoch: 1 }, fenced: true });
    applyTo(state, [outcome.command!]);
    expect(brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 1, metadataOffset: 4, wantFence: true })).toEqual({ command: null, fenced: true });
  });

  it('answers an unknown broker with BROKER_ID_NOT_REGISTERED and another epoch with STALE_BROKER_EPOCH', () => {
    const state = registeredAt1();
    expect(() => brokerHeartbeat(state, { nodeId: 2, brokerEpoch: 1, metadataOffset: 2 })).toThrow(
      expect.objectContaining({ code: ErrorCode.BROKER_ID_NOT_REGISTERED, message: expect.stringContaining('broker 2 is not registered') }),
    );
    expect(() => brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 0, metadataOffset: 2 })).toThrow(
      expect.objectContaining({ code: ErrorCode.STALE_BROKER_EPOCH, message: expect.stringContaining('current registration has epoch 1') }),
    );
    expect(() => brokerHeartbeat(state, { nodeId: 1, brokerEpoch: 5, metadataOffset: 2 })).toThrow(
      expect.objectContaining({ code: ErrorCode.STALE_BROKER_EPOCH }),
    );
  });

  it.each([
    ['a negative node id', { nodeId: -1, brokerEpoch: 1, metadataOffset: 1 }, 'heartbeat.nodeId'],
    ['a fractional epoch', { nodeId: 1, brokerEpoch: 1.5, metadataOffset: 1 }, 'heartbeat.brokerEpoch'],
    ['an offset below -1', { nodeId: 1, brokerEpoch: 1, metadataOffset: -2 }, 'heartbeat.metadataOffset'],
    ['a wantFence that is not a boolean', { nodeId: 1, brokerEpoch: 1, metadataOffset: 1, wantFence: 'yes' }, 'heartbeat.wantFence'],
  ])('refuses a heartbeat with %s with INVALID_REQUEST naming the field', (_what, request, field) => {
    expect(() => brokerHeartbeat(registeredAt1(), request as unknown as BrokerHeartbeatRequest)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining(field) }),
    );
  });

  it('fences only the current, unfenced registration', () => {
    const state = registeredAt1();
    expect(fenceBroker(state, 1, 1)).toBeNull();
    applyTo(state, [{ type: 'unfence-broker', nodeId: 1, brokerEpoch: 1 }]);
    expect(fenceBroker(state, 1, 0)).toBeNull();
    expect(fenceBroker(state, 2, 1)).toBeNull();
    expect(fenceBroker(state, 1, 1)).toEqual({ type: 'fence-broker', nodeId: 1, brokerEpoch: 1 });
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
