import { describe, expect, it } from 'vitest';
import { decodeRecordBatchesSync, encodeRecordBatchSync, patchBaseOffset, type DecodedBatch } from '../../proto/record-batch/index.js';
import { ControlType, controlType, visibleBatches } from './transaction-filter.js';

const NOW_MS = 1_700_000_000_000;

/** A data batch of `values` at `baseOffset`, from producer `producerId` (-1: not idempotent). */
function data(baseOffset: number, producerId: number, values: string[], isTransactional = producerId >= 0): Buffer {
  const buf = encodeRecordBatchSync({ records: values.map((value) => ({ value })), nowMs: NOW_MS, producerId, producerEpoch: 0, baseSequence: 0, isTransactional });
  patchBaseOffset(buf, 0, baseOffset);
  return buf;
}

/** A commit or abort marker of `producerId` at `offset`. */
function marker(offset: number, producerId: number, type: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  const value = Buffer.alloc(6);
  const buf = encodeRecordBatchSync({ records: [{ key, value }], nowMs: NOW_MS, producerId, producerEpoch: 0, baseSequence: -1, isTransactional: true, isControl: true });
  patchBaseOffset(buf, 0, offset);
  return buf;
}

function decode(...parts: Buffer[]): DecodedBatch[] {
  return decodeRecordBatchesSync(Buffer.concat(parts));
}

function values(batches: DecodedBatch[]): string[] {
  return batches.flatMap((b) => b.records.map((r) => r.value!.toString()));
}

describe('consumer > transaction filter', () => {
  it('reads the control type of a marker', () => {
    const [abort, commit] = decode(marker(0, 5, ControlType.abort), marker(1, 5, ControlType.commit));
    expect([controlType(abort!), controlType(commit!)]).toEqual([0, 1]);
  });

  it('never hands out control batches, at any isolation level', () => {
    const batches = decode(data(0, 5, ['a']), marker(1, 5, ControlType.commit), data(2, -1, ['b']));
    expect(values(visibleBatches(batches, undefined))).toEqual(['a', 'b']);
    expect(values(visibleBatches(batches, []))).toEqual(['a', 'b']);
  });

  it('drops an aborted transaction up to its abort marker and keeps other producers and later transactions', () => {
    const batches = decode(
      data(0, 5, ['x1']),
      data(1, 6, ['keep-6a']),
      data(2, 5, ['x2', 'x3']),
      data(4, -1, ['plain']),
      marker(5, 5, ControlType.abort),
      data(6, 5, ['after-abort']),
      marker(7, 5, ControlType.commit),
      marker(8, 6, ControlType.commit),
    );
    expect(values(visibleBatches(batches, [{ producerId: 5, firstOffset: 0 }]))).toEqual(['keep-6a', 'plain', 'after-abort']);
    // read_uncommitted sees everything but the markers.
    expect(values(visibleBatches(batches, undefined))).toEqual(['x1', 'keep-6a', 'x2', 'x3', 'plain', 'after-abort']);
  });

  it('drops two aborted transactions of one producer in one range, listed in any order', () => {
    const batches = decode(
      data(0, 5, ['a1']),
      marker(1, 5, ControlType.abort),
      data(2, 5, ['c1']),
      marker(3, 5, ControlType.commit),
      data(4, 5, ['a2']),
      marker(5, 5, ControlType.abort),
    );
    const aborted = [
      { producerId: 5, firstOffset: 4 },
      { producerId: 5, firstOffset: 0 },
    ];
    expect(values(visibleBatches(batches, aborted))).toEqual(['c1']);
  });

  it('keeps the records of a producer before its aborted transaction started', () => {
    const batches = decode(data(0, 5, ['committed']), marker(1, 5, ControlType.commit), data(2, 5, ['aborted']), marker(3, 5, ControlType.abort));
    expect(values(visibleBatches(batches, [{ producerId: 5, firstOffset: 2 }]))).toEqual(['committed']);
  });

  it('keeps non-transactional batches of a producer id listed as aborted', () => {
    const batches = decode(data(0, 5, ['idempotent-only'], false));
    expect(values(visibleBatches(batches, [{ producerId: 5, firstOffset: 0 }]))).toEqual(['idempotent-only']);
  });
});
