/**
 * OffsetDelete (key 47), version 0 (KIP-496): deletes a group's committed offsets of partitions no
 * member is subscribed to. Kafka's OffsetDeleteRequest.json / OffsetDeleteResponse.json.
 *
 * OffsetDelete Request (Version: 0) => group_id [topics]
 *   topics => name [partitions]
 *     partitions => partition_index
 *
 * OffsetDelete Response (Version: 0) => error_code throttle_time_ms [topics]
 *   topics => name [partitions]
 *     partitions => partition_index error_code
 */
import type { MessageSchema } from '../schema.js';

export const OffsetDeleteRequest = {
  name: 'OffsetDeleteRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'partitions', type: { array: { struct: [{ name: 'partitionIndex', type: 'int32' }] } } },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;

export const OffsetDeleteResponse = {
  name: 'OffsetDeleteResponse',
  fields: [
    { name: 'errorCode', type: 'int16' },
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
