/**
 * OffsetFetch (key 9), versions 1-5: a group's committed offsets. Kafka's OffsetFetchRequest.json
 * / OffsetFetchResponse.json. v0 (offsets in ZooKeeper) is not served; kafkajs has no v0 and
 * crashes when the advertised maximum is 0, so the range starts at 1.
 *
 * OffsetFetch Request (Version: 1) => group_id [topics]
 * OffsetFetch Request (Version: 2-5) => group_id [topics]   (topics null: every partition with an offset)
 *   topics => name [partition_indexes]
 *
 * OffsetFetch Response (Version: 1) => [topics]
 * OffsetFetch Response (Version: 2) => [topics] error_code
 * OffsetFetch Response (Version: 3-4) => throttle_time_ms [topics] error_code
 * OffsetFetch Response (Version: 5) => same, partitions carry committed_leader_epoch
 *   topics => name [partitions]
 *     partitions => partition_index committed_offset committed_leader_epoch(5+) metadata error_code
 *       metadata => NULLABLE_STRING
 */
import type { MessageSchema } from '../schema.js';

export const OffsetFetchRequest = {
  name: 'OffsetFetchRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    {
      name: 'topics',
      nullableSince: 2,
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'partitionIndexes', type: { array: 'int32' } },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;

export const OffsetFetchResponse = {
  name: 'OffsetFetchResponse',
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
                    { name: 'committedOffset', type: 'int64' },
                    { name: 'committedLeaderEpoch', type: 'int32', since: 5, default: -1 },
                    { name: 'metadata', type: 'string', nullableSince: 0 },
                    { name: 'errorCode', type: 'int16' },
                  ],
                },
              },
            },
          ],
        },
      },
    },
    { name: 'errorCode', type: 'int16', since: 2 },
  ],
} as const satisfies MessageSchema;
