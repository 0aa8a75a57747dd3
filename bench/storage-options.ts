/**
 * Raw storage micro-benchmark for DESIGN.md decision 3 (where batch bytes live): it appends the
 * same RecordBatch v2 batches, on this machine's disk, two ways, and reports sustained MB/s, the
 * bytes the process caused to be written per payload byte (/proc/self/io write_bytes, so
 * LevelDB's write-ahead log, flushes and compactions count), CPU per MB and append latency.
 *
 * (a) leveldb: today's design: broker/log's LogStore in 'group' durability, every batch one
 *     LevelDB value, one synced db.batch per group commit.
 * (b) segment: a per-partition append-only file is the source of truth. A group commit writes the
 *     queued batches with one writev, then fdatasync, then puts one small index entry per batch
 *     (last offset -> file position, size) into LevelDB without sync: after a crash the index is
 *     rebuilt from the file's tail, so it need not be durable. Appends resolve after fdatasync,
 *     like (a) resolves after its synced write.
 *
 * Both run with the same in-flight appends, batch size and group-size cap. Nothing in broker/log
 * changes: this only measures. Disk figures include the work LevelDB still does while closing
 * (a final compaction flush) in a separate column, since a long run would pay it eventually.
 *
 * Run: npm run build && node dist/bench/storage-options.js [--total-mb 1536] [--batch-kb 1024]
 *      [--in-flight 4] [--group-mb 2] [--only leveldb,segment] [--dir /path]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClassicLevel } from 'classic-level';
import { encodeRecordBatchSync, readBatchHeader } from '../proto/record-batch/index.js';
import { LogStore, type LogConfig } from '../broker/log/index.js';

const { values: args } = parseArgs({
  options: {
    'total-mb': { type: 'string', default: '1536' },
    'batch-kb': { type: 'string', default: '1024' },
    'in-flight': { type: 'string', default: '4' },
    'group-mb': { type: 'string', default: '2' },
    only: { type: 'string', default: 'leveldb,segment' },
    dir: { type: 'string' },
  },
});

const MIB = 1 << 20;
const MB = 1e6;
const RECORD_BYTES = 1024;
const totalBytes = Number(args['total-mb']) * MIB;
const inFlight = Number(args['in-flight']);
const maxGroupBytes = Number(args['group-mb']) * MIB;
const recordsPerBatch = Math.max(1, Math.round((Number(args['batch-kb']) * 1024) / (RECORD_BYTES + 12)));

const config: LogConfig = {
  cleanupDelete: true,
  cleanupCompact: false,
  retentionMs: -1,
  retentionBytes: -1,
  deleteRetentionMs: 0,
  minCompactionLagMs: 0,
  maxMessageBytes: 64 * MIB,
  timestampType: 'CreateTime',
};

interface Figures {
  readonly megabytesPerSecond: number;
  readonly diskPerPayload: number;
  readonly diskAtClosePerPayload: number;
  readonly cpuMsPerMegabyte: number;
  readonly appendP50Ms: number;
  readonly appendP99Ms: number;
  readonly appendMaxMs: number;
  readonly groups: number;
}

/** Bytes this process has caused to be written to storage so far. */
function writtenBytes(): number {
  const match = /write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** One distinct batch per in-flight slot: appends patch the base offset in place. */
function makeBatch(): Buffer {
  const records = Array.from({ length: recordsPerBatch }, () => ({ value: randomBytes(RECORD_BYTES) }));
  return encodeRecordBatchSync({ records, nowMs: Date.now() });
}

type Append = (batch: Buffer) => Promise<void>;

/** Runs `inFlight` appenders until totalBytes were appended; returns the measured figures. */
async function drive(append: Append, close: () => Promise<void>, groups: () => number): Promise<Figures> {
  const slots = Array.from({ length: inFlight }, makeBatch);
  const latenciesMs: number[] = [];
  let appended = 0;
  const diskBefore = writtenBytes();
  const cpuBefore = process.cpuUsage();
  const startedMs = performance.now();
  await Promise.all(
    slots.map(async (slot) => {
      while (appended < totalBytes) {
        appended += slot.length;
        const t0 = performance.now();
        await append(slot);
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - startedMs) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const diskAfter = writtenBytes();
  await close();
  const diskClosed = writtenBytes();
  latenciesMs.sort((a, b) => a - b);
  return {
    megabytesPerSecond: appended / seconds / MB,
    diskPerPayload: (diskAfter - diskBefore) / appended,
    diskAtClosePerPayload: (diskClosed - diskAfter) / appended,
    cpuMsPerMegabyte: (cpu.user + cpu.system) / 1000 / (appended / MB),
    appendP50Ms: percentile(latenciesMs, 0.5),
    appendP99Ms: percentile(latenciesMs, 0.99),
    appendMaxMs: latenciesMs.at(-1) ?? 0,
    groups: groups(),
  };
}

async function runLevelDb(dir: string): Promise<Figures> {
  const store = await LogStore.open({ dir, durability: { mode: 'group' }, maxGroupBytes });
  const log = await store.openPartition('bench', 0, config);
  return drive(
    async (batch) => {
      await log.append(batch, { nowMs: Date.now() });
    },
    () => store.close(),
    () => store.stats.syncedWrites,
  );
}

interface Pending {
  readonly batch: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * (b): a group commit over one segment file. While a group is being written and synced, new
 * appends queue; the next group takes them (up to maxGroupBytes, a larger batch alone).
 */
class SegmentLog {
  readonly #file: FileHandle;
  readonly #index: ClassicLevel<Buffer, Buffer>;
  readonly #queue: Pending[] = [];
  #writing = false;
  #position = 0;
  #nextOffset = 0;
  groups = 0;

  constructor(file: FileHandle, index: ClassicLevel<Buffer, Buffer>) {
    this.#file = file;
    this.#index = index;
  }

  append(batch: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      if (!this.#writing) {
        this.#writing = true;
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      let count = 0;
      let bytes = 0;
      for (const pending of this.#queue) {
        if (count > 0 && bytes + pending.batch.length > maxGroupBytes) break;
        bytes += pending.batch.length;
        count++;
      }
      const group = this.#queue.splice(0, count);
      const index: { type: 'put'; key: Buffer; value: Buffer }[] = [];
      for (const { batch } of group) {
        // Assign offsets as the broker would (patch baseOffset), and index the batch by last offset.
        batch.writeBigInt64BE(BigInt(this.#nextOffset), 0);
        const header = readBatchHeader(batch, 0);
        const lastOffset = this.#nextOffset + header.lastOffsetDelta;
        const key = Buffer.allocUnsafe(9);
        key[0] = 0x02;
        key.writeBigUInt64BE(BigInt(lastOffset), 1);
        const value = Buffer.allocUnsafe(12);
        value.writeBigUInt64BE(BigInt(this.#position), 0);
        value.writeUInt32BE(batch.length, 8);
        index.push({ type: 'put', key, value });
        this.#position += batch.length;
        this.#nextOffset = lastOffset + 1;
      }
      try {
        await this.#file.writev(group.map((pending) => pending.batch));
        await this.#file.datasync();
        await this.#index.batch(index, { sync: false });
        this.groups++;
        for (const pending of group) pending.resolve();
      } catch (error) {
        for (const pending of group) pending.reject(error);
      }
    }
    this.#writing = false;
  }
}

async function runSegment(dir: string): Promise<Figures> {
  const file = await open(join(dir, '00000000000000000000.log'), 'a');
  const index = new ClassicLevel<Buffer, Buffer>(join(dir, 'index'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await index.open();
  const log = new SegmentLog(file, index);
  return drive(
    (batch) => log.append(batch),
    async () => {
      await file.close();
      await index.close();
    },
    () => log.groups,
  );
}

function describe(name: string, f: Figures): string {
  return (
    `${name.padEnd(8)} ${f.megabytesPerSecond.toFixed(1).padStart(6)} MB/s, disk ${f.diskPerPayload.toFixed(2)} B/B ` +
    `(+${f.diskAtClosePerPayload.toFixed(2)} at close), cpu ${f.cpuMsPerMegabyte.toFixed(2)} ms/MB, ` +
    `append p50 ${f.appendP50Ms.toFixed(1)} p99 ${f.appendP99Ms.toFixed(1)} max ${f.appendMaxMs.toFixed(0)} ms, ${f.groups} synced groups`
  );
}

const batchBytes = makeBatch().length;
console.log(
  `storage options: ${(totalBytes / MIB).toFixed(0)} MiB of ${(batchBytes / 1024).toFixed(0)} KiB batches (${recordsPerBatch} x ${RECORD_BYTES} B records), ` +
    `${inFlight} appends in flight, groups up to ${(maxGroupBytes / MIB).toFixed(1)} MiB, fsync per group`,
);
for (const name of (args.only ?? '').split(',')) {
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), `streambus-storage-${name}-`)));
  try {
    if (name === 'leveldb') console.log(describe(name, await runLevelDb(dir)));
    else if (name === 'segment') console.log(describe(name, await runSegment(dir)));
    else throw new Error(`unknown option ${name}: use leveldb and/or segment`);
  } finally {
    if (args.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}
