/**
 * Per-batch compression for RecordBatch v2, in the wire formats Kafka clients write and read:
 *
 *   gzip    RFC 1952 (node:zlib); concatenated members decode as one stream
 *   snappy  xerial-framed (what the Java client writes) on encode; xerial or raw on decode
 *           (librdkafka sends raw); native `snappy` (napi-rs, prebuilt binaries in npm packages)
 *   lz4     LZ4 frame format with independent blocks (Kafka's Java decoder needs them);
 *           native `lz4-napi` (napi-rs, lz4_flex)
 *   zstd    a standard zstd frame (see ./zstd.ts)
 *
 * Every native library comes as a prebuilt binary inside an npm package and needs no install
 * script. snappy and lz4 load on first use, so a platform without one of the binaries loses that
 * codec (UNSUPPORTED_COMPRESSION_TYPE) instead of failing at import.
 *
 * Errors: an unknown codec id gives UNSUPPORTED_COMPRESSION_TYPE; input that does not decompress
 * gives CORRUPT_MESSAGE, with the library's error as `cause`.
 */
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import type * as Lz4 from 'lz4-napi';
import type * as Snappy from 'snappy';
import { ErrorCode, StreamBusError } from '../errors.js';
import { Compression, type CompressionName } from '../record-batch/header.js';
import { checkDecodedLength, checkLz4Frames, checkSnappyBlocks, checkZstdFrames, DEFAULT_MAX_DECOMPRESSED_BYTES } from './bounds.js';
import type { Codecs, DecompressOptions } from './codecs.js';
import { frameXerial, isXerial, splitBlocks, xerialBlocks } from './xerial.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

export type { Codecs, DecompressOptions } from './codecs.js';
export { DEFAULT_MAX_DECOMPRESSED_BYTES } from './bounds.js';
export { XERIAL_MAGIC, isXerial } from './xerial.js';
export { Compression, type CompressionName } from '../record-batch/header.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const require = createRequire(import.meta.url);

let snappyModule: typeof Snappy | undefined;
let lz4Module: typeof Lz4 | undefined;

function loadNative<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (cause) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `${name} is not available on this platform`, { cause });
  }
}

function snappy(): typeof Snappy {
  return (snappyModule ??= loadNative<typeof Snappy>('snappy'));
}

function lz4(): typeof Lz4 {
  return (lz4Module ??= loadNative<typeof Lz4>('lz4-napi'));
}

/** The codec id for a name or id; throws UNSUPPORTED_COMPRESSION_TYPE for anything else. */
export function compressionId(codec: CompressionName | number): Compression {
  const id: number | undefined = typeof codec === 'number' ? codec : (Compression as Record<string, number>)[codec];
  if (id === undefined || !Number.isInteger(id) || id < Compression.none || id > Compression.zstd) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${String(codec)}`);
  }
  return id as Compression;
}

/** A Buffer view of the same bytes (some napi functions accept Buffer but not Uint8Array). */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

function decompressError(codec: Compression, cause: unknown, maxBytes: number): StreamBusError {
  if (cause instanceof StreamBusError) return cause;
  const name = Object.keys(Compression)[codec] ?? String(codec);
  if ((cause as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
    return new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `${name} data decompresses to more than ${maxBytes} bytes`, { cause });
  }
  return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `${name} data does not decompress`, { cause });
}

function checked(codec: string, out: Buffer, maxBytes: number): Buffer {
  checkDecodedLength(codec, out.length, maxBytes);
  return out;
}

function snappyUncompressSync(block: Uint8Array): Buffer {
  return snappy().uncompressSync(block, { asBuffer: true }) as Buffer;
}

/**
 * Compresses `data` with `codec`. gzip and snappy run on libuv's thread pool; lz4 on napi-rs's;
 * zstd on the calling thread. `none` returns a copy.
 */
export async function compress(codec: CompressionName | number, data: Uint8Array): Promise<Buffer> {
  const id = compressionId(codec);
  switch (id) {
    case Compression.none:
      return Buffer.from(data);
    case Compression.gzip:
      return gzipAsync(data);
    case Compression.snappy: {
      const module = snappy();
      return frameXerial(await Promise.all(splitBlocks(data).map((block) => module.compress(block))));
    }
    case Compression.lz4:
      return lz4().compressFrame(data);
    case Compression.zstd:
      return zstdCompress(data);
  }
}

/**
 * Decompresses a blob written by any Kafka client with `codec`. `none` returns a copy. Output
 * above `options.maxBytes` is refused with MESSAGE_TOO_LARGE before it is allocated (see
 * ./bounds.ts); malformed input gives CORRUPT_MESSAGE.
 */
export async function decompress(codec: CompressionName | number, data: Uint8Array, options?: DecompressOptions): Promise<Buffer> {
  const id = compressionId(codec);
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  try {
    switch (id) {
      case Compression.none:
        return Buffer.from(data);
      case Compression.gzip:
        return await gunzipAsync(data, { maxOutputLength: Math.max(1, maxBytes) });
      case Compression.snappy: {
        const module = snappy();
        const blocks = isXerial(data) ? xerialBlocks(data) : [data];
        checkSnappyBlocks(blocks, maxBytes);
        const out = await Promise.all(blocks.map((block) => module.uncompress(block, { asBuffer: true })));
        return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out as Buffer[]);
      }
      case Compression.lz4:
        checkLz4Frames(data, maxBytes);
        return checked('lz4', await lz4().decompressFrame(data), maxBytes);
      case Compression.zstd:
        checkZstdFrames(data, maxBytes);
        return checked('zstd', zstdDecompress(data), maxBytes);
    }
  } catch (cause) {
    throw decompressError(id, cause, maxBytes);
  }
}

/** compress on the calling thread. */
export function compressSync(codec: CompressionName | number, data: Uint8Array): Buffer {
  const id = compressionId(codec);
  switch (id) {
    case Compression.none:
      return Buffer.from(data);
    case Compression.gzip:
      return gzipSync(data);
    case Compression.snappy: {
      const module = snappy();
      return frameXerial(splitBlocks(data).map((block) => module.compressSync(block)));
    }
    case Compression.lz4:
      return lz4().compressFrameSync(asBuffer(data));
    case Compression.zstd:
      return zstdCompress(data);
  }
}

/** decompress on the calling thread, with the same guarantees. */
export function decompressSync(codec: CompressionName | number, data: Uint8Array, options?: DecompressOptions): Buffer {
  const id = compressionId(codec);
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  try {
    switch (id) {
      case Compression.none:
        return Buffer.from(data);
      case Compression.gzip:
        return gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) });
      case Compression.snappy: {
        const blocks = isXerial(data) ? xerialBlocks(data) : [data];
        checkSnappyBlocks(blocks, maxBytes);
        return blocks.length === 1 ? snappyUncompressSync(blocks[0]!) : Buffer.concat(blocks.map(snappyUncompressSync));
      }
      case Compression.lz4:
        checkLz4Frames(data, maxBytes);
        return checked('lz4', lz4().decompressFrameSync(asBuffer(data)), maxBytes);
      case Compression.zstd:
        checkZstdFrames(data, maxBytes);
        return checked('zstd', zstdDecompress(data), maxBytes);
    }
  } catch (cause) {
    throw decompressError(id, cause, maxBytes);
  }
}

/** The implementation the RecordBatch codec uses unless a test injects another. */
export const defaultCodecs: Codecs = { compress, decompress, compressSync, decompressSync };
