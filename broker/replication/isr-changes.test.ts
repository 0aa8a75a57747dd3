/**
 * A partition leader's ISR changes reach a real coordinator (an in-process Raft group of one on
 * LevelDB) through AlterPartition: a follower that stops fetching leaves the ISR after
 * replica.lag.time.max.ms, one that catches up rejoins, the high watermark counts a pending
 * change both ways, and a failed compare-and-set waits for newer metadata. Real logs, no network:
 * the follower's fetches are the leader's checkFetch calls.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errorFromCode } from '../../proto/errors.js';
import type { Coordinator } from '../../coordinator/index.js';
import { MemoryGroup, waitFor } from '../../coordinator/service/testing/memory-group.js';
import { NOW_MS, batch, logConfig, openStore, tempDir, values } from '../log/fixtures/log-fixtures.js';
import type { LogStore, PartitionLog } from '../log/index.js';
import type { PartitionView } from '../server/metadata-view.js';
import { type AlterPartitionCall, ReplicaManager } from './replica-manager.js';

const TOPIC = 'orders';
const LAG_MS = 1_000;

interface Setup {
  readonly coordinator: Coordinator;
  readonly manager: ReplicaManager;
  readonly log: PartitionLog;
  readonly leaderId: number;
  readonly followers: readonly number[];
  readonly calls: AlterPartitionCall[];
  view(): PartitionView;
  /** Hands the manager the coordinator's current view of the partition (a metadata change). */
  sync(): Promise<void>;
  setNow(ms: number): void;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<Setup> {
  let now = NOW_MS;
  const group = await MemoryGroup.start([1]);
  cleanups.push(() => group.close());
  const coordinator = group.coordinator(await group.leader());
  const epochs = new Map<number, number>();
  for (const nodeId of [1, 2, 3]) {
    const { brokerEpoch, metadataOffset } = await coordinator.registerBroker({ nodeId, incarnationId: `inc-${nodeId}`, host: '127.0.0.1', port: 9000 + nodeId });
    await coordinator.brokerHeartbeat({ nodeId, brokerEpoch, metadataOffset });
    epochs.set(nodeId, brokerEpoch);
  }
  await coordinator.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 3 }]);
  const topic = coordinator.state.topic(TOPIC)!;
  const leaderId = topic.partitions[0]!.leader;
  const { dir, remove } = await tempDir();
  cleanups.push(remove);
  const store: LogStore = await openStore(dir);
  cleanups.push(() => store.close());
  const log = await store.openPartition(topic.topicId, 0, logConfig());
  const calls: AlterPartitionCall[] = [];
  const manager = new ReplicaManager(
    leaderId,
    {
      connect: () => Promise.reject(new Error('no network here')),
      replicaLagTimeMaxMs: LAG_MS,
      isrCheckIntervalMs: 10,
      alterPartition: async (request) => {
        calls.push(request);
        const outcome = await coordinator.alterPartition(request);
        return { partitions: outcome.results.map((r) => ({ ...r, error: errorFromCode(r.errorCode, r.errorMessage ?? undefined) })) };
      },
      brokerEpoch: () => epochs.get(leaderId),
    },
    () => [],
    pino({ enabled: false }),
    () => now,
  );
  cleanups.push(() => manager.close());
  const view = (): PartitionView => coordinator.state.topic(TOPIC)!.partitions[0]!;
  const sync = (): Promise<void> => manager.reconcile([{ topic: TOPIC, view: view(), log }]);
  await sync();
  return { coordinator, manager, log, leaderId, followers: view().replicas.filter((id) => id !== leaderId), calls, view, sync, setNow: (ms) => (now = ms) };
}

function fetchAt(s: Setup, replicaId: number, fetchOffset: number): void {
  const answer = s.manager.checkFetch(TOPIC, s.view(), s.log, replicaId, { partition: 0, fetchOffset, maxBytes: 1 << 20, currentLeaderEpoch: s.view().leaderEpoch });
  if ('refuse' in answer) throw answer.refuse;
}

describe('replication > ISR changes through the coordinator', () => {
  it('takes a follower that stopped fetching out of the ISR after replica.lag.time.max.ms, and the high watermark moves on', async () => {
    const s = await setup();
    const [live, silent] = s.followers as [number, number];
    await s.log.append(batch(values(5, 'a')), { nowMs: NOW_MS });
    fetchAt(s, live, 5);
    expect(s.log.highWatermark).toBe(0);
    s.setNow(NOW_MS + LAG_MS + 1);
    fetchAt(s, live, 5);
    await waitFor(() => !s.coordinator.state.topic(TOPIC)!.partitions[0]!.isr.includes(silent), 'the silent follower to leave the ISR');
    expect(s.calls[0]?.partitions[0]).toMatchObject({ newIsr: [s.leaderId, live].filter((id) => s.view().replicas.includes(id)) });
    // Committed: the high watermark no longer waits for the silent follower, even before the metadata arrives.
    await waitFor(() => s.log.highWatermark === 5, 'the high watermark to move past the silent follower');
    await s.sync();
    expect(s.view()).toMatchObject({ isr: expect.not.arrayContaining([silent]), partitionEpoch: 1 });
  });

  it('adds a follower back once it has caught up, and counts it for the high watermark as soon as that is proposed', async () => {
    const s = await setup();
    const [live, returning] = s.followers as [number, number];
    await s.log.append(batch(values(3, 'a')), { nowMs: NOW_MS });
    fetchAt(s, live, 3);
    s.setNow(NOW_MS + LAG_MS + 1);
    fetchAt(s, live, 3);
    await waitFor(() => !s.view().isr.includes(returning), 'the returning follower to leave the ISR first');
    await s.sync();
    await s.log.append(batch(values(2, 'b')), { nowMs: NOW_MS });
    fetchAt(s, live, 5);
    expect(s.log.highWatermark).toBe(5);
    await s.log.append(batch(values(1, 'c')), { nowMs: NOW_MS });
    // The returning follower reaches the high watermark, then the log end: it rejoins at once.
    fetchAt(s, returning, 5);
    fetchAt(s, returning, 6);
    await waitFor(() => s.view().isr.includes(returning), 'the caught-up follower to rejoin the ISR');
    expect(s.calls.at(-1)?.partitions[0]?.newIsr).toContain(returning);
    // The live follower is still at 5: the high watermark does not pass it.
    expect(s.log.highWatermark).toBe(5);
  });

  it('waits for newer metadata after a failed compare-and-set instead of sending the change again', async () => {
    const s = await setup();
    const [live, silent] = s.followers as [number, number];
    // Another change commits behind the leader's back: its view is now one partition epoch old.
    const p = s.view();
    const other = await s.coordinator.alterPartition({
      brokerId: s.leaderId,
      brokerEpoch: s.coordinator.state.broker(s.leaderId)!.brokerEpoch,
      partitions: [{ topicId: s.log.topicId, partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch!, newIsr: [s.leaderId, silent] }],
    });
    expect(other.results[0]?.partitionEpoch).toBe(1);
    s.setNow(NOW_MS + LAG_MS + 1);
    fetchAt(s, live, 0);
    await waitFor(() => s.calls.length === 1, 'the leader to ask for the shrink');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(s.calls).toHaveLength(1);
    expect(s.view().isr).toEqual([s.leaderId, silent]);
    // The metadata arrives; the leader decides again on it, and this time the change commits.
    await s.sync();
    await waitFor(() => !s.view().isr.includes(silent), 'the shrink to commit on the new partition epoch');
    expect(s.calls[1]?.partitions[0]?.partitionEpoch).toBe(1);
  });
});
