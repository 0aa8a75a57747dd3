/**
 * The group coordinator's settings from the resolved configuration, shared by `streambus
 * coordinator` and `streambus dev`: Kafka's group.* and offsets.* settings, by their Kafka names
 * (cli/config/schema.ts documents each). offsets.retention.ms, when set (not -1), wins over
 * offsets.retention.minutes, as log.retention.ms wins over log.retention.minutes in Kafka.
 */
import type { GroupCoordinatorSettings } from '../../coordinator/index.js';
import type { ConfigValues } from '../config/index.js';

export function groupSettings(values: ConfigValues): GroupCoordinatorSettings {
  const retentionMs = values['offsets.retention.ms'];
  return {
    minSessionTimeoutMs: values['group.min.session.timeout.ms'],
    maxSessionTimeoutMs: values['group.max.session.timeout.ms'],
    initialRebalanceDelayMs: values['group.initial.rebalance.delay.ms'],
    maxSize: values['group.max.size'],
    offsetsRetentionMs: retentionMs === -1 ? values['offsets.retention.minutes'] * 60_000 : retentionMs,
    offsetsRetentionCheckIntervalMs: values['offsets.retention.check.interval.ms'],
    offsetMetadataMaxBytes: values['offset.metadata.max.bytes'],
  };
}
