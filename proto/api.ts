/**
 * The native protocol's API table: one row per API names its key on the wire, its request and
 * response message types in proto/streambus.proto, and the versions this build speaks. The codec's
 * lookup, the `Api` key table and `supportedApiVersions` are all derived from this one table, and
 * the codec checks it against the .proto's `Api` enum when it loads, so none of them can drift.
 */
import type * as M from './messages.js';

interface ApiDescriptor {
  /** The Api enum value: the u16 `api` field of every frame. */
  readonly key: number;
  /** Message type names in proto/streambus.proto (package streambus.v1). */
  readonly requestType: string;
  readonly responseType: string;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** Every API of the native protocol. Keys and type names match proto/streambus.proto. */
export const apiDescriptors = {
  API_VERSIONS: { key: 0, requestType: 'ApiVersionsRequest', responseType: 'ApiVersionsResponse', minVersion: 0, maxVersion: 0 },
  METADATA: { key: 1, requestType: 'MetadataRequest', responseType: 'MetadataResponse', minVersion: 0, maxVersion: 0 },
  PRODUCE: { key: 2, requestType: 'ProduceRequest', responseType: 'ProduceResponse', minVersion: 0, maxVersion: 0 },
  FETCH: { key: 3, requestType: 'FetchRequest', responseType: 'FetchResponse', minVersion: 0, maxVersion: 0 },
  LIST_OFFSETS: { key: 4, requestType: 'ListOffsetsRequest', responseType: 'ListOffsetsResponse', minVersion: 0, maxVersion: 0 },
  CREATE_TOPICS: { key: 5, requestType: 'CreateTopicsRequest', responseType: 'CreateTopicsResponse', minVersion: 0, maxVersion: 0 },
  DELETE_TOPICS: { key: 6, requestType: 'DeleteTopicsRequest', responseType: 'DeleteTopicsResponse', minVersion: 0, maxVersion: 0 },
  DESCRIBE_CONFIGS: { key: 7, requestType: 'DescribeConfigsRequest', responseType: 'DescribeConfigsResponse', minVersion: 0, maxVersion: 0 },
  ALTER_CONFIGS: { key: 8, requestType: 'AlterConfigsRequest', responseType: 'AlterConfigsResponse', minVersion: 0, maxVersion: 0 },
  CREATE_PARTITIONS: { key: 9, requestType: 'CreatePartitionsRequest', responseType: 'CreatePartitionsResponse', minVersion: 0, maxVersion: 0 },
  DELETE_RECORDS: { key: 10, requestType: 'DeleteRecordsRequest', responseType: 'DeleteRecordsResponse', minVersion: 0, maxVersion: 0 },
  COORDINATOR_STATUS: { key: 11, requestType: 'CoordinatorStatusRequest', responseType: 'CoordinatorStatusResponse', minVersion: 0, maxVersion: 0 },
  FETCH_METADATA: { key: 12, requestType: 'FetchMetadataRequest', responseType: 'FetchMetadataResponse', minVersion: 0, maxVersion: 0 },
  BROKER_REGISTRATION: { key: 13, requestType: 'BrokerRegistrationRequest', responseType: 'BrokerRegistrationResponse', minVersion: 0, maxVersion: 0 },
  BROKER_HEARTBEAT: { key: 14, requestType: 'BrokerHeartbeatRequest', responseType: 'BrokerHeartbeatResponse', minVersion: 0, maxVersion: 0 },
  CHANGE_MEMBERSHIP: { key: 15, requestType: 'ChangeMembershipRequest', responseType: 'ChangeMembershipResponse', minVersion: 0, maxVersion: 0 },
  TRANSFER_LEADERSHIP: { key: 16, requestType: 'TransferLeadershipRequest', responseType: 'TransferLeadershipResponse', minVersion: 0, maxVersion: 0 },
  ALTER_PARTITION: { key: 17, requestType: 'AlterPartitionRequest', responseType: 'AlterPartitionResponse', minVersion: 0, maxVersion: 0 },
  ELECT_LEADERS: { key: 18, requestType: 'ElectLeadersRequest', responseType: 'ElectLeadersResponse', minVersion: 0, maxVersion: 0 },
  ALTER_PARTITION_REASSIGNMENTS: {
    key: 19,
    requestType: 'AlterPartitionReassignmentsRequest',
    responseType: 'AlterPartitionReassignmentsResponse',
    minVersion: 0,
    maxVersion: 0,
  },
  LIST_PARTITION_REASSIGNMENTS: {
    key: 20,
    requestType: 'ListPartitionReassignmentsRequest',
    responseType: 'ListPartitionReassignmentsResponse',
    minVersion: 0,
    maxVersion: 0,
  },
  BROKER_MAINTENANCE: { key: 21, requestType: 'BrokerMaintenanceRequest', responseType: 'BrokerMaintenanceResponse', minVersion: 0, maxVersion: 0 },
  FIND_COORDINATOR: { key: 30, requestType: 'FindCoordinatorRequest', responseType: 'FindCoordinatorResponse', minVersion: 0, maxVersion: 0 },
  JOIN_GROUP: { key: 31, requestType: 'JoinGroupRequest', responseType: 'JoinGroupResponse', minVersion: 0, maxVersion: 0 },
  SYNC_GROUP: { key: 32, requestType: 'SyncGroupRequest', responseType: 'SyncGroupResponse', minVersion: 0, maxVersion: 0 },
  HEARTBEAT: { key: 33, requestType: 'HeartbeatRequest', responseType: 'HeartbeatResponse', minVersion: 0, maxVersion: 0 },
  LEAVE_GROUP: { key: 34, requestType: 'LeaveGroupRequest', responseType: 'LeaveGroupResponse', minVersion: 0, maxVersion: 0 },
  OFFSET_COMMIT: { key: 35, requestType: 'OffsetCommitRequest', responseType: 'OffsetCommitResponse', minVersion: 0, maxVersion: 0 },
  OFFSET_FETCH: { key: 36, requestType: 'OffsetFetchRequest', responseType: 'OffsetFetchResponse', minVersion: 0, maxVersion: 0 },
  LIST_GROUPS: { key: 37, requestType: 'ListGroupsRequest', responseType: 'ListGroupsResponse', minVersion: 0, maxVersion: 0 },
  DESCRIBE_GROUPS: { key: 38, requestType: 'DescribeGroupsRequest', responseType: 'DescribeGroupsResponse', minVersion: 0, maxVersion: 0 },
  DELETE_GROUPS: { key: 39, requestType: 'DeleteGroupsRequest', responseType: 'DeleteGroupsResponse', minVersion: 0, maxVersion: 0 },
  OFFSET_DELETE: { key: 40, requestType: 'OffsetDeleteRequest', responseType: 'OffsetDeleteResponse', minVersion: 0, maxVersion: 0 },
  INIT_PRODUCER_ID: { key: 41, requestType: 'InitProducerIdRequest', responseType: 'InitProducerIdResponse', minVersion: 0, maxVersion: 0 },
  ADD_PARTITIONS_TO_TXN: { key: 42, requestType: 'AddPartitionsToTxnRequest', responseType: 'AddPartitionsToTxnResponse', minVersion: 0, maxVersion: 0 },
  ADD_OFFSETS_TO_TXN: { key: 43, requestType: 'AddOffsetsToTxnRequest', responseType: 'AddOffsetsToTxnResponse', minVersion: 0, maxVersion: 0 },
  END_TXN: { key: 44, requestType: 'EndTxnRequest', responseType: 'EndTxnResponse', minVersion: 0, maxVersion: 0 },
  TXN_OFFSET_COMMIT: { key: 45, requestType: 'TxnOffsetCommitRequest', responseType: 'TxnOffsetCommitResponse', minVersion: 0, maxVersion: 0 },
  WRITE_TXN_MARKERS: { key: 46, requestType: 'WriteTxnMarkersRequest', responseType: 'WriteTxnMarkersResponse', minVersion: 0, maxVersion: 0 },
  LIST_TRANSACTIONS: { key: 47, requestType: 'ListTransactionsRequest', responseType: 'ListTransactionsResponse', minVersion: 0, maxVersion: 0 },
  DESCRIBE_TRANSACTIONS: { key: 48, requestType: 'DescribeTransactionsRequest', responseType: 'DescribeTransactionsResponse', minVersion: 0, maxVersion: 0 },
  DESCRIBE_PRODUCERS: { key: 49, requestType: 'DescribeProducersRequest', responseType: 'DescribeProducersResponse', minVersion: 0, maxVersion: 0 },
} as const satisfies Record<string, ApiDescriptor>;

/** The name of an API, as in the .proto's `Api` enum: 'PRODUCE', 'FETCH', ... */
export type ApiName = keyof typeof apiDescriptors;

/** The APIs served by coordinator nodes (the Raft group), not by brokers. */
export const coordinatorApis = [
  'COORDINATOR_STATUS',
  'FETCH_METADATA',
  'BROKER_REGISTRATION',
  'BROKER_HEARTBEAT',
  'CHANGE_MEMBERSHIP',
  'TRANSFER_LEADERSHIP',
  'ALTER_PARTITION',
  'ELECT_LEADERS',
  'ALTER_PARTITION_REASSIGNMENTS',
  'LIST_PARTITION_REASSIGNMENTS',
  'BROKER_MAINTENANCE',
  // Consumer groups: the group coordinator runs on the coordinator leader.
  'FIND_COORDINATOR',
  'JOIN_GROUP',
  'SYNC_GROUP',
  'HEARTBEAT',
  'LEAVE_GROUP',
  'OFFSET_COMMIT',
  'OFFSET_FETCH',
  'LIST_GROUPS',
  'DESCRIBE_GROUPS',
  'DELETE_GROUPS',
  'OFFSET_DELETE',
  // Producer ids and transactions: the transaction coordinator runs on the coordinator leader.
  'INIT_PRODUCER_ID',
  'ADD_PARTITIONS_TO_TXN',
  'ADD_OFFSETS_TO_TXN',
  'END_TXN',
  'TXN_OFFSET_COMMIT',
  'LIST_TRANSACTIONS',
  'DESCRIBE_TRANSACTIONS',
] as const satisfies readonly ApiName[];
export type CoordinatorApiName = (typeof coordinatorApis)[number];
/** The APIs a broker serves. */
export type BrokerApiName = Exclude<ApiName, CoordinatorApiName>;

export function isCoordinatorApi(api: ApiName): api is CoordinatorApiName {
  return (coordinatorApis as readonly ApiName[]).includes(api);
}

/** API names to wire keys, e.g. `Api.PRODUCE === 2`. */
export const Api = Object.fromEntries(
  Object.entries(apiDescriptors).map(([name, descriptor]) => [name, descriptor.key]),
) as { readonly [A in ApiName]: (typeof apiDescriptors)[A]['key'] };
export type Api = (typeof Api)[ApiName];

/** The request and response message of each API. Kept beside the table so a new row needs both. */
interface ApiMessages {
  API_VERSIONS: { request: M.ApiVersionsRequest; response: M.ApiVersionsResponse };
  METADATA: { request: M.MetadataRequest; response: M.MetadataResponse };
  PRODUCE: { request: M.ProduceRequest; response: M.ProduceResponse };
  FETCH: { request: M.FetchRequest; response: M.FetchResponse };
  LIST_OFFSETS: { request: M.ListOffsetsRequest; response: M.ListOffsetsResponse };
  CREATE_TOPICS: { request: M.CreateTopicsRequest; response: M.CreateTopicsResponse };
  DELETE_TOPICS: { request: M.DeleteTopicsRequest; response: M.DeleteTopicsResponse };
  DESCRIBE_CONFIGS: { request: M.DescribeConfigsRequest; response: M.DescribeConfigsResponse };
  ALTER_CONFIGS: { request: M.AlterConfigsRequest; response: M.AlterConfigsResponse };
  CREATE_PARTITIONS: { request: M.CreatePartitionsRequest; response: M.CreatePartitionsResponse };
  DELETE_RECORDS: { request: M.DeleteRecordsRequest; response: M.DeleteRecordsResponse };
  COORDINATOR_STATUS: { request: M.CoordinatorStatusRequest; response: M.CoordinatorStatusResponse };
  FETCH_METADATA: { request: M.FetchMetadataRequest; response: M.FetchMetadataResponse };
  BROKER_REGISTRATION: { request: M.BrokerRegistrationRequest; response: M.BrokerRegistrationResponse };
  BROKER_HEARTBEAT: { request: M.BrokerHeartbeatRequest; response: M.BrokerHeartbeatResponse };
  CHANGE_MEMBERSHIP: { request: M.ChangeMembershipRequest; response: M.ChangeMembershipResponse };
  TRANSFER_LEADERSHIP: { request: M.TransferLeadershipRequest; response: M.TransferLeadershipResponse };
  ALTER_PARTITION: { request: M.AlterPartitionRequest; response: M.AlterPartitionResponse };
  ELECT_LEADERS: { request: M.ElectLeadersRequest; response: M.ElectLeadersResponse };
  ALTER_PARTITION_REASSIGNMENTS: { request: M.AlterPartitionReassignmentsRequest; response: M.AlterPartitionReassignmentsResponse };
  LIST_PARTITION_REASSIGNMENTS: { request: M.ListPartitionReassignmentsRequest; response: M.ListPartitionReassignmentsResponse };
  BROKER_MAINTENANCE: { request: M.BrokerMaintenanceRequest; response: M.BrokerMaintenanceResponse };
  FIND_COORDINATOR: { request: M.FindCoordinatorRequest; response: M.FindCoordinatorResponse };
  JOIN_GROUP: { request: M.JoinGroupRequest; response: M.JoinGroupResponse };
  SYNC_GROUP: { request: M.SyncGroupRequest; response: M.SyncGroupResponse };
  HEARTBEAT: { request: M.HeartbeatRequest; response: M.HeartbeatResponse };
  LEAVE_GROUP: { request: M.LeaveGroupRequest; response: M.LeaveGroupResponse };
  OFFSET_COMMIT: { request: M.OffsetCommitRequest; response: M.OffsetCommitResponse };
  OFFSET_FETCH: { request: M.OffsetFetchRequest; response: M.OffsetFetchResponse };
  LIST_GROUPS: { request: M.ListGroupsRequest; response: M.ListGroupsResponse };
  DESCRIBE_GROUPS: { request: M.DescribeGroupsRequest; response: M.DescribeGroupsResponse };
  DELETE_GROUPS: { request: M.DeleteGroupsRequest; response: M.DeleteGroupsResponse };
  OFFSET_DELETE: { request: M.OffsetDeleteRequest; response: M.OffsetDeleteResponse };
  INIT_PRODUCER_ID: { request: M.InitProducerIdRequest; response: M.InitProducerIdResponse };
  ADD_PARTITIONS_TO_TXN: { request: M.AddPartitionsToTxnRequest; response: M.AddPartitionsToTxnResponse };
  ADD_OFFSETS_TO_TXN: { request: M.AddOffsetsToTxnRequest; response: M.AddOffsetsToTxnResponse };
  END_TXN: { request: M.EndTxnRequest; response: M.EndTxnResponse };
  TXN_OFFSET_COMMIT: { request: M.TxnOffsetCommitRequest; response: M.TxnOffsetCommitResponse };
  WRITE_TXN_MARKERS: { request: M.WriteTxnMarkersRequest; response: M.WriteTxnMarkersResponse };
  LIST_TRANSACTIONS: { request: M.ListTransactionsRequest; response: M.ListTransactionsResponse };
  DESCRIBE_TRANSACTIONS: { request: M.DescribeTransactionsRequest; response: M.DescribeTransactionsResponse };
  DESCRIBE_PRODUCERS: { request: M.DescribeProducersRequest; response: M.DescribeProducersResponse };
}
// A compile error here means a row of apiDescriptors has no entry in ApiMessages, or the reverse.
type _SameKeys = [ApiName] extends [keyof ApiMessages] ? ([keyof ApiMessages] extends [ApiName] ? true : never) : never;
const _sameKeys: _SameKeys = true;
void _sameKeys;

export type RequestOf<A extends ApiName> = ApiMessages[A]['request'];
export type ResponseOf<A extends ApiName> = ApiMessages[A]['response'];

const apiNameByKey = new Map<number, ApiName>(
  (Object.keys(apiDescriptors) as ApiName[]).map((name) => [apiDescriptors[name].key, name]),
);

/** The API with this wire key, or undefined for a key this build does not know. */
export function apiNameOf(key: number): ApiName | undefined {
  return apiNameByKey.get(key);
}

/** Whether this build can decode and serve `version` of `api`. */
export function isVersionSupported(api: ApiName, version: number): boolean {
  const descriptor = apiDescriptors[api];
  return version >= descriptor.minVersion && version <= descriptor.maxVersion;
}

const versionRanges: readonly Readonly<M.ApiVersionRange>[] = Object.values(apiDescriptors)
  .map((d) => ({ api: d.key, minVersion: d.minVersion, maxVersion: d.maxVersion }))
  .sort((a, b) => a.api - b.api);

/**
 * The versions this build speaks, ordered by key: a fresh array each call, ready to place in
 * ApiVersionsResponse.apis.
 */
export function supportedApiVersions(): M.ApiVersionRange[] {
  return versionRanges.map((range) => ({ ...range }));
}
