/**
 * TxnOffsetCommit (key 28), versions 0-2: a consumer group's offsets committed inside a
 * transaction; the group sees them only if the transaction commits. Kafka's
 * TxnOffsetCommitRequest.json / TxnOffsetCommitResponse.json. v1 differs from v0 only in how
 * throttling is reported; v2 adds each partition's leader epoch. v3 (flexible, with the consumer's
 * generation and member id for KIP-447 fencing) is not served: librdkafka 2.0.2 then sends v2, and
 * kafkajs implements v0-1.
 *
 * TxnOffsetCommit Request (Version: 0-2) => transactional_id group_id producer_id producer_epoch [topics]
 *   transactional_id => STRING
 *   group_id => STRING
 *   producer_id => INT64
 *   producer_epoch => INT16
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index committed_offset committed_leader_epoch(2+) committed_metadata
 *       partition_index => INT32
 *       committed_offset => INT64
 *       committed_leader_epoch => INT32
 *       committed_metadata => NULLABLE_STRING
 *
 * TxnOffsetCommit Response (Version: 0-2) => throttle_time_ms [topics]
 *   throttle_time_ms => INT32
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index error_code
 *       partition_index => INT32
 *       error_code => INT16
 */
import type { MessageSchema } from '../schema.js';

export const TxnOffsetCommitRequest = {
  name: 'TxnOffsetCommitRequest',
  fields: [
    { name: 'transactionalId', type: 'string' },
    { name: 'groupId', type: 'string' },
    { name: 'producerId', type: 'int64' },
    { name: 'producerEpoch', type: 'int16' },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            {
              name: 'partitions',
              type: {
                array: {
                  struct: [
                    { name: 'partitionIndex', type: 'int32' },
                    { name: 'committedOffset', type: 'int64' },
                    { name: 'committedLeaderEpoch', type: 'int32', since: 2, default: -1 },
                    { name: 'committedMetadata', type: 'string', nullableSince: 0 },
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

export const TxnOffsetCommitResponse = {
  name: 'TxnOffsetCommitResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            {
              name: 'partitions',
              type: {
                array: {
                  struct: [
                    { name: 'partitionIndex', type: 'int32' },
                    { name: 'errorCode', type: 'int16' },
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
