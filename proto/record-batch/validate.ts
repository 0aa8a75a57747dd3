/**
 * The broker's produce-path check of RecordBatch v2 bytes, without decoding records.
 */
import { ErrorCode, StreamBusError } from '../errors.js';
import { crc32c as defaultCrc32c } from './crc32c.js';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, Compression, Offsets, readBatchHeader, type BatchHeader } from './header.js';
import type { ValidateBatchesOptions } from './types.js';
import { MIN_RECORD_BYTES, checkCrc, corrupt, frameAt } from './framing.js';

/**
 * The broker's produce-path check: walks concatenated batches without decoding records and
 * returns their headers. Guarantees, when it returns: at least one batch; every batch is magic 2,
 * complete (no trailing partial batch), at most `maxBatchBytes` long, uses a known codec, has a
 * CRC-32C that matches its bytes, and (unless `allowCompacted`) has recordCount >= 1 and
 * lastOffsetDelta = recordCount - 1. An uncompressed batch also has room for its records.
 * Throws StreamBusError: MESSAGE_TOO_LARGE, CORRUPT_MESSAGE (framing, CRC, partial batch),
 * INVALID_RECORD (counts), UNSUPPORTED_VERSION (magic 0/1), UNSUPPORTED_COMPRESSION_TYPE.
 */
export function validateBatches(buf: Uint8Array, options: ValidateBatchesOptions): BatchHeader[] {
  const crc32c = options.crc32c ?? defaultCrc32c;
  const allowCompacted = options.allowCompacted ?? false;
  if (buf.length === 0) throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'no record batch in the data');
  const headers: BatchHeader[] = [];
  let position = 0;
  while (position < buf.length) {
    const remaining = buf.length - position;
    if (remaining >= BATCH_LOG_OVERHEAD) {
      // Size first, so a huge batch is refused as too large even when the bytes stop early.
      const batchLength = new DataView(buf.buffer, buf.byteOffset + position, BATCH_LOG_OVERHEAD).getInt32(Offsets.batchLength);
      if (batchLength + BATCH_LOG_OVERHEAD > options.maxBatchBytes) {
        throw new StreamBusError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `batch at byte ${position} is ${batchLength + BATCH_LOG_OVERHEAD} bytes, above the limit of ${options.maxBatchBytes}`,
        );
      }
    }
    const sizeBytes = frameAt(buf, position);
    if (sizeBytes < 0) {
      throw corrupt(`the data ends inside a batch: ${remaining} bytes of a partial batch`, position);
    }
    const header = readBatchHeader(buf, position);
    if (header.compression > Compression.zstd) {
      throw new StreamBusError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${header.compression} (batch at byte ${position})`);
    }
    checkCrc(buf, position, header, crc32c);
    const count = header.recordCount;
    if (count < 0 || (count === 0 && !allowCompacted)) {
      throw new StreamBusError(ErrorCode.INVALID_RECORD, `batch at byte ${position} has recordCount ${count}`);
    }
    if (allowCompacted ? header.lastOffsetDelta < count - 1 : header.lastOffsetDelta !== count - 1) {
      throw new StreamBusError(
        ErrorCode.INVALID_RECORD,
        `batch at byte ${position} has lastOffsetDelta ${header.lastOffsetDelta} for ${count} records`,
      );
    }
    if (header.compression === Compression.none && count * MIN_RECORD_BYTES > sizeBytes - BATCH_HEADER_BYTES) {
      throw corrupt(`recordCount ${count} cannot fit in ${sizeBytes - BATCH_HEADER_BYTES} bytes of records`, position);
    }
    headers.push(header);
    position += sizeBytes;
  }
  return headers;
}
