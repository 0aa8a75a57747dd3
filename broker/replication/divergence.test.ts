/**
 * A returning replica finds where its log diverged from the leader's through the leader-epoch
 * exchange of the fetch (the leader's ReplicaManager.checkFetch and the follower's truncation
 * rule), truncates there, and then replicates the leader's batches until both logs are the same:
 * real logs on LevelDB, no network.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { patchPartitionLeaderEpoch } from '../../proto/record-batch/index.js';
import { NOW_MS, batch, logConfig, openStore, tempDir, values } from '../log/fixtures/log-fixtures.js';
import type { LogStore, PartitionLog } from '../log/index.js';
import type { PartitionView } from '../server/metadata-view.js';
import { ReplicaManager } from './replica-manager.js';
import { truncationOffset } from './replica-fetcher.js';

const TOPIC = 't';

function epochBatch(epoch: number, count: number, prefix: string): Buffer {
  const bytes = batch(values(count, prefix));
  patchPartitionLeaderEpoch(bytes, 0, epoch);
  return bytes;
}

async function appendAs(log: PartitionLog, epoch: number, count: number, prefix: string): Promise<void> {
  await log.startLeaderEpoch(epoch);
  await log.append(epochBatch(epoch, count, prefix), { nowMs: NOW_MS });
}

/** Runs the follower's fetch loop against the leader until it gets records or nothing is left to do. */
async function syncFollower(manager: ReplicaManager, view: PartitionView, leader: PartitionLog, follower: PartitionLog): Promise<number[]> {
  const truncations: number[] = [];
  for (let round = 0; round < 10; round++) {
    const request = { partition: 0, fetchOffset: follower.logEndOffset, maxBytes: 1 << 20, currentLeaderEpoch: view.leaderEpoch, lastFetchedEpoch: follower.latestEpoch };
    const answer = manager.checkFetch(TOPIC, view, leader, 2, request);
    if ('refuse' in answer) throw answer.refuse;
    if ('diverging' in answer) {
      truncations.push(await follower.truncateTo(truncationOffset(answer.diverging, follower.endOffsetForEpoch(answer.diverging.epoch))));
      continue;
    }
    const read = await leader.read(request.fetchOffset, 1 << 20, { maxOffset: answer.maxOffset });
    if (read.records.length === 0) return truncations;
    await follower.appendReplicated(read.records);
  }
  throw new Error('the follower did not converge in 10 rounds');
}

async function withLogs(run: (leader: PartitionLog, follower: PartitionLog) => Promise<void>): Promise<void> {
  const dirs = [await tempDir(), await tempDir()];
  const stores: LogStore[] = [];
  try {
    for (const { dir } of dirs) stores.push(await openStore(dir));
    const [leader, follower] = await Promise.all(stores.map((store) => store.openPartition('tid', 0, logConfig())));
    leader!.autoHighWatermark = false;
    follower!.autoHighWatermark = false;
    await run(leader!, follower!);
  } finally {
    for (const store of stores) await store.close();
    for (const { remove } of dirs) await remove();
  }
}

describe('replication > divergence', () => {
  it('fails an acks=all wait with NOT_LEADER_OR_FOLLOWER once the leader is replaced, even when the new high watermark passes the lost batch', async () => {
    await withLogs(async (log) => {
      const view: PartitionView = { partition: 0, leader: 1, leaderEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3] };
      const manager = new ReplicaManager(1, { connect: () => Promise.reject(new Error('no network here')) }, () => [], pino({ enabled: false }), () => NOW_MS);
      try {
        await manager.reconcile([{ topic: TOPIC, view, log }]);
        const appended = await log.append(epochBatch(1, 3, 'zombie'), { nowMs: NOW_MS });
        const waited = manager.waitForHighWatermark(TOPIC, 0, log, appended.lastOffset + 1, 10_000, view.leaderEpoch).then(
          () => 'acknowledged',
          (error: unknown) => error,
        );
        // Paused and replaced: broker 2 leads epoch 2. As a follower this broker truncates the
        // zombie batch and takes the new leader's high watermark, past the offsets it had.
        await manager.reconcile([{ topic: TOPIC, view: { ...view, leader: 2, leaderEpoch: 2, isr: [2, 3] }, log }]);
        await log.truncateTo(0);
        await log.appendReplicated(epochBatch(2, 5, 'new-leader'));
        log.setHighWatermark(log.logEndOffset);
        expect(await waited).toMatchObject({ code: ErrorCode.NOT_LEADER_OR_FOLLOWER });
      } finally {
        await manager.close();
      }
    });
  });

  it('truncates a returning replica where its epoch history leaves the leader\'s, not at the high watermark, then catches up', async () => {
    await withLogs(async (leader, follower) => {
      // Both wrote epoch 0 (offsets 0-3). The follower then led epoch 1 and wrote 4-8 that no one
      // else got; meanwhile the leader of epoch 2 wrote 4-5 and 6-7.
      for (const log of [leader, follower]) await appendAs(log, 0, 4, 'zero');
      follower.setHighWatermark(2);
      await appendAs(follower, 1, 5, 'lost');
      await appendAs(leader, 2, 2, 'two');
      await leader.append(epochBatch(2, 2, 'more'), { nowMs: NOW_MS });

      const view: PartitionView = { partition: 0, leader: 1, leaderEpoch: 2, replicas: [1, 2], isr: [1, 2] };
      const manager = new ReplicaManager(1, { connect: () => Promise.reject(new Error('no network here')) }, () => [], pino({ enabled: false }), () => NOW_MS);
      await manager.reconcile([{ topic: TOPIC, view, log: leader }]);
      try {
        const truncations = await syncFollower(manager, view, leader, follower);
        // Epoch 1 is unknown to the leader: the largest it has below it is 0, which ends at 4.
        expect(truncations).toEqual([4]);
        expect(follower.logEndOffset).toBe(8);
        expect(follower.leaderEpochs).toEqual(leader.leaderEpochs);
        const [mine, theirs] = await Promise.all([follower, leader].map((log) => log.read(0, 1 << 20, { maxOffset: 8 })));
        expect(mine!.records.equals(theirs!.records)).toBe(true);
        // The follower's last fetch at its log end moved the leader's high watermark to 8.
        expect(leader.highWatermark).toBe(8);
      } finally {
        await manager.close();
      }
    });
  });

  it('lets a former leader that wrote nothing follow a new leader of an empty log: it drops its empty epoch once, not at every fetch', async () => {
    await withLogs(async (leader, follower) => {
      // The follower led epoch 0 without a single write; the new leader of epoch 1 never saw epoch 0.
      await follower.startLeaderEpoch(0);
      await leader.startLeaderEpoch(1);
      const view: PartitionView = { partition: 0, leader: 1, leaderEpoch: 1, replicas: [1, 2], isr: [1, 2] };
      const manager = new ReplicaManager(1, { connect: () => Promise.reject(new Error('no network here')) }, () => [], pino({ enabled: false }), () => NOW_MS);
      await manager.reconcile([{ topic: TOPIC, view, log: leader }]);
      try {
        expect(await syncFollower(manager, view, leader, follower)).toEqual([0]);
        expect(follower.leaderEpochs).toEqual([]);
        await leader.append(epochBatch(1, 3, 'one'), { nowMs: NOW_MS });
        expect(await syncFollower(manager, view, leader, follower)).toEqual([]);
        expect(follower.logEndOffset).toBe(3);
        expect(follower.leaderEpochs).toEqual(leader.leaderEpochs);
      } finally {
        await manager.close();
      }
    });
  });

  it('refuses a fetch with an older leader epoch (FENCED_LEADER_EPOCH) or a newer one (UNKNOWN_LEADER_EPOCH), and one from a non-replica', async () => {
    await withLogs(async (leader) => {
      const view: PartitionView = { partition: 0, leader: 1, leaderEpoch: 3, replicas: [1, 2], isr: [1, 2] };
      const manager = new ReplicaManager(1, { connect: () => Promise.reject(new Error('no network here')) }, () => [], pino({ enabled: false }), () => NOW_MS);
      await manager.reconcile([{ topic: TOPIC, view, log: leader }]);
      try {
        const fetch = (replicaId: number, currentLeaderEpoch: number): unknown => {
          const answer = manager.checkFetch(TOPIC, view, leader, replicaId, { partition: 0, fetchOffset: 0, maxBytes: 1, currentLeaderEpoch });
          return 'refuse' in answer ? answer.refuse.codeName : answer;
        };
        expect(fetch(2, 2)).toBe('FENCED_LEADER_EPOCH');
        expect(fetch(2, 4)).toBe('UNKNOWN_LEADER_EPOCH');
        expect(fetch(7, 3)).toBe('NOT_LEADER_OR_FOLLOWER');
        expect(fetch(-1, -1)).toEqual({ maxOffset: 0 });
      } finally {
        await manager.close();
      }
    });
  });
});
