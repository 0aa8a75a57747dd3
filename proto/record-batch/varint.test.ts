import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../errors.js';
import { Reader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

function expectCorrupt(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    return;
  }
  expect.unreachable('expected a CORRUPT_MESSAGE error');
}

const int32Values = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, 2 ** 20, -(2 ** 20), 2 ** 31 - 1, -(2 ** 31)];
const int64Values = [
  ...int32Values,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 35,
  -(2 ** 35),
  1_700_000_000_000,
  -1_700_000_000_000,
  2 ** 52,
  -(2 ** 52) - 1,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];

/** A BigInt reference for zigzag varlong bytes, written independently of the code under test. */
function referenceVarlong(value: number): number[] {
  let zigzag = BigInt(value) >= 0n ? BigInt(value) * 2n : -BigInt(value) * 2n - 1n;
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return bytes;
}

describe('record-batch > varint', () => {
  it('writes the zigzag bytes Kafka expects for small values', () => {
    const buf = new Uint8Array(10);
    expect(Array.from(buf.subarray(0, writeVarint(buf, 0, 0)))).toEqual([0x00]);
    expect(Array.from(buf.subarray(0, writeVarint(buf, 0, -1)))).toEqual([0x01]);
    expect(Array.from(buf.subarray(0, writeVarint(buf, 0, 1)))).toEqual([0x02]);
    expect(Array.from(buf.subarray(0, writeVarint(buf, 0, 64)))).toEqual([0x80, 0x01]);
    expect(Array.from(buf.subarray(0, writeVarint(buf, 0, -(2 ** 31))))).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('round trips int32 boundary values with sizes that match the bytes written', () => {
    for (const value of int32Values) {
      const buf = new Uint8Array(5);
      const end = writeVarint(buf, 0, value);
      expect(end, `size of ${value}`).toBe(sizeOfVarint(value));
      expect(Array.from(buf.subarray(0, end)), `bytes of ${value}`).toEqual(referenceVarlong(value));
      const reader = new Reader(buf, 0, end);
      expect(reader.readVarint()).toBe(value);
      expect(reader.position).toBe(end);
    }
  });

  it('round trips varlongs up to the safe integer limits exactly', () => {
    for (const value of int64Values) {
      const buf = new Uint8Array(10);
      const end = writeVarlong(buf, 0, value);
      expect(end, `size of ${value}`).toBe(sizeOfVarlong(value));
      expect(Array.from(buf.subarray(0, end)), `bytes of ${value}`).toEqual(referenceVarlong(value));
      const reader = new Reader(buf, 0, end);
      expect(reader.readVarlong()).toBe(value);
      expect(reader.position).toBe(end);
    }
  });

  it('rejects a varint that runs past the end of its range', () => {
    expectCorrupt(() => new Reader(Uint8Array.of(0x80, 0x80), 0, 2).readVarint());
    expectCorrupt(() => new Reader(Uint8Array.of(0x02), 0, 0).readVarint());
    expectCorrupt(() => new Reader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80), 0, 3).readVarlong());
  });

  it('rejects a varint longer than 5 bytes or wider than 32 bits', () => {
    expectCorrupt(() => new Reader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).readVarint());
    expectCorrupt(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f)).readVarint());
  });

  it('rejects a varlong whose value is not a safe integer', () => {
    const buf = Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
    // zigzag 2^56 - 2 decodes to 2^55 - 1, beyond 2^53.
    expectCorrupt(() => new Reader(buf).readVarlong());
    expectCorrupt(() => new Reader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).readVarlong());
  });

  it('reads a signed int8 and refuses to read past the end', () => {
    const reader = new Reader(Uint8Array.of(0xff, 0x05));
    expect(reader.readInt8()).toBe(-1);
    expect(reader.readInt8()).toBe(5);
    expectCorrupt(() => reader.readInt8());
  });
});
