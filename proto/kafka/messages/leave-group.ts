/**
 * LeaveGroup (key 13), versions 0-3: members leave a group at once, so it rebalances without
 * waiting for their sessions to expire. Kafka's LeaveGroupRequest.json / LeaveGroupResponse.json.
 * v3 (KIP-345) names a batch of members, each by member id or group instance id.
 *
 * LeaveGroup Request (Version: 0-2) => group_id member_id
 * LeaveGroup Request (Version: 3) => group_id [members]
 *   members => member_id group_instance_id
 *     group_instance_id => NULLABLE_STRING
 *
 * LeaveGroup Response (Version: 0) => error_code
 * LeaveGroup Response (Version: 1-2) => throttle_time_ms error_code
 * LeaveGroup Response (Version: 3) => throttle_time_ms error_code [members]
 *   members => member_id group_instance_id error_code
 */
import type { MessageSchema } from '../schema.js';

export const LeaveGroupRequest = {
  name: 'LeaveGroupRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    { name: 'memberId', type: 'string', until: 2 },
    {
      name: 'members',
      since: 3,
      type: {
        array: {
          struct: [
            { name: 'memberId', type: 'string' },
            { name: 'groupInstanceId', type: 'string', nullableSince: 3 },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;

export const LeaveGroupResponse = {
  name: 'LeaveGroupResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    { name: 'errorCode', type: 'int16' },
    {
      name: 'members',
      since: 3,
      type: {
        array: {
          struct: [
            { name: 'memberId', type: 'string' },
            { name: 'groupInstanceId', type: 'string', nullableSince: 3 },
            { name: 'errorCode', type: 'int16' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
