import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { ProducerBatch, type RecordSink } from './batch.js';

const NOW_MS = 1_700_000_000_000;

function newBatch(): ProducerBatch {
  return new ProducerBatch('t', 3, NOW_MS, 120_000);
}

function collectingSink(): RecordSink & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    succeeded: (index, topic, partition, offset, timestamp) => seen.push(`${index}:${topic}-${partition}@${offset}/${timestamp}`),
    failed: (index, error) => seen.push(`${index}:${(error as Error).message}`),
  };
}

describe('producer > batch', () => {
  it('resolves each record promise with consecutive offsets from the base offset and its create time', async () => {
    const batch = newBatch();
    const promises = [0, 1, 2].map((i) => batch.recordPromise(batch.add({ value: `v${i}`, timestamp: NOW_MS + i }, 10, undefined, 0)));
    batch.succeed(40, -1);
    expect(await Promise.all(promises)).toEqual([
      { topic: 't', partition: 3, offset: 40, timestamp: NOW_MS },
      { topic: 't', partition: 3, offset: 41, timestamp: NOW_MS + 1 },
      { topic: 't', partition: 3, offset: 42, timestamp: NOW_MS + 2 },
    ]);
  });

  it("reports the broker's append time when it set one, and offset -1 without acks", async () => {
    const batch = newBatch();
    const promise = batch.recordPromise(batch.add({ value: 'v', timestamp: NOW_MS }, 10, undefined, 0));
    batch.succeed(-1, NOW_MS + 500);
    expect(await promise).toEqual({ topic: 't', partition: 3, offset: -1, timestamp: NOW_MS + 500 });
  });

  it('rejects every record promise with the error the batch failed with', async () => {
    const batch = newBatch();
    const promises = [0, 1].map(() => batch.recordPromise(batch.add({ value: 'v', timestamp: NOW_MS }, 10, undefined, 0)));
    const error = new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, 'not acknowledged in time');
    batch.fail(error);
    for (const outcome of await Promise.allSettled(promises)) expect(outcome).toEqual({ status: 'rejected', reason: error });
  });

  it('gives records reported through a sink their own position and index, beside promised ones', async () => {
    const batch = newBatch();
    const sink = collectingSink();
    const first = batch.recordPromise(batch.add({ value: 'a', timestamp: NOW_MS }, 10, undefined, 0));
    batch.add({ value: 'b', timestamp: NOW_MS + 1 }, 10, sink, 7);
    const third = batch.recordPromise(batch.add({ value: 'c', timestamp: NOW_MS + 2 }, 10, undefined, 0));
    batch.add({ value: 'd', timestamp: NOW_MS + 3 }, 10, sink, 8);
    batch.succeed(100, -1);
    expect(sink.seen).toEqual([`7:t-3@101/${NOW_MS + 1}`, `8:t-3@103/${NOW_MS + 3}`]);
    expect((await first).offset).toBe(100);
    expect((await third).offset).toBe(102);
  });

  it('drops the record objects once encoded but keeps the count and each create time', async () => {
    const batch = newBatch();
    const promises = [0, 1].map((i) => batch.recordPromise(batch.add({ value: 'v', timestamp: NOW_MS + i }, 10, undefined, 0)));
    const encoded = Buffer.from('encoded');
    batch.markEncoded(encoded);
    expect(batch.records).toHaveLength(0);
    expect(batch.recordCount).toBe(2);
    expect(batch.encoded).toBe(encoded);
    batch.succeed(5, -1);
    expect((await Promise.all(promises)).map((m) => [m.offset, m.timestamp])).toEqual([
      [5, NOW_MS],
      [6, NOW_MS + 1],
    ]);
  });

  it('resolves records at positions beyond the shared reaction cache', async () => {
    const batch = newBatch();
    const count = (1 << 16) + 3;
    let last: Promise<{ offset: number }> | undefined;
    for (let i = 0; i < count; i++) {
      const position = batch.add({ value: null, timestamp: NOW_MS }, 1, undefined, 0);
      if (i === 0 || i >= count - 2) last = batch.recordPromise(position);
    }
    batch.succeed(0, -1);
    expect((await last!).offset).toBe(count - 1);
  });

  it('settles whenDone once and ignores a second outcome', async () => {
    const batch = newBatch();
    const promise = batch.recordPromise(batch.add({ value: 'v', timestamp: NOW_MS }, 10, undefined, 0));
    const done = batch.whenDone();
    batch.succeed(9, -1);
    batch.fail(new Error('too late'));
    await done;
    expect(batch.completed).toBe(true);
    expect((await promise).offset).toBe(9);
  });
});
