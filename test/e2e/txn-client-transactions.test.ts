/**
 * Transactions from the client's side, against a real `streambus dev` process: commit and abort
 * across partitions of two topics, what read_committed and read_uncommitted consumers see, offsets
 * committed with a transaction, fencing of a zombie producer, and the consume-transform-produce
 * helper processing a topic exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ProducerFencedError, StreamBus, runTransactional, type Message } from '../../client/index.js';
import { eventually, startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer;
let bus: StreamBus;
const clients: StreamBus[] = [];

beforeAll(async () => {
  server = await startDevServer({
    settings: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500, 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200 },
  });
  bus = new StreamBus({ brokers: [server.bootstrap], clientId: 'txn-client-test' });
  await bus.admin().createTopics([
    { topic: 'ledger', partitions: 2 },
    { topic: 'audit', partitions: 1 },
    { topic: 'orders', partitions: 3 },
    { topic: 'enriched', partitions: 2 },
    { topic: 'raw', partitions: 1 },
    { topic: 'cooked', partitions: 1 },
    { topic: 'abandoned', partitions: 1 },
  ]);
}, 30_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  await bus?.close();
  await server?.dispose();
});

function client(name: string): StreamBus {
  const created = new StreamBus({ brokers: [server.bootstrap], clientId: name });
  clients.push(created);
  return created;
}

/** Every record of the given partitions up to their end offsets, read at one isolation level. */
async function readAll(partitions: { topic: string; partition: number }[], isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<string[]> {
  const admin = bus.admin();
  const ends = await admin.listOffsets(partitions.map((p) => ({ ...p, at: 'latest' as const })));
  const consumer = bus.consumer({ isolationLevel, maxWaitMs: 50 });
  consumer.assign(partitions.map((p) => ({ ...p, offset: 0 })));
  const values: string[] = [];
  const endOf = new Map(ends.map((e) => [`${e.topic}-${e.partition}`, e.offset]));
  const done = (): boolean => partitions.every((p) => (consumer.position(p) ?? 0) >= (endOf.get(`${p.topic}-${p.partition}`) ?? 0));
  try {
    if (!done()) {
      for await (const message of consumer.messages({ signal: AbortSignal.timeout(10_000) })) {
        values.push(message.value!.toString());
        if (done()) break;
      }
    }
  } catch (error) {
    // read_committed stops short of the end when the last records are aborted: the position
    // moves past the markers, which the loop sees only with the next record. The deadline ends it.
    if (!(error instanceof Error) || error.name !== 'TimeoutError') throw error;
  } finally {
    await consumer.close();
  }
  return values.sort();
}

describe('transactions > commit and abort', () => {
  it('makes records on 3 partitions of 2 topics visible together on commit, and never shows an aborted transaction to read_committed', async () => {
    const producer = bus.producer({ transactionalId: 'ledger-writer' });
    await producer.transaction(async (tx) => {
      await Promise.all([
        tx.send({ topic: 'ledger', partition: 0, value: 'c-ledger-0' }),
        tx.send({ topic: 'ledger', partition: 1, value: 'c-ledger-1' }),
        tx.send({ topic: 'audit', partition: 0, value: 'c-audit-0' }),
      ]);
    });
    const failure = new Error('the application changed its mind');
    await expect(
      producer.transaction(async (tx) => {
        await Promise.all([
          tx.send({ topic: 'ledger', partition: 0, value: 'a-ledger-0' }),
          tx.send({ topic: 'ledger', partition: 1, value: 'a-ledger-1' }),
          tx.send({ topic: 'audit', partition: 0, value: 'a-audit-0' }),
        ]);
        throw failure;
      }),
    ).rejects.toBe(failure);
    await producer.transaction(async (tx) => {
      await tx.send({ topic: 'audit', partition: 0, value: 'c-audit-after' });
    });
    const partitions = [
      { topic: 'ledger', partition: 0 },
      { topic: 'ledger', partition: 1 },
      { topic: 'audit', partition: 0 },
    ];
    await eventually(async () => (await readAll(partitions, 'read_committed')).length === 4, 15_000, 200);
    expect(await readAll(partitions, 'read_committed')).toEqual(['c-audit-0', 'c-audit-after', 'c-ledger-0', 'c-ledger-1']);
    expect(await readAll(partitions, 'read_uncommitted')).toEqual(['a-audit-0', 'a-ledger-0', 'a-ledger-1', 'c-audit-0', 'c-audit-after', 'c-ledger-0', 'c-ledger-1']);
  });

  it('holds records of an open transaction back from read_committed until it commits, while read_uncommitted sees them at once', async () => {
    const producer = bus.producer({ transactionalId: 'slow-writer' });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let written: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => {
      written = resolve;
    });
    const running = producer.transaction(async (tx) => {
      await tx.send({ topic: 'ledger', partition: 1, value: 'open-1' });
      written();
      await held;
    });
    await sent;
    const first = async (isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<string | undefined> => {
      const consumer = bus.consumer({ isolationLevel, maxWaitMs: 50 });
      const [end] = await bus.admin().listOffsets([{ topic: 'ledger', partition: 1, at: 'latest' }]);
      consumer.assign([{ topic: 'ledger', partition: 1, offset: end!.offset - 1 }]);
      try {
        for await (const message of consumer.messages({ signal: AbortSignal.timeout(1_500) })) return message.value!.toString();
      } catch {
        return undefined;
      } finally {
        await consumer.close();
      }
      return undefined;
    };
    expect(await first('read_uncommitted')).toBe('open-1');
    expect(await first('read_committed')).toBeUndefined();
    release();
    await running;
    const committed = bus.consumer({ maxWaitMs: 50 });
    committed.assign([{ topic: 'ledger', partition: 1, offset: 0 }]);
    const seen: string[] = [];
    for await (const message of committed.messages({ signal: AbortSignal.timeout(10_000) })) {
      seen.push(message.value!.toString());
      if (seen.includes('open-1')) break;
    }
    await committed.close();
    expect(seen).toContain('open-1');
  });

  it('commits offsets sent with a transaction only when it commits', async () => {
    const producer = bus.producer({ transactionalId: 'offsets-writer' });
    const committed = async (): Promise<number> => {
      const { CoordinatorClient } = await import('../../client/index.js');
      const coordinators = new CoordinatorClient({ bootstrap: [server.bootstrap] });
      try {
        const [offset] = await coordinators.groups.fetchOffsets('offsets-group', [{ topic: 'orders', partitions: [1] }]);
        return offset?.offset ?? -1;
      } finally {
        await coordinators.close();
      }
    };
    await expect(
      producer.transaction(async (tx) => {
        await tx.sendOffsets({ groupId: 'offsets-group', offsets: [{ topic: 'orders', partition: 1, offset: 7 }] });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await committed()).toBe(-1);
    await producer.transaction(async (tx) => {
      await tx.send({ topic: 'audit', partition: 0, value: 'with-offsets' });
      await tx.sendOffsets({ groupId: 'offsets-group', offsets: [{ topic: 'orders', partition: 1, offset: 12 }] });
    });
    await eventually(async () => (await committed()) === 12, 10_000, 100);
  });

  it('aborts a transaction left open past its timeout by itself: read_committed moves past it, and its producer is fenced', async () => {
    const admin = bus.admin();
    const stuck = client('stuck').producer({ transactionalId: 'stuck-1', transactionTimeoutMs: 1_000 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    const open = stuck.transaction(async (tx) => {
      await tx.send({ topic: 'abandoned', partition: 0, value: 'left-open' });
      written();
      await held;
    });
    await wrote;
    // The open transaction holds the partition's last stable offset at its first record...
    expect(await readAll([{ topic: 'abandoned', partition: 0 }], 'read_uncommitted')).toEqual(['left-open']);
    const describe = async (): Promise<string | undefined> => (await admin.describeTransactions(['stuck-1']))[0]?.state;
    expect(await describe()).toBe('Ongoing');
    // ...until the coordinator aborts it, about a second later, with no word from the producer.
    await eventually(async () => (await describe()) === 'CompleteAbort', 10_000);
    // A read_committed consumer now gets past the aborted record and its marker to the log end,
    // handing out nothing.
    const [end] = await admin.listOffsets([{ topic: 'abandoned', partition: 0, at: 'latest' }]);
    expect(end?.offset).toBe(2);
    const consumer = bus.consumer({ isolationLevel: 'read_committed', maxWaitMs: 50 });
    consumer.assign([{ topic: 'abandoned', partition: 0, offset: 0 }]);
    const seen: string[] = [];
    const reading = (async () => {
      for await (const message of consumer.messages({ signal: AbortSignal.timeout(5_000) })) seen.push(message.value!.toString());
    })().catch(() => undefined);
    await eventually(() => (consumer.position({ topic: 'abandoned', partition: 0 }) ?? 0) >= 2, 5_000);
    await consumer.close();
    await reading;
    expect(seen).toEqual([]);
    // The abort bumped the epoch: the producer that left it open can no longer commit.
    release();
    await expect(open).rejects.toBeInstanceOf(ProducerFencedError);
  });

  it('fences the older instance of a transactional id: its next transaction fails with ProducerFencedError, for good', async () => {
    const zombie = client('zombie').producer({ transactionalId: 'fenced-id' });
    await zombie.transaction((tx) => tx.send({ topic: 'audit', partition: 0, value: 'zombie-1' }));
    const successor = client('successor').producer({ transactionalId: 'fenced-id' });
    await successor.transaction((tx) => tx.send({ topic: 'audit', partition: 0, value: 'successor-1' }));
    const error = await zombie.transaction((tx) => tx.send({ topic: 'audit', partition: 0, value: 'zombie-2' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProducerFencedError);
    expect((error as ProducerFencedError).code).toBe(ErrorCode.PRODUCER_FENCED);
    const again = await zombie.transaction(() => undefined).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ProducerFencedError);
    // The successor goes on unaffected.
    await successor.transaction((tx) => tx.send({ topic: 'audit', partition: 0, value: 'successor-2' }));
    const seen = await readAll([{ topic: 'audit', partition: 0 }], 'read_committed');
    expect(seen).not.toContain('zombie-2');
    expect(seen).toEqual(expect.arrayContaining(['zombie-1', 'successor-1', 'successor-2']));
  });
});

describe('transactions > consume-transform-produce', () => {
  it('turns every input record into exactly one output record and commits the input positions with them', async () => {
    const producer = bus.producer({ idempotent: true });
    const inputs = Array.from({ length: 300 }, (_, i) => `order-${i}`);
    await Promise.all(inputs.map((value, i) => producer.send({ topic: 'orders', partition: i % 3, value })));
    const worker = client('enricher');
    const consumer = worker.consumer({ groupId: 'enricher', autoCommit: false, autoOffsetReset: 'earliest', maxWaitMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 3_000 });
    consumer.subscribe(['orders']);
    const output = worker.producer({ transactionalId: 'enricher-1' });
    const stop = new AbortController();
    const running = runTransactional({
      consumer,
      producer: output,
      signal: stop.signal,
      transform: (batch) => batch.messages.map((m: Message) => ({ topic: 'enriched', key: m.value, value: `${m.value!.toString()}!` })),
    });
    const outputs = [
      { topic: 'enriched', partition: 0 },
      { topic: 'enriched', partition: 1 },
    ];
    await eventually(async () => (await readAll(outputs, 'read_committed')).length >= inputs.length, 30_000, 250);
    stop.abort();
    await running.catch(() => undefined);
    await consumer.close();
    expect(await readAll(outputs, 'read_committed')).toEqual(inputs.map((v) => `${v}!`).sort());
    const { CoordinatorClient } = await import('../../client/index.js');
    const coordinators = new CoordinatorClient({ bootstrap: [server.bootstrap] });
    try {
      const committed = await coordinators.groups.fetchOffsets('enricher', [{ topic: 'orders', partitions: [0, 1, 2] }]);
      const ends = await bus.admin().listOffsets([0, 1, 2].map((partition) => ({ topic: 'orders', partition, at: 'latest' as const })));
      expect(committed.map((c) => c.offset).sort()).toEqual(ends.map((e) => e.offset).sort());
    } finally {
      await coordinators.close();
    }
  });

  it('rewinds to the last committed offset when a transform fails, so a second run resumes without a gap or a repeat', async () => {
    const producer = bus.producer();
    const inputs = Array.from({ length: 50 }, (_, i) => `raw-${String(i).padStart(2, '0')}`);
    for (const value of inputs) await producer.send({ topic: 'raw', partition: 0, value });
    const worker = client('cook');
    const output = worker.producer({ transactionalId: 'cook-1' });
    const options = { groupId: 'cook', autoCommit: false, autoOffsetReset: 'earliest' as const, maxWaitMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 3_000, maxBufferedRecords: 10 };
    const first = worker.consumer(options);
    first.subscribe(['raw']);
    let failed = false;
    const failure = new Error('transform failed on raw-25');
    const run = runTransactional({
      consumer: first,
      producer: output,
      transform: (batch) => {
        if (!failed && batch.messages.some((m) => m.value!.toString() === 'raw-25')) {
          failed = true;
          throw failure;
        }
        return batch.messages.map((m) => ({ topic: 'cooked', value: `${m.value!.toString()}+` }));
      },
    });
    await expect(run).rejects.toBe(failure);
    // The same consumer, rewound to the committed offset (the failed batch's first record), runs again.
    const stop = new AbortController();
    const resumed = runTransactional({ consumer: first, producer: output, signal: stop.signal, transform: (batch) => batch.messages.map((m) => ({ topic: 'cooked', value: `${m.value!.toString()}+` })) });
    await eventually(async () => (await readAll([{ topic: 'cooked', partition: 0 }], 'read_committed')).length >= inputs.length, 20_000, 250);
    stop.abort();
    await resumed.catch(() => undefined);
    await first.close();
    expect(await readAll([{ topic: 'cooked', partition: 0 }], 'read_committed')).toEqual(inputs.map((v) => `${v}+`));
  });
});
