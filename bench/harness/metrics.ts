/**
 * The server's own view of request latency, from its Prometheus histogram
 * (streambus_request_latency_seconds on the admin port). Diffing two scrapes gives the latency
 * distribution of the requests served in between, which splits an end-to-end figure into the
 * server's share and the rest (client, network, scheduling).
 */

/** Cumulative bucket counts of one request kind: upper bound in seconds → count. */
export type HistogramSnapshot = ReadonlyMap<number, number>;

export interface MetricsSnapshot {
  /** Produce request latency buckets. */
  readonly produce: HistogramSnapshot;
  /**
   * The server's event-loop delay since the previous scrape (prom-client resets its
   * monitorEventLoopDelay histogram on every scrape), in ms: p99 and max.
   */
  readonly eventLoopDelay: { readonly p99Ms: number; readonly maxMs: number };
}

const BUCKET_LINE = /^streambus_request_latency_seconds_bucket\{(.*)\}\s+([0-9.eE+-]+)$/;
/** prom-client samples event-loop delay with a 10 ms timer and reports the timer's full interval. */
const EVENT_LOOP_RESOLUTION_MS = 10;

/** Scrapes the admin port once; empty figures when it does not answer. */
export async function scrapeMetrics(adminUrl: string): Promise<MetricsSnapshot> {
  let text = '';
  try {
    const response = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (response.ok) text = await response.text();
  } catch {
    // Leave the figures empty: the run's own numbers still stand.
  }
  const gauge = (name: string): number => {
    const match = new RegExp(`^${name}\\s+([0-9.eE+-]+)$`, 'm').exec(text);
    return match === null ? Number.NaN : Math.max(0, Number(match[1]) * 1000 - EVENT_LOOP_RESOLUTION_MS);
  };
  return {
    produce: parseRequestLatency(text, 'produce'),
    eventLoopDelay: { p99Ms: gauge('nodejs_eventloop_lag_p99_seconds'), maxMs: gauge('nodejs_eventloop_lag_max_seconds') },
  };
}

/** The histogram buckets of `request` (e.g. "produce") in a Prometheus text exposition. */
export function parseRequestLatency(text: string, request: string): HistogramSnapshot {
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    const match = BUCKET_LINE.exec(line);
    if (match === null) continue;
    const labels = match[1]!;
    if (!labels.includes(`request="${request}"`)) continue;
    const le = /le="([^"]+)"/.exec(labels)?.[1];
    if (le === undefined) continue;
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(match[2]));
  }
  return buckets;
}

/** Requests served between two scrapes, with bucket-bound percentiles (ms). */
export interface ServerLatency {
  readonly requests: number;
  /** The upper bound of the bucket holding the median: "p50 ≤ this". */
  readonly p50AtMostMs: number;
  readonly p99AtMostMs: number;
}

export function diffRequestLatency(before: HistogramSnapshot, after: HistogramSnapshot): ServerLatency | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  if (bounds.length === 0) return undefined;
  const counts = bounds.map((bound) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0));
  const total = counts[counts.length - 1]!;
  if (total <= 0) return undefined;
  const atMost = (quantile: number): number => {
    const rank = Math.ceil(quantile * total);
    const index = counts.findIndex((count) => count >= rank);
    return bounds[index]! * 1000;
  };
  return { requests: total, p50AtMostMs: atMost(0.5), p99AtMostMs: atMost(0.99) };
}
