/*
 * Cross-check against a RecordBatch codec nobody here wrote: kafkajs 2.2.4 ships its protocol
 * encoders and decoders in the npm package (src/protocol/recordBatch). Batches kafkajs encodes must
 * decode with ours, and ours with kafkajs's decoder.
 *
 * kafkajs implements gzip itself. For snappy, lz4 and zstd it has only a codec hook
 * (CompressionCodecs), which users fill with third-party packages; we fill it with our own
 * compression functions, so for those three codecs this test checks the batch framing around the
 * compressed blob, not the compressed bytes themselves (compression.test.ts checks those against
 * hand-built frames and the raw-snappy form librdkafka sends).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { compress, decompress } from '../compression/index.js';
import { Compression, decodeRecordBatches, encodeRecordBatch, validateBatches, type CompressionName, type RecordInput } from './index.js';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  readonly buffer: Buffer;
}
interface KafkajsRecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | Array<Buffer | string>>;
  offsetDelta: number;
  timestampDelta: number;
}
interface KafkajsBatchInput {
  compression: number;
  records: KafkajsEncoder[];
  firstTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  transactional?: boolean;
}
interface KafkajsDecodedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | Array<Buffer | null>>;
  offset: string;
  timestamp: string;
}
interface KafkajsDecodedBatch {
  firstOffset: string;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  inTransaction: boolean;
  records: KafkajsDecodedRecord[];
}
interface KafkajsDecoder {
  canReadInt64(): boolean;
}
interface KafkajsCodec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (input: KafkajsBatchInput) => Promise<KafkajsEncoder> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (input: KafkajsRecordInput) => KafkajsEncoder;
const decodeKafkajsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: KafkajsDecoder) => Promise<KafkajsDecodedBatch>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkajsDecoder;
const Long = require('kafkajs/src/utils/long') as { fromValue(value: number): unknown };
const { Codecs: kafkajsCodecs } = require('kafkajs/src/protocol/message/compression') as {
  Codecs: Record<number, () => KafkajsCodec>;
};

// Fill kafkajs's hook for the codecs it does not implement. Each test file runs in its own process.
for (const id of [Compression.snappy, Compression.lz4, Compression.zstd]) {
  kafkajsCodecs[id] = () => ({
    compress: (encoder) => compress(id, encoder.buffer),
    decompress: (buffer) => decompress(id, buffer),
  });
}

const BASE_MS = 1_700_000_000_000;
const codecs: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

interface Message {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  timestamp: number;
}

const messages: Message[] = Array.from({ length: 25 }, (_, i) => ({
  key: i % 4 === 0 ? null : `key-${i}`,
  value: i % 6 === 5 ? null : `value-${i}-${'x'.repeat(i * 3)}`,
  headers: i % 3 === 0 ? { source: 'kafkajs', n: String(i) } : {},
  timestamp: BASE_MS + i * 10 + (i % 2),
}));

/** What kafkajs's Produce request does with a list of messages (produce/v3/request.js). */
async function kafkajsEncode(list: Message[], compression: CompressionName, idempotent: boolean): Promise<Buffer> {
  const firstTimestamp = Math.min(...list.map((m) => m.timestamp));
  const records = list.map((m, i) => Record({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: m.timestamp - firstTimestamp }));
  const batch = await RecordBatch({
    compression: Compression[compression],
    records,
    firstTimestamp,
    maxTimestamp: Math.max(...list.map((m) => m.timestamp)),
    lastOffsetDelta: records.length - 1,
    ...(idempotent ? { producerId: Long.fromValue(4242), producerEpoch: 3, firstSequence: 17, transactional: true } : {}),
  });
  return batch.buffer;
}

async function kafkajsDecodeAll(buffer: Buffer): Promise<KafkajsDecodedBatch[]> {
  const decoder = new Decoder(buffer);
  const batches: KafkajsDecodedBatch[] = [];
  while (decoder.canReadInt64()) batches.push(await decodeKafkajsBatch(decoder));
  return batches;
}

function ourInput(m: Message): RecordInput {
  return { key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp };
}

describe('record-batch > kafkajs compatibility', () => {
  for (const codec of codecs) {
    it(`decodes a ${codec} batch that kafkajs encoded`, async () => {
      const batch = await kafkajsEncode(messages, codec, true);
      const [header] = validateBatches(batch, { maxBatchBytes: 1024 * 1024 });
      expect(header).toMatchObject({ compression: Compression[codec], recordCount: 25, lastOffsetDelta: 24, producerId: 4242, producerEpoch: 3, baseSequence: 17, isTransactional: true });
      const [decoded] = await decodeRecordBatches(batch);
      expect(decoded!.records).toHaveLength(messages.length);
      decoded!.records.forEach((record, i) => {
        const m = messages[i]!;
        expect(record.offset).toBe(i);
        expect(record.timestamp).toBe(m.timestamp);
        expect(record.key === null ? null : record.key.toString()).toBe(m.key);
        expect(record.value === null ? null : record.value.toString()).toBe(m.value);
        expect(record.headers.map((h) => [h.key, h.value?.toString()])).toEqual(Object.entries(m.headers));
      });
    });

    it(`encodes a ${codec} batch that kafkajs decodes`, async () => {
      const ours = await encodeRecordBatch({
        records: messages.map(ourInput),
        nowMs: BASE_MS,
        compression: codec,
        baseOffset: 1000,
        producerId: 77,
        producerEpoch: 1,
        baseSequence: 5,
      });
      const [decoded] = await kafkajsDecodeAll(ours);
      expect(decoded).toMatchObject({ firstOffset: '1000', lastOffsetDelta: 24, producerId: '77', producerEpoch: 1, firstSequence: 5, inTransaction: false });
      expect(decoded!.records).toHaveLength(messages.length);
      decoded!.records.forEach((record, i) => {
        const m = messages[i]!;
        expect(record.offset).toBe(String(1000 + i));
        expect(record.timestamp).toBe(String(m.timestamp));
        expect(record.key === null ? null : record.key.toString()).toBe(m.key);
        expect(record.value === null ? null : record.value.toString()).toBe(m.value);
        const headers = Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, String(v)]));
        expect(headers).toEqual(m.headers);
      });
    });
  }

  it('produces the same bytes as kafkajs for the same uncompressed input', async () => {
    const theirs = await kafkajsEncode(messages, 'none', true);
    const ours = await encodeRecordBatch({
      records: messages.map(ourInput),
      nowMs: BASE_MS,
      producerId: 4242,
      producerEpoch: 3,
      baseSequence: 17,
      isTransactional: true,
      partitionLeaderEpoch: 0, // kafkajs writes 0 here; the broker overwrites it anyway
    });
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('decodes several batches in a row, encoded by either side, with both decoders', async () => {
    const a = await kafkajsEncode(messages.slice(0, 10), 'gzip', false);
    const b = await encodeRecordBatch({ records: messages.slice(10).map(ourInput), nowMs: BASE_MS, baseOffset: 10, compression: 'lz4' });
    const both = Buffer.concat([a, b]);
    const ours = await decodeRecordBatches(both, { verifyCrc: true });
    const theirs = await kafkajsDecodeAll(both);
    expect(ours.map((batch) => batch.records.length)).toEqual([10, 15]);
    expect(theirs.map((batch) => batch.records.length)).toEqual([10, 15]);
    expect(theirs[1]!.records[0]!.offset).toBe('10');
  });
});
