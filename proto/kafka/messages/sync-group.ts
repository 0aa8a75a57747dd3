/**
 * SyncGroup (key 14), versions 0-3: every member of a generation asks for its assignment; the
 * leader sends everyone's. Kafka's SyncGroupRequest.json / SyncGroupResponse.json. Assignment
 * bytes are the consumer protocol's, passed through.
 *
 * SyncGroup Request (Version: 0-2) => group_id generation_id member_id [assignments]
 * SyncGroup Request (Version: 3) => group_id generation_id member_id group_instance_id [assignments]
 *   group_instance_id => NULLABLE_STRING
 *   assignments => member_id assignment
 *     member_id => STRING
 *     assignment => BYTES
 *
 * SyncGroup Response (Version: 0) => error_code assignment
 * SyncGroup Response (Version: 1-3) => throttle_time_ms error_code assignment
 */
import type { MessageSchema } from '../schema.js';

export const SyncGroupRequest = {
  name: 'SyncGroupRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    { name: 'generationId', type: 'int32' },
    { name: 'memberId', type: 'string' },
    { name: 'groupInstanceId', type: 'string', since: 3, nullableSince: 3, default: null },
    {
      name: 'assignments',
      type: {
        array: {
          struct: [
            { name: 'memberId', type: 'string' },
            { name: 'assignment', type: 'bytes' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;

export const SyncGroupResponse = {
  name: 'SyncGroupResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    { name: 'errorCode', type: 'int16' },
    { name: 'assignment', type: 'bytes' },
  ],
} as const satisfies MessageSchema;
