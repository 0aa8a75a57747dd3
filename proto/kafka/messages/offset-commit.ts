/**
 * OffsetCommit (key 8), versions 2-7: a group's consumed positions. Kafka's
 * OffsetCommitRequest.json / OffsetCommitResponse.json. v0-1 are not served: v0 stored offsets in
 * ZooKeeper and v1 carries per-partition commit timestamps; every client tested sends v2 or later.
 * retention_time_ms (v2-4) is read and ignored: offsets.retention.ms of the coordinator applies.
 *
 * OffsetCommit Request (Version: 2-4) => group_id generation_id member_id retention_time_ms [topics]
 * OffsetCommit Request (Version: 5-6) => group_id generation_id member_id [topics]
 * OffsetCommit Request (Version: 7) => group_id generation_id member_id group_instance_id [topics]
 *   topics => name [partitions]
 *     partitions => partition_index committed_offset committed_leader_epoch(6+) committed_metadata
 *       committed_metadata => NULLABLE_STRING
 *
 * OffsetCommit Response (Version: 2) => [topics]
 * OffsetCommit Response (Version: 3-7) => throttle_time_ms [topics]
 *   topics => name [partitions]
 *     partitions => partition_index error_code
 */
import type { MessageSchema } from '../schema.js';

export const OffsetCommitRequest = {
  name: 'OffsetCommitRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    { name: 'generationId', type: 'int32' },
    { name: 'memberId', type: 'string' },
    { name: 'groupInstanceId', type: 'string', since: 7, nullableSince: 7, default: null },
    { name: 'retentionTimeMs', type: 'int64', until: 4, default: -1 },
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
                    { name: 'committedLeaderEpoch', type: 'int32', since: 6, default: -1 },
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

export const OffsetCommitResponse = {
  name: 'OffsetCommitResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 3 },
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
