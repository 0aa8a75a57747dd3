/**
 * Micro-benchmark of the partition log on LevelDB (broker/log): append throughput in each
 * durability mode, then read throughput, on this machine's disk.
 *
 * Workload: 1 KiB records of random (incompressible) bytes, 100 per batch (~100 KiB batches),
 * appended to 4 partitions with `--in-flight` appends outstanding per partition, until `--total-mb`
 * MiB were appended; then all 4 partitions are read back concurrently with 1 MiB fetches.
 * Figures are MB/s (10^6 bytes) of batch bytes. `--validate` adds the broker's produce-path CRC
 * check (validateBatches) to each append, to see the CPU it takes from the same core.
 *
 * Run: npm run build && node dist/bench/log.js [--modes group,sync,interval] [--total-mb 1024]
 *      [--in-flight 8] [--validate] [--dir /path] [--write-buffer-mb 64] [--max-file-mb 64]
 *      [--block-kb 64] [--cache-mb 32] [--compression] [--group-mb 16] [--stats]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeRecordBatchSync, readBatchHeader, validateBatches } from '../proto/record-batch/index.js';
import { DEFAULT_LEVELDB_TUNING, LogStore, type DurabilityMode, type LogConfig } from '../broker/log/index.js';

const { values: args } = parseArgs({
  options: {
    modes: { type: 'string', default: 'group,sync,interval' },
    'total-mb': { type: 'string', default: '1024' },
    'in-flight': { type: 'string', default: '8' },
    partitions: { type: 'string', default: '4' },
    validate: { type: 'boolean', default: false },
    dir: { type: 'string' },
    'write-buffer-mb': { type: 'string' },
    'max-file-mb': { type: 'string' },
    'block-kb': { type: 'string' },
    'cache-mb': { type: 'string' },
    compression: { type: 'boolean', default: false },
    'group-mb': { type: 'string', default: '16' },
    stats: { type: 'boolean', default: false },
  },
});

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 100;
const MB = 1e6;
const MIB = 1 << 20;
const totalBytes = Number(args['total-mb']) * MIB;
const inFlight = Number(args['in-flight']);
const partitionCount = Number(args.partitions);
const mib = (name: 'write-buffer-mb' | 'max-file-mb' | 'cache-mb'): number | undefined =>
  args[name] === undefined ? undefined : Number(args[name]) * MIB;
const leveldb = {
  ...DEFAULT_LEVELDB_TUNING,
  ...(mib('write-buffer-mb') === undefined ? {} : { writeBufferSize: mib('write-buffer-mb')! }),
  ...(mib('max-file-mb') === undefined ? {} : { maxFileSize: mib('max-file-mb')! }),
  ...(mib('cache-mb') === undefined ? {} : { cacheSize: mib('cache-mb')! }),
  ...(args['block-kb'] === undefined ? {} : { blockSize: Number(args['block-kb']) * 1024 }),
  compression: args.compression,
};

const config: LogConfig = {
  cleanupDelete: true,
  cleanupCompact: false,
  retentionMs: -1,
  retentionBytes: -1,
  deleteRetentionMs: 0,
  minCompactionLagMs: 0,
  maxMessageBytes: 1 << 20,
  timestampType: 'CreateTime',
};

/** One distinct batch per in-flight slot: append patches its buffer, so slots never share one. */
function makeBatch(): Buffer {
  const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `key-${i}`, value: randomBytes(RECORD_BYTES) }));
  return encodeRecordBatchSync({ records, nowMs: Date.now() });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function runMode(mode: DurabilityMode): Promise<void> {
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'streambus-bench-log-')));
  const store = await LogStore.open({ dir, durability: { mode }, leveldb, maxGroupBytes: Number(args['group-mb']) * MIB });
  try {
    const logs = await Promise.all(Array.from({ length: partitionCount }, (_, p) => store.openPartition(`bench-${mode}`, p, config)));
    const slots = Array.from({ length: partitionCount * inFlight }, makeBatch);
    const batchBytes = slots[0]!.length;
    const latenciesMs: number[] = [];
    let appended = 0;
    const before = { ...store.stats };
    const started = performance.now();
    await Promise.all(
      slots.map(async (slot, i) => {
        const log = logs[i % partitionCount]!;
        while (appended < totalBytes) {
          appended += slot.length;
          const t0 = performance.now();
          if (args.validate) validateBatches(slot, { maxBatchBytes: 1 << 20 });
          await log.append(slot, { nowMs: Date.now() });
          latenciesMs.push(performance.now() - t0);
        }
      }),
    );
    const appendSeconds = (performance.now() - started) / 1000;
    const writes = store.stats.writes - before.writes;
    const synced = store.stats.syncedWrites - before.syncedWrites;
    latenciesMs.sort((a, b) => a - b);
    console.log(
      `${mode.padEnd(8)} append: ${(appended / appendSeconds / MB).toFixed(1).padStart(6)} MB/s ` +
        `(${(appended / MIB).toFixed(0)} MiB in ${appendSeconds.toFixed(1)} s, batch ${(batchBytes / 1024).toFixed(0)} KiB, ` +
        `${writes} writes, ${synced} synced, ${(latenciesMs.length / Math.max(writes, 1)).toFixed(1)} appends/write, ` +
        `latency p50 ${percentile(latenciesMs, 0.5).toFixed(1)} ms p99 ${percentile(latenciesMs, 0.99).toFixed(1)} ms)`,
    );

    let read = 0;
    const readStarted = performance.now();
    await Promise.all(
      logs.map(async (log) => {
        let offset = log.logStartOffset;
        while (offset < log.highWatermark) {
          const result = await log.read(offset, MIB);
          if (result.records.length === 0) break;
          read += result.records.length;
          offset = lastOffsetOf(result.records) + 1;
        }
      }),
    );
    const readSeconds = (performance.now() - readStarted) / 1000;
    console.log(`${mode.padEnd(8)} read:   ${(read / readSeconds / MB).toFixed(1).padStart(6)} MB/s (${(read / MIB).toFixed(0)} MiB, 1 MiB fetches)`);
    if (args.stats) console.log(store.leveldbProperty('leveldb.stats'));
  } finally {
    await store.close();
    if (args.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** The last offset of the last batch in concatenated batches. */
function lastOffsetOf(records: Buffer): number {
  let position = 0;
  let last = -1;
  while (position < records.length) {
    const header = readBatchHeader(records, position);
    last = header.lastOffset;
    position += header.sizeBytes;
  }
  return last;
}

console.log(
  `log bench: ${partitionCount} partitions x ${inFlight} in flight, ${RECORDS_PER_BATCH} x ${RECORD_BYTES} B records per batch, ` +
    `validate=${args.validate}, leveldb ${JSON.stringify(leveldb)}`,
);
for (const mode of (args.modes ?? '').split(',') as DurabilityMode[]) await runMode(mode);
