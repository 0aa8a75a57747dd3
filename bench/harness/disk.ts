/**
 * How long the data directory's disk takes to make a small write durable. Persisted produce
 * (durability 'group' or 'sync') cannot acknowledge faster than this, so the report shows it
 * beside the produce-ack latencies.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { summarizeLatencies, type LatencySummary } from './stats.js';

export interface FsyncProbeOptions {
  /** A folder on the filesystem to probe (the server's data directory lives there). */
  readonly dir: string;
  readonly writes: number;
  readonly writeBytes: number;
  /** Stop early after this long. */
  readonly maxMs: number;
}

/** Appends `writeBytes` and fdatasyncs, `writes` times (or until maxMs); latency of each pair. */
export function probeFsync(options: FsyncProbeOptions): LatencySummary {
  const folder = mkdtempSync(path.join(options.dir, 'streambus-bench-fsync-'));
  const fd = openSync(path.join(folder, 'probe'), 'w');
  const block = Buffer.alloc(options.writeBytes, 0x5a);
  const samples = new Float64Array(options.writes);
  let count = 0;
  try {
    const deadline = performance.now() + options.maxMs;
    while (count < options.writes && performance.now() < deadline) {
      const started = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      samples[count++] = performance.now() - started;
    }
  } finally {
    closeSync(fd);
    rmSync(folder, { recursive: true, force: true });
  }
  return summarizeLatencies(samples, count);
}
