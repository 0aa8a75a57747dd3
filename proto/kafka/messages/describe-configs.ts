/**
 * DescribeConfigs (key 32), versions 0-2: the effective configuration of topics (and of the
 * broker answering), each entry with where its value comes from. Kafka's
 * DescribeConfigsRequest.json / DescribeConfigsResponse.json.
 *
 * DescribeConfigs Request (Version: 0) => [resources]
 * DescribeConfigs Request (Version: 1-2) => [resources] include_synonyms
 *   resources => resource_type resource_name [configuration_keys]
 *     resource_type => INT8                 (2 topic, 4 broker, 8 broker logger)
 *     resource_name => STRING
 *     configuration_keys => STRING          (nullable array: null means every key)
 *   include_synonyms => BOOLEAN
 *
 * DescribeConfigs Response (Version: 0) => throttle_time_ms [results]
 *   results => error_code error_message resource_type resource_name [configs]
 *     configs => name value read_only is_default is_sensitive
 * DescribeConfigs Response (Version: 1-2) => throttle_time_ms [results]
 *     configs => name value read_only config_source is_sensitive [synonyms]
 *       synonyms => name value source
 *   throttle_time_ms => INT32
 *   error_code => INT16
 *   error_message => NULLABLE_STRING
 *   resource_type => INT8
 *   resource_name => STRING
 *   name => STRING
 *   value => NULLABLE_STRING
 *   read_only => BOOLEAN
 *   is_default => BOOLEAN
 *   config_source => INT8     (1 topic, 2 dynamic broker, 4 static broker, 5 default)
 *   is_sensitive => BOOLEAN
 *   source => INT8
 */
import type { MessageSchema } from '../schema.js';

export const DescribeConfigsRequest = {
  name: 'DescribeConfigsRequest',
  fields: [
    {
      name: 'resources',
      type: {
        array: {
          struct: [
            { name: 'resourceType', type: 'int8' },
            { name: 'resourceName', type: 'string' },
            { name: 'configurationKeys', type: { array: 'string' }, nullableSince: 0 },
          ],
        },
      },
    },
    { name: 'includeSynonyms', type: 'bool', since: 1 },
  ],
} as const satisfies MessageSchema;

export const DescribeConfigsResponse = {
  name: 'DescribeConfigsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    {
      name: 'results',
      type: {
        array: {
          struct: [
            { name: 'errorCode', type: 'int16' },
            { name: 'errorMessage', type: 'string', nullableSince: 0 },
            { name: 'resourceType', type: 'int8' },
            { name: 'resourceName', type: 'string' },
            {
              name: 'configs',
              type: {
                array: {
                  struct: [
                    { name: 'name', type: 'string' },
                    { name: 'value', type: 'string', nullableSince: 0 },
                    { name: 'readOnly', type: 'bool' },
                    { name: 'isDefault', type: 'bool', until: 0 },
                    { name: 'configSource', type: 'int8', since: 1, default: -1 },
                    { name: 'isSensitive', type: 'bool' },
                    {
                      name: 'synonyms',
                      since: 1,
                      type: {
                        array: {
                          struct: [
                            { name: 'name', type: 'string' },
                            { name: 'value', type: 'string', nullableSince: 0 },
                            { name: 'source', type: 'int8' },
                          ],
                        },
                      },
                    },
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
