/**
 * DeleteRecords (key 21), versions 0-1: moves a partition's log start offset forward. Offset -1
 * means the high watermark. Kafka's DeleteRecordsRequest.json / DeleteRecordsResponse.json.
 *
 * DeleteRecords Request (Version: 0-1) => [topics] timeout_ms
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index offset
 *       partition_index => INT32
 *       offset => INT64
 *   timeout_ms => INT32
 *
 * DeleteRecords Response (Version: 0-1) => throttle_time_ms [topics]
 *   throttle_time_ms => INT32
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index low_watermark error_code
 *       partition_index => INT32
 *       low_watermark => INT64
 *       error_code => INT16
 */
import type { MessageSchema } from '../schema.js';

export const DeleteRecordsRequest = {
  name: 'DeleteRecordsRequest',
  fields: [
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
                    { name: 'offset', type: 'int64' },
                  ],
                },
              },
            },
          ],
        },
      },
    },
    { name: 'timeoutMs', type: 'int32' },
  ],
} as const satisfies MessageSchema;

export const DeleteRecordsResponse = {
  name: 'DeleteRecordsResponse',
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
                    { name: 'lowWatermark', type: 'int64' },
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
