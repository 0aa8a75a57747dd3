/**
 * Micro-benchmark of the RecordBatch v2 codec: encode, validate (the broker's produce path) and
 * decode, for 100-record batches of 1 KiB and 100 B values, uncompressed and with each codec.
 *
 * Figures are MB/s of batch bytes on the wire for uncompressed batches, and MB/s of uncompressed
 * record bytes for compressed ones (the rate at which a producer turns records into batches).
 * Run: npm run build && node dist/bench/codec.js [secondsPerCase]
 */
import {
  decodeRecordBatchesSync,
  encodeRecordBatch,
  encodeRecordBatchSync,
  validateBatches,
  type CompressionName,
  type RecordInput,
} from '../proto/record-batch/index.js';

const RECORDS_PER_BATCH = 100;
const secondsPerCase = Number(process.argv[2] ?? '0.5');

/** Text-like values from a seeded generator, so compression has something realistic to do. */
function makeRecords(valueBytes: number, seed: number): RecordInput[] {
  const words = ['order', 'user', 'id', 'amount', 'eur', 'status', 'shipped', 'created', 'region', 'sku', '"', ':', ',', '{', '}'];
  let state = seed;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  return Array.from({ length: RECORDS_PER_BATCH }, (_, i) => {
    let text = '';
    while (text.length < valueBytes) text += words[next() % words.length]! + String(next() % 1000);
    return {
      key: `customer-${next() % 10_000}`,
      value: Buffer.from(text.slice(0, valueBytes)),
      headers: i % 10 === 0 ? { 'trace-id': `t${next()}` } : undefined,
    } as RecordInput;
  });
}

function measure(label: string, bytesPerOp: number, op: () => unknown): void {
  for (let i = 0; i < 50; i++) op(); // warm up the JIT
  const deadline = performance.now() + secondsPerCase * 1000;
  let ops = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 20; i++) op();
    ops += 20;
  }
  const seconds = (performance.now() - started) / 1000;
  const mbPerSecond = (bytesPerOp * ops) / seconds / 1e6;
  const recordsPerSecond = (RECORDS_PER_BATCH * ops) / seconds;
  console.log(`${label.padEnd(44)} ${mbPerSecond.toFixed(0).padStart(6)} MB/s  ${(recordsPerSecond / 1e6).toFixed(2).padStart(6)} M records/s`);
}

async function measureAsync(label: string, bytesPerOp: number, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await op();
  const deadline = performance.now() + secondsPerCase * 1000;
  let ops = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    await op();
    ops++;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label.padEnd(44)} ${((bytesPerOp * ops) / seconds / 1e6).toFixed(0).padStart(6)} MB/s`);
}

async function main(): Promise<void> {
  const nowMs = 1_700_000_000_000;
  for (const valueBytes of [1024, 100]) {
    const records = makeRecords(valueBytes, valueBytes);
    const batch = encodeRecordBatchSync({ records, nowMs });
    const size = batch.length;
    console.log(`\n${RECORDS_PER_BATCH} records of ${valueBytes} B per batch (${size} bytes uncompressed)`);
    measure('encodeRecordBatchSync none', size, () => encodeRecordBatchSync({ records, nowMs }));
    measure('validateBatches (CRC-32C, no decode)', size, () => validateBatches(batch, { maxBatchBytes: 1 << 20 }));
    measure('decodeRecordBatchesSync none', size, () => decodeRecordBatchesSync(batch));
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as CompressionName[]) {
      const compressed = encodeRecordBatchSync({ records, nowMs, compression });
      const ratio = (size / compressed.length).toFixed(1);
      measure(`encodeRecordBatchSync ${compression} (ratio ${ratio})`, size, () => encodeRecordBatchSync({ records, nowMs, compression }));
      measure(`decodeRecordBatchesSync ${compression}`, size, () => decodeRecordBatchesSync(compressed));
    }
    await measureAsync('encodeRecordBatch none (async, one at a time)', size, () => encodeRecordBatch({ records, nowMs }));
    await measureAsync('encodeRecordBatch lz4 (async, one at a time)', size, () => encodeRecordBatch({ records, nowMs, compression: 'lz4' }));
  }
}

await main();
