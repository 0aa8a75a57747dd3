/**
 * DescribeGroups (key 15), versions 0-4: each group's state, protocol and members. Kafka's
 * DescribeGroupsRequest.json / DescribeGroupsResponse.json. Authorized operations are not
 * tracked (no ACLs): answered as Kafka does when they were not asked for (-2147483648).
 *
 * DescribeGroups Request (Version: 0-2) => [groups]
 * DescribeGroups Request (Version: 3-4) => [groups] include_authorized_operations
 *
 * DescribeGroups Response (Version: 0) => [groups]
 * DescribeGroups Response (Version: 1-2) => throttle_time_ms [groups]
 * DescribeGroups Response (Version: 3-4) => throttle_time_ms [groups], groups carry authorized_operations
 *   groups => error_code group_id group_state protocol_type protocol_data [members] authorized_operations(3+)
 *     members => member_id group_instance_id(4+, NULLABLE_STRING) client_id client_host member_metadata member_assignment
 */
import type { MessageSchema } from '../schema.js';

export const DescribeGroupsRequest = {
  name: 'DescribeGroupsRequest',
  fields: [
    { name: 'groups', type: { array: 'string' } },
    { name: 'includeAuthorizedOperations', type: 'bool', since: 3 },
  ],
} as const satisfies MessageSchema;

export const DescribeGroupsResponse = {
  name: 'DescribeGroupsResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 1 },
    {
      name: 'groups',
      type: {
        array: {
          struct: [
            { name: 'errorCode', type: 'int16' },
            { name: 'groupId', type: 'string' },
            { name: 'groupState', type: 'string' },
            { name: 'protocolType', type: 'string' },
            { name: 'protocolData', type: 'string' },
            {
              name: 'members',
              type: {
                array: {
                  struct: [
                    { name: 'memberId', type: 'string' },
                    { name: 'groupInstanceId', type: 'string', since: 4, nullableSince: 4, default: null },
                    { name: 'clientId', type: 'string' },
                    { name: 'clientHost', type: 'string' },
                    { name: 'memberMetadata', type: 'bytes' },
                    { name: 'memberAssignment', type: 'bytes' },
                  ],
                },
              },
            },
            { name: 'authorizedOperations', type: 'int32', since: 3, default: -2147483648 },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
