/**
 * Zigzag varints, as Kafka's records use them (protobuf sint32 / sint64 style).
 *
 *   varint   int32 zigzag-encoded, 7 bits per byte, least significant group first, at most 5 bytes
 *   varlong  int64 zigzag-encoded, same scheme, at most 10 bytes
 *
 * The unsigned "N+1" varints of flexible Kafka API versions are a different thing and do not live
 * here. Numbers are JavaScript numbers: a varlong whose value falls outside the safe integer range
 * (|v| > 2^53 - 1) is rejected as corrupt instead of being silently rounded, since every varlong in
 * a record is a timestamp delta and no real clock produces one that large.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCode, StreamBusError } from '../errors.js';

const TWO_POW_32 = 0x1_0000_0000;

/** Bytes the zigzag varint of an int32 takes. */
export function sizeOfVarint(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigzag > 0x7f) {
    zigzag >>>= 7;
    bytes++;
  }
  return bytes;
}

/** Bytes the zigzag varlong of a safe integer takes. */
export function sizeOfVarlong(value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000) return sizeOfVarint(value);
  // zigzag = 2 * half + sign, computed without ever forming 2 * half, which can pass 2^53.
  let rest = Math.floor((value >= 0 ? value : -value - 1) / 64);
  let bytes = 1;
  while (rest > 0) {
    rest = Math.floor(rest / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Writes the zigzag varint of an int32 at `position` and returns the position after it. The
 * caller sized the buffer; nothing is checked here because this is the encoder's inner loop.
 */
export function writeVarint(buf: Uint8Array, position: number, value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag > 0x7f) {
    buf[position++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[position++] = zigzag;
  return position;
}

/** Writes the zigzag varlong of a safe integer at `position` and returns the position after it. */
export function writeVarlong(buf: Uint8Array, position: number, value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000) return writeVarint(buf, position, value);
  // zigzag = 2 * half + sign: the first group holds the sign bit and six bits of half, each later
  // group seven more. Exact for every safe integer because nothing exceeds half.
  const half = value >= 0 ? value : -value - 1;
  let rest = Math.floor(half / 64);
  let group = ((half % 64) << 1) | (value >= 0 ? 0 : 1);
  while (rest > 0) {
    buf[position++] = group | 0x80;
    group = rest % 128;
    rest = Math.floor(rest / 128);
  }
  buf[position++] = group;
  return position;
}

/**
 * A read cursor over a byte range. Every read checks the range end and throws
 * StreamBusError(CORRUPT_MESSAGE) on overrun, so callers can decode untrusted bytes without
 * checking lengths themselves.
 */
export class Reader {
  readonly buf: Uint8Array;
  position: number;
  /** Mutable so a caller can narrow the range to one record and widen it back. */
  end: number;

  constructor(buf: Uint8Array, position = 0, end = buf.length) {
    this.buf = buf;
    this.position = position;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  readInt8(): number {
    if (this.position >= this.end) throw overrun('int8');
    const byte = this.buf[this.position++]!;
    return (byte << 24) >> 24;
  }

  /** Reads a zigzag varint of at most 5 bytes whose value fits in an int32. */
  readVarint(): number {
    const buf = this.buf;
    let position = this.position;
    const end = this.end;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (position >= end) throw overrun('varint');
      const byte = buf[position++]!;
      if (shift === 28 && byte > 0x0f) {
        throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'varint does not fit in 32 bits');
      }
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.position = position;
        return (result >>> 1) ^ -(result & 1);
      }
    }
    throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'varint longer than 5 bytes');
  }

  /** Reads a zigzag varlong whose value is a safe integer; longer or larger encodings are corrupt. */
  readVarlong(): number {
    const buf = this.buf;
    let position = this.position;
    const end = this.end;
    // The first four groups (28 bits) fit in int32 bit arithmetic; most timestamp deltas end there.
    let low = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (position >= end) throw overrun('varlong');
      const byte = buf[position++]!;
      low |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.position = position;
        return (low >>> 1) ^ -(low & 1);
      }
    }
    // Longer values: accumulate the rest as a float multiple of 2^28, exact up to 2^53.
    let high = 0;
    let scale = 1;
    for (let group = 0; ; group++) {
      if (group === 4) {
        throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'varlong outside the safe integer range');
      }
      if (position >= end) throw overrun('varlong');
      const byte = buf[position++]!;
      high += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    // zigzag = high * 2^28 + low, and value = zigzag / 2 with the low bit as sign. Computing half
    // directly keeps every step below 2^53, where numbers are exact.
    this.position = position;
    const half = high * 0x800_0000 + (low >>> 1);
    const value = (low & 1) === 0 ? half : -half - 1;
    if (!Number.isSafeInteger(value)) {
      throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'varlong outside the safe integer range');
    }
    return value;
  }
}

function overrun(what: string): StreamBusError {
  return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `truncated ${what}: it runs past the end of its data`);
}

/** int64 as two int32 halves, for writers that avoid BigInt on the hot path. */
export function writeInt64BE(view: DataView, offset: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  view.setInt32(offset, high);
  view.setUint32(offset + 4, value - high * TWO_POW_32);
}
