/**
 * RecordBatch v2 (magic 2): the types of the codec (encode.ts, decode.ts, validate.ts, framing.ts).
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
import type { Codecs } from '../compression/codecs.js';
import type { Crc32c } from './crc32c.js';
import type { BatchHeader, Compression, CompressionName, TimestampType } from './header.js';

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
