/**
 * Metadata (key 3), versions 0-6: brokers, the controller and the partitions of topics, creating
 * missing topics when allowed. Kafka's MetadataRequest.json / MetadataResponse.json.
 *
 * Metadata Request (Version: 0) => [topics]
 *   topics => name
 *     name => STRING
 * Metadata Request (Version: 1-3) => [topics]        (topics may be null: every topic)
 * Metadata Request (Version: 4-6) => [topics] allow_auto_topic_creation
 *   allow_auto_topic_creation => BOOLEAN
 *
 * In v0 an empty topic list means every topic; from v1 null means every topic and an empty list
 * none. Versions before 4 always allow auto-creation.
 *
 * Metadata Response (Version: 0) => [brokers] [topics]
 * Metadata Response (Version: 1) => [brokers] controller_id [topics]
 * Metadata Response (Version: 2) => [brokers] cluster_id controller_id [topics]
 * Metadata Response (Version: 3-6) => throttle_time_ms [brokers] cluster_id controller_id [topics]
 *   throttle_time_ms => INT32
 *   brokers => node_id host port rack(v1+)
 *     node_id => INT32
 *     host => STRING
 *     port => INT32
 *     rack => NULLABLE_STRING
 *   cluster_id => NULLABLE_STRING
 *   controller_id => INT32
 *   topics => error_code name is_internal(v1+) [partitions]
 *     error_code => INT16
 *     name => STRING
 *     is_internal => BOOLEAN
 *     partitions => error_code partition_index leader_id [replica_nodes] [isr_nodes] [offline_replicas](v5+)
 *       error_code => INT16
 *       partition_index => INT32
 *       leader_id => INT32
 *       replica_nodes => INT32
 *       isr_nodes => INT32
 *       offline_replicas => INT32
 */
import type { MessageSchema } from '../schema.js';

export const MetadataRequest = {
  name: 'MetadataRequest',
  fields: [
    { name: 'topics', type: { array: { struct: [{ name: 'name', type: 'string' }] } }, nullableSince: 1 },
    { name: 'allowAutoTopicCreation', type: 'bool', since: 4, default: true },
  ],
} as const satisfies MessageSchema;

export const MetadataResponse = {
  name: 'MetadataResponse',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', since: 3 },
    {
      name: 'brokers',
      type: {
        array: {
          struct: [
            { name: 'nodeId', type: 'int32' },
            { name: 'host', type: 'string' },
            { name: 'port', type: 'int32' },
            { name: 'rack', type: 'string', since: 1, nullableSince: 1, default: null },
          ],
        },
      },
    },
    { name: 'clusterId', type: 'string', since: 2, nullableSince: 2, default: null },
    { name: 'controllerId', type: 'int32', since: 1, default: -1 },
    {
      name: 'topics',
      type: {
        array: {
          struct: [
            { name: 'errorCode', type: 'int16' },
            { name: 'name', type: 'string' },
            { name: 'isInternal', type: 'bool', since: 1 },
            {
              name: 'partitions',
              type: {
                array: {
                  struct: [
                    { name: 'errorCode', type: 'int16' },
                    { name: 'partitionIndex', type: 'int32' },
                    { name: 'leaderId', type: 'int32' },
                    { name: 'replicaNodes', type: { array: 'int32' } },
                    { name: 'isrNodes', type: { array: 'int32' } },
                    { name: 'offlineReplicas', type: { array: 'int32' }, since: 5 },
                  ],
                },
              },
            },
          ],
        },
      },
    },
  ],
} as const satisfies MessageSchema;
