import { Writable } from 'node:stream';
import { ClassicLevel } from 'classic-level';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Offsets } from '../../proto/record-batch/index.js';
import { LogStore } from './log-store.js';
import { KeyTag, PartitionKeys, StoreKey, keyOffset, parseScopedKey, storeKey, topicPrefix } from './layout.js';
import { NOW_MS, batch, batchRanges, decode, errorName, logConfig, openStore, useTempDir, values } from './fixtures/log-fixtures.js';

const temp = useTempDir();

/** Runs `edit` on the database directly, as another program (or a disk) would change it. */
async function withRawDb(edit: (db: ClassicLevel<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(temp.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

async function allKeys(): Promise<Buffer[]> {
  let keys: Buffer[] = [];
  await withRawDb(async (db) => {
    keys = await db.keys().all();
  });
  return keys;
}

function capturingLogger(): { logger: pino.Logger; lines: () => { msg: string; [key: string]: unknown }[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines.map((line) => JSON.parse(line) as { msg: string }) };
}

describe('log > store restart', () => {
  it('recovers every partition with its log end, size and contents', async () => {
    let store = await openStore(temp.dir);
    const a = await store.openPartition('orders', 0, logConfig());
    const b = await store.openPartition('orders', 1, logConfig());
    await a.append(batch(values(3)), { nowMs: NOW_MS });
    await a.append(batch(values(2, 'w')), { nowMs: NOW_MS });
    await b.append(batch(values(1, 'x')), { nowMs: NOW_MS });
    const sizes = [a.sizeBytes, b.sizeBytes];
    await store.close();

    store = await openStore(temp.dir);
    try {
      expect(store.storedPartitions().sort((x, y) => x.partition - y.partition)).toEqual([
        { topicId: 'orders', partition: 0 },
        { topicId: 'orders', partition: 1 },
      ]);
      expect(store.getPartition('orders', 0)).toBeUndefined();
      const a2 = await store.openPartition('orders', 0, logConfig());
      const b2 = await store.openPartition('orders', 1, logConfig());
      expect([a2.logStartOffset, a2.logEndOffset, a2.highWatermark, b2.logEndOffset]).toEqual([0, 5, 5, 1]);
      expect([a2.sizeBytes, b2.sizeBytes]).toEqual(sizes);
      expect(decode((await a2.read(0, 1 << 20)).records).map((r) => r.value)).toEqual(['v0', 'v1', 'v2', 'w0', 'w1']);
      expect((await a2.append(batch(values(1)), { nowMs: NOW_MS })).baseOffset).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('refuses a second store on a directory in use with KAFKA_STORAGE_ERROR', async () => {
    const store = await openStore(temp.dir);
    try {
      expect(await errorName(openStore(temp.dir))).toBe('KAFKA_STORAGE_ERROR');
    } finally {
      await store.close();
    }
  });

  it('refuses a database written in an unknown format', async () => {
    await (await openStore(temp.dir)).close();
    await withRawDb((db) => db.put(storeKey(StoreKey.format), Buffer.of(9)));
    expect(await errorName(openStore(temp.dir))).toBe('KAFKA_STORAGE_ERROR');
  });

  it('refuses work after close with SHUTTING_DOWN and lets queued appends finish', async () => {
    const store = await openStore(temp.dir);
    const log = await store.openPartition('t', 0, logConfig());
    const pending = log.append(batch(values(2)), { nowMs: NOW_MS });
    const closing = store.close();
    expect(await errorName(log.append(batch(values(1)), { nowMs: NOW_MS }))).toBe('SHUTTING_DOWN');
    expect(await errorName(store.openPartition('t', 1, logConfig()))).toBe('SHUTTING_DOWN');
    expect((await pending).lastOffset).toBe(1);
    await closing;
    const reopened = await openStore(temp.dir);
    expect((await reopened.openPartition('t', 0, logConfig())).logEndOffset).toBe(2);
    await reopened.close();
  });
});

describe('log > recovery of a corrupt tail', () => {
  async function writeThreeBatches(): Promise<number[]> {
    const store = await openStore(temp.dir);
    const log = await store.openPartition('t', 0, logConfig());
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = log.sizeBytes;
      await log.append(batch(values(2, `b${i}-`)), { nowMs: NOW_MS });
      sizes.push(log.sizeBytes - before);
    }
    await store.close();
    return sizes;
  }

  it('drops a garbage tail batch at open and never serves it', async () => {
    const sizes = await writeThreeBatches();
    const keys = new PartitionKeys('t', 0);
    await withRawDb((db) => db.put(keys.batch(5), Buffer.from('this is not a record batch, just bytes')));
    const { logger, lines } = capturingLogger();
    const store = await openStore(temp.dir, 'group', { logger });
    try {
      const log = await store.openPartition('t', 0, logConfig());
      expect([log.logEndOffset, log.highWatermark, log.sizeBytes]).toEqual([4, 4, sizes[0]! + sizes[1]!]);
      expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([
        [0, 1],
        [2, 3],
      ]);
      expect(await errorName(log.read(5, 1 << 20))).toBe('OFFSET_OUT_OF_RANGE');
      expect(await log.listOffset(NOW_MS)).toEqual({ offset: 0, timestamp: NOW_MS });
      expect(lines().some((l) => l.msg === 'dropped corrupt or torn batches at the log tail' && l['droppedBatches'] === 1)).toBe(true);
      expect((await log.append(batch(values(1, 'new')), { nowMs: NOW_MS })).baseOffset).toBe(4);
      expect(decode((await log.read(4, 1 << 20)).records).map((r) => r.value)).toEqual(['new0']);
    } finally {
      await store.close();
    }
  });

  it('after a crash, drops everything from the oldest batch that fails its CRC', async () => {
    const sizes = await writeThreeBatches();
    const keys = new PartitionKeys('t', 0);
    await withRawDb(async (db) => {
      const middle = (await db.get(keys.batch(3)))!;
      middle.writeUInt8(middle.readUInt8(middle.length - 1) ^ 0xff, middle.length - 1); // inside the CRC's range
      await db.put(keys.batch(3), middle);
      await db.del(storeKey(StoreKey.cleanShutdown)); // as if the broker had been killed
    });
    const store = await openStore(temp.dir);
    try {
      const log = await store.openPartition('t', 0, logConfig());
      expect([log.logEndOffset, log.sizeBytes]).toEqual([2, sizes[0]]);
      expect(batchRanges((await log.read(0, 1 << 20)).records)).toEqual([[0, 1]]);
    } finally {
      await store.close();
    }
    // The repair itself is durable: the dropped keys are gone from the database.
    const batchKeys = (await allKeys()).filter((k) => k[0] === KeyTag.batch || k[0] === KeyTag.batchIndex);
    expect(batchKeys.map((k) => keyOffset(k)).sort()).toEqual([1, 1]);
  });

  it('checks only the newest batch after a clean shutdown', async () => {
    await writeThreeBatches();
    const keys = new PartitionKeys('t', 0);
    await withRawDb(async (db) => {
      const first = (await db.get(keys.batch(1)))!;
      first.writeInt8(0, Offsets.magic); // not the newest: a clean open does not look at it
      await db.put(keys.batch(1), first);
    });
    const store = await openStore(temp.dir);
    try {
      const log = await store.openPartition('t', 0, logConfig());
      expect(log.logEndOffset).toBe(6);
      // ...but a read never returns a stored value that is not the batch its key names.
      expect(await errorName(log.read(0, 1 << 20))).toBe('KAFKA_STORAGE_ERROR');
      expect(batchRanges((await log.read(2, 1 << 20)).records)).toEqual([
        [2, 3],
        [4, 5],
      ]);
    } finally {
      await store.close();
    }
  });
});

describe('log > delete topic', () => {
  it('closes the partitions and removes every key of the topic, leaving other topics alone', async () => {
    const store = await openStore(temp.dir);
    const doomed = await store.openPartition('doomed', 0, logConfig());
    await store.openPartition('doomed', 1, logConfig());
    const kept = await store.openPartition('kept', 0, logConfig());
    await doomed.append(batch(values(3)), { nowMs: NOW_MS });
    await doomed.append(batch([{ key: 'x', value: 'y', timestamp: NOW_MS + 5 }]), { nowMs: NOW_MS });
    await kept.append(batch(values(2)), { nowMs: NOW_MS });
    await store.deleteTopic('doomed');
    expect(store.getPartition('doomed', 0)).toBeUndefined();
    expect(await errorName(doomed.append(batch(values(1)), { nowMs: NOW_MS }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(await errorName(doomed.read(0, 100))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    await store.deleteTopic('doomed'); // idempotent
    await store.deleteTopic('never-existed');
    expect(decode((await kept.read(0, 1 << 20)).records)).toHaveLength(2);
    await store.close();

    const topics = (await allKeys()).filter((k) => k[0] !== KeyTag.store).map((k) => parseScopedKey(k).topicId);
    expect(new Set(topics)).toEqual(new Set(['kept']));
  });

  it('lets a deleted topic id be created again, empty', async () => {
    const store = await openStore(temp.dir);
    const log = await store.openPartition('t', 0, logConfig());
    await log.append(batch(values(3)), { nowMs: NOW_MS });
    await store.deleteTopic('t');
    const fresh = await store.openPartition('t', 0, logConfig());
    expect(fresh).not.toBe(log);
    expect([fresh.logStartOffset, fresh.logEndOffset, fresh.sizeBytes]).toEqual([0, 0, 0]);
    await store.close();
  });

  it('finishes a deletion that a crash interrupted', async () => {
    const store = await openStore(temp.dir);
    const log = await store.openPartition('t', 0, logConfig());
    await log.append(batch(values(3)), { nowMs: NOW_MS });
    await store.close();
    // The first step of a deletion (marker written, state keys removed), then a crash.
    await withRawDb((db) =>
      db.batch([
        { type: 'put', key: topicPrefix(KeyTag.topicDeletion, 't'), value: Buffer.alloc(0) },
        { type: 'del', key: new PartitionKeys('t', 0).state() },
        { type: 'del', key: storeKey(StoreKey.cleanShutdown) },
      ]),
    );
    const reopened = await LogStore.open({ dir: temp.dir, durability: { mode: 'group' } });
    expect(reopened.storedPartitions()).toEqual([]);
    await reopened.close();
    expect((await allKeys()).filter((k) => k[0] !== KeyTag.store)).toEqual([]);
  });
});
