/**
 * Callers waiting for one condition to come true (the broker unfenced, the metadata caught up):
 * each wait settles when the owner settles them all, or rejects with its signal's reason on abort.
 */
import { abortReason } from '../../coordinator/metadata/abort.js';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class Waiters {
  readonly #pending = new Set<Waiter>();

  /** A promise settled by the next resolveAll()/rejectAll(), or rejected when `signal` aborts. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(waiter);
        reject(abortReason(signal!));
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(waiter);
    });
  }

  resolveAll(): void {
    for (const waiter of this.#take()) waiter.resolve();
  }

  rejectAll(error: Error): void {
    for (const waiter of this.#take()) waiter.reject(error);
  }

  #take(): Waiter[] {
    const waiters = [...this.#pending];
    this.#pending.clear();
    return waiters;
  }
}
