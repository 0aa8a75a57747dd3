import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { decodeMetadataCommand, encodeMetadataCommand, type MetadataCommand, type MetadataRecord } from '../metadata/commands.js';
import { METADATA_SNAPSHOT_VERSION, MetadataState } from '../metadata/state.js';
import { commitOffsetsCommand, type StoredGroup } from './group-commands.js';

const init: MetadataCommand[] = [
  { type: 'init-cluster', clusterId: 'c' },
  {
    type: 'create-topic',
    name: 'orders',
    topicId: 't-orders',
    partitions: [0, 1].map((partition) => ({ partition, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })),
    configs: {},
  },
];

const group = (members: number, generation = 1): StoredGroup => ({
  groupId: 'g',
  generation,
  protocolType: 'consumer',
  protocolName: members === 0 ? null : 'range',
  leader: members === 0 ? null : 'm-0',
  stateTimestampMs: 1000,
  members: Array.from({ length: members }, (_, i) => ({
    memberId: `m-${i}`,
    groupInstanceId: i === 0 ? 'static-0' : null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 60_000,
    subscription: 'AAEC',
    assignment: '',
  })),
});

const commit = (group: string, topic: string, partition: number, offset: number, commitTimeMs = 5): MetadataCommand =>
  commitOffsetsCommand([{ group, topic, partition, offset, leaderEpoch: 3, metadata: 'm', commitTimeMs }]);

function stateWith(commands: readonly MetadataCommand[]): MetadataState {
  const state = MetadataState.empty();
  [...init, ...commands].forEach((command, offset) => state.apply({ offset, command } satisfies MetadataRecord));
  return state;
}

describe('groups > applied state', () => {
  it('keeps the latest stored membership and the latest offset of each partition', () => {
    const state = stateWith([{ type: 'store-group', group: group(2) }, commit('g', 'orders', 1, 10), commit('g', 'orders', 0, 4), commit('g', 'orders', 1, 12), { type: 'store-group', group: group(1, 2) }]);
    const image = state.groups.group('g')!;
    expect(image.metadata).toMatchObject({ generation: 2, members: [{ memberId: 'm-0' }] });
    expect(image.offsets).toEqual([
      {
        topic: 'orders',
        partitions: [
          { partition: 0, offset: 4, leaderEpoch: 3, metadata: 'm', commitTimeMs: 5 },
          { partition: 1, offset: 12, leaderEpoch: 3, metadata: 'm', commitTimeMs: 5 },
        ],
      },
    ]);
    expect(state.groups.offset('g', 'orders', 1)?.offset).toBe(12);
    expect(state.groups.offset('g', 'orders', 7)).toBeUndefined();
    expect(Object.isFrozen(image.offsets[0]!.partitions[0])).toBe(true);
  });

  it('holds, after any sequence of multi-topic commits in any order, the latest offset of each existing partition, sorted and frozen', () => {
    const topics = ['a', 'm', 'z'];
    const created: MetadataCommand[] = topics.map((name) => ({
      type: 'create-topic',
      name,
      topicId: `t-${name}`,
      partitions: [0, 1, 2, 3].map((partition) => ({ partition, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })),
      configs: {},
    }));
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 20; round++) {
      const state = stateWith(created);
      const model = new Map<string, number>();
      let offset = 1000;
      for (let c = 0; c < 30; c++) {
        // Unsorted, repeated partitions, some that do not exist (partition 6), several groups.
        const entries = Array.from({ length: 1 + next(6) }, () => {
          const e = { group: `g${next(3)}`, topic: topics[next(3)]!, partition: next(7), offset: next(1000), leaderEpoch: 0, metadata: '', commitTimeMs: 1 };
          if (e.partition < 4) model.set(`${e.group}|${e.topic}|${e.partition}`, e.offset);
          return e;
        });
        // Canonical (frozen, as the log applies them) in even rounds, as built in odd ones.
        const built = commitOffsetsCommand(entries);
        const command = round % 2 === 0 ? decodeMetadataCommand(encodeMetadataCommand(built)) : built;
        state.apply({ offset: offset++, command });
      }
      const held = new Map<string, number>();
      for (const image of state.groups.groups()) {
        expect(Object.isFrozen(image) && Object.isFrozen(image.offsets)).toBe(true);
        expect(image.offsets.map((t) => t.topic)).toEqual([...image.offsets.map((t) => t.topic)].sort());
        for (const t of image.offsets) {
          expect(Object.isFrozen(t) && Object.isFrozen(t.partitions)).toBe(true);
          expect(t.partitions.map((p) => p.partition)).toEqual([...new Set(t.partitions.map((p) => p.partition))].sort((x, y) => x - y));
          for (const p of t.partitions) {
            expect(Object.isFrozen(p)).toBe(true);
            held.set(`${image.groupId}|${t.topic}|${p.partition}`, p.offset);
          }
        }
      }
      expect(held).toEqual(model);
    }
  });

  it('drops commits to partitions that do not exist, and forgets a topic\'s offsets when it is deleted', () => {
    const state = stateWith([commit('simple', 'orders', 5, 1), commit('simple', 'missing', 0, 1)]);
    expect(state.groups.group('simple')).toBeUndefined();
    state.apply({ offset: 4, command: commit('simple', 'orders', 0, 1) });
    state.apply({ offset: 5, command: { type: 'store-group', group: group(0) } });
    state.apply({ offset: 6, command: commit('g', 'orders', 0, 1) });
    state.apply({ offset: 7, command: { type: 'delete-topic', name: 'orders', topicId: 't-orders' } });
    // The simple group held only offsets: it is gone; g keeps its (empty) membership record.
    expect(state.groups.group('simple')).toBeUndefined();
    expect(state.groups.group('g')?.offsets).toEqual([]);
  });

  it('expires offsets and removes a group left with nothing, deletes groups, and deletes offsets on request', () => {
    const state = stateWith([{ type: 'store-group', group: group(0) }, commit('g', 'orders', 0, 1), commit('g', 'orders', 1, 1), commit('h', 'orders', 0, 1), commit('k', 'orders', 0, 1)]);
    state.apply({ offset: 7, command: { type: 'expire-offsets', offsets: [{ group: 'g', topic: 'orders', partition: 0 }] } });
    expect(state.groups.group('g')?.offsets[0]?.partitions.map((p) => p.partition)).toEqual([1]);
    state.apply({ offset: 8, command: { type: 'expire-offsets', offsets: [{ group: 'g', topic: 'orders', partition: 1 }] } });
    expect(state.groups.group('g')).toBeUndefined();
    state.apply({ offset: 9, command: { type: 'delete-group', groupId: 'h' } });
    expect(state.groups.group('h')).toBeUndefined();
    state.apply({ offset: 10, command: { type: 'delete-offsets', groupId: 'k', partitions: [{ topic: 'orders', partition: 0 }] } });
    expect(state.groups.groups()).toEqual([]);
  });

  it('shares groups with a clone until either changes (copy on write), and the two then differ', () => {
    const state = stateWith([commit('g', 'orders', 0, 1)]);
    const copy = state.clone();
    copy.apply({ offset: 3, command: commit('g', 'orders', 0, 2) });
    state.apply({ offset: 3, command: commit('h', 'orders', 0, 9) });
    expect(state.groups.offset('g', 'orders', 0)?.offset).toBe(1);
    expect(copy.groups.offset('g', 'orders', 0)?.offset).toBe(2);
    expect(copy.groups.group('h')).toBeUndefined();
  });

  it('carries groups and offsets through a snapshot, and leaves them out when there are none', () => {
    const state = stateWith([{ type: 'store-group', group: group(2) }, commit('g', 'orders', 1, 10), commit('s', 'orders', 0, 3)]);
    const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as Record<string, unknown>;
    expect(snapshot.version).toBe(METADATA_SNAPSHOT_VERSION);
    const restored = MetadataState.restore(snapshot);
    expect(restored.groups.groups()).toEqual(state.groups.groups());
    expect('groups' in MetadataState.empty().snapshot()).toBe(false);
    const unsorted = { ...snapshot, groups: [...(snapshot.groups as unknown[])].reverse() };
    expect(() => MetadataState.restore(unsorted)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('sorted') }));
    expect(() => MetadataState.restore({ ...snapshot, version: 3 })).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE, message: expect.stringContaining('snapshot.groups') }));
  });
});

describe('groups > commands', () => {
  it('round-trips every group command through its canonical bytes', () => {
    const commands: MetadataCommand[] = [
      { type: 'store-group', group: group(2) },
      { type: 'delete-group', groupId: 'g' },
      commit('g', 'orders', 1, 2 ** 40),
      { type: 'expire-offsets', offsets: [{ group: 'g', topic: 'orders', partition: 1 }] },
      { type: 'delete-offsets', groupId: 'g', partitions: [{ topic: 'orders', partition: 0 }] },
    ];
    for (const command of commands) expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
  });

  it('nests a batch of commits by group and topic, keeping each group\'s order', () => {
    const entry = (group: string, topic: string, partition: number) => ({ group, topic, partition, offset: 1, leaderEpoch: -1, metadata: '', commitTimeMs: 7 });
    const command = commitOffsetsCommand([entry('a', 'x', 0), entry('b', 'x', 0), entry('a', 'y', 2), entry('a', 'x', 1)]);
    expect(command.groups.map((g) => [g.group, g.topics.map((t) => [t.topic, t.partitions.map((p) => p.partition)])])).toEqual([
      ['a', [['x', [0, 1]], ['y', [2]]]],
      ['b', [['x', [0]]]],
    ]);
  });

  it('refuses malformed group commands with INVALID_REQUEST, naming the field', () => {
    const bad: [string, unknown][] = [
      ['members', { type: 'store-group', group: { ...group(2), members: [group(1).members[0], group(1).members[0]] } }],
      ['leader', { type: 'store-group', group: { ...group(2), leader: 'nobody' } }],
      ['leader', { type: 'store-group', group: { ...group(0), leader: 'm-0' } }],
      ['subscription', { type: 'store-group', group: { ...group(1), members: [{ ...group(1).members[0], subscription: 'not base64!' }] } }],
      ['offset', commitOffsetsCommand([{ group: 'g', topic: 't', partition: 0, offset: -1, leaderEpoch: -1, metadata: '', commitTimeMs: 0 }])],
      ['groupId', { type: 'delete-group', groupId: '' }],
      ['partition', { type: 'expire-offsets', offsets: [{ group: 'g', topic: 't', partition: -3 }] }],
    ];
    for (const [field, command] of bad) {
      expect(() => encodeMetadataCommand(command as MetadataCommand), field).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining(field) }));
    }
  });
});
