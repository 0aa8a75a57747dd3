import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { MetadataAssertionError } from './assert.js';
import type { MetadataCommand, MetadataRecord, PartitionAssignment, RegisterBrokerCommand } from './commands.js';
import { METADATA_SNAPSHOT_VERSION, MetadataState } from './state.js';

function part(partition: number, replicas: number[] = [1]): PartitionAssignment {
  return { partition, replicas, isr: [...replicas], leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 };
}

const script: MetadataCommand[] = [
  { type: 'init-cluster', clusterId: 'cluster-a' },
  { type: 'register-broker', nodeId: 1, incarnationId: 'i1', host: 'h1', port: 9092, rack: 'r1', listeners: [] },
  { type: 'register-broker', nodeId: 2, incarnationId: 'i2', host: 'h2', port: 9092, rack: 'r2', listeners: [] },
  { type: 'create-topic', name: 'orders', topicId: 't-orders', partitions: [part(0, [1, 2]), part(1, [2, 1])], configs: {} },
  { type: 'create-topic', name: 'audit', topicId: 't-audit', partitions: [part(0)], configs: { 'cleanup.policy': 'compact' } },
  { type: 'no-op' },
  { type: 'alter-topic-configs', name: 'orders', topicId: 't-orders', set: { 'retention.ms': '1000' }, delete: [] },
  { type: 'create-partitions', name: 'orders', topicId: 't-orders', partitions: [part(2, [1, 2])] },
  { type: 'delete-topic', name: 'audit', topicId: 't-audit' },
  { type: 'register-broker', nodeId: 1, incarnationId: 'i1b', host: 'h1', port: 9093, rack: 'r1', listeners: [] },
  { type: 'create-topic', name: 'audit', topicId: 't-audit-2', partitions: [part(0, [2])], configs: {} },
  { type: 'alter-topic-configs', name: 'orders', topicId: 't-orders', set: {}, delete: ['retention.ms'] },
];

const records = (commands: MetadataCommand[], first = 0): MetadataRecord[] =>
  commands.map((command, i) => ({ offset: first + i, command }));

function applyAll(state: MetadataState, list: MetadataRecord[]): unknown[] {
  return list.flatMap((r) => state.apply(r));
}

describe('metadata > state > apply', () => {
  it('builds topics, brokers and the cluster id from the records', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script));
    expect(state.clusterId).toBe('cluster-a');
    expect(state.lastAppliedOffset).toBe(script.length - 1);
    expect(state.topics().map((t) => t.name)).toEqual(['audit', 'orders']);
    expect(state.topic('orders')?.partitions.map((p) => p.replicas)).toEqual([[1, 2], [2, 1], [1, 2]]);
    expect(state.topic('orders')?.configs).toEqual({});
    expect(state.topicById('t-audit')).toBeUndefined();
    expect(state.topicById('t-audit-2')?.name).toBe('audit');
    expect(state.broker(1)).toMatchObject({ incarnationId: 'i1b', port: 9093, brokerEpoch: 9 });
    expect(state.brokers().map((b) => b.nodeId)).toEqual([1, 2]);
  });

  it('returns the events a broker needs to open and close partitions', () => {
    const state = MetadataState.empty();
    const events = records(script).map((r) => state.apply(r).map((e) => `${e.type}@${e.offset}`));
    expect(events).toEqual([
      ['cluster-initialized@0'],
      ['broker-registered@1'],
      ['broker-registered@2'],
      ['topic-created@3'],
      ['topic-created@4'],
      [],
      ['topic-configs-changed@6'],
      ['partitions-created@7'],
      ['topic-deleted@8'],
      ['broker-registered@9'],
      ['topic-created@10'],
      ['topic-configs-changed@11'],
    ]);
  });

  it('describes a config change with the previous values and the changed keys', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 6)));
    const [event] = state.apply({ offset: 6, command: script[6]! });
    expect(event).toMatchObject({ type: 'topic-configs-changed', previousConfigs: {}, changedKeys: ['retention.ms'] });
  });

  it('keeps images handed out earlier unchanged when the state moves on', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 4)));
    const before = state.topic('orders')!;
    applyAll(state, records(script.slice(4, 8), 4));
    expect(before.partitions).toHaveLength(2);
    expect(state.topic('orders')!.partitions).toHaveLength(3);
    expect(Object.isFrozen(before)).toBe(true);
  });

  it('accepts offsets with gaps but never going backwards', () => {
    const state = MetadataState.empty();
    state.apply({ offset: 5, command: { type: 'no-op' } });
    expect(() => state.apply({ offset: 5, command: { type: 'no-op' } })).toThrow(MetadataAssertionError);
    expect(state.lastAppliedOffset).toBe(5);
  });

  it.each([
    ['deleting a topic that does not exist', { type: 'delete-topic', name: 'nope', topicId: 'x' }],
    ['creating a topic that exists', { type: 'create-topic', name: 'orders', topicId: 'new', partitions: [part(0)], configs: {} }],
    ['reusing a topic id', { type: 'create-topic', name: 'other', topicId: 't-orders', partitions: [part(0)], configs: {} }],
    ['adding partitions out of order', { type: 'create-partitions', name: 'orders', topicId: 't-orders', partitions: [part(5)] }],
    ['a leader outside the ISR', { type: 'create-topic', name: 'x', topicId: 'x', partitions: [{ ...part(0, [1]), leader: 2 }], configs: {} }],
    ['a second, different cluster id', { type: 'init-cluster', clusterId: 'cluster-b' }],
  ] as [string, MetadataCommand][])('asserts instead of applying %s, and leaves the state unchanged', (_what, command) => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 4)));
    const before = JSON.stringify(state.snapshot());
    expect(() => state.apply({ offset: 4, command })).toThrow(MetadataAssertionError);
    expect(JSON.stringify(state.snapshot())).toBe(before);
  });
});

describe('metadata > state > determinism and snapshots', () => {
  it('reaches the same state and events from the same records', () => {
    const a = MetadataState.empty();
    const b = MetadataState.empty();
    const eventsA = applyAll(a, records(script));
    const eventsB = applyAll(b, records(script));
    expect(JSON.stringify(a.snapshot())).toBe(JSON.stringify(b.snapshot()));
    expect(JSON.stringify(eventsA)).toBe(JSON.stringify(eventsB));
  });

  it('round-trips a snapshot through JSON', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script));
    const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as unknown;
    const restored = MetadataState.restore(snapshot);
    expect(restored.snapshot()).toEqual(state.snapshot());
    expect(restored.topicById('t-orders')?.name).toBe('orders');
  });

  it('continues from a restored snapshot exactly as the original would', () => {
    const whole = MetadataState.empty();
    applyAll(whole, records(script));
    const half = MetadataState.empty();
    applyAll(half, records(script.slice(0, 7)));
    const resumed = MetadataState.restore(JSON.parse(JSON.stringify(half.snapshot())));
    applyAll(resumed, records(script.slice(7), 7));
    expect(JSON.stringify(resumed.snapshot())).toBe(JSON.stringify(whole.snapshot()));
  });

  it('refuses a malformed snapshot with CORRUPT_MESSAGE naming the field', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 4)));
    const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as { topics: { partitions: { leader: unknown }[] }[] };
    snapshot.topics[0]!.partitions[0]!.leader = 'me';
    expect(() => MetadataState.restore(snapshot)).toThrow(
      expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('snapshot.topics[0].partitions[0].leader') }),
    );
  });

  it('refuses a snapshot of a newer version with UNSUPPORTED_VERSION', () => {
    const snapshot = { ...MetadataState.empty().snapshot(), version: METADATA_SNAPSHOT_VERSION + 1 };
    expect(() => MetadataState.restore(snapshot)).toThrow(
      expect.objectContaining({ code: ErrorCode.UNSUPPORTED_VERSION, message: expect.stringContaining('newer version') }),
    );
    expect(() => MetadataState.restore({ ...snapshot, version: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_VERSION }));
  });

  it('carries each broker\'s fencing in the snapshot and refuses a broker without it', () => {
    const state = MetadataState.empty();
    applyAll(state, records([...script.slice(0, 3), { type: 'unfence-broker', nodeId: 2, brokerEpoch: 2 }]));
    const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as { version: number; brokers: Record<string, unknown>[] };
    expect(snapshot.version).toBe(METADATA_SNAPSHOT_VERSION);
    expect(snapshot.brokers.map((b) => b.fenced)).toEqual([true, false]);
    expect(MetadataState.restore(snapshot).broker(2)?.fenced).toBe(false);
    delete snapshot.brokers[0]!.fenced;
    expect(() => MetadataState.restore(snapshot)).toThrow(
      expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('snapshot.brokers[0].fenced') }),
    );
    snapshot.brokers[0]!.fenced = 'no';
    expect(() => MetadataState.restore(snapshot)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE }));
  });

  it('restores a version 1 snapshot with every broker fenced, and refuses one that names fencing', () => {
    const state = MetadataState.empty();
    applyAll(state, records([...script.slice(0, 3), { type: 'unfence-broker', nodeId: 2, brokerEpoch: 2 }]));
    const { coordinators: _coordinators, ...v2 } = JSON.parse(JSON.stringify(state.snapshot())) as { brokers: Record<string, unknown>[]; coordinators: unknown };
    const v1 = { ...v2, version: 1, brokers: v2.brokers.map(({ fenced: _fenced, ...rest }) => rest) };
    const restored = MetadataState.restore(v1);
    expect(restored.brokers().map((b) => [b.nodeId, b.fenced])).toEqual([[1, true], [2, true]]);
    expect(restored.snapshot().version).toBe(METADATA_SNAPSHOT_VERSION);
    expect(() => MetadataState.restore({ ...v2, version: 1 })).toThrow(
      expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('snapshot.brokers[0].fenced') }),
    );
  });
});

describe('metadata > state > broker fencing', () => {
  const registered = (): MetadataState => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 3)));
    return state;
  };

  it('starts every registration fenced, also a re-registration of an unfenced broker', () => {
    const state = registered();
    expect(state.brokers().map((b) => b.fenced)).toEqual([true, true]);
    state.apply({ offset: 3, command: { type: 'unfence-broker', nodeId: 1, brokerEpoch: 1 } });
    expect(state.broker(1)?.fenced).toBe(false);
    state.apply({ offset: 4, command: { ...(script[1] as RegisterBrokerCommand), incarnationId: 'i1-restarted' } });
    expect(state.broker(1)).toMatchObject({ brokerEpoch: 4, fenced: true });
  });

  it('unfences and fences a broker with events naming the new registration image', () => {
    const state = registered();
    const [unfenced] = state.apply({ offset: 3, command: { type: 'unfence-broker', nodeId: 2, brokerEpoch: 2 } });
    expect(unfenced).toMatchObject({ type: 'broker-unfenced', offset: 3, broker: { nodeId: 2, fenced: false } });
    const [fenced] = state.apply({ offset: 4, command: { type: 'fence-broker', nodeId: 2, brokerEpoch: 2 } });
    expect(fenced).toMatchObject({ type: 'broker-fenced', offset: 4, broker: { nodeId: 2, fenced: true } });
    expect(Object.isFrozen(state.broker(2))).toBe(true);
  });

  it.each([
    ['an older broker epoch', { type: 'unfence-broker', nodeId: 1, brokerEpoch: 0 }],
    ['a newer broker epoch', { type: 'unfence-broker', nodeId: 1, brokerEpoch: 7 }],
    ['a broker that is not registered', { type: 'unfence-broker', nodeId: 9, brokerEpoch: 1 }],
    ['a broker that is already fenced', { type: 'fence-broker', nodeId: 1, brokerEpoch: 1 }],
  ] as [string, MetadataCommand][])('applies a fencing command for %s as a no-op, the same on every replica', (_what, command) => {
    const a = registered();
    const b = MetadataState.restore(JSON.parse(JSON.stringify(a.snapshot())));
    const before = JSON.stringify(a.snapshot());
    expect(a.apply({ offset: 3, command })).toEqual([]);
    expect(b.apply({ offset: 3, command })).toEqual([]);
    expect(JSON.stringify({ ...a.snapshot(), lastAppliedOffset: 2 })).toBe(before);
    expect(JSON.stringify(a.snapshot())).toBe(JSON.stringify(b.snapshot()));
  });
});

describe('metadata > state > coordinators and copies', () => {
  const coordinator = (nodeId: number, apiPort: number | null): MetadataCommand => ({
    type: 'register-coordinator',
    nodeId,
    raft: { host: '127.0.0.1', port: 9095 + nodeId },
    api: apiPort === null ? null : { host: '127.0.0.1', port: apiPort },
  });

  it('records where each coordinator listens, reports changes only, and carries them in the snapshot', () => {
    const state = MetadataState.empty();
    const events = applyAll(state, records([script[0]!, coordinator(2, null), coordinator(1, 9094), coordinator(2, 9194), coordinator(2, 9194)]));
    expect(events.map((e) => (e as { type: string }).type)).toEqual(['cluster-initialized', 'coordinator-registered', 'coordinator-registered', 'coordinator-registered']);
    expect(state.coordinators().map((c) => [c.nodeId, c.api?.port ?? null])).toEqual([
      [1, 9094],
      [2, 9194],
    ]);
    const restored = MetadataState.restore(JSON.parse(JSON.stringify(state.snapshot())));
    expect(restored.coordinator(2)).toEqual({ nodeId: 2, raft: { host: '127.0.0.1', port: 9097 }, api: { host: '127.0.0.1', port: 9194 } });
  });

  it('restores a version 2 snapshot with no coordinators, and refuses coordinators in one', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 3)));
    const { coordinators: _dropped, ...older } = { ...state.snapshot(), version: 2 };
    expect(MetadataState.restore(older).coordinators()).toEqual([]);
    expect(() => MetadataState.restore({ ...older, coordinators: [] })).toThrow(
      expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('snapshot.coordinators') }),
    );
  });

  it('refuses a snapshot whose coordinator has a node id of 0 or no raft address with CORRUPT_MESSAGE', () => {
    const snapshot = { ...MetadataState.empty().snapshot(), coordinators: [{ nodeId: 0, raft: { host: 'h', port: 1 }, api: null }] };
    expect(() => MetadataState.restore(snapshot)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('nodeId') }));
    const noRaft = { ...snapshot, coordinators: [{ nodeId: 1, api: null }] };
    expect(() => MetadataState.restore(noRaft)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('raft') }));
  });

  it('clones into an independent state that applies on its own', () => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 5)));
    const copy = state.clone();
    expect(copy.snapshot()).toEqual(state.snapshot());
    applyAll(copy, records(script.slice(5, 9), 5));
    expect(state.lastAppliedOffset).toBe(4);
    expect(state.topic('audit')).toBeDefined();
    expect(copy.topic('audit')).toBeUndefined();
    expect(copy.topic('orders')?.partitions).toHaveLength(3);
    expect(state.topic('orders')?.partitions).toHaveLength(2);
  });
});

describe('metadata > state > partition changes', () => {
  const base = (): MetadataState => {
    const state = MetadataState.empty();
    applyAll(state, records(script.slice(0, 4)));
    return state;
  };

  it('bumps the partition epoch on every change and the leader epoch only when the leader changes', () => {
    const state = base();
    const [shrink] = state.apply({ offset: 4, command: { type: 'change-partition', topicId: 't-orders', partition: 0, isr: [1] } });
    expect(state.topic('orders')!.partitions[0]).toEqual({ partition: 0, replicas: [1, 2], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
    expect(shrink).toMatchObject({ type: 'partition-changed', offset: 4, partition: { isr: [1] }, previous: { isr: [1, 2], partitionEpoch: 0 } });
    state.apply({ offset: 5, command: { type: 'change-partition', topicId: 't-orders', partition: 0, leader: -1 } });
    expect(state.topic('orders')!.partitions[0]).toMatchObject({ leader: -1, leaderEpoch: 1, partitionEpoch: 2 });
    state.apply({ offset: 6, command: { type: 'change-partition', topicId: 't-orders', partition: 0, leader: 1 } });
    expect(state.topic('orders')!.partitions[0]).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 2, partitionEpoch: 3 });
    state.apply({ offset: 7, command: { type: 'change-partition', topicId: 't-orders', partition: 0, leader: 1, isr: [1, 2] } });
    expect(state.topic('orders')!.partitions[0]).toMatchObject({ leader: 1, isr: [1, 2], leaderEpoch: 2, partitionEpoch: 4 });
    // The other partition and the snapshot follow.
    expect(state.topic('orders')!.partitions[1]).toMatchObject({ leaderEpoch: 0, partitionEpoch: 0 });
    expect(MetadataState.restore(JSON.parse(JSON.stringify(state.snapshot()))).topic('orders')).toEqual(state.topic('orders'));
  });

  it('keeps a topic image handed out before a change as it was', () => {
    const state = base();
    const before = state.topic('orders')!;
    state.apply({ offset: 4, command: { type: 'change-partition', topicId: 't-orders', partition: 1, leader: 1 } });
    expect(before.partitions[1]!.leader).toBe(2);
    expect(state.topic('orders')!.partitions[1]!.leader).toBe(1);
    expect(Object.isFrozen(state.topic('orders')!.partitions[1])).toBe(true);
  });

  it('stops, changing nothing, on a change the controller could not have decided', () => {
    for (const command of [
      { type: 'change-partition', topicId: 't-missing', partition: 0, leader: 1 },
      { type: 'change-partition', topicId: 't-orders', partition: 9, leader: 1 },
      { type: 'change-partition', topicId: 't-orders', partition: 0, isr: [1, 3] },
      { type: 'change-partition', topicId: 't-orders', partition: 0, isr: [] },
      { type: 'change-partition', topicId: 't-orders', partition: 0, isr: [2] },
      { type: 'change-partition', topicId: 't-orders', partition: 0, leader: 3 },
    ] as const) {
      const state = base();
      const before = JSON.stringify(state.snapshot());
      expect(() => state.apply({ offset: 4, command })).toThrow(MetadataAssertionError);
      expect(JSON.stringify(state.snapshot())).toBe(before);
    }
  });
});
