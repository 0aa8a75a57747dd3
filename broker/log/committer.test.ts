import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StreamBusError } from '../../proto/errors.js';
import { Committer, type CommitEntry, type LogDatabase, type WriteOp } from './committer.js';
import type { DurabilityMode } from './types.js';
import { waitFor } from './fixtures/log-fixtures.js';

interface Write {
  readonly keys: string[];
  readonly sync: boolean;
  readonly settle: (error?: Error) => void;
}

/**
 * A stand-in for the LevelDB handle whose writes complete when the test says so. `onBatch` runs
 * synchronously inside each db.batch() call, where classic-level copies the values.
 */
function fakeDb(onBatch: () => void = () => {}): { db: LogDatabase; writes: Write[] } {
  const writes: Write[] = [];
  const db = {
    batch: (ops: WriteOp[], options: { sync: boolean }) => {
      onBatch();
      return new Promise<void>((resolve, reject) => {
        writes.push({
          keys: ops.map((op) => op.key.toString()),
          sync: options.sync,
          settle: (error) => (error === undefined ? resolve() : reject(error)),
        });
      });
    },
  };
  return { db: db as unknown as LogDatabase, writes };
}

function committer(mode: DurabilityMode, db: LogDatabase, maxQueuedBytes = 1 << 20, maxGroupBytes = 1 << 20): Committer {
  return new Committer({
    db,
    durability: mode === 'interval' ? { mode, intervalMs: 10 } : { mode },
    logger: pino({ enabled: false }),
    maxGroupBytes,
    maxQueuedBytes,
  });
}

function entry(key: string, lane: object | undefined, onCommitted: () => void = () => {}, bytes = 10): () => CommitEntry<string> {
  return () => ({ lane, ops: [{ type: 'put', key: Buffer.from(key), value: Buffer.from('v') }], bytes, onCommitted, result: key });
}

describe('log > committer', () => {
  it('group mode: gathers what arrives during a synced write into the next one', async () => {
    const { db, writes } = fakeDb();
    const c = committer('group', db);
    const done: string[] = [];
    const track = (p: Promise<string>) => void p.then((key) => done.push(key));
    track(c.submit(10, entry('a', undefined)));
    await waitFor(() => writes.length === 1, 1000, 'the first write');
    track(c.submit(10, entry('b', undefined)));
    track(c.submit(10, entry('c', undefined)));
    track(c.submit(10, entry('d', undefined)));
    expect(writes).toHaveLength(1);
    writes[0]!.settle();
    await waitFor(() => writes.length === 2, 1000, 'the second write');
    expect(done).toEqual(['a']);
    expect(writes.map((w) => [w.keys, w.sync])).toEqual([
      [['a'], true],
      [['b', 'c', 'd'], true],
    ]);
    writes[1]!.settle();
    await c.whenIdle();
    expect(done).toEqual(['a', 'b', 'c', 'd']);
    expect(c.stats).toEqual({ entries: 4, writes: 2, syncedWrites: 2, bytes: 40 });
  });

  it('group mode: caps a group at maxGroupBytes and sends a larger entry alone, in submission order', async () => {
    const { db, writes } = fakeDb();
    const c = committer('group', db, 1 << 20, 100);
    const all = Promise.all([c.submit(10, entry('a', undefined))]);
    await waitFor(() => writes.length === 1, 1000, 'the first write');
    const rest = Promise.all([
      c.submit(40, entry('b', undefined, () => {}, 40)),
      c.submit(40, entry('c', undefined, () => {}, 40)),
      c.submit(40, entry('d', undefined, () => {}, 40)),
      c.submit(250, entry('big', undefined, () => {}, 250)),
      c.submit(10, entry('e', undefined)),
    ]);
    for (let i = 0; i < 4; i++) {
      writes[i]!.settle();
      await waitFor(() => writes.length === i + 2, 1000, `write ${i + 2}`);
    }
    writes[4]!.settle();
    expect(await all).toEqual(['a']);
    expect(await rest).toEqual(['b', 'c', 'd', 'big', 'e']);
    expect(writes.map((w) => w.keys)).toEqual([['a'], ['b', 'c'], ['d'], ['big'], ['e']]);
    expect(c.stats).toMatchObject({ entries: 6, writes: 5, bytes: 390 });
  });

  it("group mode: a group's submitters see their result before the next group's write begins", async () => {
    const done: string[] = [];
    const seenAtWrite: string[][] = [];
    const { db, writes } = fakeDb(() => seenAtWrite.push([...done]));
    const c = committer('group', db);
    const track = (p: Promise<string>) => void p.then((key) => done.push(key));
    track(c.submit(10, entry('a', undefined)));
    await waitFor(() => writes.length === 1, 1000, 'the first write');
    track(c.submit(10, entry('b', undefined)));
    writes[0]!.settle();
    await waitFor(() => writes.length === 2, 1000, 'the second write');
    // The acknowledgement of 'a' is not held up by the synchronous part of the write of 'b'.
    expect(seenAtWrite).toEqual([[], ['a']]);
    writes[1]!.settle();
    await c.whenIdle();
    expect(done).toEqual(['a', 'b']);
  });

  it('sync mode: one synced write per entry, in order within a lane, lanes in parallel', async () => {
    const { db, writes } = fakeDb();
    const c = committer('sync', db);
    const laneA = {};
    const laneB = {};
    const settled = Promise.all([c.submit(10, entry('a1', laneA)), c.submit(10, entry('a2', laneA)), c.submit(10, entry('b1', laneB))]);
    await waitFor(() => writes.length === 2, 1000, 'one write per lane');
    expect(writes.map((w) => w.keys[0]).sort()).toEqual(['a1', 'b1']);
    writes[0]!.settle();
    writes[1]!.settle();
    await waitFor(() => writes.length === 3, 1000, 'the lane-A follow-up');
    expect(writes[2]!.keys).toEqual(['a2']);
    writes[2]!.settle();
    expect(await settled).toEqual(['a1', 'a2', 'b1']);
    expect(writes.every((w) => w.sync && w.keys.length === 1)).toBe(true);
  });

  it('interval mode: writes unsynced and syncs within the interval', async () => {
    const { db, writes } = fakeDb();
    const c = committer('interval', db);
    const written = c.submit(10, entry('a', undefined));
    await waitFor(() => writes.length === 1, 1000, 'the write');
    expect(writes[0]!.sync).toBe(false);
    writes[0]!.settle();
    expect(await written).toBe('a');
    await waitFor(() => writes.length === 2, 1000, 'the interval sync');
    expect(writes[1]!.sync).toBe(true);
    writes[1]!.settle();
    await c.close();
  });

  it('holds submissions beyond the queue limit and builds them in submission order', async () => {
    const { db, writes } = fakeDb();
    const c = committer('group', db, 25);
    const built: string[] = [];
    const build = (key: string) => () => {
      built.push(key);
      return entry(key, undefined)();
    };
    const all = Promise.all(['a', 'b', 'c', 'd', 'e'].map((key) => c.submit(10, build(key))));
    expect(built).toEqual(['a', 'b']);
    await waitFor(() => writes.length === 1, 1000, 'the first write');
    writes[0]!.settle();
    await waitFor(() => writes.length === 2, 1000, 'the second write');
    expect(built).toEqual(['a', 'b', 'c', 'd']);
    writes[1]!.settle();
    await waitFor(() => writes.length === 3, 1000, 'the third write');
    writes[2]!.settle();
    expect(await all).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('fails the store on a write error: queued and later submissions get KAFKA_STORAGE_ERROR', async () => {
    const { db, writes } = fakeDb();
    const c = committer('group', db);
    let committed = 0;
    const first = c.submit(10, entry('a', undefined, () => committed++));
    await waitFor(() => writes.length === 1, 1000, 'the first write');
    const queued = c.submit(10, entry('b', undefined, () => committed++));
    writes[0]!.settle(new Error('disk on fire'));
    for (const outcome of await Promise.allSettled([first, queued, c.submit(10, entry('c', undefined))])) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as StreamBusError;
      expect(reason.codeName).toBe('KAFKA_STORAGE_ERROR');
      expect(reason.message).toContain('disk on fire');
    }
    expect(committed).toBe(0);
    expect(c.failure?.codeName).toBe('KAFKA_STORAGE_ERROR');
    await c.whenIdle();
  });

  it('rejects a submission whose build throws, without queuing it', async () => {
    const { db, writes } = fakeDb();
    const c = committer('group', db);
    await expect(
      c.submit(10, () => {
        throw new StreamBusError(3, 'gone');
      }),
    ).rejects.toThrow('gone');
    await c.whenIdle();
    expect(writes).toHaveLength(0);
  });
});
