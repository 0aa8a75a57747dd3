/**
 * zstd for Node 20, whose zlib has none.
 *
 * Compression: @bokuweb/zstd-wasm (the reference zstd library compiled to WASM; one-shot
 * ZSTD_compress, so the frame records its content size, like librdkafka's).
 * Decompression: fzstd (pure JS). Not the WASM build, because its one-shot decoder needs the
 * frame's content size to size its output, and the Java client (zstd-jni streams) writes frames
 * without one; fzstd decodes any standard frame, and concatenated frames, and holds no shared heap
 * that a hostile header could make grow.
 *
 * The WASM module is instantiated once, when this module is first imported (top-level await, a
 * few milliseconds), so the sync functions work from the first call. If it cannot load, zstd
 * compression reports UNSUPPORTED_COMPRESSION_TYPE and everything else keeps working.
 */
import { createRequire } from 'node:module';
import { decompress as fzstdDecompress } from 'fzstd';
import { ErrorCode, StreamBusError } from '../errors.js';

interface ZstdWasm {
  init(): Promise<void>;
  compress(data: Uint8Array, level?: number): Uint8Array;
}

/** zstd's default level, and what librdkafka and the Java client use unless configured. */
const ZSTD_LEVEL = 3;

async function loadWasm(): Promise<{ wasm: ZstdWasm } | { error: unknown }> {
  try {
    // The package is CommonJS and finds its .wasm file next to itself; require keeps it so.
    const wasm = createRequire(import.meta.url)('@bokuweb/zstd-wasm') as ZstdWasm;
    await wasm.init();
    return { wasm };
  } catch (error) {
    return { error };
  }
}

const loaded = await loadWasm();

export function zstdCompress(data: Uint8Array): Buffer {
  if ('error' in loaded) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'zstd compression is not available: its WASM module did not load', {
      cause: loaded.error,
    });
  }
  const out = loaded.wasm.compress(data, ZSTD_LEVEL);
  return Buffer.from(out.buffer, out.byteOffset, out.length);
}

export function zstdDecompress(data: Uint8Array): Buffer {
  const out = fzstdDecompress(data);
  return Buffer.from(out.buffer, out.byteOffset, out.length);
}
