/**
 * Fixed-rate pacing for the latency workloads, shared by the native benchmark and the peer
 * comparison so every system is driven by exactly the same generator.
 */

export interface PaceOptions {
  /** How many sends in all. */
  readonly total: number;
  readonly ratePerSecond: number;
  /** The intended time of send 0, on the performance.now() timeline. */
  readonly startMs: number;
}

/**
 * Calls `send(index, intendedMs)` for index 0..total-1, where send i is intended at
 * startMs + i / rate. A timer wakes about every millisecond and makes every send whose intended
 * time has come, so a stall (GC, a busy event loop) delays the generator's timeline and the
 * latecomers go out together: a caller that measures from `intendedMs` charges the stall to every
 * record it held back (no coordinated omission). Resolves after the last send.
 */
export function paceSends(options: PaceOptions, send: (index: number, intendedMs: number) => void): Promise<void> {
  const { total, startMs } = options;
  const intervalMs = 1000 / options.ratePerSecond;
  let next = 0;
  return new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (next < total && startMs + next * intervalMs <= now) {
        const index = next++;
        send(index, startMs + index * intervalMs);
      }
      if (next >= total) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, startMs + next * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, startMs - performance.now()));
  });
}
