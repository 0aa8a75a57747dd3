import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { MetadataCommand, MetadataRecord } from '../metadata/commands.js';
import { LocalMetadataLog } from './local-metadata-log.js';
import { RECORD_KEY_END, RECORD_KEY_MIN, recordKey } from './record-codec.js';

let root: string;
let counter = 0;
const newDir = (): string => join(root, `log-${counter++}`);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streambus-metadata-log-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const topic = (name: string): MetadataCommand => ({
  type: 'create-topic',
  name,
  topicId: `id-${name}`,
  partitions: [{ partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
  configs: {},
});

async function openError(dir: string): Promise<StreamBusError> {
  try {
    const log = await LocalMetadataLog.open({ dir });
    await log.close();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error('expected open to fail');
}

/** Opens the log's LevelDB directly, as an operator's tool (or a bad disk) would. */
async function withRawDb(dir: string, change: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await change(db);
  } finally {
    await db.close();
  }
}

async function logWith(dir: string, names: string[]): Promise<void> {
  const log = await LocalMetadataLog.open({ dir });
  await log.append(names.map(topic));
  await log.close();
}

describe('metadata-log > local > durability', () => {
  it('reads back after close and reopen exactly what was appended', async () => {
    const dir = newDir();
    const log = await LocalMetadataLog.open({ dir });
    expect(log.committedOffset).toBe(-1);
    expect(await log.append([topic('a'), topic('b')])).toEqual([0, 1]);
    expect(await log.append([{ type: 'no-op' }])).toEqual([2]);
    await log.close();

    const reopened = await LocalMetadataLog.open({ dir });
    expect(reopened.committedOffset).toBe(2);
    const records = await reopened.read(0, 10);
    expect(records).toEqual([
      { offset: 0, command: topic('a') },
      { offset: 1, command: topic('b') },
      { offset: 2, command: { type: 'no-op' } },
    ]);
    expect(await reopened.append([topic('c')])).toEqual([3]);
    await reopened.close();
  });

  it('writes concurrent appends in call order with consecutive offsets', async () => {
    const log = await LocalMetadataLog.open({ dir: newDir() });
    const results = await Promise.all([log.append([topic('a'), topic('b')]), log.append([topic('c')]), log.append([topic('d')])]);
    expect(results).toEqual([[0, 1], [2], [3]]);
    expect((await log.read(0, 10)).map((r) => r.command.type === 'create-topic' && r.command.name)).toEqual(['a', 'b', 'c', 'd']);
    await log.close();
  });

  it('tells commit listeners about each batch before the append resolves', async () => {
    const log = await LocalMetadataLog.open({ dir: newDir() });
    const seen: number[][] = [];
    const unsubscribe = log.onCommit((records) => seen.push(records.map((r) => r.offset)));
    const offsets = await log.append([topic('a'), topic('b')]);
    expect(seen).toEqual([offsets]);
    unsubscribe();
    await log.append([topic('c')]);
    expect(seen).toEqual([[0, 1]]);
    await log.close();
  });
});

describe('metadata-log > local > read', () => {
  it('returns at most maxRecords, [] at the end, and OFFSET_OUT_OF_RANGE past it', async () => {
    const log = await LocalMetadataLog.open({ dir: newDir() });
    await log.append(['a', 'b', 'c'].map(topic));
    expect((await log.read(1, 1)).map((r) => r.offset)).toEqual([1]);
    expect((await log.read(1, 100)).map((r) => r.offset)).toEqual([1, 2]);
    expect(await log.read(3, 10)).toEqual([]);
    await expect(log.read(4, 10)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
    await expect(log.read(-1, 10)).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await expect(log.read(0, 0)).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await log.close();
  });

  it('keeps every record from offset 0 and so offers no snapshot, before and after a reopen', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b']);
    const log = await LocalMetadataLog.open({ dir });
    expect(log.startOffset).toBe(0);
    expect(await log.snapshot()).toBeUndefined();
    await log.close();
    await expect(log.snapshot()).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
  });
});

describe('metadata-log > local > corruption', () => {
  it('refuses to open when the last record fails its checksum, naming the offset', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b', 'c']);
    await withRawDb(dir, async (db) => {
      const value = (await db.get(recordKey(2)))!;
      const flipped = Uint8Array.from(value);
      flipped[flipped.length - 3] = (flipped[flipped.length - 3] ?? 0) ^ 0x01;
      await db.put(recordKey(2), flipped);
    });
    const error = await openError(dir);
    expect(error.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(error.message).toContain(`the metadata log at ${dir} is corrupt at offset 2: checksum mismatch`);
    expect(error.message).toMatch(/Refusing to start/);
  });

  it('refuses to open when the last record is truncated', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b']);
    await withRawDb(dir, async (db) => {
      const value = (await db.get(recordKey(1)))!;
      await db.put(recordKey(1), value.subarray(0, 3));
    });
    const error = await openError(dir);
    expect(error.message).toContain('corrupt at offset 1');
    expect(error.message).toContain('truncated');
  });

  it('refuses to open when a record in the middle is missing', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b', 'c']);
    await withRawDb(dir, (db) => db.del(recordKey(1)));
    const error = await openError(dir);
    expect(error.message).toContain('corrupt at offset 1: record 1 is missing (the next record found is 2)');
  });

  it('refuses to open when a valid record was stored under another offset', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b']);
    await withRawDb(dir, async (db) => {
      await db.put(recordKey(1), (await db.get(recordKey(0)))!);
    });
    expect((await openError(dir)).message).toContain('corrupt at offset 1: checksum mismatch');
  });

  it('refuses to open when the head of the log is gone', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b']);
    await withRawDb(dir, (db) => db.del(recordKey(0)));
    expect((await openError(dir)).message).toContain('corrupt at offset 0: record 0 is missing');
  });

  it('leaves the records untouched when it refuses', async () => {
    const dir = newDir();
    await logWith(dir, ['a', 'b']);
    await withRawDb(dir, (db) => db.put(recordKey(1), new Uint8Array([1, 2])));
    await openError(dir);
    await withRawDb(dir, async (db) => {
      expect(await db.keys({ gte: RECORD_KEY_MIN, lt: RECORD_KEY_END }).all()).toHaveLength(2);
    });
  });
});

describe('metadata-log > local > lifecycle', () => {
  it('refuses a second open of the same directory while the first holds it', async () => {
    const dir = newDir();
    const log = await LocalMetadataLog.open({ dir });
    const error = await openError(dir);
    expect(error.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(error.message).toContain('in use by another process or instance');
    await log.close();
  });

  it('rejects a malformed command with INVALID_REQUEST and writes nothing', async () => {
    const log = await LocalMetadataLog.open({ dir: newDir() });
    const bad = { type: 'delete-topic', name: 'x' } as unknown as MetadataCommand;
    await expect(log.append([topic('a'), bad])).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(log.committedOffset).toBe(-1);
    await log.close();
  });

  it('does not write an append aborted while it waits its turn', async () => {
    const log = await LocalMetadataLog.open({ dir: newDir() });
    const controller = new AbortController();
    const first = log.append([topic('a')]);
    const second = log.append([topic('b')], { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    expect(await first).toEqual([0]);
    expect(await log.append([topic('c')])).toEqual([1]);
    expect((await log.read(0, 10)).map((r: MetadataRecord) => r.command.type === 'create-topic' && r.command.name)).toEqual(['a', 'c']);
    await log.close();
  });

  it('finishes the write in progress on close, rejects queued appends and later calls with SHUTTING_DOWN', async () => {
    const dir = newDir();
    const log = await LocalMetadataLog.open({ dir });
    const writing = log.append([topic('a')]);
    const queued = log.append([topic('b')]);
    const closed = log.close();
    await expect(queued).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    expect(await writing).toEqual([0]);
    await closed;
    await expect(log.append([topic('c')])).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await expect(log.read(0, 1)).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN });
    await log.close();
    const reopened = await LocalMetadataLog.open({ dir });
    expect(reopened.committedOffset).toBe(0);
    await reopened.close();
  });
});
