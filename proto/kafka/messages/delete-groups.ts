/**
 * DeleteGroups (key 42), versions 0-1: deletes empty groups with their offsets. Kafka's
 * DeleteGroupsRequest.json / DeleteGroupsResponse.json; v1 has v0's layout.
 *
 * DeleteGroups Request (Version: 0-1) => [groups_names]
 *
 * DeleteGroups Response (Version: 0-1) => throttle_time_ms [results]
 *   results => group_id error_code
 */
import type { MessageSchema } from '../schema.js';

export const DeleteGroupsRequest = {
  name: 'DeleteGroupsRequest',
  fields: [{ name: 'groupsNames', type: { array: 'string' } }],
} as const satisfies MessageSchema;

export const DeleteGroupsResponse = {
  name: 'DeleteGroupsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32' },
    {
      name: 'results',
      type: {
        array: {
          struct: [
            { name: 'groupId', type: 'string' },
            { name: 'errorCode', type: 'int16' },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
