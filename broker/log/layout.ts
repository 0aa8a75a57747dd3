/**
 * The storage layout of the broker's LevelDB database: every key and every value the log writes.
 *
 * One classic-level database per broker holds every partition of every topic. LevelDB sorts keys
 * as raw bytes, so each key is a compact binary string whose byte order is the order we want to
 * scan in. Every key starts with a one-byte kind tag, which keeps each kind in its own contiguous
 * key range, so loading all partition states at start-up is one short range read and a fetch never
 * walks over index entries.
 *
 *   T = u8 byteLength | topic id as UTF-8 (at most 255 bytes)
 *   P = u32 partition, big-endian
 *   O = u64 offset, big-endian          (offsets are below 2^53)
 *   S = u64 timestamp + 2^63, big-endian (so -1 "no timestamp" sorts before every real time)
 *
 *   tag  key                  value                                        written
 *   0x00 0x00 | name (ASCII)  store-wide record (see StoreKey)                open, close, interval sync
 *   0x01 0x01 | T | P         partition state (PartitionState, 57 bytes)     with every write to the partition
 *   0x02 0x02 | T | P | O     one RecordBatch v2, byte for byte as fetched   append, compaction rewrite
 *   0x03 0x03 | T | P | O     batch index: baseOffset u64 | maxTimestamp i64 | sizeBytes u32
 *   0x04 0x04 | T | P | S     time index: lastOffset u64 of a batch         append, retention, recovery
 *   0x05 0x05 | T | P | 0x01 | I   producer state of producer id I (u64): see producer-state-store.ts   with every write of that producer's batches
 *   0x05 0x05 | T | P | 0x02 | O   aborted transaction whose abort marker is at O: producerId u64 | firstOffset u64   with the marker
 *   0x06 0x06 | T | P | E     leader-epoch checkpoint: E = u32 epoch; value startOffset u64   with the write that starts or truncates the epoch
 *   0x07 0x07 | T | P         reserved (the high watermark lives in the partition state)
 *   0x7f 0x7f | T             topic deletion in progress (empty value)
 *
 * Why batch keys end in the batch's LAST offset. A fetch asks for the batch that contains offset
 * `o`. With keys ending in the last offset, the first key >= key(o) belongs to the first batch whose
 * last offset is >= o, which is exactly the batch containing `o` (batches never overlap), or the
 * next batch after a gap that compaction left (the batch a Kafka fetch must then return). So a
 * fetch is ONE forward range read `gte: key(o), lt: key(maxOffset)`, and the `lt` bound also stops
 * before any batch that reaches into maxOffset. With base-offset keys a fetch would need a reverse
 * seek to find the containing batch first. Compaction keeps each batch's offset range (its
 * lastOffsetDelta survives), so a rewritten batch keeps its key.
 *
 * The batch index (0x03) repeats the header facts that retention, compaction and recovery need,
 * under the same key suffix as the batch. Scanning it touches ~40 bytes per batch instead of the
 * whole batch (LevelDB keeps keys and values in the same blocks, so a keys-only scan of the data
 * range would still read every value from disk).
 *
 * The time index (0x04) has an entry only where the running maximum of batch maxTimestamps rises:
 * entries increase in timestamp and in offset together, so "first entry with timestamp >= ts" is
 * one seek and names the first batch (in offset order) whose maxTimestamp reached ts. It keeps one
 * invariant that the lookup relies on (see partition-log.ts, listOffset): every live batch B is
 * covered by an entry at an offset <= B's whose timestamp >= B's maxTimestamp. Compaction may lower
 * a batch's maxTimestamp and retention may delete the batch an entry names; neither breaks the
 * invariant, they only make the lookup scan a little further forward.
 *
 * The partition state (0x01) is written in the same LevelDB write batch as every change to the
 * partition's data, so it is exactly as durable as the data and the log end offset survives even
 * when retention deletes every batch (the next offset to assign must never go backwards).
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

export const KeyTag = {
  store: 0x00,
  partitionState: 0x01,
  batch: 0x02,
  batchIndex: 0x03,
  timeIndex: 0x04,
  producerState: 0x05,
  leaderEpoch: 0x06,
  highWatermark: 0x07,
  topicDeletion: 0x7f,
} as const;
export type KeyTag = (typeof KeyTag)[keyof typeof KeyTag];

/** Tags whose keys start with T | P: everything a topic's deletion must remove. */
export const PARTITION_SCOPED_TAGS: readonly KeyTag[] = [
  KeyTag.partitionState,
  KeyTag.batch,
  KeyTag.batchIndex,
  KeyTag.timeIndex,
  KeyTag.producerState,
  KeyTag.leaderEpoch,
  KeyTag.highWatermark,
];

/** The kinds of keys under the producer-state tag (0x05), after `T | P`. */
export const ProducerSubkey = {
  producer: 0x01,
  abortedTxn: 0x02,
} as const;
export type ProducerSubkey = (typeof ProducerSubkey)[keyof typeof ProducerSubkey];

/** Store-wide keys (tag 0x00). */
export const StoreKey = {
  /** u8 format version; refuses to open a database written by an unknown future format. */
  format: 'format',
  /** Present only between a clean close and the next open: the tail needs no deep check. */
  cleanShutdown: 'clean-shutdown',
  /** Rewritten by every synced write of the 'interval' durability mode. */
  syncMarker: 'sync-marker',
} as const;
export type StoreKey = (typeof StoreKey)[keyof typeof StoreKey];

export const FORMAT_VERSION = 1;
const MAX_TOPIC_ID_BYTES = 255;
const TWO_POW_32 = 0x1_0000_0000;
const TIMESTAMP_BIAS = 1n << 63n;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** The encoded `T` of a topic id. Throws INVALID_TOPIC for an id that cannot be stored. */
export function encodeTopicId(topicId: string): Buffer {
  const bytes = Buffer.from(topicId, 'utf8');
  if (bytes.length === 0 || bytes.length > MAX_TOPIC_ID_BYTES) {
    throw new StreamBusError(
      ErrorCode.INVALID_TOPIC,
      `topic id must be 1 to ${MAX_TOPIC_ID_BYTES} UTF-8 bytes, got ${bytes.length}`,
      { context: { topic: topicId } },
    );
  }
  const out = Buffer.allocUnsafe(1 + bytes.length);
  out[0] = bytes.length;
  bytes.copy(out, 1);
  return out;
}

export function writeU64(buf: Buffer, position: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), position);
  buf.writeUInt32BE(value >>> 0, position + 4);
}

export function readU64(buf: Buffer, position: number): number {
  return buf.readUInt32BE(position) * TWO_POW_32 + buf.readUInt32BE(position + 4);
}

function writeTimestamp(buf: Buffer, position: number, timestamp: number): void {
  buf.writeBigUInt64BE(BigInt(timestamp) + TIMESTAMP_BIAS, position);
}

function readTimestamp(buf: Buffer, position: number): number {
  return Number(buf.readBigUInt64BE(position) - TIMESTAMP_BIAS);
}

/**
 * Key builder for one partition: the `tag | T | P` prefix is built once, and each key is the
 * prefix with the tag swapped and a suffix appended.
 */
export class PartitionKeys {
  /** `T | P`, shared by every partition-scoped key. */
  readonly #scope: Buffer;

  constructor(topicId: string, partition: number) {
    if (!Number.isInteger(partition) || partition < 0 || partition > 0xffff_ffff) {
      throw new StreamBusError(ErrorCode.INVALID_PARTITIONS, `partition must be an integer from 0 to 2^32-1, got ${partition}`, {
        context: { topic: topicId },
      });
    }
    const topic = encodeTopicId(topicId);
    this.#scope = Buffer.allocUnsafe(topic.length + 4);
    topic.copy(this.#scope, 0);
    this.#scope.writeUInt32BE(partition, topic.length);
  }

  #key(tag: KeyTag, suffixBytes: number): Buffer {
    const key = Buffer.allocUnsafe(1 + this.#scope.length + suffixBytes);
    key[0] = tag;
    this.#scope.copy(key, 1);
    return key;
  }

  state(): Buffer {
    return this.#key(KeyTag.partitionState, 0);
  }

  batch(lastOffset: number): Buffer {
    const key = this.#key(KeyTag.batch, 8);
    writeU64(key, key.length - 8, lastOffset);
    return key;
  }

  batchIndex(lastOffset: number): Buffer {
    const key = this.#key(KeyTag.batchIndex, 8);
    writeU64(key, key.length - 8, lastOffset);
    return key;
  }

  /** A leader-epoch checkpoint: the offset at which `epoch` starts in this partition's log. */
  leaderEpoch(epoch: number): Buffer {
    const key = this.#key(KeyTag.leaderEpoch, 4);
    key.writeUInt32BE(epoch, key.length - 4);
    return key;
  }

  timeIndex(timestamp: number): Buffer {
    const key = this.#key(KeyTag.timeIndex, 8);
    writeTimestamp(key, key.length - 8, timestamp);
    return key;
  }

  /** The state of one producer id (idempotence, transactions). */
  producer(producerId: number): Buffer {
    const key = this.#key(KeyTag.producerState, 9);
    key[key.length - 9] = ProducerSubkey.producer;
    writeU64(key, key.length - 8, producerId);
    return key;
  }

  /** An aborted transaction, under the offset of its abort marker. */
  abortedTxn(markerOffset: number): Buffer {
    const key = this.#key(KeyTag.producerState, 9);
    key[key.length - 9] = ProducerSubkey.abortedTxn;
    writeU64(key, key.length - 8, markerOffset);
    return key;
  }

  /** The first key of a producer-state sub-range for this partition. */
  producerRangeStart(subkey: ProducerSubkey): Buffer {
    const key = this.#key(KeyTag.producerState, 1);
    key[key.length - 1] = subkey;
    return key;
  }

  /** The first key after a producer-state sub-range for this partition. */
  producerRangeEnd(subkey: ProducerSubkey): Buffer {
    return prefixEnd(this.producerRangeStart(subkey));
  }

  /** The first key of a tag's range for this partition. */
  rangeStart(tag: KeyTag): Buffer {
    return this.#key(tag, 0);
  }

  /** The first key after a tag's range for this partition (exclusive upper bound). */
  rangeEnd(tag: KeyTag): Buffer {
    return prefixEnd(this.#key(tag, 0));
  }
}

/** The epoch suffix of a leader-epoch checkpoint key. */
export function keyEpoch(key: Buffer): number {
  return key.readUInt32BE(key.length - 4);
}

/** The offset (or time) suffix of a batch, batch-index or time-index key. */
export function keyOffset(key: Buffer): number {
  return readU64(key, key.length - 8);
}

export function keyTimestamp(key: Buffer): number {
  return readTimestamp(key, key.length - 8);
}

/** The smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // Only reachable for a prefix of 0xff bytes, which no tag produces.
  throw new Error('prefixEnd: prefix has no successor');
}

export function storeKey(name: StoreKey): Buffer {
  return Buffer.concat([Buffer.of(KeyTag.store), Buffer.from(name, 'ascii')]);
}

/** `tag | T`: the prefix of every key of one topic under one tag. */
export function topicPrefix(tag: KeyTag, topicId: string): Buffer {
  return Buffer.concat([Buffer.of(tag), encodeTopicId(topicId)]);
}

/** Splits a `tag | T | P ...` key into its topic id and partition. */
export function parseScopedKey(key: Buffer): { topicId: string; partition: number } {
  const length = key[1] ?? 0;
  if (key.length < 2 + length + 4) throw new Error(`key too short for a partition-scoped key: ${key.toString('hex')}`);
  return { topicId: key.toString('utf8', 2, 2 + length), partition: key.readUInt32BE(2 + length) };
}

/** The topic id of a `0x7f | T` deletion marker. */
export function parseTopicKey(key: Buffer): string {
  const length = key[1] ?? 0;
  return key.toString('utf8', 2, 2 + length);
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/**
 * What a partition persists about itself, next to its data. Every field is a checkpoint that the
 * same write batch as the data change keeps exact, so start-up reads it instead of scanning.
 */
export interface PartitionState {
  logStartOffset: number;
  /** The next offset to assign. Survives retention deleting every batch. */
  logEndOffset: number;
  highWatermark: number;
  /** Sum of the stored batch sizes (what retention.bytes counts). */
  sizeBytes: number;
  /** The time index's running maximum: the timestamp of its newest entry, -1 when empty. */
  maxTimestamp: number;
  /** Compaction: offsets below this were in the cleaned range of the last pass. */
  cleanedOffset: number;
  /** Compaction: when the oldest retained tombstone becomes removable, -1 when none is kept. */
  tombstoneExpiryMs: number;
}

const STATE_VERSION = 1;
export const PARTITION_STATE_BYTES = 1 + 8 * 7;

export function encodePartitionState(state: PartitionState): Buffer {
  const buf = Buffer.allocUnsafe(PARTITION_STATE_BYTES);
  buf[0] = STATE_VERSION;
  writeU64(buf, 1, state.logStartOffset);
  writeU64(buf, 9, state.logEndOffset);
  writeU64(buf, 17, state.highWatermark);
  writeU64(buf, 25, state.sizeBytes);
  buf.writeBigInt64BE(BigInt(state.maxTimestamp), 33);
  writeU64(buf, 41, state.cleanedOffset);
  buf.writeBigInt64BE(BigInt(state.tombstoneExpiryMs), 49);
  return buf;
}

/** Returns undefined for a value that is not a state this version wrote (the caller rebuilds it). */
export function decodePartitionState(buf: Buffer): PartitionState | undefined {
  if (buf.length !== PARTITION_STATE_BYTES || buf[0] !== STATE_VERSION) return undefined;
  const state: PartitionState = {
    logStartOffset: readU64(buf, 1),
    logEndOffset: readU64(buf, 9),
    highWatermark: readU64(buf, 17),
    sizeBytes: readU64(buf, 25),
    maxTimestamp: Number(buf.readBigInt64BE(33)),
    cleanedOffset: readU64(buf, 41),
    tombstoneExpiryMs: Number(buf.readBigInt64BE(49)),
  };
  const consistent =
    state.logStartOffset <= state.logEndOffset &&
    state.highWatermark <= state.logEndOffset &&
    Number.isSafeInteger(state.logEndOffset) &&
    Number.isSafeInteger(state.sizeBytes);
  return consistent ? state : undefined;
}

/** One batch index entry: the header facts of the batch stored under the same key suffix. */
export interface BatchIndexEntry {
  readonly lastOffset: number;
  readonly baseOffset: number;
  readonly maxTimestamp: number;
  readonly sizeBytes: number;
}

export const BATCH_INDEX_VALUE_BYTES = 20;

export function encodeBatchIndexValue(baseOffset: number, maxTimestamp: number, sizeBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_INDEX_VALUE_BYTES);
  writeU64(buf, 0, baseOffset);
  buf.writeBigInt64BE(BigInt(maxTimestamp), 8);
  buf.writeUInt32BE(sizeBytes, 16);
  return buf;
}

/** Returns undefined when the bytes cannot be an entry for a batch ending at `lastOffset`. */
export function decodeBatchIndexEntry(lastOffset: number, buf: Buffer): BatchIndexEntry | undefined {
  if (buf.length !== BATCH_INDEX_VALUE_BYTES) return undefined;
  const baseOffset = readU64(buf, 0);
  if (baseOffset > lastOffset) return undefined;
  return { lastOffset, baseOffset, maxTimestamp: Number(buf.readBigInt64BE(8)), sizeBytes: buf.readUInt32BE(16) };
}

export function encodeOffsetValue(offset: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  writeU64(buf, 0, offset);
  return buf;
}

export function decodeOffsetValue(buf: Buffer): number | undefined {
  return buf.length === 8 ? readU64(buf, 0) : undefined;
}
