import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { encodeRecordBatchSync } from '../../proto/record-batch/index.js';
import type { PartitionReplicationStatus } from '../replication/replica-manager.js';
import type { PartitionView, TopicView } from '../server/metadata-view.js';
import { createMetrics } from './metrics.js';
import { IsrChangeCounter, summarizeReplication, type ReplicationSource } from './replication-metrics.js';

const ME = 1;

function partition(p: number, leader: number, replicas: number[], isr: number[] = replicas): PartitionView {
  return { partition: p, leader, leaderEpoch: 0, replicas, isr };
}

function topic(name: string, partitions: PartitionView[], configs: Record<string, string> = {}, topicId = `id-${name}`): TopicView {
  return { name, topicId, partitions, configs };
}

function leaderStatus(topicName: string, p: number, logEndOffset: number, followerEnds: Record<number, number>): PartitionReplicationStatus {
  return {
    topic: topicName,
    partition: p,
    role: 'leader',
    leaderEpoch: 0,
    logEndOffset,
    highWatermark: logEndOffset,
    isr: [],
    followers: Object.entries(followerEnds).map(([id, end]) => ({ replicaId: Number(id), logEndOffset: end, lastFetchMs: 0, lastCaughtUpMs: 0 })),
    isrChanges: { shouldLeave: [], shouldJoin: [] },
    maxLagOffsets: 0,
  };
}

const minIsrOf = (t: TopicView): number => Number(t.configs['min.insync.replicas'] ?? '1');

describe('observability > replication summary', () => {
  it('counts held and led partitions, under-replicated, under min ISR and offline ones from the metadata', () => {
    const topics = [
      topic(
        'orders',
        [
          partition(0, ME, [1, 2, 3]), // led, healthy
          partition(1, ME, [1, 2, 3], [1, 2]), // led, under-replicated, at min ISR
          partition(2, ME, [1, 2, 3], [1]), // led, under-replicated, under min ISR
          partition(3, 2, [2, 1, 3], [2]), // followed: not counted as under-replicated here
          partition(4, -1, [3, 1, 2], []), // held, offline
          partition(5, 2, [2, 3, 4]), // not held
        ],
        { 'min.insync.replicas': '2' },
      ),
      topic('single', [partition(0, ME, [1])]),
    ];
    const summary = summarizeReplication(ME, topics, [], minIsrOf);
    expect(summary).toMatchObject({ partitionCount: 6, leaderCount: 4, underReplicated: 2, underMinIsr: 1, offline: 1 });
  });

  it('gives each led partition the lag of its furthest-behind follower, counting one that never fetched from 0', () => {
    const statuses = [
      leaderStatus('orders', 0, 100, { 2: 100, 3: 60 }),
      leaderStatus('orders', 1, 10, { 2: -1, 3: 10 }),
      leaderStatus('orders', 2, 5, { 2: 9 }), // a follower ahead of the leader's log end (a stale view) is no lag
      { ...leaderStatus('follows', 0, 50, {}), role: 'follower' as const },
      leaderStatus('single', 0, 7, {}), // no followers: nothing to lag
    ];
    const summary = summarizeReplication(ME, [], statuses, minIsrOf);
    expect(summary.lag).toEqual([
      { topic: 'orders', partition: 0, lagOffsets: 40 },
      { topic: 'orders', partition: 1, lagOffsets: 10 },
      { topic: 'orders', partition: 2, lagOffsets: 0 },
    ]);
    expect(summary.maxLagOffsets).toBe(40);
  });
});

describe('observability > ISR change counter', () => {
  it('counts nothing on its first look', () => {
    const counter = new IsrChangeCounter(ME);
    expect(counter.observe([topic('t', [partition(0, ME, [1, 2, 3], [1])])])).toEqual({ shrinks: 0, expands: 0 });
  });

  it('counts a shrink and an expand of a partition it keeps leading, one per partition whatever the members', () => {
    const counter = new IsrChangeCounter(ME);
    counter.observe([topic('t', [partition(0, ME, [1, 2, 3]), partition(1, ME, [1, 2, 3])])]);
    expect(counter.observe([topic('t', [partition(0, ME, [1, 2, 3], [1]), partition(1, ME, [1, 2, 3], [1, 3])])])).toEqual({ shrinks: 2, expands: 0 });
    expect(counter.observe([topic('t', [partition(0, ME, [1, 2, 3], [1, 2]), partition(1, ME, [1, 2, 3], [1, 3])])])).toEqual({ shrinks: 0, expands: 1 });
    // One member out, another in between two looks: both.
    expect(counter.observe([topic('t', [partition(0, ME, [1, 2, 3], [1, 3]), partition(1, ME, [1, 2, 3], [1, 3])])])).toEqual({ shrinks: 1, expands: 1 });
  });

  it('does not count ISR changes of partitions it did not lead before, or no longer leads', () => {
    const counter = new IsrChangeCounter(ME);
    counter.observe([topic('t', [partition(0, 2, [1, 2, 3]), partition(1, ME, [1, 2, 3])])]);
    // Partition 0: this broker becomes leader with a smaller ISR; partition 1: leadership moves away.
    expect(counter.observe([topic('t', [partition(0, ME, [1, 2, 3], [1]), partition(1, 2, [1, 2, 3], [2])])])).toEqual({ shrinks: 0, expands: 0 });
  });

  it('starts over for a topic deleted and re-created under the same name', () => {
    const counter = new IsrChangeCounter(ME);
    counter.observe([topic('t', [partition(0, ME, [1, 2, 3])], {}, 'old-id')]);
    expect(counter.observe([topic('t', [partition(0, ME, [1, 2, 3], [1])], {}, 'new-id')])).toEqual({ shrinks: 0, expands: 0 });
  });
});

/** A ReplicationSource whose metadata the test replaces, announcing each change as a broker's metadata view does. */
class TestSource implements ReplicationSource {
  readonly nodeId = ME;
  current: TopicView[];
  statuses: PartitionReplicationStatus[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(topics: TopicView[]) {
    this.current = topics;
  }

  topics(): Iterable<TopicView> {
    return this.current;
  }

  onMetadataChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  replicationStatus(): readonly PartitionReplicationStatus[] {
    return this.statuses;
  }

  minInsyncReplicas(t: TopicView): number {
    return minIsrOf(t);
  }

  change(topics: TopicView[]): void {
    this.current = topics;
    for (const listener of this.#listeners) listener();
  }

  get listeners(): number {
    return this.#listeners.size;
  }
}

describe('observability > replication metrics', () => {
  it('exports the replication gauges from the registered source on every scrape', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const source = new TestSource([
      topic('orders', [partition(0, ME, [1, 2, 3], [1, 2]), partition(1, 2, [2, 1, 3]), partition(2, -1, [3, 1, 2], [])], { 'min.insync.replicas': '3' }),
    ]);
    source.statuses = [leaderStatus('orders', 0, 30, { 2: 30, 3: 12 })];
    metrics.setReplicationSource(source);
    const text = await metrics.scrape();
    expect(text).toContain('streambus_partition_count 3');
    expect(text).toContain('streambus_leader_count 1');
    expect(text).toContain('streambus_partitions_under_replicated 1');
    expect(text).toContain('streambus_partitions_under_min_isr 1');
    expect(text).toContain('streambus_partitions_offline 1');
    expect(text).toContain('streambus_replica_lag_offsets{topic="orders",partition="0"} 18');
    expect(text).toContain('streambus_replica_lag_max_offsets 18');

    // The follower caught up: the next scrape reads the new state, not a cached one.
    source.statuses = [leaderStatus('orders', 0, 30, { 2: 30, 3: 30 })];
    await new Promise((resolve) => setImmediate(resolve));
    const next = await metrics.scrape();
    expect(next).toContain('streambus_replica_lag_offsets{topic="orders",partition="0"} 0');
    expect(next).toContain('streambus_replica_lag_max_offsets 0');
  });

  it('counts ISR shrinks and expands as the source announces metadata changes, until the source is removed', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const source = new TestSource([topic('orders', [partition(0, ME, [1, 2, 3])])]);
    const remove = metrics.setReplicationSource(source);
    source.change([topic('orders', [partition(0, ME, [1, 2, 3], [1, 2])])]);
    source.change([topic('orders', [partition(0, ME, [1, 2, 3], [1])])]);
    source.change([topic('orders', [partition(0, ME, [1, 2, 3], [1, 3])])]);
    const text = await metrics.scrape();
    expect(text).toContain('# TYPE streambus_isr_shrinks_total counter');
    expect(text).toContain('streambus_isr_shrinks_total 2');
    expect(text).toContain('streambus_isr_expands_total 1');

    remove();
    expect(source.listeners).toBe(0);
    source.change([topic('orders', [partition(0, ME, [1, 2, 3], [1])])]);
    const after = await metrics.scrape();
    expect(after).toContain('streambus_isr_shrinks_total 2');
    expect(after).toContain('streambus_leader_count 0');
  });

  it('follows only the latest source when a second one replaces the first', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const first = new TestSource([topic('a', [partition(0, ME, [1, 2])])]);
    const second = new TestSource([topic('b', [partition(0, ME, [1, 2]), partition(1, ME, [1, 2])])]);
    const removeFirst = metrics.setReplicationSource(first);
    metrics.setReplicationSource(second);
    expect(first.listeners).toBe(0);
    first.change([topic('a', [partition(0, ME, [1, 2], [1])])]);
    removeFirst(); // removing a replaced source leaves the current one alone
    const text = await metrics.scrape();
    expect(text).toContain('streambus_leader_count 2');
    expect(text).toContain('streambus_isr_shrinks_total 0');
    expect(second.listeners).toBe(1);
  });

  it('counts follower fetch bytes and records by leader, and failures by leader and error name', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const nowMs = 1_700_000_000_000;
    const batches = Buffer.concat([
      encodeRecordBatchSync({ records: [{ value: 'a' }, { value: 'b' }, { value: 'c' }], nowMs }),
      encodeRecordBatchSync({ records: [{ value: 'd' }], nowMs, baseOffset: 3 }),
    ]);
    const observer = metrics.replicaFetchObserver;
    observer.fetched(2, batches);
    observer.fetched(3, batches.subarray(0, batches.length - 5)); // a torn last batch: its records are not counted
    observer.failed(2, new StreamBusError(ErrorCode.FENCED_LEADER_EPOCH));
    observer.failed(2, new StreamBusError(ErrorCode.NETWORK_EXCEPTION));
    observer.failed(2, new StreamBusError(ErrorCode.NETWORK_EXCEPTION));
    observer.failed(3, new Error('socket hang up'));
    const text = await metrics.scrape();
    expect(text).toContain(`streambus_replica_fetch_bytes_total{leader="2"} ${batches.length}`);
    expect(text).toContain('streambus_replica_fetch_records_total{leader="2"} 4');
    expect(text).toContain(`streambus_replica_fetch_bytes_total{leader="3"} ${batches.length - 5}`);
    expect(text).toContain('streambus_replica_fetch_records_total{leader="3"} 3');
    expect(text).toContain('streambus_replica_fetch_errors_total{leader="2",code="FENCED_LEADER_EPOCH"} 1');
    expect(text).toContain('streambus_replica_fetch_errors_total{leader="2",code="NETWORK_EXCEPTION"} 2');
    expect(text).toContain('streambus_replica_fetch_errors_total{leader="3",code="UNKNOWN_SERVER_ERROR"} 1');
  });
});
