import { describe, expect, it } from 'vitest';
import type { RecordInput } from '../../proto/record-batch/index.js';
import { RecordAccumulator } from './accumulator.js';
import { BATCH_OVERHEAD_BYTES, type RecordSink } from './batch.js';

interface Outcome {
  index: number;
  offset?: number;
  error?: unknown;
}

function collectingSink(): RecordSink & { outcomes: Outcome[] } {
  const outcomes: Outcome[] = [];
  return {
    outcomes,
    succeeded: (index, _topic, _partition, offset) => outcomes.push({ index, offset }),
    failed: (index, error) => outcomes.push({ index, error }),
  };
}

const record = (value: string): RecordInput => ({ value, timestamp: 1 });
const leaderIs =
  (leaders: Record<string, number>) =>
  (topic: string, partition: number): number | undefined =>
    leaders[`${topic}-${partition}`];
const always = (): boolean => true;
const MAX_REQUEST = 1 << 30;

describe('producer > accumulator > linger', () => {
  it('holds a batch until lingerMs has passed since its first record', () => {
    const acc = new RecordAccumulator({ lingerMs: 5, deliveryTimeoutMs: 120_000 });
    const sink = collectingSink();
    acc.append('t', 0, record('a'), 100, sink, 0, 10_000, 1000);
    acc.append('t', 0, record('b'), 100, sink, 1, 10_000, 1003);
    expect(acc.drain(1004, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.size).toBe(0);
    expect(acc.nextWakeMs(1004)).toBe(1005);
    const { byNode } = acc.drain(1005, leaderIs({ 't-0': 1 }), always, MAX_REQUEST);
    expect(byNode.get(1)?.map((b) => b.recordCount)).toEqual([2]);
    expect(acc.batchCount).toBe(0);
  });

  it('sends a batch at once while a flush is in progress', () => {
    const acc = new RecordAccumulator({ lingerMs: 1000, deliveryTimeoutMs: 120_000 });
    acc.append('t', 0, record('a'), 100, collectingSink(), 0, 10_000, 0);
    acc.beginFlush();
    expect(acc.drain(1, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1)).toHaveLength(1);
    acc.endFlush();
    expect(acc.flushing).toBe(false);
  });
});

describe('producer > accumulator > batch bytes', () => {
  it('closes a batch when the next record of the same size would not fit, and opens a new one', () => {
    const acc = new RecordAccumulator({ lingerMs: 1000, deliveryTimeoutMs: 120_000 });
    const sink = collectingSink();
    const max = BATCH_OVERHEAD_BYTES + 300;
    const first = acc.append('t', 0, record('a'), 100, sink, 0, max, 0);
    expect(first).toMatchObject({ newBatch: true, closedBatch: false });
    expect(acc.append('t', 0, record('b'), 100, sink, 1, max, 0)).toMatchObject({ newBatch: false, closedBatch: false });
    // 61 + 300 = max: full, and a fourth record could not fit, so it closes now.
    expect(acc.append('t', 0, record('c'), 100, sink, 2, max, 0)).toMatchObject({ newBatch: false, closedBatch: true });
    expect(first.batch.closed).toBe(true);
    const fourth = acc.append('t', 0, record('d'), 100, sink, 3, max, 0);
    expect(fourth.newBatch).toBe(true);
    expect(fourth.batch).not.toBe(first.batch);
    // The closed batch is ready before lingerMs; the open one is not.
    const { byNode } = acc.drain(1, leaderIs({ 't-0': 1 }), always, MAX_REQUEST);
    expect(byNode.get(1)?.map((b) => b.recordCount)).toEqual([3]);
    expect(acc.batchCount).toBe(1);
  });

  it('gives a record larger than the batch limit a closed batch of its own', () => {
    const acc = new RecordAccumulator({ lingerMs: 1000, deliveryTimeoutMs: 120_000 });
    const result = acc.append('t', 0, record('huge'), 5000, collectingSink(), 0, 1000, 0);
    expect(result).toMatchObject({ newBatch: true, closedBatch: true });
    expect(result.batch.recordCount).toBe(1);
  });

  it('never lets the estimated batch size exceed the limit when it holds two or more records', () => {
    const acc = new RecordAccumulator({ lingerMs: 1000, deliveryTimeoutMs: 120_000 });
    const sink = collectingSink();
    const max = 4096;
    const sizes = [700, 1200, 90, 3000, 40, 40, 2500, 1000, 1000, 1000];
    sizes.forEach((size, i) => acc.append('t', 0, record(String(i)), size, sink, i, max, 0));
    acc.beginFlush();
    const batches = [];
    for (let now = 1; acc.batchCount > 0; now++) batches.push(...(acc.drain(now, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1) ?? []));
    for (const batch of batches) if (batch.recordCount > 1) expect(batch.sizeBytes).toBeLessThanOrEqual(max);
    expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(sizes.length);
  });
});

describe('producer > accumulator > drain', () => {
  it('takes one batch per partition per drain and groups them by leader', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    const sink = collectingSink();
    const max = BATCH_OVERHEAD_BYTES + 100;
    acc.append('t', 0, record('a'), 100, sink, 0, max, 0);
    acc.append('t', 0, record('b'), 100, sink, 1, max, 0);
    acc.append('t', 1, record('c'), 100, sink, 2, max, 0);
    acc.append('u', 0, record('d'), 100, sink, 3, max, 0);
    const leaders = leaderIs({ 't-0': 1, 't-1': 2, 'u-0': 1 });
    const first = acc.drain(0, leaders, always, MAX_REQUEST).byNode;
    expect(first.get(1)?.map((b) => `${b.topic}-${b.partition}`).sort()).toEqual(['t-0', 'u-0']);
    expect(first.get(2)?.map((b) => `${b.topic}-${b.partition}`)).toEqual(['t-1']);
    const second = acc.drain(0, leaders, always, MAX_REQUEST).byNode;
    expect(second.get(1)?.map((b) => b.records[0]!.value)).toEqual(['b']);
  });

  it('leaves batches whose leader is unknown and says so', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    acc.append('t', 0, record('a'), 100, collectingSink(), 0, 10_000, 0);
    const result = acc.drain(0, leaderIs({}), always, MAX_REQUEST);
    expect(result.leaderUnknown).toBe(true);
    expect(result.byNode.size).toBe(0);
    expect(acc.batchCount).toBe(1);
    // Ready-but-blocked batches do not make the sender spin on a timer.
    expect(acc.nextWakeMs(0)).toBe(120_000);
  });

  it('leaves batches for a broker that cannot take another request', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    acc.append('t', 0, record('a'), 100, collectingSink(), 0, 10_000, 0);
    expect(acc.drain(0, leaderIs({ 't-0': 1 }), () => false, MAX_REQUEST).byNode.size).toBe(0);
    expect(acc.drain(0, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1)).toHaveLength(1);
  });

  it('caps a request near maxRequestBytes but always sends at least one batch', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    for (let p = 0; p < 4; p++) acc.append('t', p, record('x'), 1000, collectingSink(), 0, 100_000, 0);
    const leaders = (): number => 1;
    expect(acc.drain(0, leaders, always, 500).byNode.get(1)).toHaveLength(1);
    expect(acc.drain(0, leaders, always, 2200).byNode.get(1)).toHaveLength(2);
  });
});

describe('producer > accumulator > retries and expiry', () => {
  it('puts a retried batch first in its queue and holds it until its backoff ends', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    const sink = collectingSink();
    acc.append('t', 0, record('a'), 100, sink, 0, 10_000, 0);
    const [batch] = acc.drain(0, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1)!;
    acc.append('t', 0, record('b'), 100, sink, 1, 10_000, 1);
    batch!.retryAtMs = 100;
    acc.reenqueue(batch!);
    expect(acc.drain(50, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.size).toBe(0);
    expect(acc.nextWakeMs(50)).toBe(100);
    const retried = acc.drain(100, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1)!;
    expect(retried[0]).toBe(batch);
  });

  it('sends a retried batch at once when the metadata names another leader than the broker its attempt failed on', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    acc.append('t', 0, record('a'), 100, collectingSink(), 0, 10_000, 0);
    const [batch] = acc.drain(0, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1)!;
    batch!.retryAtMs = 1_000;
    batch!.failedOnNode = 1;
    acc.reenqueue(batch!);
    const waiting = acc.drain(50, leaderIs({ 't-0': 1 }), always, MAX_REQUEST);
    expect(waiting.byNode.size).toBe(0);
    expect(waiting.awaitingLeader).toBe(true);
    expect(acc.drain(60, leaderIs({}), always, MAX_REQUEST).awaitingLeader).toBe(true);
    const moved = acc.drain(70, leaderIs({ 't-0': 2 }), always, MAX_REQUEST);
    expect(moved.byNode.get(2)).toEqual([batch]);
    expect(moved.awaitingLeader).toBe(false);
  });

  it('holds a retried batch whose leader was not in question for its whole backoff, even when the leader moves', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    acc.append('t', 0, record('a'), 100, collectingSink(), 0, 10_000, 0);
    const [batch] = acc.drain(0, leaderIs({ 't-0': 1 }), always, MAX_REQUEST).byNode.get(1)!;
    batch!.retryAtMs = 1_000;
    batch!.failedOnNode = undefined;
    acc.reenqueue(batch!);
    const held = acc.drain(50, leaderIs({ 't-0': 2 }), always, MAX_REQUEST);
    expect(held.byNode.size).toBe(0);
    expect(held.awaitingLeader).toBe(false);
    expect(acc.drain(1_000, leaderIs({ 't-0': 2 }), always, MAX_REQUEST).byNode.get(2)).toEqual([batch]);
  });

  it('puts batches that failed together back in the order they were first sent, whatever order their failures arrive in', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 120_000 });
    const sink = collectingSink();
    const leaders = leaderIs({ 't-0': 1, 't-1': 2 });
    const sent = [];
    for (let i = 0; i < 3; i++) {
      acc.append('t', 0, record(`r${i}`), 100, sink, i, 10_000, i);
      sent.push(acc.drain(i, leaders, always, MAX_REQUEST).byNode.get(1)![0]!);
    }
    acc.append('t', 0, record('queued'), 100, sink, 3, 10_000, 3);
    // The connection dropped: all three in-flight batches fail, oldest first, then out of order.
    for (const batch of sent) acc.reenqueue(batch);
    const again = acc.takeAll('t');
    expect(again.map((b) => b.sequence)).toEqual([...sent.map((b) => b.sequence), sent[2]!.sequence + 1]);
    for (const batch of [again[1]!, again[0]!, again[2]!]) acc.reenqueue(batch);
    acc.reenqueue(again[3]!);
    const order = [];
    for (let now = 10; acc.batchCount > 0; now++) {
      const drained = acc.drain(now, leaderIs({ 't-0': 2 }), always, MAX_REQUEST).byNode.get(2) ?? [];
      order.push(...drained.map((b) => b.sequence));
    }
    expect(order).toEqual([...sent.map((b) => b.sequence), sent[2]!.sequence + 1]);
  });

  it('expires batches past their delivery deadline', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 1000 });
    acc.append('t', 0, record('a'), 100, collectingSink(), 0, 10_000, 0);
    expect(acc.expire(999)).toHaveLength(0);
    expect(acc.expire(1000)).toHaveLength(1);
    expect(acc.batchCount).toBe(0);
  });
});

describe('producer > batch > per-record outcomes', () => {
  it('resolves each record with consecutive offsets from the base offset', () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 1000 });
    const sink = collectingSink();
    const { batch } = acc.append('t', 0, record('a'), 10, sink, 7, 10_000, 0);
    acc.append('t', 0, record('b'), 10, sink, 8, 10_000, 0);
    batch.succeed(41, -1);
    expect(sink.outcomes).toEqual([
      { index: 7, offset: 41 },
      { index: 8, offset: 42 },
    ]);
  });

  it('rejects every record of a failed batch once, and settles whenDone', async () => {
    const acc = new RecordAccumulator({ lingerMs: 0, deliveryTimeoutMs: 1000 });
    const sink = collectingSink();
    const { batch } = acc.append('t', 0, record('a'), 10, sink, 0, 10_000, 0);
    acc.append('t', 0, record('b'), 10, sink, 1, 10_000, 0);
    const done = batch.whenDone();
    const error = new Error('boom');
    batch.fail(error);
    batch.succeed(1, -1);
    await done;
    expect(sink.outcomes).toEqual([
      { index: 0, error },
      { index: 1, error },
    ]);
  });
});
