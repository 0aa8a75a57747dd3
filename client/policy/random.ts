/**
 * Random sources for the client's policies.
 *
 * Policies never call Math.random: the shell passes a `Random` in, so a test (or a simulation)
 * passes a seeded one and gets the same jitter and partition choices on every run.
 */

/** Returns a float in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * A small, fast, seeded generator (mulberry32). Not for cryptography: its only jobs are jitter and
 * spreading sticky partitions, where reproducibility under a seed matters more than quality.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** An integer in [0, bound), bound > 0. */
export function randomInt(random: Random, bound: number): number {
  return Math.floor(random() * bound) % bound;
}
