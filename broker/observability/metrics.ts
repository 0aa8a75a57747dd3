/**
 * The broker's Prometheus metrics, named the way users already alert on (reference/ecosystem.md
 * §3.1): a `streambus_` prefix, `_total` counters, `_seconds` and `_bytes` units, a latency
 * histogram per request, and low-cardinality labels (`topic`, `partition` only on partition gauges,
 * `request`, `code`, `listener`). Node's runtime metrics (event-loop lag, GC, heap) come from
 * prom-client's defaults under their usual `nodejs_` / `process_` names.
 *
 * Series                                             type       labels
 * streambus_bytes_in_total                           counter    topic
 * streambus_bytes_out_total                          counter    topic
 * streambus_records_in_total                         counter    topic
 * streambus_records_out_total                        counter    topic
 * streambus_request_latency_seconds                  histogram  request
 * streambus_request_errors_total                     counter    request, code (the error name)
 * streambus_connections_open                         gauge      listener
 * streambus_partition_log_start_offset               gauge      topic, partition
 * streambus_partition_log_end_offset                 gauge      topic, partition
 * streambus_partition_high_watermark                 gauge      topic, partition
 * streambus_partition_size_bytes                     gauge      topic, partition
 * streambus_partition_last_stable_offset             gauge      topic, partition (read_committed reads below it)
 * streambus_partition_producers                      gauge      topic, partition (producer ids with state kept)
 * streambus_build_info                               gauge      version, nodejs
 *
 * Replication (docs/metrics.md#replication), named after Kafka's ReplicaManager metrics:
 * streambus_partition_count                          gauge      (partitions this broker holds)
 * streambus_leader_count                             gauge      (partitions this broker leads)
 * streambus_partitions_under_replicated              gauge
 * streambus_partitions_under_min_isr                 gauge
 * streambus_partitions_offline                       gauge
 * streambus_isr_shrinks_total                        counter
 * streambus_isr_expands_total                        counter
 * streambus_replica_lag_offsets                      gauge      topic, partition (led partitions)
 * streambus_replica_lag_max_offsets                  gauge
 * streambus_replica_fetch_bytes_total                counter    leader
 * streambus_replica_fetch_records_total              counter    leader
 * streambus_replica_fetch_errors_total               counter    leader, code
 *
 * Partition and replication gauges are not stored here: on each scrape they are read through
 * callbacks the broker registers (setPartitionSource, setReplicationSource), so the log's and the
 * metadata's own state stay the only copies and a deleted partition disappears from the next scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BATCH_HEADER_BYTES, readBatchHeader } from '../../proto/record-batch/index.js';
import { ErrorCode, StreamBusError, errorName, type ErrorName } from '../../proto/errors.js';
import type { ReplicaFetchObserver } from '../replication/replica-fetcher.js';
import { IsrChangeCounter, summarizeReplication, type ReplicationSource, type ReplicationSummary } from './replication-metrics.js';

/** What the broker reports about one partition it hosts, read at scrape time. */
export interface PartitionStats {
  readonly topic: string;
  readonly partition: number;
  readonly logStartOffset: number;
  /** The next offset to be written. */
  readonly logEndOffset: number;
  /** Absent where the broker does not track one (not a leader). */
  readonly highWatermark?: number;
  readonly sizeBytes: number;
  /** Transactions: the offset read_committed consumers read below. */
  readonly lastStableOffset?: number;
  /** Idempotence: how many producer ids the partition keeps state for. */
  readonly producers?: number;
}

/** Must be cheap and synchronous: it runs on the event loop for every scrape. */
export type PartitionSource = () => Iterable<PartitionStats>;

export interface MetricsOptions {
  /** Default: a new registry (never prom-client's global one, so tests and embedded nodes stay apart). */
  readonly registry?: Registry;
  /** Default 'streambus_'. */
  readonly prefix?: string;
  /** Collect Node's runtime metrics. Default true. */
  readonly defaultMetrics?: boolean;
  /** Reported in streambus_build_info. */
  readonly version?: string;
}

export interface BrokerMetrics {
  readonly registry: Registry;
  /** Record-batch bytes accepted by produce, per topic. */
  readonly bytesIn: Counter<'topic'>;
  /** Record-batch bytes returned by fetch, per topic. */
  readonly bytesOut: Counter<'topic'>;
  readonly recordsIn: Counter<'topic'>;
  readonly recordsOut: Counter<'topic'>;
  /** From request decoded to response written, per API (`request`: produce, fetch, metadata...). */
  readonly requestLatency: Histogram<'request'>;
  /** Requests (or partitions of a request) answered with an error, by API and error name. */
  readonly requestErrors: Counter<'request' | 'code'>;
  readonly connectionsOpen: Gauge<'listener'>;
  /**
   * Starts timing one request. Call the returned function once, when the response is written, with
   * the error name if the request failed as a whole.
   */
  timeRequest(request: string): (error?: ErrorName) => void;
  /**
   * Records a request timed elsewhere; fits the native server's onRequestDone hook directly
   * (`onRequestDone: metrics.observeRequest`). The API name is lower-cased for the label
   * (PRODUCE → produce); undefined (an unknown API key) is reported as `unknown`.
   */
  readonly observeRequest: (api: string | undefined, durationMs: number, errorCode: number) => void;
  /** Sets where partition gauges come from; replaces an earlier source. Returns a function that removes it. */
  setPartitionSource(source: PartitionSource): () => void;
  /** Partitions of this broker whose ISR lost a member, as the followed metadata showed it. */
  readonly isrShrinks: Counter;
  /** Partitions of this broker whose ISR gained a member, as the followed metadata showed it. */
  readonly isrExpands: Counter;
  /**
   * Sets where the replication gauges come from and starts counting ISR shrinks and expands from
   * its metadata changes; replaces an earlier source. Returns a function that removes it (and
   * stops following its metadata).
   */
  setReplicationSource(source: ReplicationSource): () => void;
  /** Counts follower fetches (bytes, records, errors by leader); hand it to the ReplicaManager's fetchObserver. */
  readonly replicaFetchObserver: ReplicaFetchObserver;
  /** Drops a deleted topic's per-topic series so its label values stop being exported. */
  forgetTopic(topic: string): void;
  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string>;
}

/** Latency buckets from 0.5 ms to 30 s: produce with acks=all and fetch long polls sit at the top. */
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Creates the metrics of one broker in their own registry. */
export function createMetrics(options: MetricsOptions = {}): BrokerMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'streambus_';
  const registers = [registry];

  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    new Counter<L>({ name: `${prefix}${name}`, help, labelNames, registers });

  const bytesIn = counter('bytes_in_total', 'Record-batch bytes accepted by produce requests.', ['topic']);
  const bytesOut = counter('bytes_out_total', 'Record-batch bytes returned by fetch requests.', ['topic']);
  const recordsIn = counter('records_in_total', 'Records accepted by produce requests.', ['topic']);
  const recordsOut = counter('records_out_total', 'Records returned by fetch requests.', ['topic']);
  const requestErrors = counter('request_errors_total', 'Requests or partitions answered with an error code.', ['request', 'code']);
  const requestLatency = new Histogram<'request'>({
    name: `${prefix}request_latency_seconds`,
    help: 'Time from a request being decoded to its response being written.',
    labelNames: ['request'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const connectionsOpen = new Gauge<'listener'>({
    name: `${prefix}connections_open`,
    help: 'Client connections open now.',
    labelNames: ['listener'],
    registers,
  });

  let partitionSource: PartitionSource | undefined;
  const partitionGauge = (name: string, help: string, pick: (stats: PartitionStats) => number | undefined): void => {
    // A function (not an arrow) because prom-client calls collect with the gauge as `this`.
    new Gauge<'topic' | 'partition'>({
      name: `${prefix}partition_${name}`,
      help,
      labelNames: ['topic', 'partition'],
      registers,
      collect(this: Gauge<'topic' | 'partition'>) {
        this.reset();
        if (partitionSource === undefined) return;
        for (const stats of partitionSource()) {
          const value = pick(stats);
          if (value !== undefined) this.set({ topic: stats.topic, partition: String(stats.partition) }, value);
        }
      },
    });
  };
  partitionGauge('log_start_offset', 'First offset still in the partition log.', (s) => s.logStartOffset);
  partitionGauge('log_end_offset', 'Offset the next record appended to the partition will get.', (s) => s.logEndOffset);
  partitionGauge('high_watermark', 'Offset up to which records are replicated to every in-sync replica.', (s) => s.highWatermark);
  partitionGauge('size_bytes', 'Bytes of record batches stored for the partition.', (s) => s.sizeBytes);
  partitionGauge('last_stable_offset', 'Offset below which no transaction is open: what read_committed consumers may read.', (s) => s.lastStableOffset);
  partitionGauge('producers', 'Producer ids the partition keeps idempotence and transaction state for.', (s) => s.producers);

  const replication = replicationMetrics(prefix, registers);

  new Gauge<'version' | 'nodejs'>({
    name: `${prefix}build_info`,
    help: 'Always 1; labels say which StreamBus and Node.js versions run.',
    labelNames: ['version', 'nodejs'],
    registers,
  }).set({ version: options.version ?? 'unknown', nodejs: process.version }, 1);

  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  return {
    registry,
    bytesIn,
    bytesOut,
    recordsIn,
    recordsOut,
    requestLatency,
    requestErrors,
    connectionsOpen,
    timeRequest(request) {
      const end = requestLatency.startTimer({ request });
      let done = false;
      return (error) => {
        if (done) return;
        done = true;
        end();
        if (error !== undefined && error !== 'NONE') requestErrors.inc({ request, code: error });
      };
    },
    observeRequest: (api, durationMs, errorCode) => {
      const request = api === undefined ? 'unknown' : api.toLowerCase();
      requestLatency.observe({ request }, durationMs / 1000);
      if (errorCode !== ErrorCode.NONE) requestErrors.inc({ request, code: errorName(errorCode) });
    },
    setPartitionSource(source) {
      partitionSource = source;
      return () => {
        if (partitionSource === source) partitionSource = undefined;
      };
    },
    isrShrinks: replication.isrShrinks,
    isrExpands: replication.isrExpands,
    setReplicationSource: replication.setSource,
    replicaFetchObserver: replication.fetchObserver,
    forgetTopic(topic) {
      for (const metric of [bytesIn, bytesOut, recordsIn, recordsOut]) metric.remove({ topic });
    },
    scrape: () => registry.metrics(),
  };
}

interface ReplicationMetrics {
  readonly isrShrinks: Counter;
  readonly isrExpands: Counter;
  readonly setSource: (source: ReplicationSource) => () => void;
  readonly fetchObserver: ReplicaFetchObserver;
}

/** Registers the replication series (see the file comment) and returns what the broker feeds. */
function replicationMetrics(prefix: string, registers: Registry[]): ReplicationMetrics {
  let source: ReplicationSource | undefined;
  let stopCounting: (() => void) | undefined;
  // Seven gauges read the same summary in one scrape: it is computed once, by the first of them,
  // and dropped when the event loop next turns. prom-client's registry.metrics() starts every
  // metric's collect() in one synchronous pass, so a scrape never sees two summaries.
  let cached: ReplicationSummary | undefined;
  const summary = (): ReplicationSummary | undefined => {
    if (source === undefined) return undefined;
    if (cached === undefined) {
      const current = source;
      cached = summarizeReplication(current.nodeId, current.topics(), current.replicationStatus(), (topic) => current.minInsyncReplicas(topic));
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };

  const countGauge = (name: string, help: string, pick: (s: ReplicationSummary) => number): void => {
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers,
      collect(this: Gauge) {
        this.reset();
        const current = summary();
        if (current !== undefined) this.set(pick(current));
      },
    });
  };
  countGauge('partition_count', 'Partitions this broker holds a replica of (Kafka PartitionCount).', (s) => s.partitionCount);
  countGauge('leader_count', 'Partitions this broker leads (Kafka LeaderCount).', (s) => s.leaderCount);
  countGauge(
    'partitions_under_replicated',
    'Partitions this broker leads whose in-sync replica set is smaller than their replica set (Kafka UnderReplicatedPartitions).',
    (s) => s.underReplicated,
  );
  countGauge(
    'partitions_under_min_isr',
    'Partitions this broker leads with fewer in-sync replicas than min.insync.replicas: acks=all produce is refused (Kafka UnderMinIsrPartitionCount).',
    (s) => s.underMinIsr,
  );
  countGauge('partitions_offline', 'Partitions this broker holds that have no leader in the metadata (Kafka OfflinePartitionsCount).', (s) => s.offline);
  countGauge('replica_lag_max_offsets', 'The largest replica lag over the partitions this broker leads, in offsets.', (s) => s.maxLagOffsets);
  new Gauge<'topic' | 'partition'>({
    name: `${prefix}replica_lag_offsets`,
    help: "How far the furthest-behind follower's log end is below the leader's, per partition this broker leads, in offsets.",
    labelNames: ['topic', 'partition'],
    registers,
    collect(this: Gauge<'topic' | 'partition'>) {
      this.reset();
      for (const lag of summary()?.lag ?? []) this.set({ topic: lag.topic, partition: String(lag.partition) }, lag.lagOffsets);
    },
  });

  const isrShrinks = new Counter({
    name: `${prefix}isr_shrinks_total`,
    help: 'Partitions this broker leads whose in-sync replica set lost a member, as the followed metadata showed it (Kafka IsrShrinksPerSec).',
    registers,
  });
  const isrExpands = new Counter({
    name: `${prefix}isr_expands_total`,
    help: 'Partitions this broker leads whose in-sync replica set gained a member, as the followed metadata showed it (Kafka IsrExpandsPerSec).',
    registers,
  });
  const fetchBytes = new Counter<'leader'>({
    name: `${prefix}replica_fetch_bytes_total`,
    help: 'Record-batch bytes this broker fetched as a follower, by the leader it fetched from.',
    labelNames: ['leader'],
    registers,
  });
  const fetchRecords = new Counter<'leader'>({
    name: `${prefix}replica_fetch_records_total`,
    help: 'Records this broker fetched as a follower, by the leader it fetched from.',
    labelNames: ['leader'],
    registers,
  });
  const fetchErrors = new Counter<'leader' | 'code'>({
    name: `${prefix}replica_fetch_errors_total`,
    help: 'Follower fetches (or partitions of one) that failed, by leader and error name.',
    labelNames: ['leader', 'code'],
    registers,
  });

  return {
    isrShrinks,
    isrExpands,
    setSource(next) {
      stopCounting?.();
      source = next;
      cached = undefined;
      const counter = new IsrChangeCounter(next.nodeId);
      counter.observe(next.topics());
      const unsubscribe = next.onMetadataChange(() => {
        const { shrinks, expands } = counter.observe(next.topics());
        if (shrinks > 0) isrShrinks.inc(shrinks);
        if (expands > 0) isrExpands.inc(expands);
      });
      const stop = (): void => {
        unsubscribe();
        if (stopCounting === stop) stopCounting = undefined;
      };
      stopCounting = stop;
      return () => {
        if (source !== next) return;
        stop();
        source = undefined;
        cached = undefined;
      };
    },
    fetchObserver: {
      fetched(leaderId, batches) {
        const leader = String(leaderId);
        fetchBytes.inc({ leader }, batches.length);
        const records = recordCount(batches);
        if (records > 0) fetchRecords.inc({ leader }, records);
      },
      failed(leaderId, error) {
        const code = error instanceof StreamBusError ? error.codeName : errorName(ErrorCode.UNKNOWN_SERVER_ERROR);
        fetchErrors.inc({ leader: String(leaderId), code });
      },
    },
  };
}

/** Records in a run of whole v2 batches, read from their headers; a torn tail is not counted. */
function recordCount(batches: Buffer): number {
  let records = 0;
  for (let position = 0; batches.length - position >= BATCH_HEADER_BYTES; ) {
    const header = readBatchHeader(batches, position);
    if (header.sizeBytes < BATCH_HEADER_BYTES || position + header.sizeBytes > batches.length) break;
    records += Math.max(0, header.recordCount);
    position += header.sizeBytes;
  }
  return records;
}
