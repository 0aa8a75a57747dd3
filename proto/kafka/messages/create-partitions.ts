/**
 * CreatePartitions (key 37), versions 0-1: raises a topic's partition count to `count`.
 * Kafka's CreatePartitionsRequest.json / CreatePartitionsResponse.json.
 *
 * CreatePartitions Request (Version: 0-1) => [topics] timeout_ms validate_only
 *   topics => name count [assignments]
 *     name => STRING
 *     count => INT32
 *     assignments => [broker_ids]       (nullable array)
 *       broker_ids => INT32
 *   timeout_ms => INT32
 *   validate_only => BOOLEAN
 *
 * CreatePartitions Response (Version: 0-1) => throttle_time_ms [results]
 *   throttle_time_ms => INT32
 *   results => name error_code error_message
 *     name => STRING
 *     error_code => INT16
 *     error_message => NULLABLE_STRING
 */
import type { MessageSchema } from '../schema.js';

export const CreatePartitionsRequest = {
  name: 'CreatePartitionsRequest',
  fields: [
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'count', type: 'int32' },
            {
              name: 'assignments',
              nullableSince: 0,
              type: { array: { struct: [{ name: 'brokerIds', type: { array: 'int32' } }] } },
            },
          ],
        },
      },
    },
    { name: 'timeoutMs', type: 'int32' },
    { name: 'validateOnly', type: 'bool' },
  ],
} as const satisfies MessageSchema;

export const CreatePartitionsResponse = {
  name: 'CreatePartitionsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    {
      name: 'results',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'errorCode', type: 'int16' },
            { name: 'errorMessage', type: 'string', nullableSince: 0 },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
