import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { MetadataCache } from '../metadata/cache.js';
import { encodeCanonicalMetadataCommand, metadataRecordBytes, type MetadataCommand, type MetadataRecord } from '../metadata/commands.js';
import { commitOffsetsCommand } from '../groups/group-commands.js';
import { MemoryGroup, waitFor } from '../service/testing/memory-group.js';
import { decodeEntryPayload, encodeEntryPayload } from './raft-metadata-log.js';

let group: MemoryGroup | undefined;
afterEach(async () => {
  await group?.close();
  group = undefined;
});

const partition = { partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 };
const createTopic = (name: string): MetadataCommand => ({ type: 'create-topic', name, topicId: `id-${name}`, partitions: [partition], configs: {} });

async function threeNodes(options: Parameters<typeof MemoryGroup.start>[1] = {}): Promise<{ group: MemoryGroup; leader: number }> {
  group = await MemoryGroup.start([1, 2, 3], options);
  return { group, leader: await group.leader() };
}

/** Every record of a node's log, from its start. */
async function recordsOf(g: MemoryGroup, id: number): Promise<MetadataRecord[]> {
  const log = g.member(id).log;
  return log.read(log.startOffset, 10_000);
}

async function rejection(run: () => unknown): Promise<StreamBusError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error('expected a rejection');
}

describe('raft metadata log > appends', () => {
  it('commits the commands of one append as one raft entry at consecutive offsets', async () => {
    const { group: g, leader } = await threeNodes();
    const log = g.member(leader).log;
    await g.applied(log.committedOffset);
    const lastIndex = g.member(leader).host.status().lastIndex;
    const offsets = await log.append([createTopic('a'), createTopic('b'), createTopic('c')]);
    expect(offsets).toEqual([offsets[0], offsets[0]! + 1, offsets[0]! + 2]);
    expect(g.member(leader).host.status().lastIndex).toBe(lastIndex + 1);
    expect((await log.read(offsets[0]!, 3)).map((r) => r.command)).toEqual([createTopic('a'), createTopic('b'), createTopic('c')]);
  });

  it('gives every record the same offset on every node, leader no-ops and membership entries included', async () => {
    const { group: g, leader } = await threeNodes();
    await g.member(leader).log.append([createTopic('before')]);
    const follower = g.running.find((id) => id !== leader)!;
    await g.coordinator(leader).transferLeadership(follower);
    const next = await g.leader();
    const offsets = await g.member(next).log.append([createTopic('after-1'), createTopic('after-2')]);
    await g.applied(offsets[1]!);
    const reference = await recordsOf(g, next);
    expect(reference.map((r) => r.offset)).toEqual(reference.map((_, i) => i));
    expect(reference.some((r) => r.command.type === 'no-op')).toBe(true);
    for (const id of g.running) expect(await recordsOf(g, id)).toEqual(reference);
  });

  it('applies on the leader the canonical commands its followers decode from the entry, not the ones it was given', async () => {
    const { group: g, leader } = await threeNodes();
    const given: MetadataCommand = {
      configs: { 'retention.ms': '5', 'cleanup.policy': 'compact' },
      partitions: [partition],
      topicId: 'id-canonical',
      name: 'canonical',
      type: 'create-topic',
    };
    const [offset] = await g.member(leader).log.append([given]);
    await g.applied(offset!);
    const [onLeader] = await g.member(leader).log.read(offset!, 1);
    expect(JSON.stringify(onLeader!.command)).toBe(
      '{"type":"create-topic","name":"canonical","topicId":"id-canonical","partitions":[{"partition":0,"replicas":[1],"isr":[1],"leader":1,"leaderEpoch":0,"partitionEpoch":0}],"configs":{"cleanup.policy":"compact","retention.ms":"5"}}',
    );
    expect(Object.isFrozen(onLeader!.command)).toBe(true);
    for (const id of g.running) expect((await g.member(id).log.read(offset!, 1))[0]).toStrictEqual(onLeader);
  });

  it('throws a refusal synchronously from appendNow: NOT_CONTROLLER on a follower, INVALID_REQUEST for a bad command', async () => {
    const { group: g, leader } = await threeNodes({ log: { maxRecordBytes: 200 } });
    const follower = g.running.find((id) => id !== leader)!;
    expect(() => g.member(follower).log.appendNow([createTopic('x')])).toThrow(expect.objectContaining({ code: ErrorCode.NOT_CONTROLLER }));
    const log = g.member(leader).log;
    expect(() => log.appendNow([{ type: 'create-topic', name: 'y' } as unknown as MetadataCommand])).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_REQUEST }),
    );
    const large: MetadataCommand = { type: 'create-topic', name: 'z'.repeat(240), topicId: 'id-z', partitions: [partition], configs: {} };
    expect(() => log.appendNow([large])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining('limit is 200') }));
    // append() reports the same refusals as rejections.
    expect((await rejection(() => g.member(follower).log.append([createTopic('x')]))).code).toBe(ErrorCode.NOT_CONTROLLER);
  });

  it('applies a committed entry that does not decode as one no-op record on every node', async () => {
    const { group: g, leader } = await threeNodes();
    const { index } = await g.member(leader).host.propose(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3]));
    expect(index).toBeGreaterThan(0);
    const committed = g.member(leader).log.committedOffset;
    await g.applied(committed);
    for (const id of g.running) {
      const [last] = await g.member(id).log.read(committed, 1);
      expect(last).toEqual({ offset: committed, command: { type: 'no-op' } });
    }
  });

  it('round-trips entry payloads and refuses malformed ones with CORRUPT_MESSAGE', () => {
    const payload = encodeEntryPayload([new TextEncoder().encode('{"v":1,"command":{"type":"no-op"}}')]);
    expect(decodeEntryPayload(payload)).toEqual([{ type: 'no-op' }]);
    for (const bad of [new Uint8Array([0, 0]), new Uint8Array([0, 0, 0, 0]), payload.subarray(0, payload.length - 1), new Uint8Array([...payload, 7])]) {
      expect(() => decodeEntryPayload(bad)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE }));
    }
  });
});

describe('raft metadata log > compaction and snapshots', () => {
  it('sends a follower that fell behind the compacted log a snapshot, and a cache following it loads the snapshot', async () => {
    const { group: g, leader } = await threeNodes({ host: { snapshotEntries: 8 }, log: { retainRecords: 4 } });
    const behind = g.running.find((id) => id !== leader)!;
    const cache = new MetadataCache();
    const follower = cache.follow(g.member(behind).log);
    await follower.caughtUp;
    const batches: number[] = [];
    const unsubscribe = g.member(behind).log.onCommit((records) => batches.push(records.length));
    g.network.isolate(behind);
    for (let i = 0; i < 30; i++) await g.member(leader).log.append([createTopic(`t${i}`)]);
    const leaderLog = g.member(leader).log;
    expect(leaderLog.startOffset).toBeGreaterThan(0);
    await expect(leaderLog.read(0, 1)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
    const restores = g.member(behind).host.status().snapshotIndex;
    g.network.heal();
    await g.applied(leaderLog.committedOffset);
    // Caught up through InstallSnapshot: its snapshot moved, and listeners were told of the gap
    // with an empty batch before records resumed.
    expect(g.member(behind).host.status().snapshotIndex).toBeGreaterThan(restores);
    expect(batches).toContain(0);
    await waitFor(() => cache.lastAppliedOffset === leaderLog.committedOffset, 'the cache on the follower to catch up');
    expect(cache.state.snapshot()).toEqual(leaderLog.state.snapshot());
    expect(cache.state.topics()).toHaveLength(30);
    unsubscribe();
    follower.stop();
  });

  it('compacts once the entries since the snapshot hold snapshotBytes, long before snapshotEntries', async () => {
    // Entries of about 400 bytes each: 2 KiB of them is 5 entries.
    const { group: g, leader } = await threeNodes({ host: { snapshotEntries: 10_000, snapshotBytes: 2048 } });
    const bigTopic = (i: number): MetadataCommand => ({ type: 'create-topic', name: `${i}-${'n'.repeat(200)}`, topicId: `id-${i}`, partitions: [partition], configs: {} });
    for (let i = 0; i < 40; i++) await g.member(leader).log.append([bigTopic(i)]);
    await g.applied(g.member(leader).log.committedOffset);
    for (const id of g.running) expect(g.member(id).host.status().snapshotIndex).toBeGreaterThan(0);
  });

  it('waits for as many bytes of log as the last snapshot held before compacting again, so a large state is not rewritten for every few entries', async () => {
    const { group: g, leader } = await threeNodes({ host: { snapshotEntries: 10_000, snapshotBytes: 1 } });
    const log = g.member(leader).log;
    const host = g.member(leader).host;
    // A one-command entry of a 2 KB state: the first compaction comes after the first entry.
    const wide: MetadataCommand = { type: 'create-topic', name: 'wide', topicId: 'id-wide', partitions: [partition], configs: { 'retention.ms': '1', 'x.pad': 'p'.repeat(2000) } };
    await log.append([wide]);
    const first = host.status().snapshotIndex;
    expect(first).toBeGreaterThan(0);
    // Small entries now: each is far smaller than the snapshot, so several pass before the next.
    let appended = 0;
    while (host.status().snapshotIndex === first && appended < 200) {
      await log.append([createTopic(`s${appended}`)]);
      appended++;
    }
    expect(host.status().snapshotIndex).toBeGreaterThan(first);
    expect(appended).toBeGreaterThan(3);
  });

  it('drops the records a snapshot covers once they hold more than retainBytes, however few they are', async () => {
    const { group: g, leader } = await threeNodes({ host: { snapshotEntries: 10 }, log: { retainRecords: 10_000, retainBytes: 1 } });
    const log = g.member(leader).log;
    for (let i = 0; i < 25; i++) await log.append([createTopic(`k${i}`)]);
    const covered = (await log.snapshot())!.offset;
    expect(covered).toBeGreaterThan(0);
    // Everything the snapshot covers is gone; everything after it is held and readable.
    expect(log.startOffset).toBe(covered + 1);
    const held = await log.read(log.startOffset, 10_000);
    expect(held.map((r) => r.offset)).toEqual(Array.from({ length: log.committedOffset - covered }, (_, i) => covered + 1 + i));
    await expect(log.read(covered, 1)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
  });

  it('reads commit-offsets records back as the canonical command every node applied, though it holds only their bytes', async () => {
    const { group: g, leader } = await threeNodes();
    await g.member(leader).log.append([createTopic('orders')]);
    const commit = commitOffsetsCommand([
      { group: 'billing', topic: 'orders', partition: 0, offset: 41, leaderEpoch: 3, metadata: 'ünïcode', commitTimeMs: 1_700_000_000_123 },
      { group: 'billing', topic: 'orders', partition: 1, offset: 7, leaderEpoch: -1, metadata: '', commitTimeMs: 1_700_000_000_124 },
      { group: 'audit', topic: 'orders', partition: 0, offset: 2 ** 40, leaderEpoch: 0, metadata: 'x'.repeat(300), commitTimeMs: 1_700_000_000_125 },
    ]);
    const [offset] = await g.member(leader).log.append([commit, createTopic('after')]);
    await g.applied(offset! + 1);
    const { command: canonical, bytes } = encodeCanonicalMetadataCommand(commit);
    for (const id of g.running) {
      const log = g.member(id).log;
      const [record, next] = await log.read(offset!, 2);
      expect(record).toEqual({ offset, command: canonical });
      // Followers of the log get those bytes as they are.
      expect(metadataRecordBytes(record!)).toEqual(bytes);
      expect(next?.command).toMatchObject({ type: 'create-topic', name: 'after' });
      expect(log.state.groups.offset('audit', 'orders', 0)?.offset).toBe(2 ** 40);
    }
  });

  it('restarts a node from its stored snapshot and log to the same state and offsets', async () => {
    const { group: g, leader } = await threeNodes({ host: { snapshotEntries: 5 }, log: { retainRecords: 3 } });
    for (let i = 0; i < 12; i++) await g.member(leader).log.append([createTopic(`r${i}`)]);
    const restarted = g.running.find((id) => id !== leader)!;
    await g.applied(g.member(leader).log.committedOffset);
    const before = g.member(restarted).log.state.snapshot();
    await g.stopNode(restarted);
    await g.startNode(restarted);
    await waitFor(() => g.member(restarted).log.committedOffset >= before.lastAppliedOffset, 'the restarted node to apply its log again');
    const snapshot = await g.member(restarted).log.snapshot();
    expect(snapshot?.offset).toBeGreaterThan(0);
    const state = g.member(restarted).log.state.snapshot();
    expect({ ...state, lastAppliedOffset: before.lastAppliedOffset }).toEqual(before);
  });
});
