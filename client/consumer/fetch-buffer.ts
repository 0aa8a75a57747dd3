/**
 * The consumer's buffer of fetched records, between the fetch loop (producer side) and the
 * iterators (consumer side). Credit-based, like nats.js pull consumers: the fetch loop asks
 * `hasCredit` before each fetch; once the buffer reaches its record or byte bound it stops, and it
 * starts again only when the buffer has drained below half, so fetches go out in healthy sizes
 * rather than one small fetch per consumed record.
 *
 * The bounds are soft by one response: a fetch in flight when the bound is reached still lands.
 */
import { abortReason } from '../signal.js';
import type { Message } from '../types.js';

/** What a fetched partition chunk needs from its partition's state. */
export interface ChunkOwner {
  /** Bumped by seek, pause and unassign: chunks of an older epoch are dropped, not delivered. */
  readonly epoch: number;
}

export interface Chunk {
  readonly owner: ChunkOwner;
  readonly epoch: number;
  readonly topic: string;
  readonly partition: number;
  readonly messages: Message[];
  /**
   * The offset after the fetched batches: past the last message, and past any control batches or
   * aborted records after it. The position moves here when the last message is handed out.
   */
  readonly endOffset: number;
  /** Next message to hand out. */
  index: number;
  readonly bytes: number;
  readonly highWatermark: number;
  /** Records and bytes of this chunk still counted against the buffer's bounds. */
  countedRecords: number;
  countedBytes: number;
}

/** A failure to surface to the reader in order, after the data fetched before it. */
export interface ErrorItem {
  readonly owner: ChunkOwner;
  readonly epoch: number;
  readonly error: Error;
}

export type BufferItem = Chunk | ErrorItem;

export function isChunk(item: BufferItem): item is Chunk {
  return 'messages' in item;
}

export interface FetchBufferOptions {
  readonly maxRecords: number;
  readonly maxBytes: number;
  /** Called when the buffer drains below half after having been full: fetch again. */
  readonly onCredit: () => void;
}

export class FetchBuffer {
  readonly #options: FetchBufferOptions;
  readonly #items: (BufferItem | undefined)[] = [];
  #head = 0;
  #records = 0;
  #bytes = 0;
  #throttled = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #wakePromise: Promise<void> | undefined;

  constructor(options: FetchBufferOptions) {
    this.#options = options;
  }

  get bufferedRecords(): number {
    return this.#records;
  }

  get bufferedBytes(): number {
    return this.#bytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether the fetch loop may fetch more. Applies the hysteresis: once full, no credit until the
   * buffer has drained below half.
   */
  canFetch(): boolean {
    const { maxRecords, maxBytes } = this.#options;
    if (this.#throttled) {
      if (this.#records < maxRecords / 2 && this.#bytes < maxBytes / 2) this.#throttled = false;
      else return false;
    }
    if (this.#records >= maxRecords || this.#bytes >= maxBytes) {
      this.#throttled = true;
      return false;
    }
    return true;
  }

  /** Bytes a new fetch may ask for without overshooting the byte bound by much. */
  get byteCredit(): number {
    return Math.max(0, this.#options.maxBytes - this.#bytes);
  }

  push(item: BufferItem): void {
    if (this.#closed) return;
    if (isChunk(item)) {
      if (item.messages.length === 0) return;
      item.countedRecords = item.messages.length;
      item.countedBytes = item.bytes;
      this.#records += item.countedRecords;
      this.#bytes += item.countedBytes;
    }
    this.#items.push(item);
    this.#signal();
  }

  /**
   * The next item, waiting until there is one. Resolves undefined once closed. Items of a stale
   * epoch are skipped (and released) here.
   */
  async take(signal?: AbortSignal): Promise<BufferItem | undefined> {
    for (;;) {
      while (this.#head < this.#items.length) {
        const item = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined;
        if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
          this.#items.splice(0, this.#head);
          this.#head = 0;
        }
        if (item.epoch === item.owner.epoch) return item;
        if (isChunk(item)) this.release(item);
      }
      if (this.#closed) return undefined;
      await this.#waitForItem(signal);
    }
  }

  /**
   * Returns the credit of `count` messages just handed out, so credit flows back record by record
   * rather than only when a whole chunk is done (which could hold back the next fetch).
   */
  consume(chunk: Chunk, count: number): void {
    const records = Math.min(count, chunk.countedRecords);
    const bytes = Math.min(chunk.countedBytes, Math.ceil((chunk.bytes * count) / chunk.messages.length));
    chunk.countedRecords -= records;
    chunk.countedBytes -= bytes;
    this.#records -= records;
    this.#bytes -= bytes;
    this.#checkCredit();
  }

  /** Returns a chunk's remaining credit: call when its messages were handed out (or dropped). */
  release(chunk: Chunk): void {
    this.#records -= chunk.countedRecords;
    this.#bytes -= chunk.countedBytes;
    chunk.countedRecords = 0;
    chunk.countedBytes = 0;
    this.#checkCredit();
  }

  #checkCredit(): void {
    if (this.#throttled && this.#records < this.#options.maxRecords / 2 && this.#bytes < this.#options.maxBytes / 2) {
      this.#options.onCredit();
    }
  }

  /**
   * Puts a partly handed-out chunk back at the front (a reader stopped in the middle of it), so
   * the next reader continues where it left off. Its credit stays counted.
   */
  putBack(chunk: Chunk): void {
    if (this.#closed) {
      this.release(chunk);
      return;
    }
    if (this.#head > 0) this.#items[--this.#head] = chunk;
    else this.#items.unshift(chunk);
    this.#signal();
  }

  /** Drops every buffered item of one owner (seek, pause), returning its credit. */
  dropOwner(owner: ChunkOwner): void {
    let kept = this.#head;
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (item.owner === owner) {
        if (isChunk(item)) this.release(item);
      } else {
        this.#items[kept++] = item;
      }
    }
    this.#items.length = kept;
  }

  /** Ends every waiting and future take(). */
  close(): void {
    this.#closed = true;
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (isChunk(item)) this.release(item);
    }
    this.#items.length = 0;
    this.#head = 0;
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    this.#wakePromise = undefined;
    wake?.();
  }

  #waitForItem(signal?: AbortSignal): Promise<void> {
    this.#wakePromise ??= new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    if (signal === undefined) return this.#wakePromise;
    if (signal.aborted) return Promise.reject(abortReason(signal));
    const wakePromise = this.#wakePromise;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      void wakePromise.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

