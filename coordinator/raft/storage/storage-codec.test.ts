import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import type { Entry } from '../index.js';
import {
  decodeEntry,
  decodeHardState,
  decodeIdentity,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeIdentity,
  encodeSnapshot,
  entryKey,
  indexOfEntryKey,
} from './storage-codec.js';

const big = 2 ** 53 - 1;
const entries: Entry[] = [
  { kind: 'normal', index: 1, term: 1, data: new Uint8Array(0) },
  { kind: 'normal', index: big, term: big - 1, data: new Uint8Array([0, 255, 7]) },
  { kind: 'config', index: 7, term: 3, voters: [1, 2, 4_000_000_000_123] },
];

function rejectsCleanly(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.UNSUPPORTED_VERSION]).toContain((error as StreamBusError).code);
    return;
  }
  throw new Error('decoding a damaged value succeeded');
}

describe('raft storage > codec', () => {
  it('round-trips entries, hard state, snapshots and the identity, up to 2^53 − 1', () => {
    for (const entry of entries) expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    expect(decodeHardState(encodeHardState({ term: big, vote: 3, commit: 12 }))).toEqual({ term: big, vote: 3, commit: 12 });
    const snapshot = { meta: { index: 9, term: 2, voters: [1, 5] }, data: new TextEncoder().encode('{"topics":[]}') };
    expect(decodeSnapshot(encodeSnapshot(snapshot))).toEqual(snapshot);
    expect(decodeIdentity(encodeIdentity({ nodeId: 4, clusterId: 'prod-ü' }))).toEqual({ nodeId: 4, clusterId: 'prod-ü' });
  });

  it('sorts entry keys by index and reads the index back', () => {
    const indexes = [1, 255, 256, 65_536, 2 ** 32, 2 ** 32 + 1, big];
    const keys = indexes.map(entryKey);
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(sorted.map((k) => indexOfEntryKey(k))).toEqual(indexes);
    expect(indexOfEntryKey(new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(indexOfEntryKey(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });

  it('rejects every single flipped bit and every truncation of a stored value', () => {
    const values: [Uint8Array, (v: Uint8Array) => unknown][] = [
      ...entries.map((e): [Uint8Array, (v: Uint8Array) => unknown] => [encodeEntry(e), decodeEntry]),
      [encodeHardState({ term: 5, vote: 1, commit: 4 }), decodeHardState],
      [encodeSnapshot({ meta: { index: 3, term: 1, voters: [1] }, data: new Uint8Array([9, 9]) }), decodeSnapshot],
    ];
    for (const [value, decode] of values) {
      for (let byte = 0; byte < value.length; byte++) {
        for (let bit = 0; bit < 8; bit++) {
          const damaged = value.slice();
          damaged[byte]! ^= 1 << bit;
          rejectsCleanly(() => decode(damaged));
        }
      }
      for (let length = 0; length < value.length; length++) rejectsCleanly(() => decode(value.subarray(0, length)));
    }
  });
});
