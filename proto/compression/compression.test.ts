import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../errors.js';
import { Compression, compress, compressSync, decompress, decompressSync, defaultCodecs, type CompressionName } from './index.js';
import { XERIAL_BLOCK_BYTES, XERIAL_MAGIC } from './xerial.js';

const require = createRequire(import.meta.url);
const snappy = require('snappy') as { compressSync(data: Uint8Array): Buffer };

const compressed: CompressionName[] = ['gzip', 'snappy', 'lz4', 'zstd'];

/** Deterministic bytes: half compressible text, half xorshift noise. */
function sampleBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (i >> 12) % 2 === 0 ? 97 + ((i * 7) % 23) : state & 0xff;
  }
  return out;
}

async function expectCode(work: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<StreamBusError> {
  try {
    if (typeof work === 'function') work();
    else await work;
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code, (error as Error).message).toBe(code);
    return error as StreamBusError;
  }
  return expect.unreachable(`expected error code ${code}`);
}

describe('compression > round trips', () => {
  for (const codec of compressed) {
    it(`decompresses what it compresses with ${codec}, sync and async, for empty, tiny and large inputs`, async () => {
      for (const data of [Buffer.alloc(0), Buffer.from('x'), sampleBytes(300_000)]) {
        const fromAsync = await compress(codec, data);
        const fromSync = compressSync(codec, data);
        for (const blob of [fromAsync, fromSync]) {
          expect((await decompress(codec, blob)).equals(data)).toBe(true);
          expect(decompressSync(Compression[codec], blob).equals(data)).toBe(true);
        }
      }
    });
  }

  it('copies the input for none', async () => {
    const data = Buffer.from('plain');
    const out = await compress('none', data);
    expect(out.equals(data)).toBe(true);
    out[0] = 0;
    expect(data.toString()).toBe('plain');
    expect(decompressSync('none', data).equals(data)).toBe(true);
  });

  it('exposes the same functions as the default Codecs object', () => {
    expect(defaultCodecs.compressSync(Compression.gzip, Buffer.from('a'))[0]).toBe(0x1f);
  });
});

describe('compression > wire formats', () => {
  it('writes gzip members and reads concatenated ones', () => {
    const blob = compressSync('gzip', Buffer.from('abc'));
    expect(blob.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const two = Buffer.concat([gzipSync(Buffer.from('ab')), gzipSync(Buffer.from('cd'))]);
    expect(decompressSync('gzip', two).toString()).toBe('abcd');
  });

  it('writes snappy in the xerial framing the Java client uses, in 32 KiB blocks', () => {
    const data = sampleBytes(100_000);
    const blob = compressSync('snappy', data);
    expect(blob.subarray(0, 8).equals(Buffer.from(XERIAL_MAGIC))).toBe(true);
    expect(blob.readInt32BE(8)).toBe(1); // version
    expect(blob.readInt32BE(12)).toBe(1); // compatible version
    let position = 16;
    let blocks = 0;
    while (position < blob.length) {
      position += 4 + blob.readInt32BE(position);
      blocks++;
    }
    expect(position).toBe(blob.length);
    expect(blocks).toBe(Math.ceil(data.length / XERIAL_BLOCK_BYTES));
  });

  it('reads raw snappy, as librdkafka sends it', async () => {
    const data = sampleBytes(50_000, 7);
    const raw = snappy.compressSync(data);
    expect(decompressSync('snappy', raw).equals(data)).toBe(true);
    expect((await decompress('snappy', raw)).equals(data)).toBe(true);
  });

  it('reads a hand-built xerial stream of literal-only snappy blocks', () => {
    // Raw snappy block: uncompressed length varint, then a literal tag ((length - 1) << 2) and bytes.
    const block = (text: string): Buffer => Buffer.concat([Buffer.from([text.length, (text.length - 1) << 2]), Buffer.from(text)]);
    const blocks = [block('hello, '), block('kafka')];
    const header = Buffer.from('82534e41505059000000000100000001', 'hex');
    const stream = Buffer.concat([header, ...blocks.flatMap((b) => [Buffer.from([0, 0, 0, b.length]), b])]);
    expect(decompressSync('snappy', stream).toString()).toBe('hello, kafka');
    expect(decompressSync('snappy', block('raw one')).toString()).toBe('raw one');
  });

  it('writes LZ4 frames with version 1 and independent blocks, as Kafka decoders require', () => {
    const blob = compressSync('lz4', sampleBytes(200_000));
    expect(blob.readUInt32LE(0)).toBe(0x184d2204);
    const flags = blob[4]!;
    expect(flags >> 6).toBe(1); // version 01
    expect(flags & 0x20).toBe(0x20); // block independence
  });

  it('reads a hand-built LZ4 frame holding one uncompressed block', () => {
    // magic, FLG 0x60 (version 1, independent blocks), BD 0x40 (64 KiB blocks), header checksum
    // 0x82 (second byte of xxh32 of FLG and BD), a block whose size has the high "uncompressed" bit
    // set, then the end mark.
    const text = Buffer.from('lz4 frame, stored');
    const size = Buffer.alloc(4);
    size.writeUInt32LE((0x80000000 | text.length) >>> 0);
    const frame = Buffer.concat([Buffer.from('04224d18604082', 'hex'), size, text, Buffer.alloc(4)]);
    expect(decompressSync('lz4', frame).toString()).toBe('lz4 frame, stored');
  });

  it('writes standard zstd frames', () => {
    expect(compressSync('zstd', Buffer.from('abc')).readUInt32LE(0)).toBe(0xfd2fb528);
  });

  it('reads zstd frames without a content size, as the Java client streams them, and concatenated frames', async () => {
    // magic, frame header descriptor 0x00 (no content size, not single segment), window descriptor
    // 0x00 (1 KiB window), then one last raw block: 3-byte little-endian header (size << 3) | 1.
    const rawFrame = (text: string): Buffer => {
      const header = (text.length << 3) | 1;
      return Buffer.concat([Buffer.from('28b52ffd0000', 'hex'), Buffer.from([header & 0xff, (header >> 8) & 0xff, header >> 16]), Buffer.from(text)]);
    };
    expect(decompressSync('zstd', rawFrame('streamed')).toString()).toBe('streamed');
    const two = Buffer.concat([rawFrame('one,'), compressSync('zstd', Buffer.from('two'))]);
    expect((await decompress('zstd', two)).toString()).toBe('one,two');
  });
});

describe('compression > errors', () => {
  it('rejects unknown codecs with UNSUPPORTED_COMPRESSION_TYPE', async () => {
    await expectCode(compress(5, Buffer.from('a')), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    await expectCode(() => decompressSync('brotli' as CompressionName, Buffer.from('a')), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    await expectCode(() => compressSync(-1, Buffer.from('a')), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });

  for (const codec of compressed) {
    it(`rejects garbage and truncated ${codec} data with CORRUPT_MESSAGE`, async () => {
      const valid = compressSync(codec, sampleBytes(10_000));
      const garbage = Buffer.from('this is not compressed data at all, not even close');
      const truncated = valid.subarray(0, Math.floor(valid.length / 2));
      for (const blob of [garbage, truncated]) {
        await expectCode(decompress(codec, blob), ErrorCode.CORRUPT_MESSAGE);
        await expectCode(() => decompressSync(codec, blob), ErrorCode.CORRUPT_MESSAGE);
      }
    });

    it(`refuses ${codec} output above maxBytes with MESSAGE_TOO_LARGE`, async () => {
      const blob = compressSync(codec, Buffer.alloc(70_000));
      await expectCode(decompress(codec, blob, { maxBytes: 65_536 }), ErrorCode.MESSAGE_TOO_LARGE);
      await expectCode(() => decompressSync(codec, blob, { maxBytes: 65_536 }), ErrorCode.MESSAGE_TOO_LARGE);
      expect(decompressSync(codec, blob, { maxBytes: 70_000 }).length).toBe(70_000);
    });
  }

  it('refuses hostile headers before allocating what they claim', async () => {
    // zstd frame claiming a 2 GiB window (exponent 31 - 10 = 21 -> descriptor 21 << 3).
    const zstdWindow = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00]);
    await expectCode(() => decompressSync('zstd', zstdWindow), ErrorCode.MESSAGE_TOO_LARGE);
    // zstd frame claiming 2^40 bytes of content (8-byte content size field).
    const zstdContent = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x58]), Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]), Buffer.from([1, 0, 0])]);
    await expectCode(() => decompressSync('zstd', zstdContent), ErrorCode.MESSAGE_TOO_LARGE);
    // zstd RLE blocks: 4 bytes each, 128 KiB of output each.
    const rle = Buffer.from([((128 * 1024) << 3) | (1 << 1), ((128 * 1024) << 3) >> 8, ((128 * 1024) << 3) >> 16, 0x61]);
    const rleFrame = Buffer.concat([Buffer.from('28b52ffd0070', 'hex'), ...Array<Buffer>(4000).fill(rle)]);
    await expectCode(() => decompressSync('zstd', rleFrame, { maxBytes: 10_000_000 }), ErrorCode.MESSAGE_TOO_LARGE);
    // Raw snappy declaring 4 GiB of output.
    await expectCode(() => decompressSync('snappy', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])), ErrorCode.MESSAGE_TOO_LARGE);
    // LZ4 frame (4 MiB blocks) of ten 1000-byte compressed blocks, each able to expand 255-fold.
    const block = Buffer.concat([Buffer.from([0xe8, 0x03, 0, 0]), Buffer.alloc(1000, 0x1f)]);
    const lz4Frame = Buffer.concat([Buffer.from('04224d186070', 'hex'), Buffer.from([0x73]), ...Array<Buffer>(10).fill(block)]);
    await expectCode(() => decompressSync('lz4', lz4Frame, { maxBytes: 1024 * 1024 }), ErrorCode.MESSAGE_TOO_LARGE);
    await expectCode(() => decompressSync('lz4', lz4Frame), ErrorCode.CORRUPT_MESSAGE);
  });
});

describe('compression > fuzz', () => {
  it('decompresses mutated blobs of every codec or rejects them with StreamBusError', async () => {
    let state = 0x2545f491;
    const next = (max: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % max;
    };
    for (const codec of compressed) {
      const valid = compressSync(codec, sampleBytes(20_000, 3));
      for (let n = 0; n < 300; n++) {
        const blob = Buffer.from(valid.subarray(0, n % 10 === 0 ? next(valid.length) : valid.length));
        const edits = 1 + next(6);
        for (let i = 0; i < edits && blob.length > 0; i++) blob[next(blob.length)] = next(256);
        for (const run of [() => decompressSync(codec, blob, { maxBytes: 1024 * 1024 }), () => decompress(codec, blob, { maxBytes: 1024 * 1024 })]) {
          try {
            await run();
          } catch (error) {
            if (!(error instanceof StreamBusError)) throw new Error(`${codec} case ${n}: ${String(error)}`, { cause: error });
          }
        }
      }
    }
  });
});
