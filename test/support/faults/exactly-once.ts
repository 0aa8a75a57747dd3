/**
 * What the exactly-once fault test (test/faults/exactly-once.test.ts) runs and checks: transactional
 * consume-transform-produce workers built on `runTransactional`, a log of every transaction they
 * attempt, and a verifier that reads the output at both isolation levels and judges it against
 * the input.
 *
 * Each input record's value is "in <index>" (index 0..N-1, unique). A worker turns it into one
 * output record whose value is "<index> <attempt>", where attempt names the transaction attempt
 * that wrote it ("<worker>.<n>", one per call of the transform, i.e. per transaction begun). So the
 * output itself says which transaction every record belongs to, and the verifier needs to trust
 * nothing a broker or coordinator reports:
 * - exactly once: every input index appears in the read_committed output once (no loss, no
 *   duplicate), and nothing else does;
 * - atomic: a transaction attempt seen in the read_committed output is there whole (all the
 *   records its transform returned), never in part;
 * - aborted records: those read_uncommitted shows whose attempt never committed. There may be some
 *   only if some attempt aborted (attempts begun > attempts committed).
 *
 * A worker supervises its own runs: when runTransactional gives up (too many aborts in a row while
 * brokers die, or a fenced producer) it is started again, as an operator's restart policy would,
 * and resumes from the group's committed offsets. `fenceMidTransaction()` plays a worker restart
 * while a transaction is in flight: a new producer with the same transactionalId starts (bumping the
 * epoch, which aborts the open transaction) while the old instance is still between its produce and
 * its commit; the old instance must then fail with ProducerFencedError, and the new one takes over.
 */
import { ErrorCode, ProducerFencedError, StreamBus, StreamBusError, runTransactional, type GroupConsumer, type MessageBatch, type Producer, type ProducerRecord } from '../../../client/index.js';

/** One transaction attempt: a call of the transform, which the transaction then committed or aborted. */
export interface Attempt {
  readonly worker: string;
  readonly partition: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** Records the transform returned (all of them belong to this attempt's transaction). */
  readonly outputs: number;
}

/**
 * Holds transforms back to a steady rate of input records per second, shared by every worker, so
 * the processing lasts as long as the kill schedule (the test re-paces it after every round from
 * the rounds' measured length). lift() ends the holding.
 */
export class Throttle {
  #perSecond: number;
  #nextAtMs = 0;

  constructor(recordsPerSecond: number) {
    this.#perSecond = recordsPerSecond;
  }

  /** Waits for the turn of `records` more records. */
  async take(records: number): Promise<void> {
    if (!Number.isFinite(this.#perSecond)) return;
    const now = performance.now();
    const startMs = Math.max(now, this.#nextAtMs);
    this.#nextAtMs = startMs + (records * 1000) / this.#perSecond;
    if (startMs > now) await new Promise((resolve) => setTimeout(resolve, startMs - now));
  }

  /** A new pace from now on. */
  pace(recordsPerSecond: number): void {
    this.#perSecond = Math.max(1, recordsPerSecond);
  }

  lift(): void {
    this.#perSecond = Number.POSITIVE_INFINITY;
  }
}

export interface WorkerOptions {
  readonly name: string;
  readonly transactionalId: string;
  readonly groupId: string;
  readonly input: string;
  readonly output: string;
  /** Brokers to bootstrap from when an instance starts (the current addresses: restarted brokers move). */
  readonly brokers: () => readonly string[];
  readonly coordinators: readonly string[];
  readonly attempts: Map<string, Attempt>;
  readonly throttle: Throttle;
  readonly log: (line: string) => void;
}

/** One running instance of a worker: its own client, group member and transactional producer. */
interface Instance {
  readonly bus: StreamBus;
  readonly consumer: GroupConsumer;
  readonly producer: Producer;
}

/** A consume-transform-produce worker that restarts its run after failures until stopped. */
export class TxnWorker {
  readonly #options: WorkerOptions;
  readonly #stop = new AbortController();
  #instance: Instance;
  #attempt = 0;
  #loop: Promise<void> | undefined;
  /** A replacement already started (and its epoch bumped) by fenceMidTransaction(). */
  #replacement: Instance | undefined;
  /** Armed by fenceMidTransaction(): the next transform call starts the replacement. */
  #fenceNext: { readonly delayMs: number; readonly started: (replacement: Promise<void>) => void } | undefined;
  /** Runs of runTransactional that ended with an error, by the error's name and code. */
  readonly failures = new Map<string, number>();
  /** ProducerFencedError seen when no replacement had been started: a fencing nobody asked for. */
  unexpectedFences = 0;
  /** Old instances that were fenced after fenceMidTransaction(), as they must be. */
  zombiesFenced = 0;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#instance = this.#newInstance();
  }

  start(): void {
    this.#loop = this.#supervise();
  }

  /**
   * Starts a new instance with the same transactionalId a few ms after the next transform returns,
   * i.e. while that transaction is producing or committing. Resolves once the new instance holds the
   * bumped epoch; the old one then fails with ProducerFencedError at its next step and is closed.
   */
  fenceMidTransaction(delayMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fenceNext = { delayMs, started: (replacement) => void replacement.then(resolve, reject) };
    });
  }

  /** Stops the run, leaves the group, closes the clients. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#close(this.#instance);
    if (this.#replacement !== undefined) await this.#close(this.#replacement);
  }

  #newInstance(): Instance {
    const bus = new StreamBus({ brokers: this.#options.brokers(), coordinators: this.#options.coordinators, clientId: this.#options.name, requestTimeoutMs: 10_000 });
    const consumer = bus.consumer({
      groupId: this.#options.groupId,
      autoCommit: false,
      autoOffsetReset: 'earliest',
      maxWaitMs: 100,
      // One stored input batch (about 50 records) per fetch and partition: many small transactions.
      maxPartitionBytes: 1_024,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    });
    const producer = bus.producer({ transactionalId: this.#options.transactionalId, transactionTimeoutMs: 15_000, lingerMs: 2 });
    return { bus, consumer, producer };
  }

  async #close(instance: Instance): Promise<void> {
    await instance.consumer.close().catch(() => undefined);
    await instance.producer.close().catch(() => undefined);
    await instance.bus.close().catch(() => undefined);
  }

  async #supervise(): Promise<void> {
    const signal = this.#stop.signal;
    let subscribed = false;
    while (!signal.aborted) {
      const { consumer, producer } = this.#instance;
      if (!subscribed) consumer.subscribe([this.#options.input]);
      subscribed = true;
      try {
        await runTransactional({ consumer, producer, signal, transform: (batch) => this.#transform(batch), retryBackoffMs: 50, maxRetries: 20 });
      } catch (error) {
        if (signal.aborted) break;
        const key = error instanceof StreamBusError ? `${error.name} ${error.code}` : error instanceof Error ? error.name : String(error);
        this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
        if (error instanceof ProducerFencedError) {
          const replacement = this.#replacement;
          if (replacement === undefined) this.unexpectedFences++;
          else this.zombiesFenced++;
          this.#options.log(`${this.#options.name}: fenced (${replacement === undefined ? 'unexpected' : 'as planned'}): ${error.message}`);
          const old = this.#instance;
          this.#instance = replacement ?? this.#newInstance();
          this.#replacement = undefined;
          subscribed = false;
          await this.#close(old);
          continue;
        }
        this.#options.log(`${this.#options.name}: run ended with ${key}: ${error instanceof Error ? error.message : String(error)}; running again`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async #transform(batch: MessageBatch): Promise<ProducerRecord[]> {
    await this.#options.throttle.take(batch.messages.length);
    const attempt = `${this.#options.name}.${++this.#attempt}`;
    const records = batch.messages.map((message) => {
      const index = (message.value?.toString('utf8') ?? '').split(' ')[1] ?? '?';
      return { topic: this.#options.output, key: message.key, value: `${index} ${attempt}` };
    });
    this.#options.attempts.set(attempt, {
      worker: this.#options.name,
      partition: batch.partition,
      firstOffset: batch.messages[0]!.offset,
      lastOffset: batch.messages.at(-1)!.offset,
      outputs: records.length,
    });
    const fence = this.#fenceNext;
    if (fence !== undefined) {
      this.#fenceNext = undefined;
      fence.started(this.#startReplacement(fence.delayMs));
    }
    return records;
  }

  /** The new instance's producer runs an empty transaction: its InitProducerId bumps the epoch. */
  async #startReplacement(delayMs: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const replacement = this.#newInstance();
    this.#replacement = replacement;
    await replacement.producer.transaction(() => undefined);
  }
}

/** What the verifier found. */
export interface ExactlyOnceVerdict {
  readonly inputs: number;
  /** Records in the read_committed output. */
  readonly committedRecords: number;
  /** Records in the read_uncommitted output. */
  readonly uncommittedRecords: number;
  /** Input indexes absent from the read_committed output. */
  readonly lost: readonly number[];
  /** Extra copies in the read_committed output. */
  readonly duplicates: number;
  /** Up to 10 duplicated inputs with the attempts that wrote them: "index: attempt (worker p<partition> <first>-<last>), ...". */
  readonly duplicated: readonly string[];
  /** read_committed records that name no input or no attempt. */
  readonly foreign: readonly string[];
  /** Attempts seen in part in the read_committed output: "attempt: seen/returned". */
  readonly partial: readonly string[];
  readonly attempts: number;
  readonly committedAttempts: number;
  readonly abortedAttempts: number;
  /** read_uncommitted records of attempts that did not commit. */
  readonly abortedRecords: number;
  /** read_committed records that read_uncommitted did not show. */
  readonly missingUncommitted: number;
}

export function describeExactlyOnce(v: ExactlyOnceVerdict): string {
  const few = <T>(items: readonly T[]): string => (items.length === 0 ? '0' : `${items.length} (${items.slice(0, 5).join(', ')}${items.length > 5 ? ', ...' : ''})`);
  return (
    `${v.inputs} input records, ${v.committedRecords} output records (read_committed), ${v.uncommittedRecords} (read_uncommitted); ` +
    `lost ${few(v.lost)}, duplicates ${v.duplicates}${v.duplicated.length === 0 ? '' : ` [${v.duplicated.join('; ')}]`}, foreign ${few(v.foreign)}, partial transactions ${few(v.partial)}; ` +
    `transactions ${v.committedAttempts} committed, ${v.abortedAttempts} aborted (${v.attempts} begun), ${v.abortedRecords} aborted records`
  );
}

/**
 * Reads every partition of `topic` from offset 0 up to its end offset at one isolation level and
 * returns the values. read_committed stops at the last stable offset, so the read waits (up to
 * timeoutMs) for open transactions to end; the position moves past commit and abort markers, so
 * "position >= end offset" is the end of the read at both levels.
 */
export async function readTopic(bus: StreamBus, topic: string, partitions: number, isolationLevel: 'read_committed' | 'read_uncommitted', timeoutMs: number): Promise<string[]> {
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
  const ends = await bus.admin().listOffsets(tps.map((tp) => ({ ...tp, at: 'latest' as const })));
  const endOf = new Map(ends.map((e) => [e.partition, e.offset]));
  const consumer = bus.consumer({ isolationLevel, maxWaitMs: 100, autoOffsetReset: 'earliest' });
  consumer.assign(tps.map((tp) => ({ ...tp, offset: 0 })));
  const done = (): boolean => tps.every((tp) => (consumer.position(tp) ?? 0) >= (endOf.get(tp.partition) ?? 0));
  const values: string[] = [];
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `reading ${topic} (${isolationLevel}) did not reach the end offsets within ${timeoutMs} ms`)), timeoutMs);
  const check = setInterval(() => {
    if (done()) stop.abort();
  }, 100);
  try {
    if (!done()) {
      for await (const batch of consumer.batches({ signal: stop.signal })) {
        for (const message of batch.messages) values.push(message.value?.toString('utf8') ?? '');
        if (done()) break;
      }
    }
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  } finally {
    clearTimeout(deadline);
    clearInterval(check);
    await consumer.close();
  }
  if (!done()) {
    const behind = tps.map((tp) => `partition ${tp.partition} at ${consumer.position(tp) ?? 0} of ${endOf.get(tp.partition) ?? 0}`).join(', ');
    throw new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `reading ${topic} (${isolationLevel}) stopped short: ${behind}`);
  }
  return values;
}

/** Judges the output (both readings) against N inputs and the attempts the workers logged. */
export function judgeExactlyOnce(inputs: number, attempts: ReadonlyMap<string, Attempt>, committed: readonly string[], uncommitted: readonly string[]): ExactlyOnceVerdict {
  const copies = new Map<number, number>();
  const writers = new Map<number, string[]>();
  const perAttempt = new Map<string, number>();
  const foreign: string[] = [];
  for (const value of committed) {
    const [indexText = '', attempt = ''] = value.split(' ');
    const index = Number(indexText);
    if (!Number.isSafeInteger(index) || index < 0 || index >= inputs || !attempts.has(attempt)) {
      foreign.push(value);
      continue;
    }
    copies.set(index, (copies.get(index) ?? 0) + 1);
    writers.set(index, [...(writers.get(index) ?? []), attempt]);
    perAttempt.set(attempt, (perAttempt.get(attempt) ?? 0) + 1);
  }
  const lost: number[] = [];
  let duplicates = 0;
  for (let index = 0; index < inputs; index++) {
    const count = copies.get(index) ?? 0;
    if (count === 0) lost.push(index);
    else duplicates += count - 1;
  }
  const describeAttempt = (attempt: string): string => {
    const a = attempts.get(attempt)!;
    return `${attempt} (${a.worker} p${a.partition} ${a.firstOffset}-${a.lastOffset})`;
  };
  const duplicated = [...writers]
    .filter(([, by]) => by.length > 1)
    .slice(0, 10)
    .map(([index, by]) => `${index}: ${by.map(describeAttempt).join(', ')}`);
  const partial: string[] = [];
  for (const [attempt, seen] of perAttempt) {
    const returned = attempts.get(attempt)!.outputs;
    if (seen !== returned) partial.push(`${attempt}: ${seen}/${returned}`);
  }
  const committedSet = new Set(committed);
  let abortedRecords = 0;
  const seenUncommitted = new Set<string>();
  for (const value of uncommitted) {
    seenUncommitted.add(value);
    const attempt = value.split(' ')[1] ?? '';
    if (!perAttempt.has(attempt)) abortedRecords++;
  }
  let missingUncommitted = 0;
  for (const value of committedSet) if (!seenUncommitted.has(value)) missingUncommitted++;
  return {
    inputs,
    committedRecords: committed.length,
    uncommittedRecords: uncommitted.length,
    lost,
    duplicates,
    duplicated,
    foreign,
    partial,
    attempts: attempts.size,
    committedAttempts: perAttempt.size,
    abortedAttempts: attempts.size - perAttempt.size,
    abortedRecords,
    missingUncommitted,
  };
}
