/**
 * The classic (non-flexible) Kafka primitive types the consumer protocol's embedded messages use:
 * big-endian int16 and int32, int16-prefixed strings, int32-prefixed bytes and arrays, with -1 for
 * null. The group coordinator never looks inside these bytes; the members do, so the encodings must
 * match the other Kafka clients byte for byte.
 *
 * Input comes from other group members through the coordinator, so every read is bounds-checked
 * and every fault is StreamBusError(MALFORMED_FRAME) naming the message, the field and the byte
 * offset. An array count is refused when the bytes left cannot hold that many elements, so a
 * mutated count cannot make the decoder allocate more than the input justifies.
 *
 * Pure: no node:* imports, no Buffer; Uint8Array, DataView and the WHATWG text codecs only.
 */
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';

const INT16_MAX = 0x7fff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

const utf8Encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are a malformed message, not a string with U+FFFD in it.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Reads one embedded message; `what` names it in error texts ("ConsumerProtocolSubscription"). */
export class WireReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #pos = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  get remaining(): number {
    return this.#bytes.length - this.#pos;
  }

  int16(field: string): number {
    this.#need(2, field);
    const value = this.#view.getInt16(this.#pos);
    this.#pos += 2;
    return value;
  }

  int32(field: string): number {
    this.#need(4, field);
    const value = this.#view.getInt32(this.#pos);
    this.#pos += 4;
    return value;
  }

  /** A non-nullable string: a length of -1 is a fault. */
  string(field: string): string {
    const value = this.nullableString(field);
    if (value === null) throw this.fault(field, 'is null but may not be', this.#pos - 2);
    return value;
  }

  nullableString(field: string): string | null {
    const start = this.#pos;
    const length = this.int16(field);
    if (length === -1) return null;
    if (length < 0) throw this.fault(field, `has length ${length}`, start);
    this.#need(length, field);
    const raw = this.#bytes.subarray(this.#pos, this.#pos + length);
    let value: string;
    try {
      value = utf8Decoder.decode(raw);
    } catch (cause) {
      throw this.fault(field, 'is not valid UTF-8', this.#pos, cause);
    }
    this.#pos += length;
    return value;
  }

  /** Nullable bytes, returned as a copy so the caller may keep them after the input is reused. */
  nullableBytes(field: string): Uint8Array | null {
    const start = this.#pos;
    const length = this.int32(field);
    if (length === -1) return null;
    if (length < 0) throw this.fault(field, `has length ${length}`, start);
    this.#need(length, field);
    // new Uint8Array(view) copies; Buffer's own slice() would return a view into the input.
    const value = new Uint8Array(this.#bytes.subarray(this.#pos, this.#pos + length));
    this.#pos += length;
    return value;
  }

  /**
   * The count of a non-nullable array whose elements take at least `elementBytesMin` bytes each.
   * Refuses null (-1), negative counts and counts the remaining bytes cannot hold.
   */
  arrayCount(field: string, elementBytesMin: number): number {
    const start = this.#pos;
    const count = this.int32(field);
    if (count === -1) throw this.fault(field, 'is null but may not be', start);
    if (count < 0) throw this.fault(field, `has count ${count}`, start);
    if (count * elementBytesMin > this.remaining) {
      throw this.fault(field, `claims ${count} elements but only ${this.remaining} bytes follow`, start);
    }
    return count;
  }

  /** An int32 array (Kafka's []int32). */
  int32Array(field: string): number[] {
    const count = this.arrayCount(field, 4);
    const values = new Array<number>(count);
    for (let i = 0; i < count; i++) values[i] = this.int32(field);
    return values;
  }

  /** Refuses bytes left over after the last field of a version this reader knows completely. */
  end(): void {
    if (this.remaining !== 0) throw this.fault('end', `has ${this.remaining} unexpected trailing byte(s)`, this.#pos);
  }

  fault(field: string, problem: string, offset: number, cause?: unknown): StreamBusError {
    return new StreamBusError(ErrorCode.MALFORMED_FRAME, `${this.#what}: ${field} ${problem} (byte ${offset})`, cause === undefined ? undefined : { cause });
  }

  #need(count: number, field: string): void {
    if (this.remaining < count) throw this.fault(field, `needs ${count} byte(s) but only ${this.remaining} remain`, this.#pos);
  }
}

/** Builds one embedded message; `what` names it in error texts. Grows as needed. */
export class WireWriter {
  readonly #what: string;
  #bytes = new Uint8Array(64);
  #view = new DataView(this.#bytes.buffer);
  #pos = 0;

  constructor(what: string) {
    this.#what = what;
  }

  int16(value: number, field: string): this {
    if (!Number.isInteger(value) || value < -0x8000 || value > INT16_MAX) throw this.#invalid(field, `${value} is not an int16`);
    this.#reserve(2);
    this.#view.setInt16(this.#pos, value);
    this.#pos += 2;
    return this;
  }

  int32(value: number, field: string): this {
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) throw this.#invalid(field, `${value} is not an int32`);
    this.#reserve(4);
    this.#view.setInt32(this.#pos, value);
    this.#pos += 4;
    return this;
  }

  nullableString(value: string | null, field: string): this {
    if (value === null) return this.int16(-1, field);
    const encoded = utf8Encoder.encode(value);
    if (encoded.length > INT16_MAX) throw this.#invalid(field, `is ${encoded.length} bytes long; the most is ${INT16_MAX}`);
    this.int16(encoded.length, field);
    return this.#raw(encoded);
  }

  string(value: string, field: string): this {
    return this.nullableString(value, field);
  }

  nullableBytes(value: Uint8Array | null, field: string): this {
    if (value === null) return this.int32(-1, field);
    this.int32(value.length, field);
    return this.#raw(value);
  }

  int32Array(values: readonly number[], field: string): this {
    this.int32(values.length, field);
    for (const value of values) this.int32(value, field);
    return this;
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#pos);
  }

  #raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  #reserve(count: number): void {
    if (this.#pos + count <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < this.#pos + count) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#bytes.subarray(0, this.#pos));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  #invalid(field: string, problem: string): StreamBusError {
    return new StreamBusError(ErrorCode.INVALID_REQUEST, `${this.#what}: ${field} ${problem}`);
  }
}
