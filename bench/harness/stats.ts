/**
 * Latency percentiles and run-to-run summaries for the benchmark reports.
 */

/** Percentiles of one latency sample, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/**
 * Summarizes the first `count` values of `samples` (sorted in place). Nearest-rank percentiles:
 * p99 of 1000 values is the 990th smallest, so a reported p99 is a latency some record really had.
 */
export function summarizeLatencies(samples: Float64Array, count: number): LatencySummary {
  if (count === 0) return { count: 0, p50Ms: Number.NaN, p99Ms: Number.NaN, p999Ms: Number.NaN, maxMs: Number.NaN, meanMs: Number.NaN };
  const sorted = samples.subarray(0, count).sort();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i]!;
  return {
    count,
    p50Ms: nearestRank(sorted, 0.5),
    p99Ms: nearestRank(sorted, 0.99),
    p999Ms: nearestRank(sorted, 0.999),
    maxMs: sorted[count - 1]!,
    meanMs: sum / count,
  };
}

function nearestRank(sorted: Float64Array, quantile: number): number {
  const rank = Math.ceil(quantile * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Median of a list of numbers (NaN for an empty list); the mean of the middle two for even lengths. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Nearest-rank quantiles (each in 0..1; 1 is the maximum) of the first `count` values of
 * `samples`, sorted in place; NaN for each when count is 0. For percentile curves in plots.
 */
export function quantilesOf(samples: Float64Array, count: number, quantiles: readonly number[]): number[] {
  if (count === 0) return quantiles.map(() => Number.NaN);
  const sorted = samples.subarray(0, count).sort();
  return quantiles.map((q) => nearestRank(sorted, q));
}
