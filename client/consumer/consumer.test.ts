import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { StreamBus, type Consumer, type ConsumerOptions, type Message, type Producer } from '../index.js';
import { seededRandom } from '../policy/random.js';
import { MiniBroker } from '../testing/mini-broker.js';
import { rejectionOf, waitFor } from '../testing/wait.js';

const clients: StreamBus[] = [];

interface Setup {
  broker: MiniBroker;
  bus: StreamBus;
  producer: Producer;
  consumer: Consumer;
}

function setup(options: ConsumerOptions = {}, topics: Record<string, number> = { t: 1 }): Setup {
  const broker = new MiniBroker();
  for (const [name, partitions] of Object.entries(topics)) broker.createTopic(name, partitions);
  const bus = new StreamBus({ brokers: ['127.0.0.1:9093'], connect: broker.connect, random: seededRandom(3), retryBackoffMs: 5, retryBackoffMaxMs: 20 });
  clients.push(bus);
  return {
    broker,
    bus,
    producer: bus.producer({ lingerMs: 0 }),
    consumer: bus.consumer({ maxWaitMs: 50, retryBackoffMs: 5, retryBackoffMaxMs: 20, ...options }),
  };
}

/** Produces `values` to t-0 as one batch (one sendBatch, no linger). */
async function produce(producer: Producer, values: string[], topic = 't', partition = 0): Promise<void> {
  await producer.sendBatch(values.map((value, i) => ({ topic, partition, value, key: `k${i}`, headers: { n: String(i) } })));
}

/** Takes `count` messages from the consumer's iterator, failing after the deadline. */
async function take(consumer: Consumer, count: number, timeoutMs = 5_000): Promise<Message[]> {
  const out: Message[] = [];
  if (count === 0) return out;
  const signal = AbortSignal.timeout(timeoutMs);
  for await (const message of consumer.messages({ signal })) {
    out.push(message);
    if (out.length === count) break;
  }
  return out;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((bus) => bus.close({ signal: AbortSignal.timeout(2_000) })));
});

describe('consumer > iterate', () => {
  it('yields every record from the assigned offset in order, with keys, values and headers', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b', 'c']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const messages = await take(consumer, 3);
    expect(messages.map((m) => [m.offset, m.key?.toString(), m.value?.toString(), m.headers[0]?.value?.toString()])).toEqual([
      [0, 'k0', 'a', '0'],
      [1, 'k1', 'b', '1'],
      [2, 'k2', 'c', '2'],
    ]);
    expect(messages[0]).toMatchObject({ topic: 't', partition: 0 });
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(3);
  });

  it('skips the records of a fetched batch that lie before the requested offset', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    consumer.assign([{ topic: 't', partition: 0, offset: 4 }]);
    expect((await take(consumer, 2)).map((m) => m.offset)).toEqual([4, 5]);
  });

  it('waits on a long poll and delivers records produced later', async () => {
    const { broker, producer, consumer } = setup({ maxWaitMs: 2_000 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const received = take(consumer, 1);
    await waitFor(() => broker.requests.some((r) => r.api === 'FETCH'), 'the consumer to start polling');
    await produce(producer, ['late']);
    expect((await received)[0]?.value?.toString()).toBe('late');
  });

  it('interleaves partitions but keeps each partition in offset order', async () => {
    const { producer, consumer } = setup({}, { t: 3 });
    for (let p = 0; p < 3; p++) {
      await produce(producer, ['x', 'y'], 't', p);
      await produce(producer, ['z'], 't', p);
    }
    consumer.assign([0, 1, 2].map((partition) => ({ topic: 't', partition, offset: 0 })));
    const messages = await take(consumer, 9);
    for (let p = 0; p < 3; p++) expect(messages.filter((m) => m.partition === p).map((m) => m.offset)).toEqual([0, 1, 2]);
  });

  it('hands the rest of a batch to the next reader when one stops in the middle', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b', 'c', 'd']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    expect((await take(consumer, 1)).map((m) => m.offset)).toEqual([0]);
    expect((await take(consumer, 3)).map((m) => m.offset)).toEqual([1, 2, 3]);
  });

  it('yields whole batches from batches()', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b', 'c']);
    consumer.assign([{ topic: 't', partition: 0, offset: 1 }]);
    for await (const batch of consumer.batches({ signal: AbortSignal.timeout(5_000) })) {
      expect(batch.messages.map((m) => m.offset)).toEqual([1, 2]);
      expect(batch.highWatermark).toBe(3);
      break;
    }
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(3);
  });

  it('ends iterators when closed', async () => {
    const { consumer } = setup();
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const drained = (async () => {
      const seen: Message[] = [];
      for await (const message of consumer) seen.push(message);
      return seen;
    })();
    await consumer.close();
    await expect(drained).resolves.toEqual([]);
  });
});

describe('consumer > positions', () => {
  it('starts at the log start with autoOffsetReset earliest', async () => {
    const { producer, consumer } = setup({ autoOffsetReset: 'earliest' });
    await produce(producer, ['a', 'b']);
    consumer.assign([{ topic: 't', partition: 0 }]);
    expect((await take(consumer, 2)).map((m) => m.value?.toString())).toEqual(['a', 'b']);
  });

  it('starts at the log end with autoOffsetReset latest (the default)', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['old']);
    consumer.assign([{ topic: 't', partition: 0 }]);
    await waitFor(() => consumer.position({ topic: 't', partition: 0 }) === 1, 'the latest offset lookup');
    await produce(producer, ['new']);
    expect((await take(consumer, 1)).map((m) => m.value?.toString())).toEqual(['new']);
  });

  it('refuses an assignment without offset when autoOffsetReset is none', () => {
    const { consumer } = setup({ autoOffsetReset: 'none' });
    expect(() => consumer.assign([{ topic: 't', partition: 0 }])).toThrow(StreamBusError);
    expect(consumer.assignment()).toEqual([]);
  });

  it('seek drops buffered records and continues from the new offset', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b', 'c', 'd', 'e']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    expect((await take(consumer, 1)).map((m) => m.offset)).toEqual([0]);
    consumer.seek({ topic: 't', partition: 0 }, 3);
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(3);
    expect((await take(consumer, 2)).map((m) => m.offset)).toEqual([3, 4]);
    consumer.seek({ topic: 't', partition: 0 }, 'earliest');
    expect((await take(consumer, 1)).map((m) => m.offset)).toEqual([0]);
  });

  it('seekToTimestamp resolves to the first record at or after the time', async () => {
    const { producer, consumer } = setup();
    await producer.sendBatch([100, 200, 300].map((timestamp) => ({ topic: 't', partition: 0, value: String(timestamp), timestamp })));
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    expect(await consumer.seekToTimestamp({ topic: 't', partition: 0 }, 150)).toBe(1);
    expect((await take(consumer, 1))[0]?.value?.toString()).toBe('200');
    // No record that late: the log end.
    expect(await consumer.seekToTimestamp({ topic: 't', partition: 0 }, 10_000)).toBe(3);
  });

  it('rejects seeks on partitions it does not own', () => {
    const { consumer } = setup();
    expect(() => consumer.seek({ topic: 't', partition: 5 }, 0)).toThrow(/not assigned/);
  });
});

describe('consumer > out of range', () => {
  it('resets to the earliest offset when the position fell out of the log', async () => {
    const { bus, producer, consumer } = setup({ autoOffsetReset: 'earliest' });
    await produce(producer, ['a', 'b', 'c', 'd']);
    await bus.admin().deleteRecords([{ topic: 't', partition: 0, offset: 2 }]);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    expect((await take(consumer, 2)).map((m) => m.offset)).toEqual([2, 3]);
  });

  it('surfaces OFFSET_OUT_OF_RANGE to the reader when autoOffsetReset is none', async () => {
    const { producer, consumer } = setup({ autoOffsetReset: 'none' });
    await produce(producer, ['a']);
    consumer.assign([{ topic: 't', partition: 0, offset: 50 }]);
    const error = await rejectionOf(take(consumer, 1));
    expect(error).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, context: { topic: 't', partition: 0 } });
    // A seek clears the error and consuming continues.
    consumer.seek({ topic: 't', partition: 0 }, 0);
    expect((await take(consumer, 1)).map((m) => m.offset)).toEqual([0]);
  });
});

describe('consumer > flow control', () => {
  it('stops fetching while the buffer is full and resumes once it drains below half', async () => {
    // One 5-record batch per response (maxPartitionBytes is below a batch), 10 records of credit.
    const { broker, producer, consumer } = setup({ maxBufferedRecords: 10, maxPartitionBytes: 10 });
    for (let i = 0; i < 8; i++) await produce(producer, ['1', '2', '3', '4', '5']);
    const fetches = (): number => broker.requests.filter((r) => r.api === 'FETCH').length;
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    await waitFor(() => consumer.bufferedRecords >= 10, 'the buffer to fill');
    const whenFull = fetches();
    await expect(waitFor(() => fetches() > whenFull, 'a fetch while full', 100)).rejects.toThrow(/timed out/);
    // Taking 5 records leaves 5 buffered: not below half yet, so still no fetch.
    await take(consumer, 5);
    await expect(waitFor(() => fetches() > whenFull, 'a fetch at half', 100)).rejects.toThrow(/timed out/);
    // One more: 4 < 5, credit returns and fetching resumes.
    await take(consumer, 1);
    await waitFor(() => fetches() > whenFull, 'fetching to resume');
    const rest = await take(consumer, 34);
    expect(rest.map((m) => m.offset)).toEqual(Array.from({ length: 34 }, (_, i) => i + 6));
  });

  it('holds at most maxBufferedRecords plus one response', async () => {
    const { producer, consumer } = setup({ maxBufferedRecords: 10, maxPartitionBytes: 200 });
    for (let i = 0; i < 20; i++) await produce(producer, ['a', 'b']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    await waitFor(() => consumer.bufferedRecords >= 10, 'the buffer to fill');
    // Give the fetch loop room to misbehave, with a deadline instead of a sleep.
    await expect(waitFor(() => consumer.bufferedRecords > 12, 'overfill', 100)).rejects.toThrow(/timed out/);
  });

  it('pause stops a partition and resume continues where it stopped', async () => {
    const { producer, consumer } = setup({}, { t: 2 });
    await produce(producer, ['p0'], 't', 0);
    await produce(producer, ['p1-a', 'p1-b'], 't', 1);
    consumer.assign([
      { topic: 't', partition: 0, offset: 0 },
      { topic: 't', partition: 1, offset: 0 },
    ]);
    consumer.pause([{ topic: 't', partition: 1 }]);
    expect(consumer.paused()).toEqual([{ topic: 't', partition: 1 }]);
    expect((await take(consumer, 1)).map((m) => m.value?.toString())).toEqual(['p0']);
    consumer.resume([{ topic: 't', partition: 1 }]);
    expect((await take(consumer, 2)).map((m) => m.value?.toString())).toEqual(['p1-a', 'p1-b']);
  });
});

describe('consumer > errors', () => {
  it('retries a fetch after a stale-leader error', async () => {
    const { broker, producer, consumer } = setup();
    await produce(producer, ['a']);
    broker.faults.push({ api: 'FETCH', topic: 't', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, times: 2 });
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    expect((await take(consumer, 1)).map((m) => m.value?.toString())).toEqual(['a']);
  });

  it('reconnects after the connection drops', async () => {
    const { broker, producer, consumer } = setup();
    await produce(producer, ['a']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    expect(await take(consumer, 1)).toHaveLength(1);
    broker.dropConnections();
    await produce(producer, ['b']);
    expect((await take(consumer, 1)).map((m) => m.value?.toString())).toEqual(['b']);
  });
});

describe('consumer > run', () => {
  it('feeds eachMessage in order until closed', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b', 'c']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const seen: string[] = [];
    const running = consumer.run({
      eachMessage: async (message) => {
        seen.push(message.value!.toString());
        if (seen.length === 3) await consumer.close();
      },
    });
    await expect(running).resolves.toBeUndefined();
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('rejects with the handler\'s error and rewinds to the failed record', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b', 'c']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const failure = new Error('handler failed');
    const running = consumer.run({
      eachMessage: (message) => {
        if (message.offset === 1) throw failure;
      },
    });
    await expect(running).rejects.toBe(failure);
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(1);
    expect((await take(consumer, 2)).map((m) => m.offset)).toEqual([1, 2]);
  });

  it('passes batches to eachBatch', async () => {
    const { producer, consumer } = setup();
    await produce(producer, ['a', 'b']);
    consumer.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const controller = new AbortController();
    const sizes: number[] = [];
    const running = consumer.run({
      signal: controller.signal,
      eachBatch: (batch) => {
        sizes.push(batch.messages.length);
        controller.abort(new Error('done'));
      },
    });
    await expect(running).rejects.toThrow('done');
    expect(sizes).toEqual([2]);
  });
});
