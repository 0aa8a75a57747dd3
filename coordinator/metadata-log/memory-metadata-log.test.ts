import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import type { MetadataCommand, MetadataRecord } from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';
import { MemoryMetadataLog } from './memory-metadata-log.js';

const topic = (name: string): MetadataCommand => ({
  type: 'create-topic',
  name,
  topicId: `id-${name}`,
  partitions: [{ partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
  configs: {},
});

async function logOf(count: number): Promise<MemoryMetadataLog> {
  const log = new MemoryMetadataLog();
  await log.append([{ type: 'init-cluster', clusterId: 'c' }, ...Array.from({ length: count }, (_, i) => topic(`t${i}`))]);
  return log;
}

describe('metadata-log > memory > compaction', () => {
  it('starts at offset 0 with no snapshot', async () => {
    const log = await logOf(2);
    expect(log.startOffset).toBe(0);
    expect(await log.snapshot()).toBeUndefined();
  });

  it('replaces the records up to an offset with the state they build, and serves reads only after it', async () => {
    const log = await logOf(5);
    const whole = MetadataState.empty();
    for (const record of await log.read(0, 100)) whole.apply(record);

    const first = log.compact(2);
    expect(first.offset).toBe(2);
    expect(first.snapshot.topics.map((t) => t.name)).toEqual(['t0', 't1']);
    const second = log.compact(4);
    expect(second.snapshot.topics.map((t) => t.name)).toEqual(['t0', 't1', 't2', 't3']);
    expect(log.startOffset).toBe(5);
    expect(await log.snapshot()).toEqual(second);

    await expect(log.read(4, 10)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, message: expect.stringContaining('(5..6)') });
    const rest = await log.read(5, 10);
    expect(rest.map((r) => r.offset)).toEqual([5]);
    const rebuilt = MetadataState.restore(second.snapshot);
    for (const record of rest) rebuilt.apply(record);
    expect(rebuilt.snapshot()).toEqual(whole.snapshot());
  });

  it('keeps numbering appends after the compacted records', async () => {
    const log = await logOf(3);
    log.compact(3);
    expect(log.committedOffset).toBe(3);
    expect(await log.read(4, 10)).toEqual([]);
    expect(await log.append([topic('next')])).toEqual([4]);
    expect((await log.read(4, 10)).map((r) => r.offset)).toEqual([4]);
  });

  it('refuses to compact through an offset that is not committed or already compacted', async () => {
    const log = await logOf(3);
    expect(() => log.compact(4)).toThrow(expect.objectContaining({ code: ErrorCode.OFFSET_OUT_OF_RANGE }));
    log.compact(1);
    expect(() => log.compact(0)).toThrow(expect.objectContaining({ code: ErrorCode.OFFSET_OUT_OF_RANGE }));
    await log.close();
    expect(() => log.compact(2)).toThrow(expect.objectContaining({ code: ErrorCode.SHUTTING_DOWN }));
  });
});

describe('metadata-log > memory > installed snapshots', () => {
  it('jumps past its end to a snapshot from elsewhere and tells listeners with an empty batch', async () => {
    const log = await logOf(1);
    const leader = await logOf(6);
    const batches: number[][] = [];
    log.onCommit((records: readonly MetadataRecord[]) => batches.push(records.map((r) => r.offset)));
    log.installSnapshot(leader.compact(5));
    expect([log.startOffset, log.committedOffset]).toEqual([6, 5]);
    expect(await log.append([topic('after')])).toEqual([6]);
    expect(batches).toEqual([[], [6]]);
  });

  it('refuses a snapshot whose offset disagrees with its content with CORRUPT_MESSAGE', async () => {
    const log = await logOf(1);
    const leader = await logOf(4);
    const { snapshot } = leader.compact(4);
    expect(() => log.installSnapshot({ offset: 3, snapshot })).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_MESSAGE }));
    expect(log.startOffset).toBe(0);
  });
});
