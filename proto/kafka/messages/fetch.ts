/**
 * Fetch (key 1), versions 4-11: RecordBatch v2 only (v0-3 decode legacy message sets in kafkajs).
 * Kafka's FetchRequest.json / FetchResponse.json. The response's `records` are the stored batches,
 * passed through without a copy: whole batches, starting at the one that holds fetch_offset.
 *
 * StreamBus keeps no fetch sessions (KIP-227): it answers session_id 0, which tells the client
 * every fetch is a full one.
 *
 * Fetch Request (Version: 4-11) => replica_id max_wait_ms min_bytes max_bytes isolation_level
 *                                  session_id(v7+) session_epoch(v7+) [topics]
 *                                  [forgotten_topics_data](v7+) rack_id(v11+)
 *   replica_id => INT32
 *   max_wait_ms => INT32
 *   min_bytes => INT32
 *   max_bytes => INT32
 *   isolation_level => INT8
 *   session_id => INT32
 *   session_epoch => INT32
 *   topics => topic [partitions]
 *     topic => STRING
 *     partitions => partition current_leader_epoch(v9+) fetch_offset log_start_offset(v5+) partition_max_bytes
 *       partition => INT32
 *       current_leader_epoch => INT32
 *       fetch_offset => INT64
 *       log_start_offset => INT64
 *       partition_max_bytes => INT32
 *   forgotten_topics_data => topic [partitions]
 *     topic => STRING
 *     partitions => INT32
 *   rack_id => STRING
 *
 * Fetch Response (Version: 4-11) => throttle_time_ms error_code(v7+) session_id(v7+) [responses]
 *   throttle_time_ms => INT32
 *   error_code => INT16
 *   session_id => INT32
 *   responses => topic [partitions]
 *     topic => STRING
 *     partitions => partition_index error_code high_watermark last_stable_offset
 *                   log_start_offset(v5+) [aborted_transactions] preferred_read_replica(v11+) records
 *       partition_index => INT32
 *       error_code => INT16
 *       high_watermark => INT64
 *       last_stable_offset => INT64
 *       log_start_offset => INT64
 *       aborted_transactions => producer_id first_offset   (nullable array)
 *         producer_id => INT64
 *         first_offset => INT64
 *       preferred_read_replica => INT32
 *       records => RECORDS (nullable bytes)
 */
import type { MessageSchema } from '../schema.js';

export const FetchRequest = {
  name: 'FetchRequest',
  fields: [
    { name: 'replicaId', type: 'int32' },
    { name: 'maxWaitMs', type: 'int32' },
    { name: 'minBytes', type: 'int32' },
    { name: 'maxBytes', type: 'int32', since: 3, default: 0x7fff_ffff },
    { name: 'isolationLevel', type: 'int8', since: 4 },
    { name: 'sessionId', type: 'int32', since: 7 },
    { name: 'sessionEpoch', type: 'int32', since: 7, default: -1 },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'topic', type: 'string' },
            {
              name: 'partitions',
              type: {
                array: {
                  struct: [
                    { name: 'partition', type: 'int32' },
                    { name: 'currentLeaderEpoch', type: 'int32', since: 9, default: -1 },
                    { name: 'fetchOffset', type: 'int64' },
                    { name: 'logStartOffset', type: 'int64', since: 5, default: -1 },
                    { name: 'partitionMaxBytes', type: 'int32' },
                  ],
                },
              },
            },
          ],
        },
      },
    },
    {
      name: 'forgottenTopicsData',
      since: 7,
      type: {
        array: {
          struct: [
            { name: 'topic', type: 'string' },
            { name: 'partitions', type: { array: 'int32' } },
          ],
        },
      },
    },
    { name: 'rackId', type: 'string', since: 11 },
  ],
} as const satisfies MessageSchema;

export const FetchResponse = {
  name: 'FetchResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    { name: 'errorCode', type: 'int16', since: 7 },
    { name: 'sessionId', type: 'int32', since: 7 },
    {
      name: 'responses',
      type: {
        array: {
          struct: [
            { name: 'topic', type: 'string' },
            {
              name: 'partitions',
              type: {
                array: {
                  struct: [
                    { name: 'partitionIndex', type: 'int32' },
                    { name: 'errorCode', type: 'int16' },
                    { name: 'highWatermark', type: 'int64' },
                    { name: 'lastStableOffset', type: 'int64', since: 4, default: -1 },
                    { name: 'logStartOffset', type: 'int64', since: 5, default: -1 },
                    {
                      name: 'abortedTransactions',
                      since: 4,
                      nullableSince: 4,
                      default: null,
                      type: {
                        array: {
                          struct: [
                            { name: 'producerId', type: 'int64' },
                            { name: 'firstOffset', type: 'int64' },
                          ],
                        },
                      },
                    },
                    { name: 'preferredReadReplica', type: 'int32', since: 11, default: -1 },
                    { name: 'records', type: 'records', nullableSince: 0 },
                  ],
                },
              },
            },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
