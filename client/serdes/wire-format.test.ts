import { describe, expect, it } from 'vitest';
import { BoundedCache } from './bounded-cache.js';
import { SerdeError, SerdeErrorCode } from './serde-error.js';
import { subjectName } from './subject-name.js';
import { decodeFrame, decodeMessageIndexes, encodeFrame, encodeMessageIndexes } from './wire-format.js';

function serdeError(run: () => unknown): SerdeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SerdeError);
    return error as SerdeError;
  }
  throw new Error('expected a SerdeError');
}

describe('serdes > wire format', () => {
  it('writes magic byte 0, the id big-endian, then the payload (golden bytes)', () => {
    expect(encodeFrame(0x01020304, Buffer.from('hi')).toString('hex')).toBe('00010203046869');
  });

  it('puts the prefix (message indexes) between the id and the payload', () => {
    expect(encodeFrame(7, Buffer.from([0xaa]), Uint8Array.of(2, 2)).toString('hex')).toBe('00000000070202aa');
  });

  it('reads back the id and the payload it wrote', () => {
    const frame = decodeFrame(encodeFrame(2147483647, Buffer.from('payload')));
    expect(frame.schemaId).toBe(2147483647);
    expect(frame.payload.toString()).toBe('payload');
  });

  it('refuses bytes without magic byte 0 with UNKNOWN_MAGIC_BYTE', () => {
    const error = serdeError(() => decodeFrame(Buffer.from('{"a":1}')));
    expect(error.code).toBe(SerdeErrorCode.UNKNOWN_MAGIC_BYTE);
    expect(error.message).toContain('0x7b');
  });

  it('refuses a frame shorter than its 5-byte header with UNKNOWN_MAGIC_BYTE', () => {
    expect(serdeError(() => decodeFrame(Buffer.from([0, 0, 1]))).code).toBe(SerdeErrorCode.UNKNOWN_MAGIC_BYTE);
  });

  it('refuses a negative or fractional schema id with INVALID_CONFIG', () => {
    expect(serdeError(() => encodeFrame(-1, Buffer.alloc(0))).code).toBe(SerdeErrorCode.INVALID_CONFIG);
    expect(serdeError(() => encodeFrame(1.5, Buffer.alloc(0))).code).toBe(SerdeErrorCode.INVALID_CONFIG);
  });
});

describe('serdes > message indexes', () => {
  it('writes [0] as the single byte 0x00', () => {
    expect([...encodeMessageIndexes([0])]).toEqual([0]);
  });

  it('writes the second top-level message as 02 02 (zig-zag count and index)', () => {
    expect([...encodeMessageIndexes([1])]).toEqual([2, 2]);
  });

  it('reads the 0x00 shortcut and the long form [0] alike', () => {
    expect(decodeMessageIndexes(Buffer.from([0, 0x08, 0x01])).indexes).toEqual([0]);
    const long = decodeMessageIndexes(Buffer.from([2, 0, 0x08, 0x01]));
    expect(long.indexes).toEqual([0]);
    expect([...long.message]).toEqual([0x08, 0x01]);
  });

  it('round-trips nested paths with multi-byte varints', () => {
    const path = [3, 0, 200, 70000];
    const bytes = Buffer.concat([Buffer.from(encodeMessageIndexes(path)), Buffer.from([0xff])]);
    const decoded = decodeMessageIndexes(bytes);
    expect(decoded.indexes).toEqual(path);
    expect([...decoded.message]).toEqual([0xff]);
  });

  it('refuses a path cut short with INVALID_PAYLOAD', () => {
    expect(serdeError(() => decodeMessageIndexes(Buffer.from([4, 2]))).code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
    expect(serdeError(() => decodeMessageIndexes(Buffer.alloc(0))).code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
  });

  it('refuses an absurd count or a negative index with INVALID_PAYLOAD', () => {
    expect(serdeError(() => decodeMessageIndexes(Buffer.from([0xfe, 0x01]))).code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
    expect(serdeError(() => decodeMessageIndexes(Buffer.from([2, 1]))).code).toBe(SerdeErrorCode.INVALID_PAYLOAD);
  });

  it('never throws anything but SerdeError on random bytes', () => {
    let seed = 42;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
    for (let i = 0; i < 2000; i += 1) {
      const bytes = Buffer.from(Array.from({ length: next() % 12 }, next));
      try {
        decodeMessageIndexes(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(SerdeError);
      }
    }
  });
});

describe('serdes > subject names', () => {
  it('names <topic>-value and <topic>-key under TopicNameStrategy', () => {
    expect(subjectName('TopicNameStrategy', 'orders', false, 'acme.Order')).toBe('orders-value');
    expect(subjectName('TopicNameStrategy', 'orders', true, undefined)).toBe('orders-key');
  });

  it('names the record under RecordNameStrategy and <topic>-<record> under TopicRecordNameStrategy', () => {
    expect(subjectName('RecordNameStrategy', 'orders', false, 'acme.Order')).toBe('acme.Order');
    expect(subjectName('TopicRecordNameStrategy', 'orders', false, 'acme.Order')).toBe('orders-acme.Order');
  });

  it('refuses a record strategy for a schema without a record name with INVALID_CONFIG', () => {
    expect(serdeError(() => subjectName('RecordNameStrategy', 'orders', false, undefined)).code).toBe(SerdeErrorCode.INVALID_CONFIG);
  });
});

describe('serdes > bounded cache', () => {
  it('shares one load among concurrent misses of a key', async () => {
    const cache = new BoundedCache<number, string>(10);
    let loads = 0;
    const load = async (): Promise<string> => {
      loads += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return 'schema';
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad(1, load)));
    expect(results.every((r) => r === 'schema')).toBe(true);
    expect(loads).toBe(1);
  });

  it('evicts the least recently used entry beyond its capacity', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('does not cache a failed load, so the next call tries again', async () => {
    const cache = new BoundedCache<number, string>(2);
    await expect(cache.getOrLoad(1, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(cache.getOrLoad(1, () => Promise.resolve('up'))).resolves.toBe('up');
  });
});
