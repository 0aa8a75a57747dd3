/**
 * Partition log storage on LevelDB: the broker's public entry to it.
 * See ./layout.ts for the storage layout and ./types.ts for the durability modes.
 */
export { LogStore, DEFAULT_LEVELDB_TUNING, type LevelDbTuning, type LogStoreOptions } from './log-store.js';
export { PartitionLog, ListOffsetTimestamp, type AbortedTxn, type MarkerSpec, type ProducerEntry } from './partition-log.js';
export type { CommitterStats } from './committer.js';
export type { TailCheck } from './recovery.js';
export { NO_EPOCH, type EpochEndOffset, type EpochEntry } from './leader-epochs.js';
export type {
  AppendResult,
  ChunkedReadResult,
  DurabilityConfig,
  DurabilityMode,
  LogConfig,
  MaintenanceReport,
  ReadResult,
} from './types.js';
