/**
 * Walking concatenated RecordBatch v2 batches: the framing checks decoding and validation share.
 */
import { ErrorCode, StreamBusError } from '../errors.js';
import type { Crc32c } from './crc32c.js';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, CRC_START, MAGIC_V2, Offsets, type BatchHeader } from './header.js';

export const MAX_INT32 = 0x7fff_ffff;
/** Smallest possible record: length, attributes, timestampDelta, offsetDelta, key, value, headers. */
export const MIN_RECORD_BYTES = 7;
/** Smallest batchLength: the header after baseOffset and batchLength, without records. */
export const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD;

export function corrupt(message: string, position: number): StreamBusError {
  return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `${message} (batch at byte ${position})`);
}

/**
 * Checks the framing of the batch at `position` and returns its size in bytes, or -1 when the
 * bytes end before the batch does (a partial batch). Throws for framing that no prefix of a valid
 * batch could have: a batchLength below the header size, a magic other than 2.
 */
export function frameAt(buf: Uint8Array, position: number): number {
  const remaining = buf.length - position;
  if (remaining < BATCH_LOG_OVERHEAD) return -1;
  const view = new DataView(buf.buffer, buf.byteOffset + position, remaining);
  const batchLength = view.getInt32(Offsets.batchLength);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw corrupt(`batchLength ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`, position);
  }
  if (remaining <= Offsets.magic) return -1;
  const magic = view.getInt8(Offsets.magic);
  if (magic !== MAGIC_V2) {
    if (magic === 0 || magic === 1) {
      throw new StreamBusError(
        ErrorCode.UNSUPPORTED_VERSION,
        `legacy message format v${magic} is not supported, only RecordBatch v2 (batch at byte ${position})`,
      );
    }
    throw corrupt(`magic byte is ${magic}, expected 2`, position);
  }
  const sizeBytes = batchLength + BATCH_LOG_OVERHEAD;
  return remaining < sizeBytes ? -1 : sizeBytes;
}

export function checkCrc(buf: Uint8Array, position: number, header: BatchHeader, crc32c: Crc32c): void {
  const actual = crc32c(buf.subarray(position + CRC_START, position + header.sizeBytes));
  if (actual !== header.crc) {
    throw corrupt(`CRC-32C mismatch: stored ${header.crc}, computed ${actual}`, position);
  }
}
