/**
 * FindCoordinator (key 10), versions 0-2: which broker coordinates a consumer group (key_type 0)
 * or a transactional id (key_type 1). Kafka's FindCoordinatorRequest.json /
 * FindCoordinatorResponse.json.
 *
 * FindCoordinator Request (Version: 0) => key
 * FindCoordinator Request (Version: 1-2) => key key_type
 *   key => STRING
 *   key_type => INT8
 *
 * FindCoordinator Response (Version: 0) => error_code node_id host port
 * FindCoordinator Response (Version: 1-2) => throttle_time_ms error_code error_message node_id host port
 *   throttle_time_ms => INT32
 *   error_code => INT16
 *   error_message => NULLABLE_STRING
 *   node_id => INT32
 *   host => STRING
 *   port => INT32
 */
import type { MessageSchema } from '../schema.js';

export const FindCoordinatorRequest = {
  name: 'FindCoordinatorRequest',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'keyType', type: 'int8', since: 1 },
  ],
} as const satisfies MessageSchema;

export const FindCoordinatorResponse = {
  name: 'FindCoordinatorResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    { name: 'errorCode', type: 'int16' },
    { name: 'errorMessage', type: 'string', since: 1, nullableSince: 1, default: null },
    { name: 'nodeId', type: 'int32' },
    { name: 'host', type: 'string' },
    { name: 'port', type: 'int32' },
  ],
} as const satisfies MessageSchema;
