/**
 * Deleting one partition's log (a replica reassigned away from this broker): the data goes, the
 * partition's siblings stay, the deletion survives a restart, and a later replica of the same
 * partition starts empty, even after a crash halfway through a deletion.
 */
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import type { LogStore } from './log-store.js';
import { KeyTag, PartitionKeys } from './layout.js';
import { NOW_MS, batch, decode, errorName, logConfig, openStore, useTempDir, values } from './fixtures/log-fixtures.js';

const temp = useTempDir();

describe('log > delete partition', () => {
  it('removes one partition and keeps the others, through a restart', async () => {
    let store = await openStore(temp.dir);
    const gone = await store.openPartition('orders', 0, logConfig());
    const kept = await store.openPartition('orders', 1, logConfig());
    await gone.append(batch(values(3)), { nowMs: NOW_MS });
    await kept.append(batch(values(2, 'k')), { nowMs: NOW_MS });
    await store.deletePartition('orders', 0);
    expect(store.getPartition('orders', 0)).toBeUndefined();
    expect(store.storedPartitions()).toEqual([{ topicId: 'orders', partition: 1 }]);
    expect(await errorName(gone.append(batch(values(1)), { nowMs: NOW_MS }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    await store.close();

    store = await openStore(temp.dir);
    expect(store.storedPartitions()).toEqual([{ topicId: 'orders', partition: 1 }]);
    const again = await store.openPartition('orders', 0, logConfig());
    expect(again.logEndOffset).toBe(0);
    expect((await again.read(0, 1 << 20)).records).toHaveLength(0);
    const other = await store.openPartition('orders', 1, logConfig());
    expect(decode((await other.read(0, 1 << 20)).records).map((r) => r.value)).toEqual(['k0', 'k1']);
    await store.deletePartition('orders', 7);
    await store.close();
  });

  it('starts a partition created again empty when a crash left its old data behind', async () => {
    let store: LogStore = await openStore(temp.dir);
    const log = await store.openPartition('orders', 0, logConfig());
    await log.append(batch(values(5)), { nowMs: NOW_MS });
    await store.close();
    // A crash right after the state key went: the batches are still there, nothing names them.
    const db = new ClassicLevel<Buffer, Buffer>(temp.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    await db.del(new PartitionKeys('orders', 0).state());
    const leftovers = await db.keys({ gte: new PartitionKeys('orders', 0).rangeStart(KeyTag.batch), lt: new PartitionKeys('orders', 0).rangeEnd(KeyTag.batch) }).all();
    expect(leftovers.length).toBeGreaterThan(0);
    await db.close();

    store = await openStore(temp.dir);
    const fresh = await store.openPartition('orders', 0, logConfig());
    expect(fresh.logEndOffset).toBe(0);
    await fresh.append(batch(values(1, 'new')), { nowMs: NOW_MS });
    expect(decode((await fresh.read(0, 1 << 20)).records).map((r) => [r.offset, r.value])).toEqual([[0, 'new0']]);
    await store.close();
  });
});
