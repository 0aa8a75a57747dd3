/**
 * ListGroups (key 16), versions 0-2: every group the coordinator knows. Kafka's
 * ListGroupsRequest.json / ListGroupsResponse.json. The states filter arrives with v4 (flexible),
 * which is not served.
 *
 * ListGroups Request (Version: 0-2) => (empty)
 *
 * ListGroups Response (Version: 0) => error_code [groups]
 * ListGroups Response (Version: 1-2) => throttle_time_ms error_code [groups]
 *   groups => group_id protocol_type
 */
import type { MessageSchema } from '../schema.js';

export const ListGroupsRequest = {
  name: 'ListGroupsRequest',
  fields: [],
} as const satisfies MessageSchema;

export const ListGroupsResponse = {
  name: 'ListGroupsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    { name: 'errorCode', type: 'int16' },
    {
      name: 'groups',
      type: {
        array: {
          struct: [
            { name: 'groupId', type: 'string' },
            { name: 'protocolType', type: 'string' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
