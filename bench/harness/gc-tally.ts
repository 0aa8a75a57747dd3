/**
 * Counts garbage collections and their main-thread pause time by kind, from `gc` performance
 * entries. V8's concurrent marking on helper threads is not in these pauses: it shows as CPU of
 * the process's other threads.
 */
import { constants, type PerformanceEntry } from 'node:perf_hooks';

export interface GcKindTally {
  readonly count: number;
  readonly pauseMs: number;
  readonly maxPauseMs: number;
}

export interface GcSummary {
  readonly seconds: number;
  readonly minor: GcKindTally;
  readonly major: GcKindTally;
  readonly incremental: GcKindTally;
  readonly weakCallbacks: GcKindTally;
}

export class GcTally {
  #startedAt = performance.now();
  readonly #kinds = new Map<number, { count: number; pauseMs: number; maxPauseMs: number }>();

  start(): void {
    this.#startedAt = performance.now();
    this.#kinds.clear();
  }

  add(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      const kind = ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind) ?? 0;
      const tally = this.#kinds.get(kind) ?? { count: 0, pauseMs: 0, maxPauseMs: 0 };
      tally.count++;
      tally.pauseMs += entry.duration;
      tally.maxPauseMs = Math.max(tally.maxPauseMs, entry.duration);
      this.#kinds.set(kind, tally);
    }
  }

  summary(): GcSummary {
    const of = (kind: number): GcKindTally => ({ ...(this.#kinds.get(kind) ?? { count: 0, pauseMs: 0, maxPauseMs: 0 }) });
    return {
      seconds: (performance.now() - this.#startedAt) / 1000,
      minor: of(constants.NODE_PERFORMANCE_GC_MINOR),
      major: of(constants.NODE_PERFORMANCE_GC_MAJOR),
      incremental: of(constants.NODE_PERFORMANCE_GC_INCREMENTAL),
      weakCallbacks: of(constants.NODE_PERFORMANCE_GC_WEAKCB),
    };
  }
}

/** One line: counts and pause time per kind, and pauses as a share of the window. */
export function formatGcSummary(summary: GcSummary): string {
  const total = summary.minor.pauseMs + summary.major.pauseMs + summary.incremental.pauseMs + summary.weakCallbacks.pauseMs;
  const part = (name: string, t: GcKindTally): string => `${t.count} ${name} (${t.pauseMs.toFixed(0)} ms, longest ${t.maxPauseMs.toFixed(1)} ms)`;
  return (
    `GC over ${summary.seconds.toFixed(1)} s: ${part('minor', summary.minor)}, ${part('major', summary.major)}, ` +
    `${part('incremental-marking steps', summary.incremental)}; main thread paused ${((total / 1000 / Math.max(summary.seconds, 1e-3)) * 100).toFixed(1)} % of the time`
  );
}
