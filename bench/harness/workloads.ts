/**
 * The native-client workloads: produce throughput, consume throughput, and produce-ack plus
 * end-to-end latency at a fixed rate. Each takes a connected client and returns its figures; the
 * caller wraps it with CPU measurement and reporting.
 *
 * Sizes: "bytes" are record value bytes (the payload a user sends), as Kafka's perf tools count
 * them; MB is 10^6 bytes.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, StreamBus } from '../../client/index.js';
import { paceSends } from './pacing.js';
import { summarizeLatencies, type LatencySummary } from './stats.js';

/** A record not acknowledged within this fails, so no run waits on a silent server for long. */
const DELIVERY_TIMEOUT_MS = 30_000;

export interface ThroughputFigures {
  readonly messages: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly errors: number;
  readonly firstError?: string;
}

export interface ProduceFigures extends ThroughputFigures {
  /** Records the topic holds afterwards: the measured ones plus the warm-up record. */
  readonly recordsInTopic: number;
}

export interface ProduceSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly valueBytes: number;
  readonly batchBytes: number;
  readonly lingerMs: number;
  /** Stop sending after this many records... */
  readonly maxMessages: number;
  /** ...or after this long, whichever comes first. */
  readonly maxSeconds: number;
  /** Records sent and not yet acknowledged, at most; bounds the harness's own memory. */
  readonly windowBytes: number;
}

export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics([{ topic, partitions, replicationFactor: 1 }]);
}

/** Throughput figures from counts and elapsed seconds (MB = 10^6 bytes). */
export function throughput(messages: number, bytes: number, seconds: number, errors: number, firstError: unknown): ThroughputFigures {
  return {
    messages,
    bytes,
    seconds,
    messagesPerSecond: messages / seconds,
    megabytesPerSecond: bytes / seconds / 1e6,
    errors,
    ...(firstError === undefined ? {} : { firstError: describeError(firstError) }),
  };
}

/**
 * Sends records as fast as acks=all allows: send() is not awaited; a window of pending records
 * (windowBytes of values) keeps many batches in flight without letting the harness buffer
 * without bound. The clock stops when the last record is acknowledged.
 */
export async function runProduce(bus: StreamBus, spec: ProduceSpec): Promise<ProduceFigures> {
  // deliveryTimeoutMs bounds the run if the server stops answering: every record then fails in time.
  const producer = bus.producer({ acks: 'all', lingerMs: spec.lingerMs, batchBytes: spec.batchBytes, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS });
  // Incompressible values; one buffer serves every record (the producer copies at encode time).
  const value = randomBytes(spec.valueBytes);
  const record = { topic: spec.topic, value };
  // Warm up metadata, topic limits and the connection so they are not measured.
  await producer.send(record);
  const window = Math.max(64, Math.floor(spec.windowBytes / spec.valueBytes));
  // Hand control back to the event loop after about a batch's worth (at least 64 records), so
  // responses are read and the sender runs while the loop keeps batches full.
  const burst = Math.max(64, Math.ceil(spec.batchBytes / spec.valueBytes));
  let pending = 0;
  let acked = 0;
  let errors = 0;
  let firstError: unknown;
  let lastAckAt = 0;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    pending--;
    lastAckAt = performance.now();
    if (wake !== undefined && pending <= window / 2) {
      const resume = wake;
      wake = undefined;
      resume();
    }
  };
  const onAck = (): void => {
    acked++;
    settle();
  };
  const onError = (error: unknown): void => {
    errors++;
    firstError ??= error;
    settle();
  };
  const startedAt = performance.now();
  const deadline = startedAt + spec.maxSeconds * 1000;
  let sent = 0;
  while (sent < spec.maxMessages && performance.now() < deadline && errors === 0) {
    if (pending >= window) {
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    const n = Math.min(burst, window - pending, spec.maxMessages - sent);
    for (let i = 0; i < n; i++) producer.send(record).then(onAck, onError);
    pending += n;
    sent += n;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await producer.flush();
  await producer.close();
  const seconds = (Math.max(lastAckAt, startedAt + 1) - startedAt) / 1000;
  return { ...throughput(acked, acked * spec.valueBytes, seconds, errors, firstError), recordsInTopic: acked + 1 };
}

export type ConsumeMode = 'iterator' | 'batches';

export interface ConsumeSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Records to read from offset 0 of every partition (what was produced). */
  readonly expectedMessages: number;
  readonly mode: ConsumeMode;
  readonly maxSeconds: number;
}

/**
 * Reads a topic from offset 0 until `expectedMessages` records arrived or maxSeconds passed, via
 * the record iterator or batches(). The clock starts at assign(), so the first fetch counts.
 */
export async function runConsume(bus: StreamBus, spec: ConsumeSpec): Promise<ThroughputFigures> {
  const consumer = bus.consumer({ autoOffsetReset: 'earliest' });
  const signal = AbortSignal.timeout(spec.maxSeconds * 1000);
  let messages = 0;
  let bytes = 0;
  let errors = 0;
  let firstError: unknown;
  const startedAt = performance.now();
  consumer.assign(Array.from({ length: spec.partitions }, (_, partition) => ({ topic: spec.topic, partition, offset: 0 })));
  try {
    if (spec.mode === 'iterator') {
      for await (const message of consumer.messages({ signal })) {
        messages++;
        bytes += message.value?.length ?? 0;
        if (messages >= spec.expectedMessages) break;
      }
    } else {
      for await (const batch of consumer.batches({ signal })) {
        const list = batch.messages;
        messages += list.length;
        for (let i = 0; i < list.length; i++) bytes += list[i]!.value?.length ?? 0;
        if (messages >= spec.expectedMessages) break;
      }
    }
  } catch (error) {
    // A timeout leaves the figures of what was read in time; anything else is an error.
    if (!signal.aborted) {
      errors++;
      firstError = error;
    }
  }
  const seconds = (performance.now() - startedAt) / 1000;
  await consumer.close();
  return throughput(messages, bytes, seconds, errors, firstError);
}

export interface LatencySpec {
  readonly topic: string;
  readonly partitions: number;
  readonly valueBytes: number;
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly lingerMs: number;
  /** Run a consumer tailing the topic and measure end-to-end latency. */
  readonly tail: boolean;
  /** How long to wait, after the paced period, for outstanding acks and deliveries. */
  readonly drainSeconds: number;
}

export interface LatencyFigures {
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly achievedPerSecond: number;
  /** Intended send time → ack. */
  readonly ack: LatencySummary;
  /** Intended send time → the tailing consumer has the record; undefined without a tail. */
  readonly endToEnd?: LatencySummary;
  /** Intended send time → send() actually called: the generator's own lag (timer granularity, GC). */
  readonly sendLag: LatencySummary;
}

/** Wall-clock ms since the epoch with sub-ms precision, comparable across processes on one machine. */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Sends records at a fixed rate and measures from each record's *intended* send time, so a
 * stall delays the generator's timeline and is charged to every record it held up (no
 * coordinated omission). A timer wakes about every millisecond and sends every record whose
 * time has come. The intended time (epoch ms, float64) is the first 8 bytes of each value; a
 * consumer in this process tails the topic and measures delivery against it.
 */
export async function runLatency(bus: StreamBus, spec: LatencySpec): Promise<LatencyFigures> {
  const producer = bus.producer({ acks: 'all', lingerMs: spec.lingerMs, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS });
  const total = Math.max(1, Math.round(spec.ratePerSecond * spec.seconds));
  const template = randomBytes(spec.valueBytes);
  const ackLatencies = new Float64Array(total);
  const endToEnd = new Float64Array(total);
  const sendLag = new Float64Array(total);
  let acked = 0;
  let delivered = 0;
  let errors = 0;
  let firstError: unknown;

  // Warm-up record: stamp 0 marks it so the tail ignores it.
  const warmValue = Buffer.from(template);
  warmValue.writeDoubleLE(0, 0);
  await producer.send({ topic: spec.topic, partition: 0, value: warmValue });

  const consumer = spec.tail ? bus.consumer({ autoOffsetReset: 'earliest' }) : undefined;
  const tailAbort = new AbortController();
  let warmSeen: () => void = () => undefined;
  const warmDelivered = new Promise<void>((resolve) => (warmSeen = resolve));
  const tail = (async (): Promise<void> => {
    if (consumer === undefined) return;
    consumer.assign(Array.from({ length: spec.partitions }, (_, partition) => ({ topic: spec.topic, partition, offset: 0 })));
    try {
      for await (const batch of consumer.batches({ signal: tailAbort.signal })) {
        const receivedAt = nowEpochMs();
        for (const message of batch.messages) {
          const stamp = message.value?.readDoubleLE(0) ?? 0;
          if (stamp === 0) {
            warmSeen();
            continue;
          }
          if (delivered < total) endToEnd[delivered++] = receivedAt - stamp;
        }
        if (delivered >= total) return;
      }
    } catch (error) {
      if (!tailAbort.signal.aborted) {
        errors++;
        firstError ??= error;
      }
    }
  })();
  if (consumer !== undefined) await withDeadline(warmDelivered, 10_000, 'the tailing consumer did not receive the warm-up record');

  // Epoch-ms and monotonic clocks side by side: intended times are monotonic, stamps are epoch.
  const startMono = performance.now() + 2;
  const epochOffset = performance.timeOrigin;
  let next = 0;
  let lastAckAt = startMono;
  await paceSends({ total, ratePerSecond: spec.ratePerSecond, startMs: startMono }, (index, intended) => {
    const value = Buffer.from(template);
    value.writeDoubleLE(epochOffset + intended, 0);
    sendLag[index] = performance.now() - intended;
    next = index + 1;
    producer.send({ topic: spec.topic, value }).then(
      () => {
        lastAckAt = performance.now();
        ackLatencies[acked++] = lastAckAt - intended;
      },
      (error: unknown) => {
        errors++;
        firstError ??= error;
      },
    );
  });
  await withDeadline(producer.flush(), spec.drainSeconds * 1000, 'the producer did not drain').catch((error: unknown) => {
    errors++;
    firstError ??= error;
  });
  if (consumer !== undefined) {
    const deadline = performance.now() + spec.drainSeconds * 1000;
    while (delivered < acked && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    tailAbort.abort();
    await tail;
    await consumer.close();
  }
  await producer.close();
  const seconds = (lastAckAt - startMono) / 1000;
  return {
    sent: next,
    acked,
    delivered,
    errors,
    ...(firstError === undefined ? {} : { firstError: describeError(firstError) }),
    seconds,
    achievedPerSecond: acked / Math.max(seconds, 1e-3),
    ack: summarizeLatencies(ackLatencies, acked),
    ...(consumer === undefined ? {} : { endToEnd: summarizeLatencies(endToEnd, delivered) }),
    sendLag: summarizeLatencies(sendLag, next),
  };
}

/** One line for a report: the error's name and message. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : JSON.stringify(error);
}

/** Resolves as `promise` does, or rejects with `message` after timeoutMs. */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
