/**
 * The Kafka APIs StreamBus serves: one row per API with its key, the version range served and the
 * request and response schemas (./messages/). The ApiVersions answer, the version check of every
 * request and the codecs are all read from this table, so what the broker advertises and what it
 * can decode cannot drift apart.
 *
 * The ranges follow what kafkajs 2.2.4, librdkafka 2.0.2 and kafka-python 2.0.2 negotiate: classic
 * (non-flexible) versions, plus ApiVersions v3, which librdkafka sends first. Fetch starts at 4
 * because earlier versions carry the legacy message formats, which StreamBus does not store.
 * Produce starts at 0 for librdkafka 2.0.2's feature checks (it compresses with gzip, snappy or
 * lz4 only when Produce v0 is advertised; legacy message sets are refused per partition), and
 * FindCoordinator at 0 (it enables LZ4 only when FindCoordinator v0 is advertised). The group
 * APIs (FindCoordinator, JoinGroup ... DeleteGroups, OffsetDelete) are served at the classic versions the three
 * clients send; OffsetCommit starts at 2 and OffsetFetch at 1 (v0 of both kept offsets in
 * ZooKeeper, and kafkajs crashes when OffsetFetch's maximum is 0). The transaction APIs
 * (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit) start at 0:
 * librdkafka enables idempotence only when InitProducerId v0 is advertised and sends
 * AddPartitionsToTxn and AddOffsetsToTxn at v0 only; they stop before KIP-588's versions, so
 * PRODUCER_FENCED reaches those clients as INVALID_PRODUCER_EPOCH (./errors.ts).
 *
 * Pure: no node:* imports.
 */
import { decodeMessage, encodeMessage } from './codec.js';
import { decodeResponseHeader, encodeRequestHeader, encodeResponseHeader, type RequestHeaderVersion, type ResponseHeaderVersion } from './header.js';
import { FRAME_SIZE_BYTES } from './frame.js';
import { isFlexible, type Decoded, type Encodable, type MessageSchema } from './schema.js';
import { KafkaWriter } from './writer.js';
import { AlterConfigsRequest, AlterConfigsResponse } from './messages/alter-configs.js';
import { ApiVersionsRequest, ApiVersionsResponse } from './messages/api-versions.js';
import { CreatePartitionsRequest, CreatePartitionsResponse } from './messages/create-partitions.js';
import { CreateTopicsRequest, CreateTopicsResponse } from './messages/create-topics.js';
import { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from './messages/add-offsets-to-txn.js';
import { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from './messages/add-partitions-to-txn.js';
import { DeleteRecordsRequest, DeleteRecordsResponse } from './messages/delete-records.js';
import { DeleteTopicsRequest, DeleteTopicsResponse } from './messages/delete-topics.js';
import { DescribeConfigsRequest, DescribeConfigsResponse } from './messages/describe-configs.js';
import { FetchRequest, FetchResponse } from './messages/fetch.js';
import { EndTxnRequest, EndTxnResponse } from './messages/end-txn.js';
import { FindCoordinatorRequest, FindCoordinatorResponse } from './messages/find-coordinator.js';
import { InitProducerIdRequest, InitProducerIdResponse } from './messages/init-producer-id.js';
import { DeleteGroupsRequest, DeleteGroupsResponse } from './messages/delete-groups.js';
import { DescribeGroupsRequest, DescribeGroupsResponse } from './messages/describe-groups.js';
import { HeartbeatRequest, HeartbeatResponse } from './messages/heartbeat.js';
import { JoinGroupRequest, JoinGroupResponse } from './messages/join-group.js';
import { LeaveGroupRequest, LeaveGroupResponse } from './messages/leave-group.js';
import { ListGroupsRequest, ListGroupsResponse } from './messages/list-groups.js';
import { OffsetCommitRequest, OffsetCommitResponse } from './messages/offset-commit.js';
import { OffsetDeleteRequest, OffsetDeleteResponse } from './messages/offset-delete.js';
import { OffsetFetchRequest, OffsetFetchResponse } from './messages/offset-fetch.js';
import { SyncGroupRequest, SyncGroupResponse } from './messages/sync-group.js';
import { ListOffsetsRequest, ListOffsetsResponse } from './messages/list-offsets.js';
import { MetadataRequest, MetadataResponse } from './messages/metadata.js';
import { ProduceRequest, ProduceResponse } from './messages/produce.js';
import { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from './messages/txn-offset-commit.js';
import { KafkaErrorCode } from './errors.js';

interface KafkaApiDescriptor {
  /** The api_key of the request header. */
  readonly key: number;
  /** Kafka's name of the API. */
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly request: MessageSchema;
  readonly response: MessageSchema;
}

/** Every Kafka API the listener serves, by StreamBus's name for it. */
export const kafkaApis = {
  PRODUCE: { key: 0, name: 'Produce', minVersion: 0, maxVersion: 7, request: ProduceRequest, response: ProduceResponse },
  FETCH: { key: 1, name: 'Fetch', minVersion: 4, maxVersion: 11, request: FetchRequest, response: FetchResponse },
  LIST_OFFSETS: { key: 2, name: 'ListOffsets', minVersion: 1, maxVersion: 3, request: ListOffsetsRequest, response: ListOffsetsResponse },
  METADATA: { key: 3, name: 'Metadata', minVersion: 0, maxVersion: 6, request: MetadataRequest, response: MetadataResponse },
  OFFSET_COMMIT: { key: 8, name: 'OffsetCommit', minVersion: 2, maxVersion: 7, request: OffsetCommitRequest, response: OffsetCommitResponse },
  OFFSET_FETCH: { key: 9, name: 'OffsetFetch', minVersion: 1, maxVersion: 5, request: OffsetFetchRequest, response: OffsetFetchResponse },
  FIND_COORDINATOR: { key: 10, name: 'FindCoordinator', minVersion: 0, maxVersion: 2, request: FindCoordinatorRequest, response: FindCoordinatorResponse },
  JOIN_GROUP: { key: 11, name: 'JoinGroup', minVersion: 0, maxVersion: 5, request: JoinGroupRequest, response: JoinGroupResponse },
  HEARTBEAT: { key: 12, name: 'Heartbeat', minVersion: 0, maxVersion: 3, request: HeartbeatRequest, response: HeartbeatResponse },
  LEAVE_GROUP: { key: 13, name: 'LeaveGroup', minVersion: 0, maxVersion: 3, request: LeaveGroupRequest, response: LeaveGroupResponse },
  SYNC_GROUP: { key: 14, name: 'SyncGroup', minVersion: 0, maxVersion: 3, request: SyncGroupRequest, response: SyncGroupResponse },
  DESCRIBE_GROUPS: { key: 15, name: 'DescribeGroups', minVersion: 0, maxVersion: 4, request: DescribeGroupsRequest, response: DescribeGroupsResponse },
  LIST_GROUPS: { key: 16, name: 'ListGroups', minVersion: 0, maxVersion: 2, request: ListGroupsRequest, response: ListGroupsResponse },
  API_VERSIONS: { key: 18, name: 'ApiVersions', minVersion: 0, maxVersion: 3, request: ApiVersionsRequest, response: ApiVersionsResponse },
  CREATE_TOPICS: { key: 19, name: 'CreateTopics', minVersion: 0, maxVersion: 4, request: CreateTopicsRequest, response: CreateTopicsResponse },
  DELETE_TOPICS: { key: 20, name: 'DeleteTopics', minVersion: 0, maxVersion: 3, request: DeleteTopicsRequest, response: DeleteTopicsResponse },
  DELETE_RECORDS: { key: 21, name: 'DeleteRecords', minVersion: 0, maxVersion: 1, request: DeleteRecordsRequest, response: DeleteRecordsResponse },
  INIT_PRODUCER_ID: { key: 22, name: 'InitProducerId', minVersion: 0, maxVersion: 1, request: InitProducerIdRequest, response: InitProducerIdResponse },
  ADD_PARTITIONS_TO_TXN: { key: 24, name: 'AddPartitionsToTxn', minVersion: 0, maxVersion: 1, request: AddPartitionsToTxnRequest, response: AddPartitionsToTxnResponse },
  ADD_OFFSETS_TO_TXN: { key: 25, name: 'AddOffsetsToTxn', minVersion: 0, maxVersion: 1, request: AddOffsetsToTxnRequest, response: AddOffsetsToTxnResponse },
  END_TXN: { key: 26, name: 'EndTxn', minVersion: 0, maxVersion: 1, request: EndTxnRequest, response: EndTxnResponse },
  TXN_OFFSET_COMMIT: { key: 28, name: 'TxnOffsetCommit', minVersion: 0, maxVersion: 2, request: TxnOffsetCommitRequest, response: TxnOffsetCommitResponse },
  DESCRIBE_CONFIGS: { key: 32, name: 'DescribeConfigs', minVersion: 0, maxVersion: 2, request: DescribeConfigsRequest, response: DescribeConfigsResponse },
  ALTER_CONFIGS: { key: 33, name: 'AlterConfigs', minVersion: 0, maxVersion: 1, request: AlterConfigsRequest, response: AlterConfigsResponse },
  CREATE_PARTITIONS: { key: 37, name: 'CreatePartitions', minVersion: 0, maxVersion: 1, request: CreatePartitionsRequest, response: CreatePartitionsResponse },
  DELETE_GROUPS: { key: 42, name: 'DeleteGroups', minVersion: 0, maxVersion: 1, request: DeleteGroupsRequest, response: DeleteGroupsResponse },
  OFFSET_DELETE: { key: 47, name: 'OffsetDelete', minVersion: 0, maxVersion: 0, request: OffsetDeleteRequest, response: OffsetDeleteResponse },
} as const satisfies Record<string, KafkaApiDescriptor>;

export type KafkaApiName = keyof typeof kafkaApis;

type RequestSchemaOf<A extends KafkaApiName> = (typeof kafkaApis)[A]['request'];
type ResponseSchemaOf<A extends KafkaApiName> = (typeof kafkaApis)[A]['response'];

/** A request as the broker decodes it. */
export type KafkaRequest<A extends KafkaApiName> = Decoded<RequestSchemaOf<A>>;
/** A response as the broker builds it. */
export type KafkaResponse<A extends KafkaApiName> = Encodable<ResponseSchemaOf<A>>;
/** A request as a client builds it (tests and tools). */
export type KafkaRequestInput<A extends KafkaApiName> = Encodable<RequestSchemaOf<A>>;
/** A response as a client decodes it (tests and tools). */
export type KafkaResponseOutput<A extends KafkaApiName> = Decoded<ResponseSchemaOf<A>>;

const apiNames = Object.keys(kafkaApis) as KafkaApiName[];
const apiByKey = new Map<number, KafkaApiName>(apiNames.map((name) => [kafkaApis[name].key, name]));

/** The API with this api_key, or undefined when StreamBus does not serve it. */
export function kafkaApiOf(apiKey: number): KafkaApiName | undefined {
  return apiByKey.get(apiKey);
}

export function isKafkaVersionSupported(api: KafkaApiName, version: number): boolean {
  return version >= kafkaApis[api].minVersion && version <= kafkaApis[api].maxVersion;
}

export interface KafkaApiVersionRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

const versionTable: readonly Readonly<KafkaApiVersionRange>[] = apiNames
  .map((name) => ({ apiKey: kafkaApis[name].key, minVersion: kafkaApis[name].minVersion, maxVersion: kafkaApis[name].maxVersion }))
  .sort((a, b) => a.apiKey - b.apiKey);

/** The ApiVersions table: every served API with its range, ordered by key. A fresh array each call. */
export function kafkaApiVersions(): KafkaApiVersionRange[] {
  return versionTable.map((range) => ({ ...range }));
}

/**
 * The request header version of a request: 2 for flexible versions, else 1. An ApiVersions
 * request above the served range is taken as flexible (a newer client's), as Kafka does.
 */
export function requestHeaderVersion(api: KafkaApiName, version: number): RequestHeaderVersion {
  if (api === 'API_VERSIONS' && version > kafkaApis.API_VERSIONS.maxVersion) return 2;
  return isFlexible(kafkaApis[api].request, version) ? 2 : 1;
}

/** The response header version: 1 for flexible versions, else 0; always 0 for ApiVersions. */
export function responseHeaderVersion(api: KafkaApiName, version: number): ResponseHeaderVersion {
  if (api === 'API_VERSIONS') return 0;
  return isFlexible(kafkaApis[api].response, version) ? 1 : 0;
}

/** Decodes a request body that starts at `bodyOffset` of the frame. Throws MALFORMED_FRAME. */
export function decodeKafkaRequest<A extends KafkaApiName>(api: A, version: number, frame: Buffer, bodyOffset: number): KafkaRequest<A> {
  return decodeMessage(kafkaApis[api].request as RequestSchemaOf<A>, version, frame, bodyOffset);
}

/**
 * A whole response frame (size field, header, body) as chunks to write in order; record data in
 * the body is passed through uncopied (see ./writer.ts).
 */
export function encodeKafkaResponseFrame<A extends KafkaApiName>(api: A, version: number, correlationId: number, body: KafkaResponse<A>): Buffer[] {
  const writer = new KafkaWriter();
  encodeResponseHeader(writer, correlationId, responseHeaderVersion(api, version));
  encodeMessage(kafkaApis[api].response as ResponseSchemaOf<A>, version, body, writer);
  return withSizeField(writer.finish());
}

/**
 * The answer to an ApiVersions request at a version the broker does not serve: the v0 layout
 * with UNSUPPORTED_VERSION and the supported table, so the client can retry at a version both
 * sides speak.
 */
export function encodeUnsupportedApiVersionsFrame(correlationId: number): Buffer[] {
  return encodeKafkaResponseFrame('API_VERSIONS', 0, correlationId, {
    errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
    apiKeys: kafkaApiVersions(),
    throttleTimeMs: 0,
  });
}

/** A whole request frame (size field, header, body), for tests and tools. */
export function encodeKafkaRequestFrame<A extends KafkaApiName>(
  api: A,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: KafkaRequestInput<A>,
): Buffer {
  const writer = new KafkaWriter();
  encodeRequestHeader(writer, { apiKey: kafkaApis[api].key, apiVersion: version, correlationId, clientId }, requestHeaderVersion(api, version));
  encodeMessage(kafkaApis[api].request as RequestSchemaOf<A>, version, body, writer);
  return Buffer.concat(withSizeField(writer.finish()));
}

/** Decodes a response frame (without its size field), for tests and tools. Throws MALFORMED_FRAME. */
export function decodeKafkaResponse<A extends KafkaApiName>(api: A, version: number, frame: Buffer): { correlationId: number; body: KafkaResponseOutput<A> } {
  const { correlationId, bodyOffset } = decodeResponseHeader(frame, responseHeaderVersion(api, version));
  return { correlationId, body: decodeMessage(kafkaApis[api].response as ResponseSchemaOf<A>, version, frame, bodyOffset) };
}

function withSizeField(chunks: Buffer[]): Buffer[] {
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const sizeField = Buffer.allocUnsafe(FRAME_SIZE_BYTES);
  sizeField.writeInt32BE(size, 0);
  return [sizeField, ...chunks];
}
