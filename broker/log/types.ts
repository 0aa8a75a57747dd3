/**
 * The configuration and result types of the partition log, and the checks on a topic's log config.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

/**
 * When an append is acknowledged, relative to the disk:
 * - 'sync': every append is its own synced (fsync) LevelDB write. Nothing is lost on a crash or a
 *   power cut; one fsync per append, so the slowest mode.
 * - 'group' (the default): group commit. Appends that arrive while a synced write is in flight
 *   (from any partition) are gathered into the next synced write. Exactly as safe as 'sync': no
 *   append resolves before it is on disk; many appends share one fsync.
 * - 'interval': unsynced writes, resolved once LevelDB has them (in its write-ahead log in the OS
 *   page cache), plus one synced write every `intervalMs`. A killed process (kill -9, a crash)
 *   loses nothing, because the page cache belongs to the kernel; a power cut or a kernel crash can
 *   lose the appends of the last interval.
 */
export type DurabilityMode = 'sync' | 'group' | 'interval';

export interface DurabilityConfig {
  readonly mode: DurabilityMode;
  /** For 'interval': the time between synced writes. Default 1000. */
  readonly intervalMs?: number;
}

/** A topic's log settings, resolved from its configs (cleanup.policy, retention.ms, ...). */
export interface LogConfig {
  /** cleanup.policy contains delete: retention by time and size applies. */
  cleanupDelete: boolean;
  /** cleanup.policy contains compact: keep the latest record per key. */
  cleanupCompact: boolean;
  /** Delete batches whose maxTimestamp is older than this; -1 = unlimited. */
  retentionMs: number;
  /** Delete the oldest batches while the partition holds more than this; -1 = unlimited. */
  retentionBytes: number;
  /** Compaction keeps a tombstone (null value) until its timestamp is this old. */
  deleteRetentionMs: number;
  /** Compaction leaves batches younger than this alone. */
  minCompactionLagMs: number;
  /** The largest batch accepted (checked by the caller with validateBatches). */
  maxMessageBytes: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
}

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** The time written into the batches for LogAppendTime topics, -1 for CreateTime. */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
}

export interface ReadResult {
  /** Whole stored batches, concatenated, byte for byte as appended (offsets patched). */
  readonly records: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

/** What PartitionLog.readChunks() returns: ReadResult's batches, not concatenated. */
export interface ChunkedReadResult {
  /** Whole stored batches, one Buffer each, in offset order; their concatenation is ReadResult.records. */
  readonly chunks: readonly Buffer[];
  /** The sum of the chunks' lengths. */
  readonly bytes: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

/** What one retention and compaction pass did, summed over the partitions. */
export interface MaintenanceReport {
  partitions: number;
  /** Retention (time, size): whole batches deleted from the start of logs. */
  deletedBatches: number;
  deletedBytes: number;
  /** Compaction. */
  compactedPartitions: number;
  rewrittenBatches: number;
  removedBatches: number;
  removedRecords: number;
  reclaimedBytes: number;
  /** Partitions whose pass failed (logged); the others still ran. */
  failedPartitions: number;
}

export function emptyMaintenanceReport(): MaintenanceReport {
  return {
    partitions: 0,
    deletedBatches: 0,
    deletedBytes: 0,
    compactedPartitions: 0,
    rewrittenBatches: 0,
    removedBatches: 0,
    removedRecords: 0,
    reclaimedBytes: 0,
    failedPartitions: 0,
  };
}

function invalidConfig(message: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_CONFIG, message);
}

/** Throws INVALID_CONFIG for a log config that cannot be applied. */
export function checkLogConfig(config: LogConfig): void {
  const limits: [keyof LogConfig, number][] = [
    ['retentionMs', -1],
    ['retentionBytes', -1],
    ['deleteRetentionMs', 0],
    ['minCompactionLagMs', 0],
    ['maxMessageBytes', 0],
  ];
  for (const [name, min] of limits) {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw invalidConfig(`${name} must be an integer >= ${min}, got ${String(value)}`);
    }
  }
  if (config.timestampType !== 'CreateTime' && config.timestampType !== 'LogAppendTime') {
    throw invalidConfig(`timestampType must be CreateTime or LogAppendTime, got ${String(config.timestampType)}`);
  }
}

export function checkDurability(durability: DurabilityConfig): void {
  if (durability.mode !== 'sync' && durability.mode !== 'group' && durability.mode !== 'interval') {
    throw invalidConfig(`durability mode must be sync, group or interval, got ${String(durability.mode)}`);
  }
  const intervalMs = durability.intervalMs;
  if (intervalMs !== undefined && (!Number.isSafeInteger(intervalMs) || intervalMs < 1)) {
    throw invalidConfig(`durability intervalMs must be a positive integer, got ${intervalMs}`);
  }
}
