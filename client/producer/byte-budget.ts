/**
 * The producer's memory bound (bufferBytes): records hold budget from send() until their batch
 * completes. When the budget is spent, send() waits in FIFO order until completions free enough,
 * or fails after maxBlockMs. FIFO, with no barging: a small record arriving after a waiting large
 * one queues behind it, so large records are never starved.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { abortReason } from '../signal.js';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly cleanup: () => void;
}

export class ByteBudget {
  readonly limitBytes: number;
  #usedBytes = 0;
  readonly #waiters: Waiter[] = [];

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes `bytes` now if they fit and nobody is waiting ahead. */
  tryAcquire(bytes: number): boolean {
    if (this.#waiters.length > 0 || this.#usedBytes + bytes > this.limitBytes) return false;
    this.#usedBytes += bytes;
    return true;
  }

  /**
   * Takes `bytes`, waiting for space. Rejects with REQUEST_TIMED_OUT after timeoutMs, or with the
   * signal's reason when aborted; on rejection nothing is held.
   */
  acquire(bytes: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire(bytes)) return Promise.resolve();
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#remove(waiter);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        this.#remove(waiter);
        reject(
          new StreamBusError(
            ErrorCode.REQUEST_TIMED_OUT,
            `the producer buffer (${this.limitBytes} bytes) stayed full for ${timeoutMs} ms: records are produced faster than the cluster acknowledges them`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.#usedBytes = Math.max(0, this.#usedBytes - bytes);
    this.#grant();
  }

  /** Rejects every waiter (the producer is closing). */
  failAll(error: Error): void {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) {
      waiter.cleanup();
      waiter.reject(error);
    }
  }

  #grant(): void {
    while (this.#waiters.length > 0) {
      const head = this.#waiters[0]!;
      if (this.#usedBytes + head.bytes > this.limitBytes) return;
      this.#waiters.shift();
      this.#usedBytes += head.bytes;
      head.cleanup();
      head.resolve();
    }
  }

  #remove(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
    waiter.cleanup();
    // The removed waiter may have been blocking smaller ones behind it.
    this.#grant();
  }
}
