/**
 * Heartbeat (key 12), versions 0-3: a member keeps its session and learns of a rebalance.
 * Kafka's HeartbeatRequest.json / HeartbeatResponse.json.
 *
 * Heartbeat Request (Version: 0-2) => group_id generation_id member_id
 * Heartbeat Request (Version: 3) => group_id generation_id member_id group_instance_id
 *   group_instance_id => NULLABLE_STRING
 *
 * Heartbeat Response (Version: 0) => error_code
 * Heartbeat Response (Version: 1-3) => throttle_time_ms error_code
 */
import type { MessageSchema } from '../schema.js';

export const HeartbeatRequest = {
  name: 'HeartbeatRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    { name: 'generationId', type: 'int32' },
    { name: 'memberId', type: 'string' },
    { name: 'groupInstanceId', type: 'string', since: 3, nullableSince: 3, default: null },
  ],
} as const satisfies MessageSchema;

export const HeartbeatResponse = {
  name: 'HeartbeatResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    { name: 'errorCode', type: 'int16' },
  ],
} as const satisfies MessageSchema;
