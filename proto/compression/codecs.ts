/**
 * The contract between the RecordBatch codec and the compression implementations.
 *
 * The codec (proto/record-batch) depends on this interface only through an injectable object, so
 * tests can substitute a counting or failing implementation and a browser build can substitute
 * WASM codecs; `defaultCodecs` (./index.ts) is the implementation the broker and the clients use.
 */
import type { Compression } from '../record-batch/header.js';

export interface DecompressOptions {
  /**
   * The most bytes the output may have; larger output is refused with MESSAGE_TOO_LARGE before
   * the memory is allocated. Default DEFAULT_MAX_DECOMPRESSED_BYTES (256 MiB).
   */
  readonly maxBytes?: number;
}

export interface Codecs {
  /** Compresses `data` into the wire format Kafka clients expect for `codec` (see ./index.ts). */
  compress(codec: Compression, data: Uint8Array): Promise<Buffer>;
  /** Decompresses a codec blob; throws StreamBusError: CORRUPT_MESSAGE for malformed
   * input, MESSAGE_TOO_LARGE for output above `maxBytes`. */
  decompress(codec: Compression, data: Uint8Array, options?: DecompressOptions): Promise<Buffer>;
  /** Same as compress, on the calling thread. */
  compressSync(codec: Compression, data: Uint8Array): Buffer;
  /** Same as decompress, on the calling thread. */
  decompressSync(codec: Compression, data: Uint8Array, options?: DecompressOptions): Buffer;
}
