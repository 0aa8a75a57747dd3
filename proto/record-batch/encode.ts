/**
 * RecordBatch v2 encoding: sizes every record once, allocates one buffer, writes it once. See
 * types.ts for the batch and record layout.
 */
import { ErrorCode, StreamBusError } from '../errors.js';
import { compressionId, defaultCodecs } from '../compression/index.js';
import { crc32c as defaultCrc32c, type Crc32c } from './crc32c.js';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, Compression, CRC_START, MAGIC_V2, Offsets, TimestampType, makeAttributes } from './header.js';
import { sizeOfVarint, sizeOfVarlong, writeInt64BE, writeVarint, writeVarlong } from './varint.js';
import type { EncodeRecordBatchOptions, RecordHeader, RecordInput } from './types.js';
import { MAX_INT32 } from './framing.js';

type Bytes = Buffer | Uint8Array | string;

/**
 * Sizes gathered by the first pass over the records, in the order the second pass consumes them,
 * so that strings are measured once and the buffer is allocated once.
 */
interface RecordsPlan {
  readonly sizes: number[];
  /** Each record's headers as a list, made once (Object.entries allocates). */
  readonly headerLists: Array<HeaderList | undefined>;
  readonly recordsBytes: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly lastOffsetDelta: number;
}

function invalid(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_RECORD, message);
}

/**
 * Strings up to this length are measured and copied in JS when they are ASCII (keys and header
 * names mostly are): for short strings that beats a call into Buffer's native UTF-8 code.
 */
const SHORT_STRING_CHARS = 64;

function utf8Length(text: string): number {
  if (text.length <= SHORT_STRING_CHARS) {
    let ascii = true;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return text.length;
  }
  return Buffer.byteLength(text, 'utf8');
}

function writeString(buf: Buffer, position: number, text: string, length: number): void {
  // UTF-8 length equals UTF-16 length only when every character is ASCII.
  if (length === text.length && length <= SHORT_STRING_CHARS) {
    for (let i = 0; i < length; i++) buf[position + i] = text.charCodeAt(i);
  } else {
    buf.write(text, position, length, 'utf8');
  }
}

function bytesLength(data: Bytes): number {
  if (typeof data === 'string') return utf8Length(data);
  if (data instanceof Uint8Array) return data.length;
  throw invalid(`a record key, value or header value must be a Buffer, a string or null, not ${typeof data}`);
}

type HeaderList = ReadonlyArray<RecordHeader> | ReadonlyArray<readonly [string, Buffer | string | null]>;

function headerEntries(headers: RecordInput['headers']): HeaderList | undefined {
  if (headers === undefined || Array.isArray(headers)) return headers as ReadonlyArray<RecordHeader> | undefined;
  return Object.entries(headers as Readonly<Record<string, Buffer | string | null>>);
}

function planRecords(options: EncodeRecordBatchOptions): RecordsPlan {
  const records = options.records;
  const count = records.length;
  const nowMs = options.nowMs;
  if (!Number.isSafeInteger(nowMs)) throw new StreamBusError(ErrorCode.INVALID_TIMESTAMP, `nowMs ${nowMs} is not an integer`);

  let minTimestamp = Number.POSITIVE_INFINITY;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const timestamp = records[i]!.timestamp ?? nowMs;
    if (!Number.isSafeInteger(timestamp)) {
      throw new StreamBusError(ErrorCode.INVALID_TIMESTAMP, `record ${i} has timestamp ${timestamp}, not an integer`);
    }
    if (timestamp < minTimestamp) minTimestamp = timestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
  }
  const baseTimestamp = options.baseTimestamp ?? (count === 0 ? -1 : minTimestamp);
  if (!Number.isSafeInteger(baseTimestamp)) {
    throw new StreamBusError(ErrorCode.INVALID_TIMESTAMP, `baseTimestamp ${baseTimestamp} is not an integer`);
  }

  const sizes: number[] = [];
  const headerLists = new Array<HeaderList | undefined>(count);
  let recordsBytes = 0;
  let previousDelta = -1;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const offsetDelta = record.offsetDelta ?? i;
    if (!Number.isInteger(offsetDelta) || offsetDelta <= previousDelta || offsetDelta > MAX_INT32) {
      throw invalid(`record ${i} has offsetDelta ${offsetDelta}; deltas must be integers that increase strictly`);
    }
    previousDelta = offsetDelta;
    const timestampDelta = (record.timestamp ?? nowMs) - baseTimestamp;
    if (!Number.isSafeInteger(timestampDelta)) {
      throw new StreamBusError(ErrorCode.INVALID_TIMESTAMP, `record ${i} is too far from baseTimestamp`);
    }

    let bodyBytes = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
    const key = record.key;
    if (key === null || key === undefined) {
      sizes.push(-1);
      bodyBytes += 1;
    } else {
      const keyBytes = bytesLength(key);
      sizes.push(keyBytes);
      bodyBytes += sizeOfVarint(keyBytes) + keyBytes;
    }
    const value = record.value;
    if (value === null) {
      sizes.push(-1);
      bodyBytes += 1;
    } else {
      const valueBytes = bytesLength(value);
      sizes.push(valueBytes);
      bodyBytes += sizeOfVarint(valueBytes) + valueBytes;
    }
    const headers = headerEntries(record.headers);
    headerLists[i] = headers;
    const headerCount = headers === undefined ? 0 : headers.length;
    bodyBytes += sizeOfVarint(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const entry = headers![h]!;
      const headerKey = Array.isArray(entry) ? (entry[0] as string) : (entry as RecordHeader).key;
      const headerValue = Array.isArray(entry) ? (entry[1] as Bytes | null) : (entry as RecordHeader).value;
      if (typeof headerKey !== 'string') throw invalid(`record ${i} has a header whose key is not a string`);
      const headerKeyBytes = utf8Length(headerKey);
      sizes.push(headerKeyBytes);
      bodyBytes += sizeOfVarint(headerKeyBytes) + headerKeyBytes;
      if (headerValue === null) {
        sizes.push(-1);
        bodyBytes += 1;
      } else {
        const headerValueBytes = bytesLength(headerValue);
        sizes.push(headerValueBytes);
        bodyBytes += sizeOfVarint(headerValueBytes) + headerValueBytes;
      }
    }
    sizes.push(bodyBytes);
    recordsBytes += sizeOfVarint(bodyBytes) + bodyBytes;
  }
  if (recordsBytes > MAX_INT32 - BATCH_HEADER_BYTES) {
    throw new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `the records take ${recordsBytes} bytes, more than a batch can hold`);
  }

  const lastOffsetDelta = options.lastOffsetDelta ?? (count === 0 ? -1 : previousDelta);
  if (!Number.isInteger(lastOffsetDelta) || lastOffsetDelta < previousDelta || lastOffsetDelta > MAX_INT32) {
    throw invalid(`lastOffsetDelta ${lastOffsetDelta} is below the last record's offsetDelta ${previousDelta}`);
  }
  return {
    sizes,
    headerLists,
    recordsBytes,
    baseTimestamp,
    maxTimestamp: options.maxTimestamp ?? (count === 0 ? -1 : maxTimestamp),
    lastOffsetDelta,
  };
}

function writeBytes(buf: Buffer, position: number, data: Bytes, length: number): number {
  if (typeof data === 'string') {
    writeString(buf, position, data, length);
  } else {
    buf.set(data, position);
  }
  return position + length;
}

/** Second pass: writes the records at `position` using the plan's sizes; returns the end position. */
function writeRecords(buf: Buffer, position: number, options: EncodeRecordBatchOptions, plan: RecordsPlan): number {
  const records = options.records;
  const sizes = plan.sizes;
  const nowMs = options.nowMs;
  const baseTimestamp = plan.baseTimestamp;
  let s = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    // The plan stored the sizes of key, value and headers first and the body size last, because
    // the body size is known only at the end; find it by counting the header entries.
    const headers = plan.headerLists[i];
    const headerCount = headers === undefined ? 0 : headers.length;
    const bodyBytes = sizes[s + 2 + 2 * headerCount]!;
    position = writeVarint(buf, position, bodyBytes);
    buf[position++] = 0; // record attributes: unused
    position = writeVarlong(buf, position, (record.timestamp ?? nowMs) - baseTimestamp);
    position = writeVarint(buf, position, record.offsetDelta ?? i);

    const keyBytes = sizes[s++]!;
    position = writeVarint(buf, position, keyBytes);
    if (keyBytes >= 0) position = writeBytes(buf, position, record.key!, keyBytes);

    const valueBytes = sizes[s++]!;
    position = writeVarint(buf, position, valueBytes);
    if (valueBytes >= 0) position = writeBytes(buf, position, record.value!, valueBytes);

    position = writeVarint(buf, position, headerCount);
    for (let h = 0; h < headerCount; h++) {
      const entry = headers![h]!;
      const headerKey = Array.isArray(entry) ? (entry[0] as string) : (entry as RecordHeader).key;
      const headerValue = Array.isArray(entry) ? (entry[1] as Bytes | null) : (entry as RecordHeader).value;
      const headerKeyBytes = sizes[s++]!;
      position = writeVarint(buf, position, headerKeyBytes);
      position = writeBytes(buf, position, headerKey, headerKeyBytes);
      const headerValueBytes = sizes[s++]!;
      position = writeVarint(buf, position, headerValueBytes);
      if (headerValueBytes >= 0) position = writeBytes(buf, position, headerValue!, headerValueBytes);
    }
    s++; // the body size, already used
  }
  return position;
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} ${value} is outside [${min}, ${max}]`);
  }
  return value;
}

/** Writes the 61-byte header (CRC left for later) at the start of `buf`, which holds the whole batch. */
function writeHeader(buf: Buffer, options: EncodeRecordBatchOptions, plan: RecordsPlan, compression: Compression): void {
  const view = new DataView(buf.buffer, buf.byteOffset, BATCH_HEADER_BYTES);
  const count = options.records.length;
  writeInt64BE(view, Offsets.baseOffset, checkInt('baseOffset', options.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER));
  view.setInt32(Offsets.batchLength, buf.length - BATCH_LOG_OVERHEAD);
  view.setInt32(Offsets.partitionLeaderEpoch, checkInt('partitionLeaderEpoch', options.partitionLeaderEpoch ?? -1, -1, MAX_INT32));
  view.setInt8(Offsets.magic, MAGIC_V2);
  const attributes = makeAttributes({
    compression,
    timestampType: options.timestampType ?? TimestampType.createTime,
    isTransactional: options.isTransactional ?? false,
    isControl: options.isControl ?? false,
  });
  view.setInt16(Offsets.attributes, attributes);
  view.setInt32(Offsets.lastOffsetDelta, plan.lastOffsetDelta);
  writeInt64BE(view, Offsets.baseTimestamp, plan.baseTimestamp);
  writeInt64BE(view, Offsets.maxTimestamp, plan.maxTimestamp);
  writeInt64BE(view, Offsets.producerId, checkInt('producerId', options.producerId ?? -1, -1, Number.MAX_SAFE_INTEGER));
  view.setInt16(Offsets.producerEpoch, checkInt('producerEpoch', options.producerEpoch ?? -1, -1, 0x7fff));
  view.setInt32(Offsets.baseSequence, checkInt('baseSequence', options.baseSequence ?? -1, -1, MAX_INT32));
  view.setInt32(Offsets.recordCount, count);
}

function sealCrc(buf: Buffer, crc32c: Crc32c): Buffer {
  buf.writeUInt32BE(crc32c(buf.subarray(CRC_START)), Offsets.crc);
  return buf;
}

function encodeUncompressed(options: EncodeRecordBatchOptions, plan: RecordsPlan, crc32c: Crc32c): Buffer {
  const size = BATCH_HEADER_BYTES + plan.recordsBytes;
  const buf = Buffer.allocUnsafe(size);
  writeHeader(buf, options, plan, Compression.none);
  const end = writeRecords(buf, BATCH_HEADER_BYTES, options, plan);
  // Paired assertion: the size pass and the write pass must agree, or the batch has garbage bytes.
  if (end !== size) throw new Error(`record batch encoder wrote ${end} bytes into ${size}`);
  return sealCrc(buf, crc32c);
}

function rawRecords(options: EncodeRecordBatchOptions, plan: RecordsPlan): Buffer {
  const raw = Buffer.allocUnsafe(plan.recordsBytes);
  const end = writeRecords(raw, 0, options, plan);
  if (end !== plan.recordsBytes) throw new Error(`record encoder wrote ${end} bytes into ${plan.recordsBytes}`);
  return raw;
}

function assembleCompressed(options: EncodeRecordBatchOptions, plan: RecordsPlan, compression: Compression, blob: Uint8Array, crc32c: Crc32c): Buffer {
  if (blob.length > MAX_INT32 - BATCH_HEADER_BYTES) {
    throw new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, 'the compressed records are larger than a batch can hold');
  }
  const buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + blob.length);
  writeHeader(buf, options, plan, compression);
  buf.set(blob, BATCH_HEADER_BYTES);
  return sealCrc(buf, crc32c);
}

/**
 * Encodes one RecordBatch v2. The result is a complete batch with a valid CRC-32C, ready to send;
 * baseOffset and partitionLeaderEpoch are placeholders the broker overwrites (outside the CRC).
 * Throws StreamBusError: INVALID_RECORD for malformed input (non-increasing offset deltas,
 * a key that is neither Buffer nor string), INVALID_TIMESTAMP for non-integer timestamps,
 * UNSUPPORTED_COMPRESSION_TYPE for an unknown codec. Never reads the clock: records without a
 * timestamp get `nowMs`.
 */
export async function encodeRecordBatch(options: EncodeRecordBatchOptions): Promise<Buffer> {
  const compression = compressionId(options.compression ?? Compression.none);
  const plan = planRecords(options);
  const crc32c = options.crc32c ?? defaultCrc32c;
  if (compression === Compression.none) return encodeUncompressed(options, plan, crc32c);
  const blob = await (options.codecs ?? defaultCodecs).compress(compression, rawRecords(options, plan));
  return assembleCompressed(options, plan, compression, blob, crc32c);
}

/**
 * encodeRecordBatch on the calling thread: the producer's hot path for uncompressed data, which
 * allocates exactly one buffer. Compressed codecs work too, through the codecs' sync functions.
 */
export function encodeRecordBatchSync(options: EncodeRecordBatchOptions): Buffer {
  const compression = compressionId(options.compression ?? Compression.none);
  const plan = planRecords(options);
  const crc32c = options.crc32c ?? defaultCrc32c;
  if (compression === Compression.none) return encodeUncompressed(options, plan, crc32c);
  const blob = (options.codecs ?? defaultCodecs).compressSync(compression, rawRecords(options, plan));
  return assembleCompressed(options, plan, compression, blob, crc32c);
}
