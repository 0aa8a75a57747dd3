/**
 * DeleteTopics (key 20), versions 0-3. Kafka's DeleteTopicsRequest.json /
 * DeleteTopicsResponse.json. Versions 2 and 3 have v1's layout.
 *
 * DeleteTopics Request (Version: 0-3) => [topic_names] timeout_ms
 *   topic_names => STRING
 *   timeout_ms => INT32
 *
 * DeleteTopics Response (Version: 0) => [responses]
 * DeleteTopics Response (Version: 1-3) => throttle_time_ms [responses]
 *   throttle_time_ms => INT32
 *   responses => name error_code
 *     name => STRING
 *     error_code => INT16
 */
import type { MessageSchema } from '../schema.js';

export const DeleteTopicsRequest = {
  name: 'DeleteTopicsRequest',
  fields: [
    { name: 'topicNames', type: { array: 'string' } },
    { name: 'timeoutMs', type: 'int32' },
  ],
} as const satisfies MessageSchema;

export const DeleteTopicsResponse = {
  name: 'DeleteTopicsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    {
      name: 'responses',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'errorCode', type: 'int16' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
