/**
 * Writer primitives of the Kafka protocol codec: the output side of ./reader.ts.
 *
 * The writer fills a growing buffer and returns the message as a list of chunks. Record data
 * (stored RecordBatch bytes of a fetch answer) is not copied: `records()` ends the current chunk
 * and appends the caller's own Buffers, so the listener can hand the list to writev as it is. The
 * caller must not change those Buffers until the chunks are written.
 *
 * Values come from our own code, so a value that does not fit its field (a string longer than
 * int16, a non-integer) is a programmer error and throws RangeError.
 *
 * Pure: no node:* imports, no clock, no randomness. Buffer is used as a global.
 */

/** Pieces of record data at least this large are passed through instead of copied. */
export const RECORDS_ZERO_COPY_MIN_BYTES = 512;

const TWO_32 = 0x1_0000_0000;
const INITIAL_BYTES = 256;

export class KafkaWriter {
  readonly #chunks: Buffer[] = [];
  #buf: Buffer;
  /** Where the current chunk starts in #buf. */
  #start = 0;
  #pos = 0;
  #total = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.#total + (this.#pos - this.#start);
  }

  #ensure(bytes: number): void {
    if (this.#buf.length - this.#pos >= bytes) return;
    const used = this.#pos - this.#start;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, used + bytes, INITIAL_BYTES));
    this.#buf.copy(next, 0, this.#start, this.#pos);
    this.#buf = next;
    this.#start = 0;
    this.#pos = used;
  }

  int8(value: number): this {
    checkInteger(value, -0x80, 0x7f, 'int8');
    this.#ensure(1);
    this.#buf.writeInt8(value, this.#pos);
    this.#pos += 1;
    return this;
  }

  int16(value: number): this {
    checkInteger(value, -0x8000, 0x7fff, 'int16');
    this.#ensure(2);
    this.#buf.writeInt16BE(value, this.#pos);
    this.#pos += 2;
    return this;
  }

  int32(value: number): this {
    checkInteger(value, -0x8000_0000, 0x7fff_ffff, 'int32');
    this.#ensure(4);
    this.#buf.writeInt32BE(value, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** An int64 from a safe integer (two's complement halves). */
  int64(value: number): this {
    checkInteger(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'int64');
    const hi = Math.floor(value / TWO_32);
    this.#ensure(8);
    this.#buf.writeInt32BE(hi, this.#pos);
    this.#buf.writeUInt32BE(value - hi * TWO_32, this.#pos + 4);
    this.#pos += 8;
    return this;
  }

  bool(value: boolean): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = value ? 1 : 0;
    return this;
  }

  /** Kafka's unsigned varint, up to 32 bits. */
  uvarint(value: number): this {
    checkInteger(value, 0, 0xffff_ffff, 'unsigned varint');
    this.#ensure(5);
    let rest = value;
    while (rest >= 0x80) {
      this.#buf[this.#pos++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.#buf[this.#pos++] = rest;
    return this;
  }

  /** A length prefix, or -1 for null: int16, int32, or (compact) an unsigned varint of N+1. */
  lengthPrefix(value: number, form: 'int16' | 'int32' | 'compact'): this {
    if (form === 'compact') return this.uvarint(value + 1);
    return form === 'int16' ? this.int16(value) : this.int32(value);
  }

  /** A string as UTF-8 with its length prefix; null writes the null length. */
  string(value: string | null, compact: boolean): this {
    if (value === null) return this.lengthPrefix(-1, compact ? 'compact' : 'int16');
    const bytes = Buffer.byteLength(value, 'utf8');
    if (!compact && bytes > 0x7fff) throw new RangeError(`a string of ${bytes} bytes does not fit an int16 length`);
    this.lengthPrefix(bytes, compact ? 'compact' : 'int16');
    this.#ensure(bytes);
    this.#pos += this.#buf.write(value, this.#pos, 'utf8');
    return this;
  }

  /** Bytes with their length prefix, copied; null writes the null length. */
  bytes(value: Uint8Array | null, compact: boolean): this {
    if (value === null) return this.lengthPrefix(-1, compact ? 'compact' : 'int32');
    this.lengthPrefix(value.length, compact ? 'compact' : 'int32');
    this.#ensure(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  /**
   * Record data with its length prefix: one Buffer or a list of pieces written as their
   * concatenation. Large pieces are passed through as chunks of their own, not copied.
   */
  records(value: Uint8Array | readonly Uint8Array[] | null, compact: boolean): this {
    if (value === null) return this.lengthPrefix(-1, compact ? 'compact' : 'int32');
    const pieces: readonly Uint8Array[] = value instanceof Uint8Array ? [value] : value;
    let size = 0;
    for (const piece of pieces) size += piece.length;
    this.lengthPrefix(size, compact ? 'compact' : 'int32');
    for (const piece of pieces) {
      if (piece.length >= RECORDS_ZERO_COPY_MIN_BYTES) {
        this.#endChunk();
        this.#chunks.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        this.#total += piece.length;
      } else {
        this.#ensure(piece.length);
        this.#buf.set(piece, this.#pos);
        this.#pos += piece.length;
      }
    }
    return this;
  }

  /** An empty tagged-field section (flexible versions). */
  emptyTaggedFields(): this {
    return this.uvarint(0);
  }

  #endChunk(): void {
    if (this.#pos === this.#start) return;
    this.#chunks.push(this.#buf.subarray(this.#start, this.#pos));
    this.#total += this.#pos - this.#start;
    this.#start = this.#pos;
  }

  /** The bytes written, as chunks to write in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.#endChunk();
    return this.#chunks;
  }

  /** The bytes written as one Buffer (copies when there is more than one chunk). */
  finishBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }
}

function checkInteger(value: number, min: number, max: number, type: string): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${String(value)} does not fit an ${type}`);
}
