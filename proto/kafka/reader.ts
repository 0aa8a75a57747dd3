/**
 * Reader primitives of the Kafka protocol codec: big-endian integers, Kafka's unsigned varints
 * (compact lengths of flexible versions), classic and compact strings, bytes and array lengths,
 * and skipping tagged fields.
 *
 * Input comes from the network, so every read is bounds-checked against the end of the message,
 * and every fault is StreamBusError(MALFORMED_FRAME) naming the message, the field and the byte
 * offset. An array count is refused when the bytes left cannot hold that many elements (each needs
 * at least one byte), so a hostile count cannot make the decoder allocate more objects than the
 * frame has bytes.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */
import { ErrorCode, StreamBusError } from '../errors.js';

/** 2^32, for assembling int64 halves. */
const TWO_32 = 0x1_0000_0000;

export class KafkaReader {
  readonly #buf: Buffer;
  readonly #end: number;
  readonly #what: string;
  #pos: number;

  /** Reads `buf` from `start` to `end`; `what` names the message in error texts. */
  constructor(buf: Buffer, what: string, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#what = what;
    this.#pos = start;
    this.#end = end;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  /** The typed error for a fault at the current position. */
  fail(field: string, problem: string): StreamBusError {
    return new StreamBusError(ErrorCode.MALFORMED_FRAME, `${this.#what}: ${field}: ${problem} at byte ${this.#pos}`);
  }

  #need(bytes: number, field: string): number {
    if (this.#end - this.#pos < bytes) throw this.fail(field, `needs ${bytes} bytes, ${this.#end - this.#pos} left`);
    const at = this.#pos;
    this.#pos += bytes;
    return at;
  }

  int8(field: string): number {
    return this.#buf.readInt8(this.#need(1, field));
  }

  int16(field: string): number {
    return this.#buf.readInt16BE(this.#need(2, field));
  }

  int32(field: string): number {
    return this.#buf.readInt32BE(this.#need(4, field));
  }

  /** An int64 as a JS number; values beyond 2^53 are refused rather than rounded. */
  int64(field: string): number {
    const at = this.#need(8, field);
    const value = this.#buf.readInt32BE(at) * TWO_32 + this.#buf.readUInt32BE(at + 4);
    if (!Number.isSafeInteger(value)) {
      this.#pos = at;
      throw this.fail(field, 'an int64 beyond 2^53');
    }
    return value;
  }

  bool(field: string): boolean {
    return this.#buf[this.#need(1, field)] !== 0;
  }

  /** Kafka's unsigned varint, up to 32 bits (5 bytes). */
  uvarint(field: string): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.#buf[this.#need(1, field)] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        if (value > 0xffff_ffff) throw this.fail(field, 'an unsigned varint beyond 32 bits');
        return value;
      }
    }
    throw this.fail(field, 'an unsigned varint longer than 5 bytes');
  }

  /**
   * A length prefix: int16 (classic strings), int32 (classic bytes and arrays) or an unsigned
   * varint holding N+1 (compact forms). Returns -1 for null.
   */
  #length(field: string, form: 'int16' | 'int32' | 'compact'): number {
    if (form === 'compact') return this.uvarint(field) - 1;
    const length = form === 'int16' ? this.int16(field) : this.int32(field);
    if (length < -1) throw this.fail(field, `a negative length ${length}`);
    return length;
  }

  #nullCheck(field: string, length: number, nullable: boolean): boolean {
    if (length >= 0) return false;
    if (!nullable) throw this.fail(field, 'null in a field that cannot be null');
    return true;
  }

  /** A string (UTF-8), classic (int16 length) or compact; null only when `nullable`. */
  string(field: string, compact: boolean, nullable: boolean): string | null {
    const length = this.#length(field, compact ? 'compact' : 'int16');
    if (this.#nullCheck(field, length, nullable)) return null;
    const at = this.#need(length, field);
    return this.#buf.toString('utf8', at, at + length);
  }

  /** Bytes as a view into the input (no copy), classic (int32 length) or compact. */
  bytes(field: string, compact: boolean, nullable: boolean): Buffer | null {
    const length = this.#length(field, compact ? 'compact' : 'int32');
    if (this.#nullCheck(field, length, nullable)) return null;
    const at = this.#need(length, field);
    return this.#buf.subarray(at, at + length);
  }

  /** An array's element count, or -1 for a null array; refuses more elements than bytes left. */
  arrayLength(field: string, compact: boolean, nullable: boolean): number {
    const count = this.#length(field, compact ? 'compact' : 'int32');
    if (this.#nullCheck(field, count, nullable)) return -1;
    if (count > this.remaining) throw this.fail(field, `${count} elements cannot fit in ${this.remaining} bytes`);
    return count;
  }

  /** Skips a tagged-field section (flexible versions): a count, then tag, size and data each. */
  skipTaggedFields(field: string): void {
    const count = this.uvarint(field);
    if (count > this.remaining) throw this.fail(field, `${count} tagged fields cannot fit in ${this.remaining} bytes`);
    for (let i = 0; i < count; i++) {
      this.uvarint(field);
      const size = this.uvarint(field);
      this.#need(size, field);
    }
  }

  /** Refuses bytes left over after the message. */
  expectEnd(): void {
    if (this.#pos !== this.#end) throw this.fail('(end)', `${this.#end - this.#pos} bytes left over after the message`);
  }
}
