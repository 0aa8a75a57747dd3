import { describe, expect, it } from 'vitest';
import {
  KeyTag,
  PartitionKeys,
  decodeBatchIndexEntry,
  decodePartitionState,
  encodeBatchIndexValue,
  encodePartitionState,
  keyOffset,
  keyTimestamp,
  parseScopedKey,
  prefixEnd,
} from './layout.js';

const sortKeys = (keys: Buffer[]): Buffer[] => [...keys].sort((a, b) => Buffer.compare(a, b));

describe('log > key layout', () => {
  it('sorts batch keys by topic, then partition, then offset, as raw bytes', () => {
    const keys = [
      new PartitionKeys('b', 0).batch(1),
      new PartitionKeys('a', 1).batch(2 ** 40),
      new PartitionKeys('a', 0).batch(300),
      new PartitionKeys('a', 0).batch(2),
      new PartitionKeys('a', 256).batch(0),
    ];
    expect(sortKeys(keys).map((k) => [parseScopedKey(k).topicId, parseScopedKey(k).partition, keyOffset(k)])).toEqual([
      ['a', 0, 2],
      ['a', 0, 300],
      ['a', 1, 2 ** 40],
      ['a', 256, 0],
      ['b', 0, 1],
    ]);
  });

  it('keeps a topic whose id extends another id outside the shorter one\'s range', () => {
    const a = new PartitionKeys('a', 0);
    const ab = new PartitionKeys('ab', 0);
    for (const key of [ab.batch(0), ab.state(), ab.timeIndex(5)]) {
      for (const tag of [KeyTag.batch, KeyTag.partitionState, KeyTag.timeIndex]) {
        const inside = Buffer.compare(key, a.rangeStart(tag)) >= 0 && Buffer.compare(key, a.rangeEnd(tag)) < 0;
        expect(inside).toBe(false);
      }
    }
  });

  it('sorts time index keys by timestamp, with -1 before every real time', () => {
    const keys = new PartitionKeys('t', 0);
    const sorted = sortKeys([keys.timeIndex(1_700_000_000_000), keys.timeIndex(0), keys.timeIndex(-1), keys.timeIndex(5)]);
    expect(sorted.map(keyTimestamp)).toEqual([-1, 0, 5, 1_700_000_000_000]);
  });

  it('round trips the partition state and the batch index entry, and rejects foreign bytes', () => {
    const state = {
      logStartOffset: 5,
      logEndOffset: 2 ** 50,
      highWatermark: 2 ** 49,
      sizeBytes: 123_456_789_012,
      maxTimestamp: -1,
      cleanedOffset: 7,
      tombstoneExpiryMs: 1_700_000_000_000,
    };
    expect(decodePartitionState(encodePartitionState(state))).toEqual(state);
    expect(decodePartitionState(Buffer.from('garbage'))).toBeUndefined();
    expect(decodePartitionState(encodePartitionState({ ...state, logStartOffset: 2 ** 51 }))).toBeUndefined();
    expect(decodeBatchIndexEntry(20, encodeBatchIndexValue(11, 99, 4096))).toEqual({ lastOffset: 20, baseOffset: 11, maxTimestamp: 99, sizeBytes: 4096 });
    expect(decodeBatchIndexEntry(10, encodeBatchIndexValue(11, 99, 4096))).toBeUndefined();
  });

  it('computes the exclusive end of a prefix range', () => {
    expect(prefixEnd(Buffer.from([1, 2, 3]))).toEqual(Buffer.from([1, 2, 4]));
    expect(prefixEnd(Buffer.from([1, 0xff, 0xff]))).toEqual(Buffer.from([2]));
  });

  it('refuses topic ids and partitions it cannot encode', () => {
    expect(() => new PartitionKeys('x'.repeat(256), 0)).toThrow(/topic id/);
    expect(() => new PartitionKeys('t', -1)).toThrow(/partition/);
  });
});
