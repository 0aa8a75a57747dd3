/**
 * "Did you mean" for mistyped names (config keys, commands, options). Pure.
 */

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  // Three rolling rows are enough for the optimal-string-alignment variant.
  let beforePrevious = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i += 1) {
    current[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, beforePrevious[j - 2]! + 1);
      }
      current[j] = best;
    }
    [beforePrevious, previous, current] = [previous, current, beforePrevious];
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `input`, or undefined when nothing is close enough to be a plausible
 * typo. A case-insensitive exact match wins; then a candidate that ends with the input at a
 * word boundary (retention.ms → log.retention.ms); then the smallest edit distance within a
 * limit that grows with the length of the input.
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const lowered = input.toLowerCase();
  const list = [...candidates];
  const exact = list.find((c) => c.toLowerCase() === lowered);
  if (exact !== undefined) return exact;
  const suffix = list.find((c) => c.endsWith(`.${lowered}`) || c.endsWith(` ${lowered}`));
  if (suffix !== undefined && lowered.length >= 3) return suffix;
  const limit = Math.max(2, Math.floor(lowered.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of list) {
    const distance = editDistance(lowered, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
