/**
 * Logs, metrics and the HTTP admin server (/metrics, /livez, /readyz) of a StreamBus node.
 */
export { LogFormat, createLogger, formatCompactLine, type Logger, type LoggerOptions } from './logger.js';
export { createMetrics, type BrokerMetrics, type MetricsOptions, type PartitionSource, type PartitionStats } from './metrics.js';
export {
  IsrChangeCounter,
  summarizeReplication,
  type IsrChangeCount,
  type PartitionLag,
  type ReplicationSource,
  type ReplicationSummary,
} from './replication-metrics.js';
export { startAdminServer, type AdminServer, type AdminServerOptions, type LiveState, type ReadyState } from './admin-server.js';
