/**
 * One caller waiting on the Raft host (a proposal, a read barrier, a membership change, a
 * leadership transfer): a promise that settles exactly once, with an optional deadline and an
 * optional AbortSignal. Settling clears the timer and detaches the signal, so a settled call holds
 * no timer or listener alive; the owner removes it from its own table through `onDone`.
 */
import { abortReason } from '../../metadata/abort.js';

export class Pending<T> {
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: Error) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #detachSignal: () => void = () => undefined;
  #settled = false;
  readonly #onDone: () => void;

  /** `onDone` runs once when the call settles for any reason (so the owner can forget it). */
  constructor(signal: AbortSignal | undefined, onDone: () => void) {
    this.#onDone = onDone;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal !== undefined) {
      const onAbort = (): void => this.reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      this.#detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Rejects with `error()` after `ms` unless settled first; a second call keeps the first deadline. */
  setDeadline(ms: number, error: () => Error): void {
    if (this.#settled || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.reject(error()), ms);
  }

  resolve(value: T): void {
    if (this.#finish()) this.#resolve(value);
  }

  reject(error: Error): void {
    if (this.#finish()) this.#reject(error);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#detachSignal();
    this.#onDone();
    return true;
  }
}
