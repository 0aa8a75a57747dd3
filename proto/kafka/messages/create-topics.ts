/**
 * CreateTopics (key 19), versions 0-4. Kafka's CreateTopicsRequest.json /
 * CreateTopicsResponse.json. From v4 num_partitions and replication_factor may be -1 for the
 * broker's defaults (StreamBus accepts -1 in every version).
 *
 * CreateTopics Request (Version: 0) => [topics] timeout_ms
 * CreateTopics Request (Version: 1-4) => [topics] timeout_ms validate_only
 *   topics => name num_partitions replication_factor [assignments] [configs]
 *     name => STRING
 *     num_partitions => INT32
 *     replication_factor => INT16
 *     assignments => partition_index [broker_ids]
 *       partition_index => INT32
 *       broker_ids => INT32
 *     configs => name value
 *       name => STRING
 *       value => NULLABLE_STRING
 *   timeout_ms => INT32
 *   validate_only => BOOLEAN
 *
 * CreateTopics Response (Version: 0) => [topics]
 * CreateTopics Response (Version: 1) => [topics]                    (with error_message)
 * CreateTopics Response (Version: 2-4) => throttle_time_ms [topics]
 *   throttle_time_ms => INT32
 *   topics => name error_code error_message(v1+)
 *     name => STRING
 *     error_code => INT16
 *     error_message => NULLABLE_STRING
 */
import type { MessageSchema } from '../schema.js';

export const CreateTopicsRequest = {
  name: 'CreateTopicsRequest',
  fields: [
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'numPartitions', type: 'int32' },
            { name: 'replicationFactor', type: 'int16' },
            {
              name: 'assignments',
              type: {
                array: {
                  struct: [
                    { name: 'partitionIndex', type: 'int32' },
                    { name: 'brokerIds', type: { array: 'int32' } },
                  ],
                },
              },
            },
            {
              name: 'configs',
              type: {
                array: {
                  struct: [
                    { name: 'name', type: 'string' },
                    { name: 'value', type: 'string', nullableSince: 0 },
                  ],
                },
              },
            },
          ],
        },
      },
    },
    { name: 'timeoutMs', type: 'int32' },
    { name: 'validateOnly', type: 'bool', since: 1 },
  ],
} as const satisfies MessageSchema;

export const CreateTopicsResponse = {
  name: 'CreateTopicsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 2 },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'errorCode', type: 'int16' },
            { name: 'errorMessage', type: 'string', since: 1, nullableSince: 1, default: null },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
