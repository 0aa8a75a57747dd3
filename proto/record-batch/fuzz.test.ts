/*
 * Bounded, seeded fuzzing of the two functions that read bytes from the network: validateBatches
 * (the broker's produce path) and decodeRecordBatches (clients, compaction). Whatever the input,
 * they either succeed or throw StreamBusError; nothing else escapes, and nothing hangs (the whole
 * run has a deadline). A failure prints the seed and case number, which replay exactly.
 */
import { describe, expect, it } from 'vitest';
import { StreamBusError } from '../errors.js';
import { Offsets, computeBatchCrc, crc32c, decodeRecordBatches, decodeRecordBatchesSync, encodeRecordBatchSync, validateBatches, type CompressionName } from './index.js';

const SEED = 0x5eed_2024;
const CASES = 3000;
const ASYNC_EVERY = 10;
const DEADLINE_MS = 20_000;

/** mulberry32: small, seedable, good enough to spread mutations. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function corpus(): Buffer[] {
  const records = Array.from({ length: 12 }, (_, i) => ({
    key: i % 3 === 0 ? null : `k${i}`,
    value: i % 5 === 4 ? null : `value ${i} `.repeat(i),
    ...(i % 2 === 0 ? { headers: { h: `v${i}`, n: null } } : {}),
    timestamp: 1_700_000_000_000 + i * 1000,
  }));
  const codecs: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  const batches = codecs.map((compression) => encodeRecordBatchSync({ records, nowMs: 0, compression, baseOffset: 7 }));
  batches.push(encodeRecordBatchSync({ records: [], nowMs: 0, lastOffsetDelta: 3 }));
  batches.push(encodeRecordBatchSync({ records: [{ value: 'x', offsetDelta: 2 }, { value: 'y', offsetDelta: 9 }], nowMs: 0 }));
  return batches;
}

function reseal(buf: Buffer): void {
  if (buf.length < 61) return;
  const size = buf.readInt32BE(Offsets.batchLength) + 12;
  if (size < 61 || size > buf.length) return;
  buf.writeUInt32BE(computeBatchCrc(buf, 0, size, crc32c), Offsets.crc);
}

function mutate(next: () => number, valid: Buffer[]): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const int = (max: number): number => Math.floor(next() * max);
  const base = Buffer.from(pick(valid));
  switch (int(8)) {
    case 0: {
      // Random bytes, sometimes behind a plausible batch prefix.
      const junk = Buffer.alloc(int(300));
      for (let i = 0; i < junk.length; i++) junk[i] = int(256);
      if (next() < 0.5 && junk.length > 17) {
        junk.writeInt32BE(junk.length - 12, Offsets.batchLength);
        junk[Offsets.magic] = 2;
      }
      return junk;
    }
    case 1: {
      const position = int(base.length);
      base[position] = base[position]! ^ (1 << int(8));
      return base;
    }
    case 2: {
      const count = 1 + int(8);
      for (let i = 0; i < count; i++) base[int(base.length)] = int(256);
      return base;
    }
    case 3: {
      // Mutate inside the CRC-covered part and fix the CRC, so decoding goes past the check.
      const count = 1 + int(4);
      for (let i = 0; i < count; i++) base[21 + int(base.length - 21)] = int(256);
      reseal(base);
      return base;
    }
    case 4: {
      // Overwrite a header field with an extreme value and fix the CRC.
      const field = pick([Offsets.batchLength, Offsets.recordCount, Offsets.lastOffsetDelta, Offsets.attributes]);
      const value = pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 61, 49, base.length, base.length - 11]);
      if (field === Offsets.attributes) base.writeInt16BE(value & 0x7fff, field);
      else base.writeInt32BE(value, field);
      reseal(base);
      return base;
    }
    case 5:
      return base.subarray(0, int(base.length + 1));
    case 6: {
      // Insert or delete bytes in the records, then fix length and CRC.
      const position = 61 + int(Math.max(1, base.length - 61));
      const edited =
        next() < 0.5
          ? Buffer.concat([base.subarray(0, position), Buffer.from([int(256), int(256)]), base.subarray(position)])
          : Buffer.concat([base.subarray(0, position), base.subarray(Math.min(base.length, position + 1 + int(4)))]);
      if (edited.length >= 61) edited.writeInt32BE(edited.length - 12, Offsets.batchLength);
      reseal(edited);
      return edited;
    }
    default: {
      // Splice two batches, and maybe garble the seam.
      const joined = Buffer.concat([base, pick(valid)]);
      if (next() < 0.5) joined[base.length + int(20)] = int(256);
      return joined;
    }
  }
}

function expectOnlyStreamBusError(error: unknown, label: string): void {
  if (!(error instanceof StreamBusError)) {
    throw new Error(`${label}: threw ${String(error)} instead of a StreamBusError`, { cause: error });
  }
}

describe('record-batch > fuzz', () => {
  it('either accepts or rejects with StreamBusError every random and mutated input', async () => {
    const valid = corpus();
    const next = random(SEED);
    const started = Date.now();
    let accepted = 0;
    let rejected = 0;
    for (let n = 0; n < CASES; n++) {
      const input = mutate(next, valid);
      const label = `seed ${SEED} case ${n} (${input.toString('hex').slice(0, 80)}...)`;
      const allowCompacted = next() < 0.5;
      const verifyCrc = next() < 0.5;
      try {
        const headers = validateBatches(input, { maxBatchBytes: 64 * 1024, allowCompacted });
        expect(headers.reduce((sum, h) => sum + h.sizeBytes, 0), label).toBe(input.length);
        accepted++;
      } catch (error) {
        expectOnlyStreamBusError(error, `validateBatches ${label}`);
        rejected++;
      }
      try {
        const batches =
          n % ASYNC_EVERY === 0
            ? await decodeRecordBatches(input, { verifyCrc, maxDecompressedBytes: 1024 * 1024 })
            : decodeRecordBatchesSync(input, { verifyCrc, maxDecompressedBytes: 1024 * 1024 });
        for (const batch of batches) expect(batch.records.length, label).toBe(batch.header.recordCount);
      } catch (error) {
        expectOnlyStreamBusError(error, `decodeRecordBatches ${label}`);
      }
      if (Date.now() - started > DEADLINE_MS) throw new Error(`fuzzing passed its ${DEADLINE_MS} ms deadline at case ${n}`);
    }
    // The mutations must exercise both outcomes, or the test proves little.
    expect(accepted).toBeGreaterThan(CASES / 20);
    expect(rejected).toBeGreaterThan(CASES / 2);
  });
});
