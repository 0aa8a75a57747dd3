/**
 * RecordBatch v2 decoding: concatenated batches, decompressed, into records. See types.ts for the
 * layout.
 */
import { ErrorCode, StreamBusError } from '../errors.js';
import { defaultCodecs } from '../compression/index.js';
import { crc32c as defaultCrc32c, type Crc32c } from './crc32c.js';
import { BATCH_HEADER_BYTES, Compression, TimestampType, readBatchHeader, type BatchHeader } from './header.js';
import { Reader } from './varint.js';
import type { DecodeRecordBatchesOptions, DecodedBatch, DecodedRecord, RecordHeader } from './types.js';
import { MIN_RECORD_BYTES, checkCrc, corrupt, frameAt } from './framing.js';

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
