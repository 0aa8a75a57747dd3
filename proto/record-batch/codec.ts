/**
 * RecordBatch v2 (magic 2): encoding, decoding and the broker's produce-path validation.
 *
 * Batch layout (61-byte header, big-endian, see ./header.ts for the field offsets):
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2)
 *   | crc uint32 (CRC-32C from attributes to the end) | attributes int16 | lastOffsetDelta int32
 *   | baseTimestamp int64 | maxTimestamp int64 | producerId int64 | producerEpoch int16
 *   | baseSequence int32 | recordCount int32 | records (one compressed blob when the codec is not none)
 *
 * Record layout (varints are zigzag, see ./varint.ts):
 *
 *   length varint (bytes after this field) | attributes int8 (0) | timestampDelta varlong
 *   | offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value
 *   | headerCount varint | headers: headerKeyLength varint | headerKey (UTF-8)
 *                                   | headerValueLength varint (-1 = null) | headerValue
 *
 * Compression comes in through an injectable `Codecs` object whose default is the real
 * implementation in proto/compression. Why a default and not a required argument: compression is
 * a deterministic bytes-to-bytes function with no clock, no I/O and no randomness, exactly like the
 * CRC-32C this module also defaults (./crc32c.ts), so the codec's results stay a pure function of
 * its inputs. Requiring every caller to pass codecs would let a caller that forgot them pass every
 * test on uncompressed data and fail only when a Kafka client first sends lz4 in production.
 * The injection point remains for tests (a counting or failing codec) and for other runtimes. The
 * files in this folder still import nothing from node:* themselves (the lint rule checks that).
 */
import { ErrorCode, StreamBusError } from '../errors.js';
import { compressionId, defaultCodecs } from '../compression/index.js';
import type { Codecs } from '../compression/codecs.js';
import { crc32c as defaultCrc32c, type Crc32c } from './crc32c.js';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  Compression,
  CRC_START,
  MAGIC_V2,
  Offsets,
  TimestampType,
  makeAttributes,
  readBatchHeader,
  type BatchHeader,
  type CompressionName,
} from './header.js';
import { Reader, sizeOfVarint, sizeOfVarlong, writeInt64BE, writeVarint, writeVarlong } from './varint.js';

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordInput {
  /** null or absent: no key. Strings are written as UTF-8. */
  readonly key?: Buffer | string | null;
  /** null: a tombstone. Strings are written as UTF-8. */
  readonly value: Buffer | string | null;
  /** An array keeps order and allows repeated keys; an object is the convenient form. */
  readonly headers?: ReadonlyArray<RecordHeader> | Readonly<Record<string, Buffer | string | null>>;
  /** Create time in ms since the epoch; the batch's `nowMs` when absent. */
  readonly timestamp?: number;
  /**
   * The record's offset relative to the batch's baseOffset; its index in `records` when absent.
   * Explicit deltas let compaction rewrite a batch and keep the surviving records' offsets. They must
   * increase strictly.
   */
  readonly offsetDelta?: number;
}

export interface DecodedRecord {
  readonly offset: number;
  /** The record's create time, or the batch's maxTimestamp for a LogAppendTime batch. */
  readonly timestamp: number;
  /** For uncompressed batches key and value are views into the decoded buffer (no copy). */
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
}

export interface DecodedBatch {
  readonly header: BatchHeader;
  readonly records: DecodedRecord[];
}

export interface EncodeRecordBatchOptions {
  readonly records: ReadonlyArray<RecordInput>;
  /** The timestamp given to records that carry none. The codec never reads the clock. */
  readonly nowMs: number;
  /** Default 'none'. */
  readonly compression?: CompressionName | Compression;
  /** Default 0: producers leave it to the broker, which patches it on append. */
  readonly baseOffset?: number;
  /** Default: the smallest record timestamp (-1 for a batch without records). */
  readonly baseTimestamp?: number;
  /** Default: the largest record timestamp (-1 for a batch without records). */
  readonly maxTimestamp?: number;
  /** Default createTime. */
  readonly timestampType?: TimestampType;
  /** Default -1 (not idempotent). */
  readonly producerId?: number;
  /** Default -1. */
  readonly producerEpoch?: number;
  /** Default -1. */
  readonly baseSequence?: number;
  readonly isTransactional?: boolean;
  readonly isControl?: boolean;
  /** Default -1: the broker sets it on append. */
  readonly partitionLeaderEpoch?: number;
  /**
   * Default: the last record's offsetDelta (-1 for a batch without records). Compaction passes
   * the original value so the batch still covers the offsets it covered before.
   */
  readonly lastOffsetDelta?: number;
  /** Default: the real implementation in proto/compression. */
  readonly codecs?: Codecs;
  /** Default: the hardware-accelerated ./crc32c.ts. */
  readonly crc32c?: Crc32c;
}

export interface DecodeRecordBatchesOptions {
  /** Check each batch's CRC-32C before decoding it. Default true (as Kafka's check.crcs). */
  readonly verifyCrc?: boolean;
  /**
   * The most bytes one compressed batch may decompress to; more gives MESSAGE_TOO_LARGE before
   * the memory is allocated. Default DEFAULT_MAX_DECOMPRESSED_BYTES (256 MiB).
   */
  readonly maxDecompressedBytes?: number;
  readonly codecs?: Codecs;
  readonly crc32c?: Crc32c;
}

export interface ValidateBatchesOptions {
  /** The largest batch accepted, counted as the whole batch on the wire (max.message.bytes). */
  readonly maxBatchBytes: number;
  readonly crc32c?: Crc32c;
  /**
   * Accept batches that compaction rewrote: recordCount 0, and lastOffsetDelta beyond
   * recordCount - 1 (offset gaps). The produce path leaves this false, as Kafka does; a follower
   * checking what it copied from a leader sets it.
   */
  readonly allowCompacted?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

const MAX_INT32 = 0x7fff_ffff;
/** Smallest possible record: length, attributes, timestampDelta, offsetDelta, key, value, headers. */
const MIN_RECORD_BYTES = 7;
/** Smallest batchLength: the header after baseOffset and batchLength, without records. */
const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD;

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

// ---------------------------------------------------------------------------------------------
// Framing: walking concatenated batches
// ---------------------------------------------------------------------------------------------

function corrupt(message: string, position: number): StreamBusError {
  return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `${message} (batch at byte ${position})`);
}

/**
 * Checks the framing of the batch at `position` and returns its size in bytes, or -1 when the
 * bytes end before the batch does (a partial batch). Throws for framing that no prefix of a valid
 * batch could have: a batchLength below the header size, a magic other than 2.
 */
function frameAt(buf: Uint8Array, position: number): number {
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

function checkCrc(buf: Uint8Array, position: number, header: BatchHeader, crc32c: Crc32c): void {
  const actual = crc32c(buf.subarray(position + CRC_START, position + header.sizeBytes));
  if (actual !== header.crc) {
    throw corrupt(`CRC-32C mismatch: stored ${header.crc}, computed ${actual}`, position);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

function decodeRecords(data: Buffer, start: number, end: number, header: BatchHeader, position: number): DecodedRecord[] {
  const count = header.recordCount;
  if (count < 0) throw corrupt(`recordCount ${count} is negative`, position);
  if (count * MIN_RECORD_BYTES > end - start) {
    throw corrupt(`recordCount ${count} cannot fit in ${end - start} bytes of records`, position);
  }
  const reader = new Reader(data, start, end);
  const records = new Array<DecodedRecord>(count);
  const logAppendTime = header.timestampType === TimestampType.logAppendTime;
  for (let i = 0; i < count; i++) {
    const bodyBytes = reader.readVarint();
    if (bodyBytes < MIN_RECORD_BYTES - 1 || bodyBytes > end - reader.position) {
      throw corrupt(`record ${i} has length ${bodyBytes}, outside the ${end - reader.position} bytes left`, position);
    }
    const recordEnd = reader.position + bodyBytes;
    reader.end = recordEnd;
    reader.readInt8(); // attributes: unused in v2
    const timestampDelta = reader.readVarlong();
    const offsetDelta = reader.readVarint();
    const key = readNullableBytes(data, reader, i, 'key', position);
    const value = readNullableBytes(data, reader, i, 'value', position);
    const headerCount = reader.readVarint();
    if (headerCount < 0 || headerCount * 2 > reader.remaining) {
      throw corrupt(`record ${i} has headerCount ${headerCount}, which its bytes cannot hold`, position);
    }
    const headers = new Array<RecordHeader>(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const keyBytes = reader.readVarint();
      if (keyBytes < 0 || keyBytes > reader.remaining) {
        throw corrupt(`record ${i} header ${h} has key length ${keyBytes}`, position);
      }
      const headerKey = data.toString('utf8', reader.position, reader.position + keyBytes);
      reader.position += keyBytes;
      headers[h] = { key: headerKey, value: readNullableBytes(data, reader, i, 'header value', position) };
    }
    if (reader.position !== recordEnd) {
      throw corrupt(`record ${i} declares ${bodyBytes} bytes but its fields take ${bodyBytes - (recordEnd - reader.position)}`, position);
    }
    reader.end = end;
    records[i] = {
      offset: header.baseOffset + offsetDelta,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    };
  }
  if (reader.position !== end) {
    throw corrupt(`${end - reader.position} bytes follow the last of ${count} records`, position);
  }
  return records;
}

function readNullableBytes(data: Buffer, reader: Reader, index: number, what: string, position: number): Buffer | null {
  const length = reader.readVarint();
  if (length === -1) return null;
  if (length < -1 || length > reader.remaining) {
    throw corrupt(`record ${index} has ${what} length ${length}, outside the ${reader.remaining} bytes left`, position);
  }
  const start = reader.position;
  reader.position = start + length;
  return data.subarray(start, start + length);
}

interface Framed {
  readonly position: number;
  readonly header: BatchHeader;
}

/** Frames every complete batch, checking the header fields decoding relies on. */
function frameAll(buf: Buffer, verifyCrc: boolean, crc32c: Crc32c): Framed[] {
  const framed: Framed[] = [];
  let position = 0;
  for (;;) {
    const sizeBytes = frameAt(buf, position);
    if (sizeBytes < 0) break; // a trailing partial batch: fetch may cut one, clients ignore it
    const header = readBatchHeader(buf, position);
    if (verifyCrc) checkCrc(buf, position, header, crc32c);
    if (header.compression > Compression.zstd) {
      throw new StreamBusError(
        ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        `unknown compression codec ${header.compression} (batch at byte ${position})`,
      );
    }
    framed.push({ position, header });
    position += sizeBytes;
  }
  return framed;
}

function decodeFramed(buf: Buffer, frame: Framed, decompressed: Buffer | undefined): DecodedBatch {
  const { position, header } = frame;
  const records =
    decompressed === undefined
      ? decodeRecords(buf, position + BATCH_HEADER_BYTES, position + header.sizeBytes, header, position)
      : decodeRecords(decompressed, 0, decompressed.length, header, position);
  return { header, records };
}

function compressedBlob(buf: Buffer, frame: Framed): Buffer {
  return buf.subarray(frame.position + BATCH_HEADER_BYTES, frame.position + frame.header.sizeBytes);
}

function decompressFailed(cause: unknown, frame: Framed): never {
  if (cause instanceof StreamBusError) throw cause;
  throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `batch at byte ${frame.position} does not decompress`, { cause });
}

/**
 * Decodes concatenated batches (a fetch response's records, a stored range). A trailing partial
 * batch is ignored, as Kafka clients do, since a fetch bounded by max bytes may cut the last one.
 * Everything else malformed throws StreamBusError: CORRUPT_MESSAGE (bad CRC when verifying,
 * lengths out of range, record count mismatch, trailing bytes), UNSUPPORTED_VERSION (magic 0 or
 * 1), UNSUPPORTED_COMPRESSION_TYPE (unknown codec). Record offsets are baseOffset + offsetDelta.
 * Keys and values of uncompressed batches are views into `buf`: copy them to outlive it.
 */
export async function decodeRecordBatches(buf: Buffer, options: DecodeRecordBatchesOptions = {}): Promise<DecodedBatch[]> {
  const framed = frameAll(buf, options.verifyCrc ?? true, options.crc32c ?? defaultCrc32c);
  const codecs = options.codecs ?? defaultCodecs;
  const limit = options.maxDecompressedBytes === undefined ? undefined : { maxBytes: options.maxDecompressedBytes };
  const batches: DecodedBatch[] = [];
  for (const frame of framed) {
    let decompressed: Buffer | undefined;
    if (frame.header.compression !== Compression.none) {
      try {
        decompressed = await codecs.decompress(frame.header.compression as Compression, compressedBlob(buf, frame), limit);
      } catch (cause) {
        decompressFailed(cause, frame);
      }
    }
    batches.push(decodeFramed(buf, frame, decompressed));
  }
  return batches;
}

/** decodeRecordBatches on the calling thread, with the same guarantees. */
export function decodeRecordBatchesSync(buf: Buffer, options: DecodeRecordBatchesOptions = {}): DecodedBatch[] {
  const framed = frameAll(buf, options.verifyCrc ?? true, options.crc32c ?? defaultCrc32c);
  const codecs = options.codecs ?? defaultCodecs;
  const limit = options.maxDecompressedBytes === undefined ? undefined : { maxBytes: options.maxDecompressedBytes };
  return framed.map((frame) => {
    let decompressed: Buffer | undefined;
    if (frame.header.compression !== Compression.none) {
      try {
        decompressed = codecs.decompressSync(frame.header.compression as Compression, compressedBlob(buf, frame), limit);
      } catch (cause) {
        decompressFailed(cause, frame);
      }
    }
    return decodeFramed(buf, frame, decompressed);
  });
}

// ---------------------------------------------------------------------------------------------
// Validation on the produce path
// ---------------------------------------------------------------------------------------------

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
