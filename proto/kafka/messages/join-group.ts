/**
 * JoinGroup (key 11), versions 0-5: a member asks to join a group and waits at the join barrier
 * for the others; the leader gets every member's metadata. Kafka's JoinGroupRequest.json /
 * JoinGroupResponse.json. Metadata bytes are the consumer protocol's subscription, passed through.
 *
 * JoinGroup Request (Version: 0) => group_id session_timeout_ms member_id protocol_type [protocols]
 * JoinGroup Request (Version: 1-4) => group_id session_timeout_ms rebalance_timeout_ms member_id protocol_type [protocols]
 * JoinGroup Request (Version: 5) => ... member_id group_instance_id protocol_type [protocols]
 *   group_instance_id => NULLABLE_STRING
 *   protocols => name metadata
 *     name => STRING
 *     metadata => BYTES
 *
 * JoinGroup Response (Version: 0-1) => error_code generation_id protocol_name leader member_id [members]
 * JoinGroup Response (Version: 2-4) => throttle_time_ms error_code generation_id protocol_name leader member_id [members]
 * JoinGroup Response (Version: 5) => same, members carry group_instance_id
 *   members => member_id group_instance_id(5+, NULLABLE_STRING) metadata
 */
import type { MessageSchema } from '../schema.js';

export const JoinGroupRequest = {
  name: 'JoinGroupRequest',
  fields: [
    { name: 'groupId', type: 'string' },
    { name: 'sessionTimeoutMs', type: 'int32' },
    // v0 has no rebalance timeout: Kafka uses the session timeout for both.
    { name: 'rebalanceTimeoutMs', type: 'int32', since: 1, default: -1 },
    { name: 'memberId', type: 'string' },
    { name: 'groupInstanceId', type: 'string', since: 5, nullableSince: 5, default: null },
    { name: 'protocolType', type: 'string' },
    {
      name: 'protocols',
      type: {
        array: {
          struct: [
            { name: 'name', type: 'string' },
            { name: 'metadata', type: 'bytes' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;

export const JoinGroupResponse = {
  name: 'JoinGroupResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 2 },
    { name: 'errorCode', type: 'int16' },
    { name: 'generationId', type: 'int32' },
    { name: 'protocolName', type: 'string' },
    { name: 'leader', type: 'string' },
    { name: 'memberId', type: 'string' },
    {
      name: 'members',
      type: {
        array: {
          struct: [
            { name: 'memberId', type: 'string' },
            { name: 'groupInstanceId', type: 'string', since: 5, nullableSince: 5, default: null },
            { name: 'metadata', type: 'bytes' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
