/**
 * An acks=all produce load from the native client, with a ledger of every record it sent, for
 * fault tests and the failover benchmark.
 *
 * Each record's value is "<id> <partition> <seq>": an id unique across the whole run, the
 * partition it was sent to (chosen by the load, round-robin) and its sequence number in that
 * partition (0, 1, 2, ... in send order, across every Load sharing the ledger). A reader can then
 * tell a lost record (acknowledged, absent), a duplicate (an id read twice: a retry of a request
 * whose answer was lost), a foreign record (an id never sent) and a reordering (sequence numbers
 * of a partition read out of order), without trusting anything the broker says.
 *
 * The ledger knows when each record was sent and acknowledged, so a test can wait for "the first
 * acknowledged write of a record sent after the kill" on a partition: a record sent after its
 * leader died can only have been written by the next leader.
 */
import type { Producer, ProducerOptions, StreamBus } from '../../../client/index.js';

export interface SentRecord {
  readonly partition: number;
  readonly seq: number;
  /** performance.now() when send() was called. */
  readonly sentAtMs: number;
}

interface DeliveryWatch {
  readonly partition: number;
  readonly sentAfterMs: number;
  readonly resolve: (ackedAtMs: number) => void;
}

/** Everything sent to one topic, shared by the loads that write to it one after another. */
export class Ledger {
  readonly sent = new Map<string, SentRecord>();
  /** id → the offset its acknowledgement reported. */
  readonly acked = new Map<string, number>();
  /** ids whose send() rejected: each may be in the log (once or more) or not. */
  readonly failed = new Set<string>();
  /** Per partition, the offset before which records were deleted on purpose (DeleteRecords). */
  readonly deletedBefore: number[];
  readonly #nextSeq: number[];
  readonly #watches = new Set<DeliveryWatch>();

  constructor(readonly partitions: number) {
    this.#nextSeq = Array.from({ length: partitions }, () => 0);
    this.deletedBefore = Array.from({ length: partitions }, () => 0);
  }

  /** Records that a partition's records before `offset` were deleted: a reader need not find them. */
  deleted(partition: number, offset: number): void {
    this.deletedBefore[partition] = Math.max(this.deletedBefore[partition]!, offset);
  }

  /** Registers a record about to be sent; returns its value. */
  record(id: string, partition: number, nowMs: number): string {
    const seq = this.#nextSeq[partition]!;
    this.#nextSeq[partition] = seq + 1;
    this.sent.set(id, { partition, seq, sentAtMs: nowMs });
    return `${id} ${partition} ${seq}`;
  }

  acknowledged(id: string, offset: number, nowMs: number): void {
    this.acked.set(id, offset);
    const sent = this.sent.get(id);
    if (sent === undefined) return;
    for (const watch of this.#watches) {
      if (watch.partition !== sent.partition || sent.sentAtMs <= watch.sentAfterMs) continue;
      this.#watches.delete(watch);
      watch.resolve(nowMs);
    }
  }

  rejected(id: string): void {
    this.failed.add(id);
  }

  /**
   * Resolves with the time (performance.now()) of the first acknowledgement, from now on, of a
   * record sent to `partition` after `sentAfterMs`.
   */
  nextDelivery(partition: number, sentAfterMs: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#watches.delete(watch);
        reject(new Error(`no record sent to partition ${partition} after ${sentAfterMs.toFixed(0)} ms was acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      const watch: DeliveryWatch = {
        partition,
        sentAfterMs,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this.#watches.add(watch);
    });
  }

  /** The acknowledged records so far, as a snapshot a later read must contain. */
  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.acked);
  }
}

export interface LoadOptions {
  readonly bus: StreamBus;
  readonly topic: string;
  readonly ledger: Ledger;
  /** Prefix of every id this load sends; unique per load. */
  readonly prefix: string;
  /** Records per second over all partitions. */
  readonly ratePerSecond: number;
  /** Records sent and not yet settled, at most: a steady load, not an unbounded queue. */
  readonly maxPending: number;
  /** Producer options on top of acks 'all'. */
  readonly producer?: ProducerOptions;
}

/** Sends records at a steady rate, round-robin over the partitions, until stopped. */
export class Load {
  readonly #options: LoadOptions;
  readonly #producer: Producer;
  readonly #pending = new Set<Promise<void>>();
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lastTickMs = 0;
  #credit = 0;

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#producer = options.bus.producer({ acks: 'all', ...options.producer });
  }

  get pending(): number {
    return this.#pending.size;
  }

  start(): void {
    this.#lastTickMs = performance.now();
    this.#timer = setInterval(() => this.#tick(), 5);
  }

  /** Stops sending, waits for every record's outcome, closes the producer. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all(this.#pending);
    await this.#producer.close();
  }

  #tick(): void {
    const now = performance.now();
    this.#credit = Math.min(this.#credit + ((now - this.#lastTickMs) * this.#options.ratePerSecond) / 1000, 100);
    this.#lastTickMs = now;
    const { ledger, topic, prefix } = this.#options;
    while (this.#credit >= 1 && this.#pending.size < this.#options.maxPending) {
      this.#credit -= 1;
      const n = this.#next++;
      const id = `${prefix}-${n}`;
      const partition = n % ledger.partitions;
      const value = ledger.record(id, partition, now);
      const outcome = this.#producer.send({ topic, partition, value }).then(
        (metadata) => ledger.acknowledged(id, metadata.offset, performance.now()),
        () => ledger.rejected(id),
      );
      this.#pending.add(outcome);
      void outcome.finally(() => this.#pending.delete(outcome));
    }
  }
}
