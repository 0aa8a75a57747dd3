/**
 * AlterConfigs (key 33), versions 0-1: replaces the whole set of a resource's config overrides
 * (keys left out return to their defaults; a null value is left out). Kafka's
 * AlterConfigsRequest.json / AlterConfigsResponse.json.
 *
 * AlterConfigs Request (Version: 0-1) => [resources] validate_only
 *   resources => resource_type resource_name [configs]
 *     resource_type => INT8
 *     resource_name => STRING
 *     configs => name value
 *       name => STRING
 *       value => NULLABLE_STRING
 *   validate_only => BOOLEAN
 *
 * AlterConfigs Response (Version: 0-1) => throttle_time_ms [responses]
 *   throttle_time_ms => INT32
 *   responses => error_code error_message resource_type resource_name
 *     error_code => INT16
 *     error_message => NULLABLE_STRING
 *     resource_type => INT8
 *     resource_name => STRING
 */
import type { MessageSchema } from '../schema.js';

export const AlterConfigsRequest = {
  name: 'AlterConfigsRequest',
  fields: [
    {
      name: 'resources',
      type: {
        array: {
          struct: [
            { name: 'resourceType', type: 'int8' },
            { name: 'resourceName', type: 'string' },
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
    { name: 'validateOnly', type: 'bool' },
  ],
} as const satisfies MessageSchema;

export const AlterConfigsResponse = {
  name: 'AlterConfigsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    {
      name: 'responses',
      type: {
        array: {
          struct: [
            { name: 'errorCode', type: 'int16' },
            { name: 'errorMessage', type: 'string', nullableSince: 0 },
            { name: 'resourceType', type: 'int8' },
            { name: 'resourceName', type: 'string' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
