/**
 * Waits until any of a set of partitions gets new data, a deadline passes, or the request is
 * abandoned: the "purgatory" of a long-poll fetch.
 *
 * Ordering rule: the waiter subscribes BEFORE the fetch reads the logs. An append that lands
 * between the read and the wait then still wakes the fetch; subscribing after the read would let
 * that append slip by and the fetch would sleep for its whole max wait with data available.
 */
import type { PartitionLog } from '../log/index.js';

export class AppendWaiter {
  #fired = false;
  #wake: (() => void) | undefined;
  readonly #unsubscribes: (() => void)[] = [];

  /**
   * `event`: what wakes the wait. Consumers wait for the high watermark to advance; a follower's
   * fetch waits for the log end (it reads up to it).
   */
  constructor(logs: Iterable<PartitionLog>, event: 'highWatermark' | 'logEnd' = 'highWatermark') {
    const onEvent = (): void => {
      this.#fired = true;
      this.#wake?.();
    };
    for (const log of logs) {
      this.#unsubscribes.push(event === 'logEnd' ? log.onLogEnd(onEvent) : log.onAppend(onEvent));
    }
  }

  /** Resolves true when an append happened since construction (or the last wait), false on timeout or abort. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.#fired) {
      this.#fired = false;
      return Promise.resolve(true);
    }
    if (timeoutMs <= 0 || signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (appended: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#wake = undefined;
        this.#fired = false;
        resolve(appended);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => finish(true);
    });
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribes) unsubscribe();
    this.#unsubscribes.length = 0;
    this.#wake = undefined;
  }
}
