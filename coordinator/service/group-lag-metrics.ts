/**
 * Consumer group lag on the coordinator's /metrics, under the names kafka_exporter users already
 * alert on, so their dashboards and rules work unchanged:
 *
 * Series                                         type    labels
 * kafka_consumergroup_current_offset             gauge   consumergroup, topic, partition
 * kafka_consumergroup_lag                        gauge   consumergroup, topic, partition
 * kafka_consumergroup_lag_sum                    gauge   consumergroup, topic
 * kafka_consumergroup_members                    gauge   consumergroup
 * kafka_consumergroup_lag_seconds                gauge   consumergroup, topic, partition
 * kafka_topic_partition_current_offset           gauge   topic, partition
 *
 * kafka_consumergroup_lag_seconds is ours (kafka_exporter has no time lag): the age of the oldest
 * unconsumed record (client/group/group-lag.ts explains why age, not offsets, is what to alert on).
 *
 * Where the numbers come from. Committed offsets and members are in the applied metadata state
 * (every coordinator node has them; members are those of the last completed rebalance). End
 * offsets and record timestamps are the brokers': a refresh asks them with ListOffsets, and reads
 * the first unconsumed record of each lagging partition with one small fetch.
 *
 * When: on a bounded timer (refreshIntervalMs, default 15 s), not on each scrape. A scrape then
 * never waits on brokers, and the load on brokers is one round per interval however many
 * Prometheus servers scrape (two in an HA pair, plus people's curl): a refresh costs a ListOffsets
 * per partition leader and a fetch per lagging partition, too much to repeat per scrape on a big
 * cluster. The price is staleness of at most one interval, below a usual alert `for:` clause.
 * Only the coordinator leader refreshes and exports these series: every node has the same state,
 * and three copies of one group's lag would fire every alert three times.
 */
import { Gauge, type Registry } from 'prom-client';
import { StreamBus, partitionLag, type PartitionLag } from '../../client/index.js';
import type { MetadataStateView } from '../metadata/state.js';

/** One group as the metrics see it: its stored members and committed offsets. */
export interface LagGroupInput {
  readonly groupId: string;
  readonly members: number;
  readonly offsets: readonly { readonly topic: string; readonly partition: number; readonly offset: number }[];
}

/** What the brokers said: each partition's log start and end, and record timestamps at offsets. */
export interface PartitionLogs {
  /** partitionKey(topic, partition) → the log's start and end offsets. */
  readonly logs: ReadonlyMap<string, { readonly start: number; readonly end: number }>;
  /** offsetKey(topic, partition, offset) → the timestamp of the record at that offset, when read. */
  readonly timestamps: ReadonlyMap<string, number>;
}

/** Reads partitions' log ends, and the timestamp of the record at each given offset. */
export interface PartitionLogReader {
  read(partitions: readonly { readonly topic: string; readonly partition: number; readonly offset: number }[], signal: AbortSignal): Promise<PartitionLogs>;
  close(): Promise<void>;
}

export interface GroupLagMetricsOptions {
  readonly registry: Registry;
  readonly state: () => MetadataStateView;
  readonly isLeader: () => boolean;
  /** Default: a client of the brokers registered in the metadata state (brokerLogReader). */
  readonly reader?: PartitionLogReader;
  /** Default 15 000. */
  readonly refreshIntervalMs?: number;
  readonly now?: () => number;
}

/** The series of one refresh. */
export interface LagSnapshot {
  readonly groups: readonly { readonly groupId: string; readonly members: number; readonly partitions: readonly PartitionLag[] }[];
  readonly ends: ReadonlyMap<string, { readonly topic: string; readonly partition: number; readonly end: number }>;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
export const offsetKey = (topic: string, partition: number, offset: number): string => `${topic}\u0000${partition}\u0000${offset}`;
/** Distinct offsets of one partition read for timestamps per refresh; more groups there get an unknown age. */
const TIMESTAMP_ROUNDS_MAX = 4;

/** The groups of the applied state, with stored member counts and committed offsets. Pure. */
export function lagInputs(state: MetadataStateView): LagGroupInput[] {
  return state.groups.groups().map((g) => ({
    groupId: g.groupId,
    members: g.metadata?.members.length ?? 0,
    offsets: g.offsets.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset }))),
  }));
}

/** Combines committed offsets with what the brokers said into per-partition lag. Pure. */
export function lagSnapshot(groups: readonly LagGroupInput[], read: PartitionLogs, nowMs: number): LagSnapshot {
  const ends = new Map<string, { topic: string; partition: number; end: number }>();
  const out = groups.map((g) => ({
    groupId: g.groupId,
    members: g.members,
    partitions: g.offsets.flatMap((o) => {
      const log = read.logs.get(partitionKey(o.topic, o.partition));
      if (log === undefined) return [];
      ends.set(partitionKey(o.topic, o.partition), { topic: o.topic, partition: o.partition, end: log.end });
      const timestampMs = read.timestamps.get(offsetKey(o.topic, o.partition, Math.max(o.offset, log.start)));
      return [partitionLag({ topic: o.topic, partition: o.partition, committed: o.offset, start: log.start, end: log.end, oldestUnconsumedTimestampMs: timestampMs }, nowMs)];
    }),
  }));
  return { groups: out, ends };
}

export class GroupLagMetrics {
  readonly #options: GroupLagMetricsOptions;
  readonly #reader: PartitionLogReader;
  #snapshot: LagSnapshot = { groups: [], ends: new Map() };
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | undefined;
  readonly #stop = new AbortController();

  constructor(options: GroupLagMetricsOptions) {
    this.#options = options;
    this.#reader = options.reader ?? brokerLogReader(options.state);
    const registers = [options.registry];
    const snapshot = (): LagSnapshot | undefined => (options.isLeader() ? this.#snapshot : undefined);
    const perPartition = (name: string, help: string, value: (p: PartitionLag) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['consumergroup', 'topic', 'partition'],
        registers,
        collect() {
          this.reset();
          for (const g of snapshot()?.groups ?? []) {
            for (const p of g.partitions) {
              const v = value(p);
              if (v !== undefined) this.set({ consumergroup: g.groupId, topic: p.topic, partition: String(p.partition) }, v);
            }
          }
        },
      });
    };
    perPartition('kafka_consumergroup_current_offset', 'The group\'s committed offset of the partition.', (p) => p.committed);
    perPartition('kafka_consumergroup_lag', 'Records of the partition the group has not consumed (end offset - committed offset).', (p) => p.lag);
    perPartition('kafka_consumergroup_lag_seconds', 'Age in seconds of the oldest record of the partition the group has not consumed; 0 without lag.', (p) => p.lagSeconds);
    new Gauge({
      name: 'kafka_consumergroup_lag_sum',
      help: 'Records of the topic the group has not consumed, over its partitions.',
      labelNames: ['consumergroup', 'topic'],
      registers,
      collect() {
        this.reset();
        for (const g of snapshot()?.groups ?? []) {
          const sums = new Map<string, number>();
          for (const p of g.partitions) sums.set(p.topic, (sums.get(p.topic) ?? 0) + p.lag);
          for (const [topic, sum] of sums) this.set({ consumergroup: g.groupId, topic }, sum);
        }
      },
    });
    new Gauge({
      name: 'kafka_consumergroup_members',
      help: 'Members of the group as of its last completed rebalance.',
      labelNames: ['consumergroup'],
      registers,
      collect() {
        this.reset();
        for (const g of snapshot()?.groups ?? []) this.set({ consumergroup: g.groupId }, g.members);
      },
    });
    new Gauge({
      name: 'kafka_topic_partition_current_offset',
      help: 'The partition\'s end offset (high watermark), for partitions some group has an offset for.',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const e of snapshot()?.ends.values() ?? []) this.set({ topic: e.topic, partition: String(e.partition) }, e.end);
      },
    });
  }

  /** The last refresh's numbers. */
  get snapshot(): LagSnapshot {
    return this.#snapshot;
  }

  /** Refreshes every refreshIntervalMs while this node leads. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.refresh().catch(() => undefined), this.#options.refreshIntervalMs ?? 15_000);
    this.#timer.unref();
  }

  /** One refresh now (single-flight: a refresh in progress is shared). Does nothing on a follower. */
  refresh(): Promise<void> {
    if (!this.#options.isLeader()) return Promise.resolve();
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    await this.#refreshing?.catch(() => undefined);
    await this.#reader.close();
  }

  async #refresh(): Promise<void> {
    const groups = lagInputs(this.#options.state());
    const wanted = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const g of groups) for (const o of g.offsets) wanted.set(offsetKey(o.topic, o.partition, o.offset), o);
    if (wanted.size === 0) {
      this.#snapshot = { groups: groups.map((g) => ({ groupId: g.groupId, members: g.members, partitions: [] })), ends: new Map() };
      return;
    }
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(10_000)]);
    const logs = await this.#reader.read([...wanted.values()], signal);
    this.#snapshot = lagSnapshot(groups, logs, (this.#options.now ?? Date.now)());
  }
}

/**
 * A PartitionLogReader over the client library, bootstrapped from the brokers registered in the
 * metadata state (their native listeners). The client is made on first use and remade when the
 * broker set changes. Timestamps are read with small fetches, one round per distinct committed
 * offset of a partition (groups at the same offset share one read), at most TIMESTAMP_ROUNDS_MAX.
 */
export function brokerLogReader(state: () => MetadataStateView): PartitionLogReader {
  let client: StreamBus | undefined;
  let bootstrap = '';
  const clientFor = async (): Promise<StreamBus | undefined> => {
    const brokers = state()
      .brokers()
      .filter((b) => !b.fenced)
      .map((b) => `${b.host}:${b.port}`)
      .sort();
    const key = brokers.join(',');
    if (client !== undefined && key === bootstrap) return client;
    await client?.close();
    client = undefined;
    bootstrap = key;
    if (brokers.length === 0) return undefined;
    client = new StreamBus({ brokers, clientId: 'streambus-coordinator-lag', requestTimeoutMs: 5_000 });
    return client;
  };
  return {
    async read(partitions, signal) {
      const logs = new Map<string, { start: number; end: number }>();
      const timestamps = new Map<string, number>();
      const bus = await clientFor();
      if (bus === undefined) return { logs, timestamps };
      const admin = bus.admin();
      const byTopic = new Map<string, Map<number, number[]>>();
      for (const p of partitions) {
        const topic = byTopic.get(p.topic) ?? new Map<number, number[]>();
        topic.set(p.partition, [...(topic.get(p.partition) ?? []), p.offset]);
        byTopic.set(p.topic, topic);
      }
      // Per topic, so one deleted topic does not hide the others' answers.
      await Promise.all(
        [...byTopic].map(async ([topic, list]) => {
          const queries = [...list.keys()].map((partition) => ({ topic, partition }));
          const [starts, ends] = await Promise.all([
            admin.listOffsets(queries.map((q) => ({ ...q, at: 'earliest' as const })), { signal }).catch(() => []),
            admin.listOffsets(queries.map((q) => ({ ...q, at: 'latest' as const })), { signal }).catch(() => []),
          ]);
          const startOf = new Map(starts.map((a) => [a.partition, a.offset]));
          for (const e of ends) logs.set(partitionKey(topic, e.partition), { start: startOf.get(e.partition) ?? 0, end: e.offset });
        }),
      );
      // The offsets whose record timestamps are wanted: lagging ones, per partition ascending.
      const rounds: { topic: string; partition: number; offset: number }[][] = [];
      for (const [topic, list] of byTopic) {
        for (const [partition, offsets] of list) {
          const log = logs.get(partitionKey(topic, partition));
          if (log === undefined) continue;
          const lagging = [...new Set(offsets.map((o) => Math.max(o, log.start)))].filter((o) => o < log.end).sort((a, b) => a - b);
          lagging.slice(0, TIMESTAMP_ROUNDS_MAX).forEach((offset, i) => (rounds[i] ??= []).push({ topic, partition, offset }));
        }
      }
      for (const round of rounds) {
        const consumer = bus.consumer({ maxWaitMs: 50, maxPartitionBytes: 64 * 1024, maxBufferedRecords: round.length * 4 });
        consumer.assign(round);
        const wanted = new Map(round.map((r) => [partitionKey(r.topic, r.partition), r.offset]));
        let found = 0;
        try {
          for await (const m of consumer.messages({ signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]) })) {
            const offset = wanted.get(partitionKey(m.topic, m.partition));
            if (offset === undefined) continue;
            wanted.delete(partitionKey(m.topic, m.partition));
            timestamps.set(offsetKey(m.topic, m.partition, offset), m.timestamp);
            if (++found === round.length) break;
          }
        } catch {
          // The deadline: offsets that gave no record keep an unknown age.
        } finally {
          await consumer.close();
        }
      }
      return { logs, timestamps };
    },
    async close() {
      await client?.close();
      client = undefined;
    },
  };
}
