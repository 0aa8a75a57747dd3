/**
 * ApiVersions (key 18), versions 0-3: which API versions the broker serves. Kafka's
 * ApiVersionsRequest.json / ApiVersionsResponse.json.
 *
 * Version 3 is flexible (compact strings and arrays, tagged fields) and is what librdkafka sends
 * first; its response header stays v0 (no tagged fields) whatever the version, so a client can read
 * the answer before it knows which versions the broker speaks. A request at a version the broker
 * does not serve is answered in the v0 layout with UNSUPPORTED_VERSION and the supported table.
 *
 * ApiVersions Request (Version: 0-2) => (empty)
 * ApiVersions Request (Version: 3) => client_software_name client_software_version TAG_BUFFER
 *   client_software_name => COMPACT_STRING
 *   client_software_version => COMPACT_STRING
 *
 * ApiVersions Response (Version: 0) => error_code [api_keys]
 * ApiVersions Response (Version: 1-2) => error_code [api_keys] throttle_time_ms
 * ApiVersions Response (Version: 3) => error_code [api_keys] throttle_time_ms TAG_BUFFER
 *   error_code => INT16
 *   api_keys => api_key min_version max_version (TAG_BUFFER in v3)
 *     api_key => INT16
 *     min_version => INT16
 *     max_version => INT16
 *   throttle_time_ms => INT32
 */
import type { MessageSchema } from '../schema.js';

export const ApiVersionsRequest = {
  name: 'ApiVersionsRequest',
  flexibleSince: 3,
  fields: [
    { name: 'clientSoftwareName', type: 'string', since: 3 },
    { name: 'clientSoftwareVersion', type: 'string', since: 3 },
  ],
} as const satisfies MessageSchema;

export const ApiVersionsResponse = {
  name: 'ApiVersionsResponse',
  flexibleSince: 3,
  fields: [
    { name: 'errorCode', type: 'int16' },
    {
      name: 'apiKeys',
      type: {
        array: {
          struct: [
            { name: 'apiKey', type: 'int16' },
            { name: 'minVersion', type: 'int16' },
            { name: 'maxVersion', type: 'int16' },
          ],
        },
      },
    },
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
  ],
} as const satisfies MessageSchema;
