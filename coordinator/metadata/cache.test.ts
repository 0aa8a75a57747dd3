import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { MemoryMetadataLog } from '../metadata-log/memory-metadata-log.js';
import type { MetadataLog } from '../metadata-log/metadata-log.js';
import { type FollowableLog, type MetadataUpdate, MetadataCache } from './cache.js';
import type { MetadataCommand, MetadataRecord, PartitionAssignment } from './commands.js';
import { type MetadataSnapshot, MetadataState } from './state.js';

const topic = (name: string, partitions = 1): MetadataCommand => ({
  type: 'create-topic',
  name,
  topicId: `id-${name}`,
  partitions: Array.from({ length: partitions }, (_, partition) => ({
    partition,
    replicas: [1],
    isr: [1],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  })),
  configs: {},
});

/** Counts reads, to show that following does not poll. */
function counting(log: MetadataLog): FollowableLog & { reads: number } {
  const spy = {
    reads: 0,
    get committedOffset() {
      return log.committedOffset;
    },
    get startOffset() {
      return log.startOffset;
    },
    read(from: number, max: number): Promise<MetadataRecord[]> {
      spy.reads++;
      return log.read(from, max);
    },
    snapshot: () => log.snapshot(),
    onCommit: (listener: (records: readonly MetadataRecord[]) => void) => log.onCommit(listener),
  };
  return spy;
}

const deadline = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(5_000) });

describe('metadata > cache > follow', () => {
  it('catches up with a live log, then sees each change as it commits without reading again', async () => {
    const log = new MemoryMetadataLog();
    await log.append([{ type: 'init-cluster', clusterId: 'c1' }, topic('a')]);
    const spy = counting(log);
    const cache = new MetadataCache();
    const updates: MetadataUpdate[] = [];
    cache.subscribe((update) => updates.push(update));
    const follower = cache.follow(spy);
    await follower.caughtUp;
    expect(cache.state.topic('a')?.topicId).toBe('id-a');
    const readsWhenCaughtUp = spy.reads;

    await log.append([topic('b', 2)]);
    await log.append([{ type: 'create-partitions', name: 'b', topicId: 'id-b', partitions: [partitionOf(2, 1)] }]);
    await log.append([{ type: 'alter-topic-configs', name: 'a', topicId: 'id-a', set: { 'retention.ms': '5' }, delete: [] }]);
    await log.append([{ type: 'delete-topic', name: 'a', topicId: 'id-a' }]);
    await cache.waitForOffset(log.committedOffset, deadline());

    expect(spy.reads).toBe(readsWhenCaughtUp);
    expect(updates.flatMap((u) => u.events.map((e) => e.type))).toEqual([
      'cluster-initialized',
      'topic-created',
      'topic-created',
      'partitions-created',
      'topic-configs-changed',
      'topic-deleted',
    ]);
    expect(cache.state.topic('a')).toBeUndefined();
    expect(cache.state.topic('b')?.partitions).toHaveLength(3);
    follower.stop();
    await follower.done;
    await log.close();
  });

  it('loses nothing committed while it is still catching up', async () => {
    const log = new MemoryMetadataLog();
    await log.append(Array.from({ length: 10 }, (_, i) => topic(`t${i}`)));
    const cache = new MetadataCache();
    const follower = cache.follow(log, { batchMaxRecords: 2 });
    const racing = Array.from({ length: 10 }, (_, i) => log.append([topic(`late${i}`)]));
    await Promise.all(racing);
    await follower.caughtUp;
    await cache.waitForOffset(19, deadline());
    const replayed = MetadataState.empty();
    for (const record of await log.read(0, 100)) replayed.apply(record);
    expect(cache.state.snapshot()).toEqual(replayed.snapshot());
    follower.stop();
  });

  it('starts from a snapshot and reads only what came after it', async () => {
    const log = new MemoryMetadataLog();
    await log.append([topic('a'), topic('b'), topic('c')]);
    const base = MetadataState.empty();
    for (const record of await log.read(0, 2)) base.apply(record);
    const cache = new MetadataCache({ snapshot: JSON.parse(JSON.stringify(base.snapshot())) });
    const applied: number[] = [];
    cache.subscribe((u) => applied.push(u.lastAppliedOffset));
    const follower = cache.follow(log);
    await follower.caughtUp;
    expect(applied).toEqual([2]);
    expect(cache.state.topics().map((t) => t.name)).toEqual(['a', 'b', 'c']);
    follower.stop();
  });

  it('stops applying after stop() and tells offset waiters why', async () => {
    const log = new MemoryMetadataLog();
    const cache = new MetadataCache();
    const follower = cache.follow(log);
    await follower.caughtUp;
    const waiting = cache.waitForOffset(5);
    follower.stop();
    await follower.done;
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await log.append([topic('a')]);
    expect(cache.lastAppliedOffset).toBe(-1);
  });

  it('ends with the read error when the log cannot be read', async () => {
    const failing: FollowableLog = {
      committedOffset: 3,
      startOffset: 0,
      read: () => Promise.reject(new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, 'disk on fire')),
      snapshot: () => Promise.resolve(undefined),
      onCommit: () => () => undefined,
    };
    const follower = new MetadataCache().follow(failing);
    await expect(follower.caughtUp).rejects.toMatchObject({ message: 'disk on fire' });
    await expect(follower.done).rejects.toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR });
  });
});

describe('metadata > cache > follow a compacting log', () => {
  /** A log of init-cluster plus `count` topics t0..t{count-1}, at offsets 0..count. */
  async function logWithTopics(count: number): Promise<MemoryMetadataLog> {
    const log = new MemoryMetadataLog();
    await log.append([{ type: 'init-cluster', clusterId: 'c1' }, ...Array.from({ length: count }, (_, i) => topic(`t${i}`))]);
    return log;
  }

  async function replayOf(log: MemoryMetadataLog, upTo: MetadataCache): Promise<string> {
    const snapshot = await log.snapshot();
    const state = snapshot === undefined ? MetadataState.empty() : MetadataState.restore(snapshot.snapshot);
    if (log.committedOffset >= log.startOffset) {
      for (const record of await log.read(log.startOffset, 10_000)) state.apply(record);
    }
    expect(upTo.lastAppliedOffset).toBe(log.committedOffset);
    return JSON.stringify(state.snapshot());
  }

  it('loads the snapshot when the log compacted past its offset, tells subscribers once, then reads on', async () => {
    const log = await logWithTopics(4);
    const cache = new MetadataCache();
    const first = cache.follow(log);
    await first.caughtUp;
    first.stop();
    await log.append([{ type: 'delete-topic', name: 't0', topicId: 'id-t0' }, topic('t0'), topic('u1'), topic('u2')]);
    log.compact(7);
    await log.append([topic('u3')]);
    expect(log.startOffset).toBe(8);

    const updates: MetadataUpdate[] = [];
    cache.subscribe((update) => updates.push(update));
    const follower = cache.follow(log);
    await follower.caughtUp;
    expect(updates.map((u) => [u.lastAppliedOffset, u.events.map((e) => e.type)])).toEqual([
      [7, ['snapshot-loaded']],
      [9, ['topic-created', 'topic-created']],
    ]);
    const loaded = updates[0]!.events[0]!;
    expect(loaded.type === 'snapshot-loaded' && loaded.previous.lastAppliedOffset).toBe(4);
    expect(loaded.type === 'snapshot-loaded' && loaded.previous.topics.map((t) => t.name)).toEqual(['t0', 't1', 't2', 't3']);
    expect(cache.state.topics().map((t) => t.name)).toEqual(['t0', 't1', 't2', 't3', 'u1', 'u2', 'u3']);
    expect(JSON.stringify(cache.state.snapshot())).toBe(await replayOf(log, cache));

    await log.append([topic('live')]);
    await cache.waitForOffset(10, deadline());
    expect(cache.state.topic('live')).toBeDefined();
    follower.stop();
  });

  it('survives the log compacting between its reads while it catches up in small batches', async () => {
    const log = await logWithTopics(30);
    let reads = 0;
    const compactingOnSecondRead: FollowableLog = {
      get committedOffset() {
        return log.committedOffset;
      },
      get startOffset() {
        return log.startOffset;
      },
      read(from, max) {
        if (++reads === 2) log.compact(20);
        return log.read(from, max);
      },
      snapshot: () => log.snapshot(),
      onCommit: (listener) => log.onCommit(listener),
    };
    const cache = new MetadataCache();
    const follower = cache.follow(compactingOnSecondRead, { batchMaxRecords: 4 });
    await follower.caughtUp;
    expect(JSON.stringify(cache.state.snapshot())).toBe(await replayOf(log, cache));
    follower.stop();
  });

  it('goes back to catching up when a live log installs a snapshot past what it has seen', async () => {
    const log = await logWithTopics(2);
    const cache = new MetadataCache();
    const events: string[] = [];
    cache.subscribe((u) => events.push(...u.events.map((e) => `${e.type}@${e.offset}`)));
    const follower = cache.follow(log);
    await follower.caughtUp;

    // What a leader built from records this log never held: offsets 3..6.
    const leader = await logWithTopics(2);
    await leader.append([topic('x'), topic('y'), topic('z'), topic('w')]);
    log.installSnapshot(leader.compact(6));
    await cache.waitForOffset(6, deadline());
    await log.append([topic('after')]);
    await cache.waitForOffset(7, deadline());

    expect(events).toEqual(['cluster-initialized@0', 'topic-created@1', 'topic-created@2', 'snapshot-loaded@6', 'topic-created@7']);
    expect(cache.state.topics().map((t) => t.name)).toEqual(['after', 't0', 't1', 'w', 'x', 'y', 'z']);
    follower.stop();
    await follower.done;
  });

  it('ends with KAFKA_STORAGE_ERROR when the log starts past its offset but has no snapshot', async () => {
    const log = await logWithTopics(3);
    const noSnapshot: FollowableLog = {
      committedOffset: 3,
      startOffset: 2,
      read: (from, max) => log.read(from, max),
      snapshot: () => Promise.resolve(undefined),
      onCommit: () => () => undefined,
    };
    const follower = new MetadataCache().follow(noSnapshot);
    await expect(follower.done).rejects.toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR, message: expect.stringContaining('has no snapshot') });
  });

  it('refuses a snapshot of another cluster with INCONSISTENT_CLUSTER_ID', async () => {
    const mine = await logWithTopics(1);
    const cache = new MetadataCache();
    const first = cache.follow(mine);
    await first.caughtUp;
    first.stop();
    const other = new MemoryMetadataLog();
    await other.append([{ type: 'init-cluster', clusterId: 'someone-else' }, topic('a'), topic('b'), topic('c')]);
    other.compact(3);
    const follower = cache.follow(other);
    await expect(follower.done).rejects.toMatchObject({ code: ErrorCode.INCONSISTENT_CLUSTER_ID });
    expect(cache.state.clusterId).toBe('c1');
  });

  it('refuses a corrupt snapshot with CORRUPT_MESSAGE and keeps its state', async () => {
    const log = await logWithTopics(1);
    const corrupt: FollowableLog = {
      committedOffset: 5,
      startOffset: 5,
      read: () => Promise.resolve([]),
      snapshot: () => Promise.resolve({ offset: 4, snapshot: { ...MetadataState.empty().snapshot(), lastAppliedOffset: 4, topics: [{ name: 7 }] } as unknown as MetadataSnapshot }),
      onCommit: () => () => undefined,
    };
    const cache = new MetadataCache();
    const first = cache.follow(log);
    await first.caughtUp;
    first.stop();
    await expect(cache.follow(corrupt).done).rejects.toMatchObject({ code: ErrorCode.CORRUPT_MESSAGE });
    expect(cache.state.topic('t0')).toBeDefined();
  });
});

describe('metadata > cache > apply', () => {
  it('skips records it already has and refuses a gap', () => {
    const cache = new MetadataCache();
    cache.apply([{ offset: 0, command: topic('a') }]);
    expect(cache.apply([{ offset: 0, command: topic('a') }, { offset: 1, command: topic('b') }])).toHaveLength(1);
    expect(() => cache.apply([{ offset: 3, command: topic('c') }])).toThrow(/records in between are missing/);
  });

  it('resolves an offset waiter once that offset is applied, and rejects it on abort', async () => {
    const cache = new MetadataCache();
    const reached = cache.waitForOffset(1, deadline());
    const controller = new AbortController();
    const abandoned = cache.waitForOffset(5, { signal: controller.signal });
    cache.apply([{ offset: 0, command: topic('a') }, { offset: 1, command: topic('b') }]);
    await reached;
    controller.abort();
    await expect(abandoned).rejects.toMatchObject({ name: 'AbortError' });
  });
});

function partitionOf(partition: number, replica: number): PartitionAssignment {
  return { partition, replicas: [replica], isr: [replica], leader: replica, leaderEpoch: 0, partitionEpoch: 0 };
}
