/**
 * Kafka's snappy framing: the xerial snappy-java stream format that the Java client writes.
 *
 *   header  magic (8 bytes: 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00) | version int32 BE (1)
 *           | compatibleVersion int32 BE (1)
 *   blocks  repeated: compressedLength int32 BE | raw snappy block of that many bytes
 *
 * librdkafka and some other clients send one raw snappy block with no framing instead, so the
 * decoder accepts both (as the Java and librdkafka decoders do): data that starts with the magic is
 * xerial, anything else is raw. The encoder always writes xerial, which every Kafka client reads.
 *
 * The raw block functions are passed in, which keeps this framing testable without the native
 * snappy module.
 */
import { ErrorCode, StreamBusError } from '../errors.js';

export const XERIAL_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00);
export const XERIAL_HEADER_BYTES = 16;
/** snappy-java's default block size, which Kafka's Java producer uses. */
export const XERIAL_BLOCK_BYTES = 32 * 1024;

export function isXerial(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

function writeXerialHeader(out: Buffer): void {
  out.set(XERIAL_MAGIC, 0);
  out.writeInt32BE(1, 8);
  out.writeInt32BE(1, 12);
}

/** Joins compressed blocks into one xerial stream. */
export function frameXerial(blocks: ReadonlyArray<Uint8Array>): Buffer {
  let size = XERIAL_HEADER_BYTES;
  for (const block of blocks) size += 4 + block.length;
  const out = Buffer.allocUnsafe(size);
  writeXerialHeader(out);
  let position = XERIAL_HEADER_BYTES;
  for (const block of blocks) {
    out.writeInt32BE(block.length, position);
    out.set(block, position + 4);
    position += 4 + block.length;
  }
  return out;
}

/** Cuts `data` into the blocks the encoder compresses one by one (at least one, maybe empty). */
export function splitBlocks(data: Uint8Array, blockBytes = XERIAL_BLOCK_BYTES): Uint8Array[] {
  if (data.length === 0) return [data];
  const blocks: Uint8Array[] = [];
  for (let start = 0; start < data.length; start += blockBytes) {
    blocks.push(data.subarray(start, Math.min(start + blockBytes, data.length)));
  }
  return blocks;
}

/** The compressed blocks of a xerial stream, as views into `data`. */
export function xerialBlocks(data: Uint8Array): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const blocks: Uint8Array[] = [];
  let position = XERIAL_HEADER_BYTES;
  while (position < data.length) {
    if (data.length - position < 4) {
      throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'xerial snappy stream ends inside a block length');
    }
    const length = view.getInt32(position);
    position += 4;
    if (length < 0 || length > data.length - position) {
      throw new StreamBusError(
        ErrorCode.CORRUPT_MESSAGE,
        `xerial snappy block length ${length} exceeds the ${data.length - position} bytes left`,
      );
    }
    blocks.push(data.subarray(position, position + length));
    position += length;
  }
  return blocks;
}
