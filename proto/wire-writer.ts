/**
 * Writer primitives of the protobuf codec: varints (32-bit and 64-bit, zigzag for sint64), the
 * two's-complement halves of 64-bit integers, the sizes of varints for the measuring pass, and the
 * one place where `bytes` content is either copied or, for encodeChunks(), passed through as the
 * caller's own Buffer.
 *
 * The encoder measures first and then writes into an exact-size buffer, so nothing here grows or
 * bounds-checks: the measuring pass has already proved every write fits.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */

/** Where pass 2 of the encoder (message-encoder.ts) writes, and the sizes pass 1 measured for it. */
export interface WriteState {
  /** Where copied bytes go (everything, for encode()). */
  buf: Buffer;
  pos: number;
  sizes: number[];
  next: number;
  /** encodeChunks() only: the list being built; `buf` from chunkStart to pos is not in it yet. */
  chunks: Buffer[] | undefined;
  chunkStart: number;
  zeroCopyMinBytes: number;
}

/** Copies `bytes` into the buffer, or (encodeChunks, large enough) ends the chunk and passes them through. */
export function writeBytes(w: WriteState, bytes: Uint8Array): void {
  if (w.chunks !== undefined && bytes.length >= w.zeroCopyMinBytes) {
    if (w.pos > w.chunkStart) w.chunks.push(w.buf.subarray(w.chunkStart, w.pos));
    w.chunks.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    w.chunkStart = w.pos;
    return;
  }
  w.buf.set(bytes, w.pos);
  w.pos += bytes.length;
}

/** Size of an unsigned 32-bit integer as a varint. */
export function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Size of a non-negative integer up to 2^54 as a varint. */
export function varintNumberSize(v: number): number {
  if (v < 0x10000000) return varint32Size(v);
  let size = 4;
  let rest = Math.floor(v / 0x10000000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 0x80);
  }
  return size;
}

/** Writes an unsigned 32-bit integer as a varint. */
export function writeVarint32(w: WriteState, value: number): void {
  let v = value >>> 0;
  const buf = w.buf;
  while (v > 0x7f) {
    buf[w.pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[w.pos++] = v;
}

/** Writes the varint of a 64-bit value given as unsigned 32-bit halves. */
export function writeVarint64(w: WriteState, lo: number, hi: number): void {
  const buf = w.buf;
  while (hi !== 0 || lo > 0x7f) {
    buf[w.pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[w.pos++] = lo;
}

/** Two's-complement 64-bit halves of a safe integer. */
export function splitInt64(v: number): [number, number] {
  const magnitude = Math.abs(v);
  let lo = magnitude >>> 0;
  let hi = Math.floor(magnitude / 0x100000000) >>> 0;
  if (v < 0) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return [lo, hi];
}

/** Writes a safe integer as an int64/uint64 varint, or as a zigzag sint64 one. */
export function writeInt64(w: WriteState, v: number, zigzag: boolean): void {
  if (!zigzag && v >= 0 && v <= 0xffffffff) {
    writeVarint32(w, v);
    return;
  }
  let [lo, hi] = splitInt64(v);
  if (zigzag) {
    const sign = hi >> 31; // 0 or -1
    hi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
    lo = ((lo << 1) ^ sign) >>> 0;
  }
  writeVarint64(w, lo, hi);
}
