/**
 * Upper bounds on what a compressed blob can expand to, read from its framing before any library
 * allocates memory for it.
 *
 * A hostile or corrupt batch must not make a broker or a consumer allocate gigabytes: a zstd frame
 * header can claim a 2 GiB window (and the decoder allocates it up front), an LZ4 frame or a run of
 * zstd RLE blocks can expand thirty-thousand-fold, and a raw snappy header states its output
 * length. Each function below walks only the framing (headers and block lengths, never the
 * entropy-coded data) and throws MESSAGE_TOO_LARGE when the framing proves the output exceeds
 * `maxBytes` (declared sizes, stored blocks) or when even its worst case could make the decoder
 * allocate more than twice `maxBytes`. Worst cases overestimate, so the exact limit is applied to
 * the decoded length afterwards (checkDecodedLength); together: output within the limit is always
 * accepted, output beyond it is always refused, and no decoder allocates far beyond it. Framing
 * these functions cannot follow is left to the library, which rejects it.
 *
 * Pure: no I/O.
 */
import { ErrorCode, StreamBusError } from '../errors.js';

/** What decompression accepts unless told otherwise: far above any sane batch, far below a crash. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

function tooLarge(codec: string, bytes: number, maxBytes: number): StreamBusError {
  return new StreamBusError(
    ErrorCode.MESSAGE_TOO_LARGE,
    `${codec} data can decompress to ${bytes} bytes, above the limit of ${maxBytes}`,
  );
}

/** The worst case may reach this multiple of the limit before it is refused unread. */
const WORST_CASE_SLACK = 2;

function checkBounds(codec: string, provenBytes: number, worstBytes: number, maxBytes: number): void {
  if (provenBytes > maxBytes) throw tooLarge(codec, provenBytes, maxBytes);
  if (worstBytes > maxBytes * WORST_CASE_SLACK) throw tooLarge(codec, worstBytes, maxBytes);
}

/** The exact check, after decoding. */
export function checkDecodedLength(codec: string, length: number, maxBytes: number): void {
  if (length > maxBytes) {
    throw new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `${codec} data decompresses to ${length} bytes, above the limit of ${maxBytes}`);
  }
}

function uint32LE(data: Uint8Array, position: number): number {
  return (data[position]! | (data[position + 1]! << 8) | (data[position + 2]! << 16) | (data[position + 3]! << 24)) >>> 0;
}

/** The uncompressed length a raw snappy block declares (its leading unsigned varint), or -1. */
export function snappyDeclaredLength(block: Uint8Array): number {
  let result = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    result += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return result;
  }
  return -1;
}

/** Checks raw snappy blocks: their declared lengths add up to at most maxBytes. */
export function checkSnappyBlocks(blocks: ReadonlyArray<Uint8Array>, maxBytes: number): void {
  let total = 0;
  for (const block of blocks) {
    const declared = snappyDeclaredLength(block);
    if (declared > 0) total += declared;
    checkBounds('snappy', total, total, maxBytes);
  }
}

const LZ4_MAGIC = 0x184d2204;
/**
 * An LZ4 block expands at most about 255-fold: long matches cost one length byte per 255 bytes of
 * output; the constant covers the last token's literals and minimum match.
 */
const LZ4_MAX_RATIO = 255;
const LZ4_BLOCK_SLACK_BYTES = 64;
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] as const;

function isSkippableFrame(magic: number): boolean {
  return magic >>> 4 === 0x184d2a5;
}

/** Checks LZ4 frames (concatenated, skippable frames allowed): at most maxBytes of output. */
export function checkLz4Frames(data: Uint8Array, maxBytes: number): void {
  let proven = 0;
  let worst = 0;
  let position = 0;
  while (data.length - position >= 7) {
    const magic = uint32LE(data, position);
    if (isSkippableFrame(magic)) {
      position += 8 + uint32LE(data, position + 4);
      continue;
    }
    if (magic !== LZ4_MAGIC) return;
    const flags = data[position + 4]!;
    const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(data[position + 5]! >> 4) & 7]!;
    if (blockMaxBytes === 0) return;
    const blockChecksum = (flags & 0x10) !== 0;
    const contentChecksum = (flags & 0x04) !== 0;
    position += 4 + 2 + ((flags & 0x08) !== 0 ? 8 : 0) + ((flags & 0x01) !== 0 ? 4 : 0) + 1;
    for (;;) {
      if (data.length - position < 4) return;
      const word = uint32LE(data, position);
      position += 4;
      if (word === 0) break; // end mark
      const size = word & 0x7fffffff;
      const uncompressed = (word & 0x80000000) !== 0;
      if (uncompressed) proven += size;
      worst += uncompressed ? size : Math.min(blockMaxBytes, size * LZ4_MAX_RATIO + LZ4_BLOCK_SLACK_BYTES);
      checkBounds('lz4', proven, worst, maxBytes);
      position += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) position += 4;
  }
}

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024;

/**
 * Checks zstd frames (concatenated, skippable frames allowed): no frame claims a content size or
 * window above maxBytes, and the blocks cannot produce more than maxBytes in all.
 */
export function checkZstdFrames(data: Uint8Array, maxBytes: number): void {
  // Totals over the frames before the current one, and the current frame's own figures.
  let proven = 0;
  let worst = 0;
  let position = 0;
  while (data.length - position >= 6) {
    const magic = uint32LE(data, position);
    if (isSkippableFrame(magic)) {
      position += 8 + uint32LE(data, position + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) return;
    const descriptor = data[position + 4]!;
    const singleSegment = (descriptor >> 5) & 1;
    const contentSizeFlag = descriptor >> 6;
    const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3]!;
    const checksum = (descriptor >> 2) & 1;
    let cursor = position + 5;
    let windowBytes = 0;
    if (singleSegment === 0) {
      const windowDescriptor = data[cursor++]!;
      const base = 2 ** (10 + (windowDescriptor >> 3));
      windowBytes = base + (base / 8) * (windowDescriptor & 7);
    }
    cursor += dictionaryIdBytes;
    const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : 1 << contentSizeFlag;
    let contentSize = -1;
    if (contentSizeBytes > 0) {
      if (data.length - cursor < contentSizeBytes) return;
      contentSize = 0;
      for (let i = 0; i < contentSizeBytes; i++) contentSize += data[cursor + i]! * 2 ** (8 * i);
      if (contentSizeFlag === 1) contentSize += 256;
      if (singleSegment === 1) windowBytes = contentSize;
      cursor += contentSizeBytes;
    }
    // The decoder allocates the content size, or without one the window, up front.
    checkBounds('zstd', proven + Math.max(contentSize, 0), worst + (contentSize >= 0 ? contentSize : windowBytes), maxBytes);
    let frameProven = 0;
    let frameWorst = 0;
    for (;;) {
      if (data.length - cursor < 3) return;
      const header = data[cursor]! | (data[cursor + 1]! << 8) | (data[cursor + 2]! << 16);
      cursor += 3;
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) return; // reserved: the decoder rejects it
      if (type === 2) {
        frameWorst += Math.min(ZSTD_BLOCK_MAX_BYTES, windowBytes === 0 ? ZSTD_BLOCK_MAX_BYTES : windowBytes);
        cursor += size;
      } else {
        frameProven += size; // raw and RLE blocks state their output size
        frameWorst += size;
        cursor += type === 1 ? 1 : size;
      }
      checkBounds('zstd', proven + frameProven, worst + frameWorst, maxBytes);
      if (last === 1) break;
    }
    proven += Math.max(frameProven, contentSize);
    worst += contentSize >= 0 ? contentSize : frameWorst;
    position = cursor + checksum * 4;
  }
}
