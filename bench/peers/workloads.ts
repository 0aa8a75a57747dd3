/**
 * The comparison's workloads, the same for every system (through ./system.ts):
 *
 * - publish: as fast as acknowledgements come back, inside a window of unacknowledged messages;
 *   the clock stops at the last acknowledgement.
 * - consume: read the stream just published from its first message until every message arrived.
 * - latency: a fixed rate with the native benchmark's pacer (bench/harness/pacing.ts), measured
 *   from each message's intended send time (no coordinated omission), to its acknowledgement and
 *   to its arrival at a reader tailing the stream in this process.
 *
 * Values are random (incompressible). "bytes" are value bytes; MB is 10^6 bytes.
 */
import { randomBytes } from 'node:crypto';
import { paceSends } from '../harness/pacing.js';
import { quantilesOf, summarizeLatencies, type LatencySummary } from '../harness/stats.js';
import { describeError, nowEpochMs, throughput, withDeadline, type ThroughputFigures } from '../harness/workloads.js';
import type { BenchSystem } from './system.js';

export interface PublishSpec {
  readonly stream: string;
  readonly valueBytes: number;
  /** Unacknowledged messages at most. */
  readonly windowMessages: number;
  readonly maxSeconds: number;
  readonly maxMessages: number;
}

export interface PublishFigures extends ThroughputFigures {
  /** Messages the stream holds afterwards (the measured ones plus the warm-up message). */
  readonly messagesInStream: number;
}

/**
 * Publishes `valueBytes` messages for maxSeconds (or maxMessages): a burst, then a turn of the
 * event loop so acknowledgements are read, refilling the window as they arrive.
 */
export async function measurePublish(system: BenchSystem, spec: PublishSpec): Promise<PublishFigures> {
  const sink = await system.openPublisher(spec.stream, 'throughput');
  const value = randomBytes(spec.valueBytes);
  // Warm up connection, metadata and the stream so they are not measured.
  await new Promise<void>((resolve, reject) => sink.publish(value, (error) => (error === undefined ? resolve() : reject(toError(error)))));
  const window = Math.max(16, spec.windowMessages);
  // About 256 KiB of values per burst: enough for a full batch of any system per event-loop turn.
  const burst = Math.min(window, Math.max(64, Math.ceil((256 * 1024) / spec.valueBytes)));
  let pending = 0;
  let acked = 0;
  let errors = 0;
  let firstError: unknown;
  let lastAckAt = 0;
  let wake: (() => void) | undefined;
  const done = (error?: unknown): void => {
    pending--;
    lastAckAt = performance.now();
    if (error === undefined) acked++;
    else {
      errors++;
      firstError ??= error;
    }
    if (wake !== undefined && pending <= window / 2) {
      const resume = wake;
      wake = undefined;
      resume();
    }
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
    for (let i = 0; i < n; i++) sink.publish(value, done);
    pending += n;
    sent += n;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await withDeadline(
    (async () => {
      while (pending > 0) await new Promise<void>((resolve) => (wake = resolve));
    })(),
    60_000,
    'publish acknowledgements did not arrive',
  ).catch((error: unknown) => {
    errors++;
    firstError ??= error;
  });
  await sink.close();
  const seconds = (Math.max(lastAckAt, startedAt + 1) - startedAt) / 1000;
  return { ...throughput(acked, acked * spec.valueBytes, seconds, errors, firstError), messagesInStream: acked + 1 };
}

export interface ConsumeSpec {
  readonly stream: string;
  /** Messages to read from the start (what was published). */
  readonly expectedMessages: number;
  readonly maxSeconds: number;
}

/** Reads the stream from its start until expectedMessages arrived (or maxSeconds passed). */
export async function measureConsume(system: BenchSystem, spec: ConsumeSpec): Promise<ThroughputFigures> {
  const signal = AbortSignal.timeout(spec.maxSeconds * 1000);
  let messages = 0;
  let bytes = 0;
  let errors = 0;
  let firstError: unknown;
  const startedAt = performance.now();
  try {
    await system.read(
      spec.stream,
      (value) => {
        messages++;
        bytes += value.length;
        return messages < spec.expectedMessages;
      },
      { purpose: 'catch-up', signal },
    );
  } catch (error) {
    errors++;
    firstError = error;
  }
  const seconds = (performance.now() - startedAt) / 1000;
  if (messages < spec.expectedMessages && errors === 0) {
    errors++;
    firstError = new Error(`read ${messages} of ${spec.expectedMessages} messages within ${spec.maxSeconds} s`);
  }
  return throughput(messages, bytes, seconds, errors, firstError);
}

export interface LatencySpec {
  readonly stream: string;
  readonly valueBytes: number;
  readonly ratePerSecond: number;
  readonly seconds: number;
  /** How long to wait, after the paced period, for outstanding acks and deliveries. */
  readonly drainSeconds: number;
}

/** The quantiles of the latency curves in the plots (1 = the maximum). */
export const CURVE_QUANTILES: readonly number[] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1];

export interface PeerLatencyFigures {
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly achievedPerSecond: number;
  /** Intended send time → acknowledgement. */
  readonly ack: LatencySummary;
  /** Intended send time → the tailing reader has the message. */
  readonly endToEnd: LatencySummary;
  /** Intended send time → publish() called: the generator's own lag. */
  readonly sendLag: LatencySummary;
  /** Latency (ms) at each of CURVE_QUANTILES. */
  readonly ackCurveMs: readonly number[];
  readonly endToEndCurveMs: readonly number[];
}

/**
 * Publishes at a fixed rate; each value carries its intended send time (epoch ms, float64) in
 * its first 8 bytes, which the tailing reader subtracts from its arrival time.
 */
export async function measureLatency(system: BenchSystem, spec: LatencySpec): Promise<PeerLatencyFigures> {
  const sink = await system.openPublisher(spec.stream, 'latency');
  const total = Math.max(1, Math.round(spec.ratePerSecond * spec.seconds));
  const template = randomBytes(Math.max(8, spec.valueBytes));
  const ackLatencies = new Float64Array(total);
  const endToEnd = new Float64Array(total);
  const sendLag = new Float64Array(total);
  let acked = 0;
  let failed = 0;
  let delivered = 0;
  let errors = 0;
  let firstError: unknown;

  // Warm-up message: stamp 0 marks it, so the tail ignores it; seeing it proves the tail is live.
  const warmValue = Buffer.from(template);
  warmValue.writeDoubleLE(0, 0);
  await new Promise<void>((resolve, reject) => sink.publish(warmValue, (error) => (error === undefined ? resolve() : reject(toError(error)))));

  const tailAbort = new AbortController();
  let warmSeen: () => void = () => undefined;
  const warmDelivered = new Promise<void>((resolve) => (warmSeen = resolve));
  const tail = system
    .read(
      spec.stream,
      (value) => {
        const receivedAt = nowEpochMs();
        const stamp = Buffer.from(value.buffer, value.byteOffset, value.byteLength).readDoubleLE(0);
        if (stamp === 0) warmSeen();
        else if (delivered < total) endToEnd[delivered++] = receivedAt - stamp;
        return delivered < total;
      },
      { purpose: 'tail', signal: tailAbort.signal },
    )
    .catch((error: unknown) => {
      errors++;
      firstError ??= error;
    });
  try {
    await withDeadline(warmDelivered, 10_000, `${system.label}: the tailing reader did not receive the warm-up message`);
  } catch (error) {
    tailAbort.abort();
    await tail;
    await sink.close();
    throw error;
  }

  const startMono = performance.now() + 2;
  const epochOffset = performance.timeOrigin;
  let lastAckAt = startMono;
  let drained: () => void = () => undefined;
  const allSettled = new Promise<void>((resolve) => (drained = resolve));
  const settle = (): void => {
    if (acked + failed === total) drained();
  };
  await paceSends({ total, ratePerSecond: spec.ratePerSecond, startMs: startMono }, (index, intended) => {
    const value = Buffer.from(template);
    value.writeDoubleLE(epochOffset + intended, 0);
    sendLag[index] = performance.now() - intended;
    sink.publish(value, (error) => {
      if (error === undefined) {
        lastAckAt = performance.now();
        ackLatencies[acked++] = lastAckAt - intended;
      } else {
        failed++;
        errors++;
        firstError ??= error;
      }
      settle();
    });
  });
  await withDeadline(allSettled, spec.drainSeconds * 1000, `${system.label}: acknowledgements did not arrive`).catch((error: unknown) => {
    errors++;
    firstError ??= error;
  });
  const deadline = performance.now() + spec.drainSeconds * 1000;
  while (delivered < acked && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  tailAbort.abort();
  await tail;
  await sink.close();
  const seconds = (lastAckAt - startMono) / 1000;
  const ackCurveMs = quantilesOf(ackLatencies, acked, CURVE_QUANTILES);
  const endToEndCurveMs = quantilesOf(endToEnd, delivered, CURVE_QUANTILES);
  return {
    sent: total,
    acked,
    delivered,
    errors,
    ...(firstError === undefined ? {} : { firstError: describeError(firstError) }),
    seconds,
    achievedPerSecond: acked / Math.max(seconds, 1e-3),
    ack: summarizeLatencies(ackLatencies, acked),
    endToEnd: summarizeLatencies(endToEnd, delivered),
    sendLag: summarizeLatencies(sendLag, total),
    ackCurveMs,
    endToEndCurveMs,
  };
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(describeError(error));
}
