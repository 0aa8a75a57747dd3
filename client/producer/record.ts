/**
 * Turning a user's ProducerRecord into what a batch holds, with the checks that must happen at
 * send() time: a bad record is rejected alone, before it can fail a whole batch of other records.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { RecordInput } from '../../proto/record-batch/index.js';
import type { Bytes, ProducerRecord, RecordHeaders } from '../types.js';

/**
 * Upper bound of a record's framing in a batch: length (5) + attributes (1) + timestamp delta
 * (10) + offset delta (5) + key length (5) + value length (5) + header count (5). Estimating high
 * keeps the real batch at or under the limits the accumulator enforces.
 */
const RECORD_OVERHEAD_BYTES = 36;
/** Key length (5) + value length (5) of one header. */
const HEADER_OVERHEAD_BYTES = 10;

export interface PreparedRecord {
  readonly input: RecordInput;
  /** The key's bytes for the partitioner, or null. */
  readonly keyBytes: Buffer | null;
  readonly sizeBytes: number;
}

export function toBuffer(bytes: Bytes, what: string, topic: string): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (typeof bytes === 'string') return Buffer.from(bytes, 'utf8');
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new StreamBusError(ErrorCode.INVALID_RECORD, `a record's ${what} must be a Buffer, a Uint8Array or a string`, { context: { topic } });
}

/** Validates and normalises one record. Throws StreamBusError (INVALID_RECORD, INVALID_TIMESTAMP, INVALID_TOPIC). */
export function prepareRecord(record: ProducerRecord, nowMs: number): PreparedRecord {
  if (record === null || typeof record !== 'object') {
    throw new StreamBusError(ErrorCode.INVALID_RECORD, 'a record must be an object with at least `topic` and `value`');
  }
  const topic = record.topic;
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new StreamBusError(ErrorCode.INVALID_TOPIC, 'a record needs a non-empty `topic` string');
  }
  if (record.value === undefined) {
    throw new StreamBusError(ErrorCode.INVALID_RECORD, 'a record needs a `value` (null for a tombstone)', { context: { topic } });
  }
  const partition = record.partition;
  if (partition !== undefined && (!Number.isInteger(partition) || partition < 0)) {
    throw new StreamBusError(ErrorCode.INVALID_RECORD, `partition must be a non-negative integer, got ${String(partition)}`, { context: { topic } });
  }
  let timestamp = nowMs;
  if (record.timestamp !== undefined) {
    timestamp = record.timestamp;
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new StreamBusError(ErrorCode.INVALID_TIMESTAMP, `timestamp must be a non-negative integer of ms, got ${String(timestamp)}`, {
        context: { topic },
      });
    }
  }
  const key = record.key === undefined || record.key === null ? null : toBuffer(record.key, 'key', topic);
  const value = record.value === null ? null : toBuffer(record.value, 'value', topic);
  let sizeBytes = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  const headers = record.headers;
  if (headers !== undefined) sizeBytes += headersSizeBytes(headers, topic);
  const input: RecordInput =
    headers === undefined ? { key, value, timestamp } : { key, value, timestamp, headers };
  return { input, keyBytes: key, sizeBytes };
}

function headersSizeBytes(headers: RecordHeaders, topic: string): number {
  let size = 0;
  if (Array.isArray(headers)) {
    for (const header of headers as readonly { key: unknown; value: unknown }[]) {
      if (header === null || typeof header !== 'object' || typeof header.key !== 'string') {
        throw new StreamBusError(ErrorCode.INVALID_RECORD, 'each header must be { key: string, value: Buffer | string | null }', { context: { topic } });
      }
      size += HEADER_OVERHEAD_BYTES + Buffer.byteLength(header.key) + headerValueBytes(header.value, topic);
    }
    return size;
  }
  if (typeof headers !== 'object' || headers === null) {
    throw new StreamBusError(ErrorCode.INVALID_RECORD, 'headers must be an object or an array of { key, value }', { context: { topic } });
  }
  for (const [key, value] of Object.entries(headers as Readonly<Record<string, unknown>>)) {
    size += HEADER_OVERHEAD_BYTES + Buffer.byteLength(key) + headerValueBytes(value, topic);
  }
  return size;
}

function headerValueBytes(value: unknown, topic: string): number {
  if (value === null) return 0;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Buffer.isBuffer(value)) return value.length;
  throw new StreamBusError(ErrorCode.INVALID_RECORD, 'a header value must be a Buffer, a string or null', { context: { topic } });
}
