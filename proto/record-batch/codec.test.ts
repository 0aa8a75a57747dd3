import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../errors.js';
import { defaultCodecs, type Codecs } from '../compression/index.js';
import {
  BATCH_HEADER_BYTES,
  Compression,
  Offsets,
  TimestampType,
  computeBatchCrc,
  crc32c,
  decodeRecordBatches,
  decodeRecordBatchesSync,
  encodeRecordBatch,
  encodeRecordBatchSync,
  patchBaseOffset,
  patchPartitionLeaderEpoch,
  readBatchHeader,
  setLogAppendTime,
  validateBatches,
  type CompressionName,
  type RecordInput,
} from './index.js';

const NOW_MS = 1_700_000_000_000;
const MAX_BATCH_BYTES = 1024 * 1024;
const codecNames = Object.keys(Compression) as CompressionName[];

async function expectCode(promiseOrFn: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<StreamBusError> {
  try {
    if (typeof promiseOrFn === 'function') promiseOrFn();
    else await promiseOrFn;
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).codeName).toBe((error as StreamBusError).codeName);
    expect((error as StreamBusError).code, (error as Error).message).toBe(code);
    return error as StreamBusError;
  }
  return expect.unreachable(`expected error code ${code}`);
}

/** Recomputes the CRC after a test edits bytes inside the covered range. */
function reseal(batch: Buffer, position = 0): Buffer {
  const size = batch.readInt32BE(position + Offsets.batchLength) + 12;
  batch.writeUInt32BE(computeBatchCrc(batch, position, size, crc32c), position + Offsets.crc);
  return batch;
}

const sampleRecords: RecordInput[] = [
  { key: 'user-1', value: '{"n":1}', headers: { trace: 'abc', empty: null }, timestamp: NOW_MS - 5 },
  { key: null, value: Buffer.from([0, 1, 2, 255]) },
  { key: Buffer.from('k3'), value: null, headers: [{ key: 'dup', value: Buffer.from('a') }, { key: 'dup', value: null }] },
  { value: '', key: Buffer.alloc(0), timestamp: NOW_MS + 7 },
  { key: 'ключ', value: 'значение ✓', headers: { 'ü-key': 'ü-value' } },
];

describe('record-batch > encode and decode', () => {
  it('round trips keys, null keys, tombstones, empty values and headers with null values', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS, baseOffset: 100 });
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.records.map((r) => r.offset)).toEqual([100, 101, 102, 103, 104]);
    const [r0, r1, r2, r3, r4] = decoded!.records;
    expect(r0!.key!.toString()).toBe('user-1');
    expect(r0!.value!.toString()).toBe('{"n":1}');
    expect(r0!.headers).toEqual([
      { key: 'trace', value: Buffer.from('abc') },
      { key: 'empty', value: null },
    ]);
    expect(r1!.key).toBeNull();
    expect(r1!.value).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(r2!.value).toBeNull();
    expect(r2!.headers).toEqual([
      { key: 'dup', value: Buffer.from('a') },
      { key: 'dup', value: null },
    ]);
    expect(r3!.key).toEqual(Buffer.alloc(0));
    expect(r3!.value).toEqual(Buffer.alloc(0));
    expect(r4!.key!.toString()).toBe('ключ');
    expect(r4!.value!.toString()).toBe('значение ✓');
    expect(r4!.headers).toEqual([{ key: 'ü-key', value: Buffer.from('ü-value') }]);
  });

  it('gives records without a timestamp nowMs and spans base and max timestamp over all records', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS });
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.records.map((r) => r.timestamp)).toEqual([NOW_MS - 5, NOW_MS, NOW_MS, NOW_MS + 7, NOW_MS]);
    expect(decoded!.header.baseTimestamp).toBe(NOW_MS - 5);
    expect(decoded!.header.maxTimestamp).toBe(NOW_MS + 7);
    expect(decoded!.header.timestampType).toBe(TimestampType.createTime);
  });

  it('reads every record of a LogAppendTime batch at the batch maxTimestamp', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS });
    setLogAppendTime(batch, 0, NOW_MS + 1000, crc32c);
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.header.timestampType).toBe(TimestampType.logAppendTime);
    expect(decoded!.records.map((r) => r.timestamp)).toEqual(Array(5).fill(NOW_MS + 1000));
    expect(validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES })).toHaveLength(1);

    const direct = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS, timestampType: TimestampType.logAppendTime, maxTimestamp: 42 });
    const [decodedDirect] = await decodeRecordBatches(direct);
    expect(decodedDirect!.records.every((r) => r.timestamp === 42)).toBe(true);
  });

  it('round trips timestamps far apart and below the base timestamp', async () => {
    const records = [{ value: 'a', timestamp: 0 }, { value: 'b', timestamp: 2 ** 45 + 3 }, { value: 'c', timestamp: -1 }];
    const batch = encodeRecordBatchSync({ records, nowMs: NOW_MS, baseTimestamp: 5 });
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.records.map((r) => r.timestamp)).toEqual([0, 2 ** 45 + 3, -1]);
    expect(decoded!.header.baseTimestamp).toBe(5);
  });

  it('keeps producer, transaction and control fields in the header', async () => {
    const batch = await encodeRecordBatch({
      records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 9]) }],
      nowMs: NOW_MS,
      baseOffset: 2 ** 40,
      producerId: 123456789012,
      producerEpoch: 7,
      baseSequence: 2 ** 31 - 1,
      isTransactional: true,
      isControl: true,
      partitionLeaderEpoch: 3,
    });
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.header).toMatchObject({
      baseOffset: 2 ** 40,
      producerId: 123456789012,
      producerEpoch: 7,
      baseSequence: 2 ** 31 - 1,
      isTransactional: true,
      isControl: true,
      partitionLeaderEpoch: 3,
      recordCount: 1,
      lastOffsetDelta: 0,
      magic: 2,
      attributes: 0x30,
    });
    expect(decoded!.records[0]!.offset).toBe(2 ** 40);
  });

  it('uses the defaults a non-idempotent producer writes', () => {
    const header = readBatchHeader(encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: NOW_MS }));
    expect(header).toMatchObject({ baseOffset: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, partitionLeaderEpoch: -1, attributes: 0 });
  });

  it('stays valid when the broker patches baseOffset and partitionLeaderEpoch', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS });
    patchBaseOffset(batch, 0, 5000);
    patchPartitionLeaderEpoch(batch, 0, 9);
    const [header] = validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES });
    expect(header).toMatchObject({ baseOffset: 5000, partitionLeaderEpoch: 9, lastOffset: 5004 });
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.records.map((r) => r.offset)).toEqual([5000, 5001, 5002, 5003, 5004]);
  });

  for (const codec of codecNames) {
    it(`round trips a batch compressed with ${codec}, async and sync`, async () => {
      const records: RecordInput[] = Array.from({ length: 200 }, (_, i) => ({
        key: `key-${i % 7}`,
        value: i % 13 === 0 ? null : `value ${i} `.repeat(1 + (i % 5)),
        headers: i % 3 === 0 ? { i: String(i) } : undefined,
        timestamp: NOW_MS + i,
      }) as RecordInput);
      const asyncBatch = await encodeRecordBatch({ records, nowMs: NOW_MS, compression: codec });
      const syncBatch = encodeRecordBatchSync({ records, nowMs: NOW_MS, compression: codec });
      for (const batch of [asyncBatch, syncBatch]) {
        const [header] = validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES });
        expect(header!.compression).toBe(Compression[codec]);
        const [fromAsync] = await decodeRecordBatches(batch);
        const [fromSync] = decodeRecordBatchesSync(batch);
        for (const decoded of [fromAsync!, fromSync!]) {
          expect(decoded.records).toHaveLength(200);
          expect(decoded.records[13]!.value).toBeNull();
          expect(decoded.records[199]!.value!.toString()).toBe(`value 199 `.repeat(5));
          expect(decoded.records[3]!.headers).toEqual([{ key: 'i', value: Buffer.from('3') }]);
          expect(decoded.records[199]!.timestamp).toBe(NOW_MS + 199);
        }
      }
      if (codec !== 'none') expect(asyncBatch.length).toBeLessThan(encodeRecordBatchSync({ records, nowMs: NOW_MS }).length);
    });
  }

  it('keeps explicit offset deltas, so a compacted batch keeps its records offsets', async () => {
    const records = [
      { key: 'a', value: '1', offsetDelta: 0 },
      { key: 'b', value: '2', offsetDelta: 3 },
      { key: 'c', value: null, offsetDelta: 7 },
    ];
    for (const compression of ['none', 'zstd'] as const) {
      const batch = await encodeRecordBatch({ records, nowMs: NOW_MS, baseOffset: 10, lastOffsetDelta: 9, compression });
      const [decoded] = await decodeRecordBatches(batch);
      expect(decoded!.records.map((r) => r.offset)).toEqual([10, 13, 17]);
      expect(decoded!.header).toMatchObject({ recordCount: 3, lastOffsetDelta: 9, lastOffset: 19 });
      await expectCode(() => validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.INVALID_RECORD);
      expect(validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES, allowCompacted: true })).toHaveLength(1);
    }
  });

  it('encodes a batch without records that still covers its original offsets', async () => {
    const batch = encodeRecordBatchSync({ records: [], nowMs: NOW_MS, baseOffset: 40, lastOffsetDelta: 4, producerId: 9, producerEpoch: 2, baseSequence: 11 });
    expect(batch.length).toBe(BATCH_HEADER_BYTES);
    const [decoded] = await decodeRecordBatches(batch);
    expect(decoded!.records).toEqual([]);
    expect(decoded!.header).toMatchObject({ recordCount: 0, lastOffset: 44, baseTimestamp: -1, maxTimestamp: -1, producerId: 9 });
    await expectCode(() => validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.INVALID_RECORD);
    expect(validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES, allowCompacted: true })).toHaveLength(1);

    const gzipEmpty = await encodeRecordBatch({ records: [], nowMs: NOW_MS, compression: 'gzip' });
    const [decodedGzip] = await decodeRecordBatches(gzipEmpty);
    expect(decodedGzip!.records).toEqual([]);
    expect(decodedGzip!.header.lastOffsetDelta).toBe(-1);
  });

  it('rejects offset deltas that do not increase', async () => {
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a', offsetDelta: 2 }, { value: 'b', offsetDelta: 2 }], nowMs: NOW_MS }), ErrorCode.INVALID_RECORD);
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a', offsetDelta: -1 }], nowMs: NOW_MS }), ErrorCode.INVALID_RECORD);
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a', offsetDelta: 5 }], nowMs: NOW_MS, lastOffsetDelta: 4 }), ErrorCode.INVALID_RECORD);
  });

  it('rejects timestamps that are not integers and values that are not bytes', async () => {
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a', timestamp: 1.5 }], nowMs: NOW_MS }), ErrorCode.INVALID_TIMESTAMP);
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a' }], nowMs: Number.NaN }), ErrorCode.INVALID_TIMESTAMP);
    const notBytes = { value: 42 } as unknown as RecordInput;
    await expectCode(() => encodeRecordBatchSync({ records: [notBytes], nowMs: NOW_MS }), ErrorCode.INVALID_RECORD);
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a' }], nowMs: NOW_MS, producerEpoch: 70000 }), ErrorCode.INVALID_RECORD);
  });

  it('rejects an unknown compression codec by name or id', async () => {
    await expectCode(encodeRecordBatch({ records: [{ value: 'a' }], nowMs: NOW_MS, compression: 'brotli' as CompressionName }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    await expectCode(() => encodeRecordBatchSync({ records: [{ value: 'a' }], nowMs: NOW_MS, compression: 5 as Compression }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });

  it('compresses and decompresses through injected codecs', async () => {
    const calls: string[] = [];
    const counting: Codecs = {
      compress: (codec, data) => (calls.push(`compress ${codec}`), defaultCodecs.compress(codec, data)),
      decompress: (codec, data, options) => (calls.push(`decompress ${codec}`), defaultCodecs.decompress(codec, data, options)),
      compressSync: (codec, data) => (calls.push(`compressSync ${codec}`), defaultCodecs.compressSync(codec, data)),
      decompressSync: (codec, data, options) => (calls.push(`decompressSync ${codec}`), defaultCodecs.decompressSync(codec, data, options)),
    };
    const batch = await encodeRecordBatch({ records: sampleRecords, nowMs: NOW_MS, compression: 'lz4', codecs: counting });
    encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS, compression: 'gzip', codecs: counting });
    await decodeRecordBatches(batch, { codecs: counting });
    decodeRecordBatchesSync(batch, { codecs: counting });
    expect(calls).toEqual(['compress 3', 'compressSync 1', 'decompress 3', 'decompressSync 3']);
  });
});

/*
 * A small batch written out by hand, field by field, from the RecordBatch v2 grammar in codec.ts:
 * baseOffset 5, partitionLeaderEpoch 7, producerId 42, producerEpoch 1, baseSequence 3, create
 * time, two records at 1 700 000 000 000 ms and one millisecond later.
 */
const GOLDEN_HEX = [
  '0000000000000005', // baseOffset 5
  '00000045', //         batchLength 69 = 81 bytes - 12
  '00000007', //         partitionLeaderEpoch 7
  '02', //               magic 2
  '5baf8fa8', //         CRC-32C of everything after this field (checked below with a bitwise reference)
  '0000', //             attributes: no compression, create time, not transactional, not control
  '00000001', //         lastOffsetDelta 1
  '0000018bcfe56800', // baseTimestamp 1 700 000 000 000
  '0000018bcfe56801', // maxTimestamp  1 700 000 000 001
  '000000000000002a', // producerId 42
  '0001', //             producerEpoch 1
  '00000003', //         baseSequence 3
  '00000002', //         recordCount 2
  // record 0: length 12 (zigzag 0x18), attributes 0, timestampDelta 0, offsetDelta 0,
  //           key length 1 (0x02) 'k', value length 1 (0x02) 'v',
  //           1 header (0x02): key length 1 'h', value length 1 'x'
  '18' + '00' + '00' + '00' + '026b' + '0276' + '02' + '0268' + '0278',
  // record 1: length 6 (0x0c), attributes 0, timestampDelta 1 (0x02), offsetDelta 1 (0x02),
  //           key null (-1 = 0x01), value null (0x01), no headers (0x00)
  '0c' + '00' + '02' + '02' + '01' + '01' + '00',
].join('');

/** Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), independent of crc32c.ts. */
function referenceCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (crc & 1 ? 0x82f63b78 : 0);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('record-batch > golden bytes', () => {
  const golden = Buffer.from(GOLDEN_HEX, 'hex');

  it('has a CRC the reference CRC-32C agrees with', () => {
    expect(referenceCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(referenceCrc32c(golden.subarray(21))).toBe(0x5baf8fa8);
  });

  it('encodes the hand-checked bytes exactly', () => {
    const batch = encodeRecordBatchSync({
      records: [
        { key: 'k', value: 'v', headers: { h: 'x' }, timestamp: NOW_MS },
        { key: null, value: null, timestamp: NOW_MS + 1 },
      ],
      nowMs: 0,
      baseOffset: 5,
      partitionLeaderEpoch: 7,
      producerId: 42,
      producerEpoch: 1,
      baseSequence: 3,
    });
    expect(batch.toString('hex')).toBe(GOLDEN_HEX);
  });

  it('decodes the hand-checked bytes', async () => {
    const [decoded] = await decodeRecordBatches(golden);
    expect(decoded!.records).toEqual([
      { offset: 5, timestamp: NOW_MS, key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ key: 'h', value: Buffer.from('x') }] },
      { offset: 6, timestamp: NOW_MS + 1, key: null, value: null, headers: [] },
    ]);
  });
});

describe('record-batch > decodeRecordBatches', () => {
  it('decodes concatenated batches in order and ignores a trailing partial batch', async () => {
    const first = encodeRecordBatchSync({ records: [{ value: 'a' }, { value: 'b' }], nowMs: NOW_MS, baseOffset: 0 });
    const second = await encodeRecordBatch({ records: [{ value: 'c' }], nowMs: NOW_MS, baseOffset: 2, compression: 'snappy' });
    const third = encodeRecordBatchSync({ records: [{ value: 'd' }], nowMs: NOW_MS, baseOffset: 3 });
    const all = Buffer.concat([first, second, third.subarray(0, third.length - 1)]);
    const decoded = await decodeRecordBatches(all);
    expect(decoded.flatMap((b) => b.records.map((r) => [r.offset, r.value!.toString()]))).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    expect(await decodeRecordBatches(Buffer.alloc(0))).toEqual([]);
  });

  it('ignores every strict prefix of a batch as a partial batch, one byte at a time', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS });
    const before = encodeRecordBatchSync({ records: [{ value: 'first' }], nowMs: NOW_MS });
    for (let length = 0; length < batch.length; length++) {
      expect(await decodeRecordBatches(batch.subarray(0, length))).toEqual([]);
      const withComplete = decodeRecordBatchesSync(Buffer.concat([before, batch.subarray(0, length)]));
      expect(withComplete).toHaveLength(1);
    }
    expect(await decodeRecordBatches(batch)).toHaveLength(1);
  });

  it('rejects a batch whose CRC does not match, unless told not to verify', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: 'hello' }], nowMs: NOW_MS });
    batch[batch.length - 3] = batch[batch.length - 3]! ^ 0x01; // a byte inside the value
    const error = await expectCode(decodeRecordBatches(batch), ErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toMatch(/CRC/);
    const [decoded] = await decodeRecordBatches(batch, { verifyCrc: false });
    expect(decoded!.records[0]!.value!.toString()).not.toBe('hello');
  });

  it('rejects magic bytes other than 2, naming the legacy formats', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: NOW_MS });
    batch[Offsets.magic] = 1;
    await expectCode(decodeRecordBatches(batch), ErrorCode.UNSUPPORTED_VERSION);
    batch[Offsets.magic] = 3;
    await expectCode(decodeRecordBatches(batch), ErrorCode.CORRUPT_MESSAGE);
  });

  it('rejects a batchLength below the header size', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: NOW_MS });
    batch.writeInt32BE(48, Offsets.batchLength);
    await expectCode(decodeRecordBatches(batch), ErrorCode.CORRUPT_MESSAGE);
    batch.writeInt32BE(-5, Offsets.batchLength);
    await expectCode(decodeRecordBatches(batch), ErrorCode.CORRUPT_MESSAGE);
  });

  it('rejects a record count that does not match the records', async () => {
    for (const compression of ['none', 'gzip'] as const) {
      const more = await encodeRecordBatch({ records: [{ value: 'x' }, { value: 'y' }], nowMs: NOW_MS, compression });
      more.writeInt32BE(3, Offsets.recordCount);
      await expectCode(decodeRecordBatches(reseal(more)), ErrorCode.CORRUPT_MESSAGE);
      const fewer = await encodeRecordBatch({ records: [{ value: 'x' }, { value: 'y' }], nowMs: NOW_MS, compression });
      fewer.writeInt32BE(1, Offsets.recordCount);
      const error = await expectCode(decodeRecordBatches(reseal(fewer)), ErrorCode.CORRUPT_MESSAGE);
      expect(error.message).toMatch(/follow the last/);
      const negative = await encodeRecordBatch({ records: [{ value: 'x' }], nowMs: NOW_MS, compression });
      negative.writeInt32BE(-1, Offsets.recordCount);
      await expectCode(decodeRecordBatches(reseal(negative)), ErrorCode.CORRUPT_MESSAGE);
    }
  });

  it('rejects a record whose declared length disagrees with its fields', async () => {
    const batch = encodeRecordBatchSync({ records: [{ key: 'k', value: 'v' }, { value: 'w' }], nowMs: NOW_MS });
    // First record: length varint 0x10 (8 bytes of fields); claim 9 so it swallows a byte of the next.
    expect(batch[BATCH_HEADER_BYTES]).toBe(0x10);
    batch[BATCH_HEADER_BYTES] = 0x12;
    await expectCode(decodeRecordBatches(reseal(batch)), ErrorCode.CORRUPT_MESSAGE);
  });

  it('rejects an unknown compression codec in the attributes', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: NOW_MS });
    batch.writeInt16BE(5, Offsets.attributes);
    await expectCode(decodeRecordBatches(reseal(batch)), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    await expectCode(() => validateBatches(batch, { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });

  it('rejects compressed records that do not decompress', async () => {
    const batch = await encodeRecordBatch({ records: [{ value: 'x'.repeat(100) }], nowMs: NOW_MS, compression: 'gzip' });
    batch.fill(0x41, BATCH_HEADER_BYTES + 10, BATCH_HEADER_BYTES + 20);
    await expectCode(decodeRecordBatches(reseal(batch)), ErrorCode.CORRUPT_MESSAGE);
    await expectCode(() => decodeRecordBatchesSync(batch), ErrorCode.CORRUPT_MESSAGE);
  });

  it('refuses a batch that decompresses past maxDecompressedBytes', async () => {
    const records = [{ value: Buffer.alloc(100_000) }];
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const batch = await encodeRecordBatch({ records, nowMs: NOW_MS, compression });
      await expectCode(decodeRecordBatches(batch, { maxDecompressedBytes: 50_000 }), ErrorCode.MESSAGE_TOO_LARGE);
      await expectCode(() => decodeRecordBatchesSync(batch, { maxDecompressedBytes: 50_000 }), ErrorCode.MESSAGE_TOO_LARGE);
      expect(decodeRecordBatchesSync(batch, { maxDecompressedBytes: 10_000_000 })[0]!.records[0]!.value!.equals(Buffer.alloc(100_000))).toBe(true);
    }
  });
});

describe('record-batch > validateBatches', () => {
  it('returns the headers of concatenated valid batches without decoding records', () => {
    const first = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS, producerId: 5, producerEpoch: 0, baseSequence: 0 });
    const second = encodeRecordBatchSync({ records: sampleRecords.slice(0, 2), nowMs: NOW_MS, producerId: 5, producerEpoch: 0, baseSequence: 5 });
    const headers = validateBatches(Buffer.concat([first, second]), { maxBatchBytes: MAX_BATCH_BYTES });
    expect(headers.map((h) => [h.recordCount, h.baseSequence, h.sizeBytes])).toEqual([
      [5, 0, first.length],
      [2, 5, second.length],
    ]);
  });

  it('refuses a batch larger than maxBatchBytes with MESSAGE_TOO_LARGE', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(1000) }], nowMs: NOW_MS });
    expect(validateBatches(batch, { maxBatchBytes: batch.length })).toHaveLength(1);
    await expectCode(() => validateBatches(batch, { maxBatchBytes: batch.length - 1 }), ErrorCode.MESSAGE_TOO_LARGE);
    // Even when the bytes stop early, the declared size is what counts.
    await expectCode(() => validateBatches(batch.subarray(0, 100), { maxBatchBytes: 500 }), ErrorCode.MESSAGE_TOO_LARGE);
  });

  it('rejects every strict prefix of one or two batches with a typed error, one byte at a time', async () => {
    for (const compression of ['none', 'lz4'] as const) {
      const batch = await encodeRecordBatch({ records: sampleRecords, nowMs: NOW_MS, compression });
      const two = Buffer.concat([batch, batch]);
      for (let length = 0; length < two.length; length++) {
        if (length === batch.length) continue; // exactly one whole batch: valid
        await expectCode(() => validateBatches(two.subarray(0, length), { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.CORRUPT_MESSAGE);
      }
      expect(validateBatches(two, { maxBatchBytes: MAX_BATCH_BYTES })).toHaveLength(2);
    }
  });

  it('rejects a CRC mismatch anywhere in the covered bytes', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS });
    for (const position of [Offsets.attributes, Offsets.maxTimestamp + 3, Offsets.recordCount, batch.length - 1]) {
      const copy = Buffer.from(batch);
      copy[position] = copy[position]! ^ 0x40;
      const error = await expectCode(() => validateBatches(copy, { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.CORRUPT_MESSAGE);
      expect(error.message).toMatch(/CRC/);
    }
  });

  it('rejects a record count that disagrees with lastOffsetDelta or is zero', async () => {
    const batch = encodeRecordBatchSync({ records: sampleRecords, nowMs: NOW_MS });
    const wrongDelta = Buffer.from(batch);
    wrongDelta.writeInt32BE(7, Offsets.lastOffsetDelta);
    await expectCode(() => validateBatches(reseal(wrongDelta), { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.INVALID_RECORD);
    const zero = Buffer.from(batch);
    zero.writeInt32BE(0, Offsets.recordCount);
    zero.writeInt32BE(-1, Offsets.lastOffsetDelta);
    await expectCode(() => validateBatches(reseal(zero), { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.INVALID_RECORD);
    const tooMany = Buffer.from(batch);
    tooMany.writeInt32BE(1000, Offsets.recordCount);
    tooMany.writeInt32BE(999, Offsets.lastOffsetDelta);
    await expectCode(() => validateBatches(reseal(tooMany), { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.CORRUPT_MESSAGE);
  });

  it('rejects legacy magic, bad lengths and empty input', async () => {
    const batch = encodeRecordBatchSync({ records: [{ value: 'x' }], nowMs: NOW_MS });
    const legacy = Buffer.from(batch);
    legacy[Offsets.magic] = 0;
    await expectCode(() => validateBatches(legacy, { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.UNSUPPORTED_VERSION);
    const short = Buffer.from(batch);
    short.writeInt32BE(10, Offsets.batchLength);
    await expectCode(() => validateBatches(short, { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.CORRUPT_MESSAGE);
    await expectCode(() => validateBatches(Buffer.alloc(0), { maxBatchBytes: MAX_BATCH_BYTES }), ErrorCode.CORRUPT_MESSAGE);
  });
});
