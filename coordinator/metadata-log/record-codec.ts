/**
 * How LocalMetadataLog lays records out in LevelDB.
 *
 * key   = 0x01 | offset (8 bytes, big-endian)       so keys sort by offset
 * value = crc32c (4 bytes, big-endian) | format (1 byte, = 1) | command envelope (JSON, see commands.ts)
 *
 * The CRC-32C covers the offset, the format byte and the envelope. Covering the offset (which lives
 * in the key) catches a value that ended up under the wrong key, not only flipped bits.
 * A single meta key, 0x00 "format", holds the layout version of the whole directory.
 */
import { crc32c } from '../../proto/record-batch/crc32c.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, decodeMetadataCommand } from '../metadata/commands.js';

export const RECORD_KEY_PREFIX = 0x01;
export const RECORD_FORMAT = 1;
export const LOG_FORMAT_VERSION = 1;
/** 0x00 sorts before every record key. */
export const FORMAT_KEY = new Uint8Array([0x00, ...new TextEncoder().encode('format')]);
export const RECORD_KEY_MIN = new Uint8Array([RECORD_KEY_PREFIX]);
export const RECORD_KEY_END = new Uint8Array([RECORD_KEY_PREFIX + 1]);

const HEADER_BYTES = 5;

export function recordKey(offset: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = RECORD_KEY_PREFIX;
  new DataView(key.buffer).setBigUint64(1, BigInt(offset));
  return key;
}

/** The offset in a record key, or undefined if the key is not a record key. */
export function offsetOfKey(key: Uint8Array): number | undefined {
  if (key.length !== 9 || key[0] !== RECORD_KEY_PREFIX) return undefined;
  const offset = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1);
  return offset <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(offset) : undefined;
}

function checksum(offset: number, format: number, payload: Uint8Array): number {
  const covered = new Uint8Array(9 + payload.length);
  new DataView(covered.buffer).setBigUint64(0, BigInt(offset));
  covered[8] = format;
  covered.set(payload, 9);
  return crc32c(covered);
}

export function encodeRecordValue(offset: number, payload: Uint8Array): Uint8Array {
  const value = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(value.buffer);
  view.setUint32(0, checksum(offset, RECORD_FORMAT, payload));
  value[4] = RECORD_FORMAT;
  value.set(payload, HEADER_BYTES);
  return value;
}

/**
 * Checks and decodes the value stored at `offset`. Throws StreamBusError CORRUPT_MESSAGE with the
 * reason (too short, checksum mismatch, unknown format, undecodable command); the caller adds where.
 */
export function decodeRecordValue(offset: number, value: Uint8Array): MetadataCommand {
  if (value.length < HEADER_BYTES) {
    throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `value is ${value.length} bytes, shorter than the ${HEADER_BYTES}-byte header (truncated)`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const stored = view.getUint32(0);
  const format = value[4] ?? 0;
  const payload = value.subarray(HEADER_BYTES);
  const computed = checksum(offset, format, payload);
  if (stored !== computed) {
    throw new StreamBusError(
      ErrorCode.CORRUPT_MESSAGE,
      `checksum mismatch (stored crc32c ${stored.toString(16).padStart(8, '0')}, computed ${computed.toString(16).padStart(8, '0')})`,
    );
  }
  if (format !== RECORD_FORMAT) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `record format ${format} is not known to this version (expected ${RECORD_FORMAT})`);
  }
  return decodeMetadataCommand(payload);
}
