import { describe, expect, it } from 'vitest';
import { decodeRecordBatchesSync, encodeRecordBatchSync, readBatchHeader } from '../../proto/record-batch/index.js';
import { stampBatch } from './stamp.js';

const NOW_MS = 1_700_000_000_000;

describe('producer > stamp', () => {
  it('writes producer id, epoch, base sequence and the transactional bit, and keeps the CRC valid', () => {
    const encoded = encodeRecordBatchSync({ records: [{ value: 'a' }, { value: 'b' }], nowMs: NOW_MS });
    stampBatch(encoded, { producerId: 123_456_789_012, producerEpoch: 7, baseSequence: 42, isTransactional: true });
    const header = readBatchHeader(encoded);
    expect([header.producerId, header.producerEpoch, header.baseSequence, header.isTransactional]).toEqual([123_456_789_012, 7, 42, true]);
    // decode verifies the CRC by default: a stale CRC would throw CORRUPT_MESSAGE.
    const [batch] = decodeRecordBatchesSync(encoded);
    expect(batch!.records.map((r) => r.value?.toString())).toEqual(['a', 'b']);
  });

  it('gives the same bytes as encoding with the stamp in the first place', () => {
    const stamp = { producerId: 9, producerEpoch: 1, baseSequence: 5, isTransactional: false };
    const direct = encodeRecordBatchSync({ records: [{ key: 'k', value: 'v' }], nowMs: NOW_MS, ...stamp });
    const patched = encodeRecordBatchSync({ records: [{ key: 'k', value: 'v' }], nowMs: NOW_MS, producerId: 1, producerEpoch: 0, baseSequence: 0, isTransactional: true });
    stampBatch(patched, stamp);
    expect(patched.equals(direct)).toBe(true);
  });
});
