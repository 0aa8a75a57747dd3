/**
 * ListOffsets (key 2), versions 1-3: the earliest offset (timestamp -2), the latest (-1), or the
 * first offset whose record timestamp is at or after a time. Kafka's ListOffsetsRequest.json /
 * ListOffsetsResponse.json. (v0, which returned lists of segment offsets, is not served.)
 *
 * ListOffsets Request (Version: 1) => replica_id [topics]
 * ListOffsets Request (Version: 2-3) => replica_id isolation_level [topics]
 *   replica_id => INT32
 *   isolation_level => INT8
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index timestamp
 *       partition_index => INT32
 *       timestamp => INT64
 *
 * ListOffsets Response (Version: 1) => [topics]
 * ListOffsets Response (Version: 2-3) => throttle_time_ms [topics]
 *   throttle_time_ms => INT32
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index error_code timestamp offset
 *       partition_index => INT32
 *       error_code => INT16
 *       timestamp => INT64
 *       offset => INT64
 */
import type { MessageSchema } from '../schema.js';

export const ListOffsetsRequest = {
  name: 'ListOffsetsRequest',
  fields: [
    { name: 'replicaId', type: 'int32' },
    { name: 'isolationLevel', type: 'int8', since: 2 },
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
                    { name: 'timestamp', type: 'int64' },
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

export const ListOffsetsResponse = {
  name: 'ListOffsetsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 2 },
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
                    { name: 'timestamp', type: 'int64', default: -1 },
                    { name: 'offset', type: 'int64', default: -1 },
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
