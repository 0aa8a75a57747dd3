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
 * streambus_build_info                               gauge      version, nodejs
 *
 * Partition gauges are not stored here: on each scrape they are read through a callback the broker
 * registers (setPartitionSource), so the log's own state stays the only copy and a deleted
 * partition disappears from the next scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ErrorCode, errorName, type ErrorName } from '../../proto/errors.js';

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
    forgetTopic(topic) {
      for (const metric of [bytesIn, bytesOut, recordsIn, recordsOut]) metric.remove({ topic });
    },
    scrape: () => registry.metrics(),
  };
}
