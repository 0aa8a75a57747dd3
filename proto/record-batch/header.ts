/**
 * The fixed 61-byte header of a Kafka RecordBatch v2 (magic 2), read and patched in place.
 *
 *   baseOffset            int64   assigned by the broker on append (outside the CRC)
 *   batchLength           int32   bytes after this field
 *   partitionLeaderEpoch  int32   set by the broker (outside the CRC)
 *   magic                 int8    2
 *   crc                   uint32  CRC-32C of everything from attributes to the end of the batch
 *   attributes            int16   bits 0-2 codec, bit 3 LogAppendTime, bit 4 transactional,
 *                                 bit 5 control, bit 6 delete horizon set
 *   lastOffsetDelta       int32
 *   baseTimestamp         int64
 *   maxTimestamp          int64
 *   producerId            int64   -1 when none
 *   producerEpoch         int16
 *   baseSequence          int32   -1 when none
 *   recordCount           int32
 *   records...                    compressed as one blob when the codec is not none
 *
 * Everything here is pure: no I/O, no clock. The broker's hot path uses only this file and the
 * CRC check; it never decodes records.
 */
import type { Crc32c } from './crc32c.js';

export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes before the length-counted part of a batch. */
export const BATCH_LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;

export const Offsets = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
} as const;

/** The CRC covers the batch from the attributes field to its end. */
export const CRC_START = Offsets.attributes;

export const Compression = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const;
export type Compression = (typeof Compression)[keyof typeof Compression];
export type CompressionName = keyof typeof Compression;

export const TimestampType = {
  createTime: 0,
  logAppendTime: 1,
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;
const DELETE_HORIZON_BIT = 0x40;

export interface BatchHeader {
  readonly baseOffset: number;
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: number;
  readonly timestampType: TimestampType;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly hasDeleteHorizon: boolean;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
  /** Total bytes of the batch on the wire: batchLength + 12. */
  readonly sizeBytes: number;
  /** baseOffset + lastOffsetDelta. */
  readonly lastOffset: number;
}

/**
 * Reads the header of the batch that starts at `position`. The caller must have checked that at
 * least BATCH_HEADER_BYTES are there; this function checks nothing else.
 */
export function readBatchHeader(buf: Uint8Array, position = 0): BatchHeader {
  const view = new DataView(buf.buffer, buf.byteOffset + position, BATCH_HEADER_BYTES);
  const baseOffset = Number(view.getBigInt64(Offsets.baseOffset));
  const batchLength = view.getInt32(Offsets.batchLength);
  const attributes = view.getInt16(Offsets.attributes);
  const lastOffsetDelta = view.getInt32(Offsets.lastOffsetDelta);
  return {
    baseOffset,
    batchLength,
    partitionLeaderEpoch: view.getInt32(Offsets.partitionLeaderEpoch),
    magic: view.getInt8(Offsets.magic),
    crc: view.getUint32(Offsets.crc),
    attributes,
    compression: attributes & COMPRESSION_MASK,
    timestampType: (attributes & TIMESTAMP_TYPE_BIT) !== 0 ? TimestampType.logAppendTime : TimestampType.createTime,
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_BIT) !== 0,
    lastOffsetDelta,
    baseTimestamp: Number(view.getBigInt64(Offsets.baseTimestamp)),
    maxTimestamp: Number(view.getBigInt64(Offsets.maxTimestamp)),
    producerId: Number(view.getBigInt64(Offsets.producerId)),
    producerEpoch: view.getInt16(Offsets.producerEpoch),
    baseSequence: view.getInt32(Offsets.baseSequence),
    recordCount: view.getInt32(Offsets.recordCount),
    sizeBytes: batchLength + BATCH_LOG_OVERHEAD,
    lastOffset: baseOffset + lastOffsetDelta,
  };
}

/** Builds the attributes field. */
export function makeAttributes(options: {
  compression?: number;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControl?: boolean;
  hasDeleteHorizon?: boolean;
}): number {
  let attributes = (options.compression ?? 0) & COMPRESSION_MASK;
  if (options.timestampType === TimestampType.logAppendTime) attributes |= TIMESTAMP_TYPE_BIT;
  if (options.isTransactional === true) attributes |= TRANSACTIONAL_BIT;
  if (options.isControl === true) attributes |= CONTROL_BIT;
  if (options.hasDeleteHorizon === true) attributes |= DELETE_HORIZON_BIT;
  return attributes;
}

/** Overwrites baseOffset in place. It lies outside the CRC, so the CRC stays valid. */
export function patchBaseOffset(buf: Uint8Array, position: number, baseOffset: number): void {
  new DataView(buf.buffer, buf.byteOffset + position, 8).setBigInt64(0, BigInt(baseOffset));
}

/** Overwrites partitionLeaderEpoch in place. It lies outside the CRC, so the CRC stays valid. */
export function patchPartitionLeaderEpoch(buf: Uint8Array, position: number, epoch: number): void {
  new DataView(buf.buffer, buf.byteOffset + position + Offsets.partitionLeaderEpoch, 4).setInt32(0, epoch);
}

/** The CRC-32C over the batch's covered range, computed with the given implementation. */
export function computeBatchCrc(buf: Uint8Array, position: number, sizeBytes: number, crc32c: Crc32c): number {
  return crc32c(buf.subarray(position + CRC_START, position + sizeBytes));
}

/**
 * Switches a batch to LogAppendTime with the given time as maxTimestamp and recomputes the CRC.
 * Used by the broker for topics with message.timestamp.type=LogAppendTime; this is the one case
 * where the broker rewrites bytes inside the CRC.
 */
export function setLogAppendTime(buf: Uint8Array, position: number, nowMs: number, crc32c: Crc32c): void {
  const view = new DataView(buf.buffer, buf.byteOffset + position, BATCH_HEADER_BYTES);
  view.setInt16(Offsets.attributes, view.getInt16(Offsets.attributes) | TIMESTAMP_TYPE_BIT);
  view.setBigInt64(Offsets.maxTimestamp, BigInt(nowMs));
  const sizeBytes = view.getInt32(Offsets.batchLength) + BATCH_LOG_OVERHEAD;
  view.setUint32(Offsets.crc, computeBatchCrc(buf, position, sizeBytes, crc32c));
}
