import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { type Entry, RaftAssertionError, type Snapshot } from '../index.js';
import { LevelRaftStorage } from './level-raft-storage.js';
import {
  ENTRY_KEY_END,
  ENTRY_KEY_MIN,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  SNAPSHOT_KEY,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  entryKey,
  indexOfEntryKey,
} from './storage-codec.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'streambus-raft-storage-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function open(dir: string, nodeId = 1, clusterId = 'cluster-a'): Promise<LevelRaftStorage> {
  return LevelRaftStorage.open({ dir, nodeId, clusterId });
}

function normal(index: number, term: number, data = `e${index}`): Entry {
  return { kind: 'normal', index, term, data: text(data) };
}

const bootstrap: Snapshot = { meta: { index: 0, term: 0, voters: [1, 2, 3] }, data: new Uint8Array(0) };

/** A store holding the bootstrap snapshot and entries 1..5 (term 1), commit 3. */
async function seeded(dir: string): Promise<void> {
  const store = await open(dir);
  await store.load();
  await store.persist({ snapshot: bootstrap, entries: [1, 2, 3, 4, 5].map((i) => normal(i, 1)), hardState: { term: 1, vote: 1, commit: 3 } });
  await store.close();
}

/** Edits the closed store's database directly, as damage or a foreign writer would. */
async function raw(dir: string, edit: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

/** The indexes of the entry keys in the database, in key order. */
async function storedEntryIndexes(db: ClassicLevel<Uint8Array, Uint8Array>): Promise<(number | undefined)[]> {
  return (await db.keys({ gte: ENTRY_KEY_MIN, lt: ENTRY_KEY_END }).all()).map((key) => indexOfEntryKey(key));
}

/** A batch as classic-level builds it; `_write` is where LevelDB's native write is called. */
interface NativeBatch {
  _write: (...args: unknown[]) => Promise<void>;
}

/**
 * Makes the next batch any store writes fail in LevelDB's native write with `error`, the way a
 * full disk fails it; every other batch is written for real.
 */
function failNextBatchWrite(error: Error): void {
  const proto = ClassicLevel.prototype as unknown as { _chainedBatch: () => NativeBatch };
  const original = proto._chainedBatch;
  vi.spyOn(proto, '_chainedBatch').mockImplementationOnce(function (this: unknown) {
    const batch = original.call(this);
    batch._write = () => Promise.reject(error);
    return batch;
  });
}

async function expectRefusal(promise: Promise<unknown>, code: ErrorCode, ...fragments: string[]): Promise<StreamBusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StreamBusError);
  const typed = error as StreamBusError;
  expect(typed.codeName).toBe(Object.entries(ErrorCode).find(([, c]) => c === code)?.[0]);
  for (const fragment of fragments) expect(typed.message).toContain(fragment);
  return typed;
}

async function loadFails(dir: string, code: ErrorCode, ...fragments: string[]): Promise<void> {
  const store = await open(dir);
  try {
    await expectRefusal(store.load(), code, ...fragments);
  } finally {
    await store.close();
  }
}

describe('raft storage > round trips', () => {
  it('reports a store that was never written as empty', async () => {
    const store = await open(await tempDir());
    await expect(store.load()).resolves.toBeUndefined();
    await store.close();
  });

  it('returns the hard state, snapshot and entries of earlier runs after a reopen', async () => {
    const dir = await tempDir();
    const snapshot: Snapshot = { meta: { index: 0, term: 0, voters: [1, 2, 3] }, data: text('state') };
    const entries: Entry[] = [normal(1, 1, ''), { kind: 'config', index: 2, term: 1, voters: [1, 2, 3, 4] }, normal(3, 2, 'x'.repeat(100_000))];
    const store = await open(dir);
    await store.load();
    await store.persist({ snapshot, entries, hardState: { term: 2, vote: 3, commit: 2 } });
    await store.close();

    const again = await open(dir);
    expect(await again.load()).toEqual({ hardState: { term: 2, vote: 3, commit: 2 }, snapshot, entries });
    expect(await again.entries(2, 4)).toEqual(entries.slice(1));
    await again.close();
  });

  it('defaults the hard state to term 0 when only the bootstrap snapshot was written', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    await store.load();
    await store.persist({ snapshot: bootstrap, entries: [], hardState: undefined });
    expect(await store.load()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, snapshot: bootstrap, entries: [] });
    await store.close();
  });

  it('truncates the conflicting suffix in the same write as the append that replaces it', async () => {
    const dir = await tempDir();
    await seeded(dir);
    const store = await open(dir);
    await store.load();
    await store.persist({ snapshot: undefined, entries: [normal(3, 2, 'new3'), normal(4, 2, 'new4')], hardState: { term: 2, vote: 2, commit: 3 } });
    const restored = await store.load();
    expect(restored?.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ]);
    expect(restored?.hardState).toEqual({ term: 2, vote: 2, commit: 3 });
    await store.close();
    // Nothing of the old entry 5 is left on disk.
    await raw(dir, async (db) => expect(await db.get(entryKey(5))).toBeUndefined());
  });

  it('replaces every stored entry when a Ready carries a snapshot, then appends after it', async () => {
    const dir = await tempDir();
    await seeded(dir);
    const store = await open(dir);
    await store.load();
    const snapshot: Snapshot = { meta: { index: 20, term: 3, voters: [1, 2] }, data: text('at 20') };
    await store.persist({ snapshot, entries: [normal(21, 3)], hardState: { term: 3, vote: 0, commit: 20 } });
    expect(await store.load()).toEqual({ hardState: { term: 3, vote: 0, commit: 20 }, snapshot, entries: [normal(21, 3)] });
    await store.close();
    await raw(dir, async (db) => {
      for (const i of [1, 2, 3, 4, 5]) expect(await db.get(entryKey(i))).toBeUndefined();
    });
  });

  it('compacts: stores the snapshot and deletes the entries it covers', async () => {
    const dir = await tempDir();
    await seeded(dir);
    const store = await open(dir);
    await store.load();
    const snapshot: Snapshot = { meta: { index: 3, term: 1, voters: [1, 2, 3] }, data: text('1..3') };
    await store.compact(snapshot);
    await store.compact({ ...snapshot, meta: { ...snapshot.meta, index: 2 } }); // older: ignored
    expect(await store.load()).toEqual({ hardState: { term: 1, vote: 1, commit: 3 }, snapshot, entries: [normal(4, 1), normal(5, 1)] });
    await expectRefusal(store.entries(3, 5), ErrorCode.OFFSET_OUT_OF_RANGE, 'compacted');
    expect(await store.entries(4, 100)).toEqual([normal(4, 1), normal(5, 1)]);
    await store.close();
    await raw(dir, async (db) => expect(await db.get(entryKey(3))).toBeUndefined());
  });
});

describe('raft storage > compaction', () => {
  it('deletes what each compaction covers, after its snapshot, and keeps every entry above it', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    await store.load();
    const count = 3000;
    const entries = Array.from({ length: count }, (_, i) => normal(i + 1, 1, 'x'.repeat(100)));
    await store.persist({ snapshot: bootstrap, entries, hardState: { term: 1, vote: 1, commit: count } });
    const first: Snapshot = { meta: { index: 1000, term: 1, voters: [1, 2, 3] }, data: text('1..1000') };
    const second: Snapshot = { meta: { index: count - 2, term: 1, voters: [1, 2, 3] }, data: text(`1..${count - 2}`) };
    await store.compact(first);
    await store.compact(second);
    // Readable at once: the store answers for (snapshot, last] whatever the deletes are doing.
    expect(await store.entries(count - 1, count + 1)).toEqual(entries.slice(count - 2));
    await expectRefusal(store.entries(count - 2, count), ErrorCode.OFFSET_OUT_OF_RANGE, 'compacted');
    await store.close();
    await raw(dir, async (db) => {
      expect(await storedEntryIndexes(db)).toEqual([count - 1, count]);
      expect(new Uint8Array((await db.get(SNAPSHOT_KEY))!)).toEqual(encodeSnapshot(second));
    });
  });

  it('loads a store whose compaction stopped between the snapshot and its deletes, and deletes the leftovers', async () => {
    const dir = await tempDir();
    await seeded(dir);
    // What a crash right after compact()'s snapshot write leaves: the snapshot at 3, entries 1..5.
    const snapshot: Snapshot = { meta: { index: 3, term: 1, voters: [1, 2, 3] }, data: text('1..3') };
    await raw(dir, (db) => db.put(SNAPSHOT_KEY, encodeSnapshot(snapshot)));
    const store = await open(dir);
    expect(await store.load()).toEqual({ hardState: { term: 1, vote: 1, commit: 3 }, snapshot, entries: [normal(4, 1), normal(5, 1)] });
    await store.close();
    await raw(dir, async (db) => expect(await storedEntryIndexes(db)).toEqual([4, 5]));
  });

  it('refuses a key below the snapshot that is not a well-formed entry key rather than deleting it as a leftover', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, async (db) => {
      await db.put(SNAPSHOT_KEY, encodeSnapshot({ meta: { index: 3, term: 1, voters: [1, 2, 3] }, data: text('1..3') }));
      await db.put(new Uint8Array([0x01, 0x00]), text('stray'));
    });
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'entry key 0100', 'not a well-formed entry key');
  });
});

describe('raft storage > refusing damaged stores', () => {
  it('refuses an entry whose checksum does not match, naming its index', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, async (db) => {
      const value = (await db.get(entryKey(3)))!;
      value[value.length - 1]! ^= 0x01;
      await db.put(entryKey(3), value);
    });
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'entry 3', 'checksum mismatch', dir);
  });

  it('refuses a log with a gap where a middle entry was deleted', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, (db) => db.del(entryKey(3)));
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'entry 3', 'gap', 'next stored entry is 4');
  });

  it('refuses a term that goes backwards', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, async (db) => {
      await db.put(entryKey(4), encodeEntry(normal(4, 2)));
      await db.put(entryKey(5), encodeEntry(normal(5, 1)));
      await db.put(HARD_STATE_KEY, encodeHardState({ term: 2, vote: 1, commit: 3 }));
    });
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'entry 5', 'term 1 goes backwards from term 2');
  });

  it('refuses an entry stored under the key of another index', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, (db) => db.put(entryKey(3), encodeEntry(normal(4, 1))));
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'entry 3', 'says index 4');
  });

  it('refuses a truncated log: commit past the last stored entry', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, async (db) => {
      await db.del(entryKey(5));
      await db.del(entryKey(4));
      await db.del(entryKey(3));
    });
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'truncated log', 'commit index 3', 'last stored entry 2');
  });

  it('refuses a damaged hard state and a damaged snapshot', async () => {
    for (const key of [HARD_STATE_KEY, SNAPSHOT_KEY]) {
      const dir = await tempDir();
      await seeded(dir);
      await raw(dir, async (db) => {
        const value = (await db.get(key))!;
        value[6]! ^= 0x80;
        await db.put(key, value);
      });
      await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, key === HARD_STATE_KEY ? 'the hard state' : 'the snapshot', 'checksum mismatch');
    }
  });

  it('refuses entries or a hard state without the snapshot every first write stores', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, (db) => db.del(SNAPSHOT_KEY));
    await loadFails(dir, ErrorCode.KAFKA_STORAGE_ERROR, 'no snapshot');
  });

  it('refuses a value written in an unknown format version', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, async (db) => {
      const value = (await db.get(entryKey(2)))!;
      value[0] = 9;
      await db.put(entryKey(2), value);
    });
    await loadFails(dir, ErrorCode.UNSUPPORTED_VERSION, 'entry 2', 'format version 9');
  });

  it('refuses to open a store of another node id or another cluster', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await expectRefusal(open(dir, 2), ErrorCode.INVALID_CONFIG, 'belongs to node 1, not node 2');
    await expectRefusal(open(dir, 1, 'cluster-b'), ErrorCode.INCONSISTENT_CLUSTER_ID, '"cluster-a"', '"cluster-b"');
    // The right identity still opens: the refusals changed nothing.
    const store = await open(dir);
    expect((await store.load())?.entries).toHaveLength(5);
    await store.close();
  });

  it('refuses an identity record in an unknown format, or a database that has no identity record', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await raw(dir, async (db) => {
      const value = (await db.get(IDENTITY_KEY))!;
      value[0] = 2;
      await db.put(IDENTITY_KEY, value);
    });
    await expectRefusal(open(dir), ErrorCode.UNSUPPORTED_VERSION, 'identity', 'format version 2');
    await raw(dir, (db) => db.del(IDENTITY_KEY));
    await expectRefusal(open(dir), ErrorCode.KAFKA_STORAGE_ERROR, 'without a raft identity record');
  });

  it('refuses to open when LevelDB cannot open its files (corrupt CURRENT)', async () => {
    const dir = await tempDir();
    await seeded(dir);
    await writeFile(join(dir, 'CURRENT'), 'MANIFEST-999999\n');
    await expectRefusal(open(dir), ErrorCode.KAFKA_STORAGE_ERROR, 'cannot open the raft storage', dir);
  });

  it('refuses to open a store another instance holds open', async () => {
    const dir = await tempDir();
    const first = await open(dir);
    await expectRefusal(open(dir), ErrorCode.KAFKA_STORAGE_ERROR, 'in use');
    await first.close();
  });

  it('refuses bad options with INVALID_CONFIG', async () => {
    const dir = await tempDir();
    await expectRefusal(open(dir, 0), ErrorCode.INVALID_CONFIG, 'positive integer');
    await expectRefusal(open(dir, 1, ''), ErrorCode.INVALID_CONFIG, 'cluster id');
  });
});

describe('raft storage > failures and lifecycle', () => {
  it('fails for good after a write fails: every later call rejects with the first error', async () => {
    // A full disk cannot be produced safely on a shared machine, so LevelDB's native batch write
    // is made to fail the way it would (ENOSPC from the write-ahead log); everything else is real.
    const dir = await tempDir();
    const store = await open(dir);
    await store.load();
    await store.persist({ snapshot: bootstrap, entries: [normal(1, 1)], hardState: { term: 1, vote: 1, commit: 0 } });
    failNextBatchWrite(new Error('IO error: ENOSPC: no space left on device'));

    const first = await expectRefusal(store.persist({ snapshot: undefined, entries: [normal(2, 1)], hardState: undefined }), ErrorCode.KAFKA_STORAGE_ERROR, 'no space left', 'entries 2..2');
    vi.restoreAllMocks();
    // The disk is fine again, but the store does not pretend it knows what is on it.
    await expect(store.persist({ snapshot: undefined, entries: [normal(2, 1)], hardState: undefined })).rejects.toBe(first);
    await expect(store.compact({ meta: { index: 1, term: 1, voters: [1, 2, 3] }, data: text('') })).rejects.toBe(first);
    await expect(store.entries(1, 2)).rejects.toBe(first);
    await expect(store.load()).rejects.toBe(first);
    await store.close();

    const again = await open(dir);
    expect((await again.load())?.entries).toEqual([normal(1, 1)]);
    await again.close();
  });

  it('rejects calls before load() as a driver bug, and calls after close() with SHUTTING_DOWN', async () => {
    const store = await open(await tempDir());
    await expect(store.persist({ snapshot: bootstrap, entries: [], hardState: undefined })).rejects.toBeInstanceOf(RaftAssertionError);
    await store.load();
    await store.close();
    await store.close();
    await expectRefusal(store.load(), ErrorCode.SHUTTING_DOWN, 'closed');
  });

  it('rejects a write that would leave a gap after the stored log, and changes nothing', async () => {
    const dir = await tempDir();
    await seeded(dir);
    const store = await open(dir);
    await store.load();
    await expect(store.persist({ snapshot: undefined, entries: [normal(7, 1)], hardState: undefined })).rejects.toBeInstanceOf(RaftAssertionError);
    expect((await store.load())?.entries).toHaveLength(5);
    await store.close();
  });
});
