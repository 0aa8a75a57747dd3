/**
 * TypeScript shapes of the native protocol's messages (proto/streambus.proto).
 *
 * Field names are the .proto names in camelCase. Conventions shared by every message:
 * - Decoded messages are plain objects with every field present: proto3 defaults (0, '', false, an
 *   empty Buffer, []) stand in for fields the sender left out. Only `optional` fields may be absent.
 * - int64 fields are JS numbers; the codec rejects values outside the safe-integer range.
 * - `bytes` fields are Buffers. A decoded Buffer is a view into the received frame, not a copy:
 *   keeping it keeps the frame's memory alive.
 * - Every `errorCode` holds a code from proto/errors.ts.
 *
 * A test checks these interfaces against the loaded schema field by field, so they cannot drift
 * from the .proto without a failing test.
 */

/** Sent in place of the API's response when a request fails as a whole. */
export interface ErrorResponse {
  errorCode: number;
  errorMessage: string;
}

// ---- ApiVersions

export interface ApiVersionsRequest {
  clientId: string;
  clientSoftware: string;
}
export interface ApiVersionRange {
  api: number;
  minVersion: number;
  maxVersion: number;
}
export interface ApiVersionsResponse {
  errorCode: number;
  apis: ApiVersionRange[];
  serverVersion: string;
  clusterId: string;
  nodeId: number;
  maxFrameBytes: number;
  maxInFlight: number;
}

// ---- Metadata

export interface MetadataRequest {
  /** Empty with allTopics=false returns brokers only. */
  topics: string[];
  allTopics: boolean;
  /** Create missing topics among `topics` (when the broker allows auto-creation). */
  allowAutoTopicCreation: boolean;
}
export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string;
}
export interface PartitionInfo {
  partition: number;
  errorCode: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}
export interface TopicInfo {
  name: string;
  topicId: string;
  errorCode: number;
  errorMessage: string;
  internal: boolean;
  partitions: PartitionInfo[];
}
export interface MetadataResponse {
  clusterId: string;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicInfo[];
  /** The metadata log offset this answer reflects; grows with every change. */
  metadataOffset: number;
}

// ---- Produce

export interface ProduceRequest {
  /** 0: no response awaited; 1: the leader has written; -1: every in-sync replica has it, durably. */
  acks: number;
  timeoutMs: number;
  topics: ProduceTopic[];
}
export interface ProduceTopic {
  name: string;
  partitions: ProducePartition[];
}
export interface ProducePartition {
  partition: number;
  /** One or more RecordBatch v2 batches, concatenated. */
  records: Buffer;
}
export interface ProduceResponse {
  topics: ProduceTopicResult[];
  throttleMs: number;
}
export interface ProduceTopicResult {
  name: string;
  partitions: ProducePartitionResult[];
}
export interface ProducePartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string;
  baseOffset: number;
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTimeMs: number;
  logStartOffset: number;
}

// ---- Fetch

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  /** 0 read_uncommitted, 1 read_committed. */
  isolationLevel: number;
  topics: FetchTopic[];
  /**
   * The fetching follower's broker id. Consumers leave it out (decoded as 0) or send -1: they
   * read only below the high watermark; a follower reads up to the log end.
   */
  replicaId?: number;
}
export interface FetchTopic {
  name: string;
  partitions: FetchPartition[];
}
export interface FetchPartition {
  partition: number;
  fetchOffset: number;
  maxBytes: number;
  /** The leader epoch the fetcher believes current; absent or -1: unknown, not checked. */
  currentLeaderEpoch?: number;
  /** Followers: the epoch of the last batch they hold; absent or -1: an empty log. */
  lastFetchedEpoch?: number;
}
export interface FetchResponse {
  topics: FetchTopicResult[];
  throttleMs: number;
}
export interface FetchTopicResult {
  name: string;
  partitions: FetchPartitionResult[];
}
export interface FetchPartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** Whole stored batches, starting at the one holding fetchOffset. */
  records: Buffer;
  /** To a follower whose log diverges from the leader's: truncate to at most this, then fetch again. */
  divergingEpoch?: FetchEpochEndOffset;
  /** read_committed: aborted transactions overlapping the returned batches (empty otherwise). */
  abortedTransactions: AbortedTransaction[];
}
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}
export interface FetchEpochEndOffset {
  /** The largest leader epoch the leader has at or below the follower's last fetched epoch (-1: none). */
  epoch: number;
  /** Where that epoch ends on the leader: the start of the next epoch, or its log end. */
  endOffset: number;
}

// ---- ListOffsets

export interface ListOffsetsRequest {
  isolationLevel: number;
  topics: ListOffsetsTopic[];
}
export interface ListOffsetsTopic {
  name: string;
  partitions: ListOffsetsPartition[];
}
export interface ListOffsetsPartition {
  partition: number;
  /** -2 earliest, -1 latest, -3 max timestamp, else a time in ms. */
  timestamp: number;
}
export interface ListOffsetsResponse {
  topics: ListOffsetsTopicResult[];
}
export interface ListOffsetsTopicResult {
  name: string;
  partitions: ListOffsetsPartitionResult[];
}
export interface ListOffsetsPartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string;
  /** -1 when no record is at or after the timestamp. */
  offset: number;
  timestamp: number;
}

// ---- Topic administration

export interface CreateTopicsRequest {
  topics: NewTopic[];
  timeoutMs: number;
  validateOnly: boolean;
}
export interface NewTopic {
  name: string;
  /** 0 means the broker default (num.partitions). */
  partitions: number;
  /** 0 means the broker default. */
  replicationFactor: number;
  configs: Record<string, string>;
}
export interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string;
  topicId: string;
}
export interface CreateTopicsResponse {
  topics: TopicResult[];
  /** The metadata offset from which the change is visible. */
  metadataOffset: number;
}

export interface DeleteTopicsRequest {
  names: string[];
  timeoutMs: number;
}
export interface DeleteTopicsResponse {
  topics: TopicResult[];
  /** The metadata offset from which the change is visible. */
  metadataOffset: number;
}

export interface DescribeConfigsRequest {
  topics: string[];
}
export interface ConfigEntry {
  name: string;
  /** Absent for a null value. */
  value?: string;
  /** "default", "topic" or "broker". */
  source: string;
  readOnly: boolean;
  sensitive: boolean;
  documentation: string;
}
export interface TopicConfigs {
  name: string;
  errorCode: number;
  errorMessage: string;
  entries: ConfigEntry[];
}
export interface DescribeConfigsResponse {
  topics: TopicConfigs[];
}

export interface AlterConfigsRequest {
  topics: AlterTopicConfigs[];
  validateOnly: boolean;
}
export interface AlterTopicConfigs {
  name: string;
  ops: ConfigOp[];
}
export interface ConfigOp {
  name: string;
  value?: string;
  /** 0 set, 1 delete. */
  op: number;
}
export interface AlterConfigsResponse {
  topics: TopicResult[];
  /** The metadata offset from which the change is visible. */
  metadataOffset: number;
}

export interface CreatePartitionsRequest {
  topics: PartitionCount[];
  timeoutMs: number;
  validateOnly: boolean;
}
export interface PartitionCount {
  name: string;
  /** The new total number of partitions. */
  count: number;
}
export interface CreatePartitionsResponse {
  topics: TopicResult[];
  /** The metadata offset from which the change is visible. */
  metadataOffset: number;
}

export interface DeleteRecordsRequest {
  topics: DeleteRecordsTopic[];
  timeoutMs: number;
}
export interface DeleteRecordsTopic {
  name: string;
  partitions: DeleteRecordsPartition[];
}
export interface DeleteRecordsPartition {
  partition: number;
  /** -1: the high watermark. */
  offset: number;
}
export interface DeleteRecordsResponse {
  topics: DeleteRecordsTopicResult[];
}
export interface DeleteRecordsTopicResult {
  name: string;
  partitions: DeleteRecordsPartitionResult[];
}
export interface DeleteRecordsPartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string;
  lowWatermark: number;
}

// ---- Coordinator APIs

export type CoordinatorStatusRequest = Record<string, never>;
export interface CoordinatorMember {
  nodeId: number;
  raftHost: string;
  raftPort: number;
  /** Empty when not yet known. */
  apiHost: string;
  apiPort: number;
  voter: boolean;
  /** Leader's view; -1 when unknown. */
  matchIndex: number;
  /** Leader's view: lastIndex - matchIndex; -1 when unknown. */
  lag: number;
  /** Leader's view: heard from within the last election timeout. */
  active: boolean;
}
export interface CoordinatorStatusResponse {
  errorCode: number;
  errorMessage: string;
  clusterId: string;
  nodeId: number;
  /** 'leader' | 'follower' | 'candidate' | 'pre-candidate'. */
  role: string;
  /** 0 when no leader is known. */
  leaderId: number;
  leaderApiHost: string;
  leaderApiPort: number;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  metadataOffset: number;
  members: CoordinatorMember[];
}

export interface FetchMetadataRequest {
  fromOffset: number;
  maxRecords: number;
  maxWaitMs: number;
  /** -1 for a tool. */
  brokerId: number;
}
export interface MetadataRecordData {
  offset: number;
  /** The command's canonical encoding (coordinator/metadata/commands.ts). */
  command: Buffer;
}
export interface FetchMetadataResponse {
  errorCode: number;
  errorMessage: string;
  startOffset: number;
  committedOffset: number;
  records: MetadataRecordData[];
  hasSnapshot: boolean;
  snapshotOffset: number;
  /** JSON of the MetadataSnapshot at snapshotOffset. */
  snapshot: Buffer;
}

export interface BrokerListenerInfo {
  name: string;
  host: string;
  port: number;
}
export interface BrokerRegistrationRequest {
  nodeId: number;
  incarnationId: string;
  clusterId: string;
  host: string;
  port: number;
  /** Empty: no rack. */
  rack: string;
  listeners: BrokerListenerInfo[];
}
export interface BrokerRegistrationResponse {
  errorCode: number;
  errorMessage: string;
  brokerEpoch: number;
  metadataOffset: number;
}
export interface BrokerHeartbeatRequest {
  nodeId: number;
  brokerEpoch: number;
  metadataOffset: number;
  wantFence: boolean;
  wantShutDown: boolean;
}
export interface BrokerHeartbeatResponse {
  errorCode: number;
  errorMessage: string;
  fenced: boolean;
  metadataOffset: number;
}

export interface ChangeMembershipRequest {
  /** 'add' | 'remove'. */
  op: string;
  nodeId: number;
  raftHost: string;
  raftPort: number;
  apiHost: string;
  apiPort: number;
}
export interface ChangeMembershipResponse {
  errorCode: number;
  errorMessage: string;
  voters: number[];
}

export interface TransferLeadershipRequest {
  toNodeId: number;
}
export interface TransferLeadershipResponse {
  errorCode: number;
  errorMessage: string;
  leaderId: number;
  term: number;
}

export interface AlterPartitionRequest {
  brokerId: number;
  brokerEpoch: number;
  partitions: AlterPartitionItem[];
}
export interface AlterPartitionItem {
  topicId: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: number[];
}
export interface AlterPartitionResponse {
  /** A failure of the whole request; `partitions` is then empty. */
  errorCode: number;
  errorMessage: string;
  partitions: AlterPartitionResult[];
  metadataOffset: number;
}
export interface AlterPartitionResult {
  topicId: string;
  partition: number;
  errorCode: number;
  errorMessage: string;
  /** The partition after the change; -1 where unknown. */
  leader: number;
  leaderEpoch: number;
  isr: number[];
  partitionEpoch: number;
}

export interface ElectLeadersRequest {
  /** 0 preferred, 1 unclean (Kafka's numbers). */
  electionType: number;
  /** Empty: every partition. A topic with no partitions: every partition of it. */
  topics: ElectLeadersTopic[];
}
export interface ElectLeadersTopic {
  name: string;
  partitions: number[];
}
export interface ElectLeadersResponse {
  errorCode: number;
  errorMessage: string;
  results: ElectLeadersResult[];
  metadataOffset: number;
}
export interface ElectLeadersResult {
  topic: string;
  partition: number;
  errorCode: number;
  errorMessage: string;
  /** The leader after the election; -1 for none. */
  leader: number;
}

export interface AlterPartitionReassignmentsRequest {
  topics: ReassignableTopic[];
}
export interface ReassignableTopic {
  name: string;
  partitions: ReassignablePartition[];
}
export interface ReassignablePartition {
  partition: number;
  /** The target replicas; empty when `cancel`. */
  replicas: number[];
  cancel: boolean;
}
export interface AlterPartitionReassignmentsResponse {
  /** A failure of the whole request; `results` is then empty. */
  errorCode: number;
  errorMessage: string;
  results: ReassignmentResult[];
  metadataOffset: number;
}
export interface ReassignmentResult {
  topic: string;
  partition: number;
  errorCode: number;
  errorMessage: string;
}

export interface ListPartitionReassignmentsRequest {
  /** Empty: every partition. A topic with no partitions: every partition of it. */
  topics: ListReassignmentsTopic[];
}
export interface ListReassignmentsTopic {
  name: string;
  partitions: number[];
}
export interface ListPartitionReassignmentsResponse {
  errorCode: number;
  errorMessage: string;
  reassignments: OngoingReassignment[];
  metadataOffset: number;
}
export interface OngoingReassignment {
  topic: string;
  partition: number;
  /** Every replica now: the target first, then the ones being removed. */
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

export interface BrokerMaintenanceRequest {
  brokerId: number;
  /** true: drain the broker; false: end its maintenance. */
  enable: boolean;
}
export interface BrokerMaintenanceResponse {
  errorCode: number;
  errorMessage: string;
  draining: boolean;
  leadersMoved: number;
  /** Partitions the broker still leads: no other replica is in sync, live and not draining. */
  leadersKept: PartitionRef[];
  metadataOffset: number;
}
export interface PartitionRef {
  topic: string;
  partition: number;
}

// ---- Consumer groups (docs/groups.md): Kafka's group APIs, field for field.

export interface FindCoordinatorRequest {
  key: string;
  /** 0 group, 1 transaction (Kafka's key types). */
  keyType: number;
}
export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage: string;
  nodeId: number;
  host: string;
  port: number;
}

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** Empty on a first join. */
  memberId: string;
  /** group.instance.id of a static member; '' for a dynamic one (as everywhere below). */
  groupInstanceId: string;
  protocolType: string;
  protocols: JoinGroupProtocol[];
  reason: string;
  /** KIP-394: a new dynamic member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
  /** Set by a proxy (the Kafka listener); empty: the connection's own. */
  clientId: string;
  clientHost: string;
}
export interface JoinGroupProtocol {
  name: string;
  metadata: Buffer;
}
export interface JoinGroupResponse {
  errorCode: number;
  errorMessage: string;
  generationId: number;
  protocolType: string;
  protocolName: string;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  /** For the leader only. */
  members: JoinGroupMember[];
}
export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string;
  metadata: Buffer;
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string;
  /** Checked against the group's when not ''. */
  protocolType: string;
  protocolName: string;
  assignments: SyncGroupAssignment[];
}
export interface SyncGroupAssignment {
  memberId: string;
  assignment: Buffer;
}
export interface SyncGroupResponse {
  errorCode: number;
  errorMessage: string;
  protocolType: string;
  protocolName: string;
  assignment: Buffer;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string;
  /** Native clients: hold up to this long in a Stable group, answering early when a rebalance starts. 0: at once. */
  holdMs: number;
}
export interface HeartbeatResponse {
  errorCode: number;
  errorMessage: string;
}

export interface LeaveGroupRequest {
  groupId: string;
  members: LeaveGroupMember[];
}
export interface LeaveGroupMember {
  memberId: string;
  groupInstanceId: string;
  reason: string;
}
export interface LeaveGroupResponse {
  errorCode: number;
  errorMessage: string;
  members: LeaveGroupMemberResult[];
}
export interface LeaveGroupMemberResult {
  memberId: string;
  groupInstanceId: string;
  errorCode: number;
  errorMessage: string;
}

export interface OffsetCommitRequest {
  groupId: string;
  /** -1 with an empty memberId: a commit for a group with no members. */
  generationId: number;
  memberId: string;
  groupInstanceId: string;
  topics: OffsetCommitTopic[];
}
export interface OffsetCommitTopic {
  name: string;
  partitions: OffsetCommitPartition[];
}
export interface OffsetCommitPartition {
  partition: number;
  committedOffset: number;
  /** -1 when unknown. */
  committedLeaderEpoch: number;
  committedMetadata: string;
}
export interface OffsetCommitResponse {
  errorCode: number;
  errorMessage: string;
  topics: GroupTopicResult[];
}
export interface GroupTopicResult {
  name: string;
  partitions: GroupPartitionResult[];
}
export interface GroupPartitionResult {
  partition: number;
  errorCode: number;
  errorMessage: string;
}

export interface OffsetFetchRequest {
  groupId: string;
  topics: OffsetFetchTopic[];
  /** Every partition the group has an offset for; `topics` is then ignored. */
  allTopics: boolean;
}
export interface OffsetFetchTopic {
  name: string;
  partitions: number[];
}
export interface OffsetFetchResponse {
  errorCode: number;
  errorMessage: string;
  topics: OffsetFetchTopicResult[];
}
export interface OffsetFetchTopicResult {
  name: string;
  partitions: OffsetFetchPartitionResult[];
}
export interface OffsetFetchPartitionResult {
  partition: number;
  /** -1 when the group has no offset for the partition. */
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: number;
  errorMessage: string;
}

export interface ListGroupsRequest {
  statesFilter: string[];
  typesFilter: string[];
}
export interface ListGroupsResponse {
  errorCode: number;
  errorMessage: string;
  groups: ListedGroup[];
}
export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: string;
}

export interface DescribeGroupsRequest {
  groups: string[];
}
export interface DescribeGroupsResponse {
  errorCode: number;
  errorMessage: string;
  groups: DescribedGroup[];
}
export interface DescribedGroup {
  errorCode: number;
  errorMessage: string;
  groupId: string;
  /** "Dead" for a group that does not exist. */
  groupState: string;
  protocolType: string;
  /** The selected protocol (the assignor). */
  protocolData: string;
  members: DescribedGroupMember[];
}
export interface DescribedGroupMember {
  memberId: string;
  groupInstanceId: string;
  clientId: string;
  clientHost: string;
  /** Empty unless the group is Stable. */
  memberMetadata: Buffer;
  memberAssignment: Buffer;
}

export interface DeleteGroupsRequest {
  groups: string[];
}
export interface DeleteGroupsResponse {
  errorCode: number;
  errorMessage: string;
  results: DeletedGroupResult[];
}
export interface DeletedGroupResult {
  groupId: string;
  errorCode: number;
  errorMessage: string;
}

export interface OffsetDeleteRequest {
  groupId: string;
  topics: OffsetDeleteTopic[];
}
export interface OffsetDeleteTopic {
  name: string;
  partitions: number[];
}
export interface OffsetDeleteResponse {
  errorCode: number;
  errorMessage: string;
  topics: GroupTopicResult[];
}

// ---- Idempotent and transactional producers (docs/transactions.md).

export interface InitProducerIdRequest {
  /** Empty for an idempotent producer without transactions. */
  transactionalId: string;
  transactionTimeoutMs: number;
  /** -1 for a new producer; otherwise the id whose epoch to bump (KIP-360). */
  producerId: number;
  producerEpoch: number;
}
export interface InitProducerIdResponse {
  errorCode: number;
  errorMessage: string;
  producerId: number;
  producerEpoch: number;
  throttleMs: number;
}
export interface TxnTopic {
  name: string;
  partitions: number[];
}
export interface AddPartitionsToTxnRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  topics: TxnTopic[];
}
export interface AddPartitionsToTxnResponse {
  errorCode: number;
  errorMessage: string;
  topics: GroupTopicResult[];
}
export interface AddOffsetsToTxnRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  groupId: string;
}
export interface AddOffsetsToTxnResponse {
  errorCode: number;
  errorMessage: string;
}
export interface EndTxnRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  /** true commit, false abort. */
  committed: boolean;
}
export interface EndTxnResponse {
  errorCode: number;
  errorMessage: string;
}
export interface TxnOffsetCommitRequest {
  transactionalId: string;
  groupId: string;
  producerId: number;
  producerEpoch: number;
  /** The consumer's generation (KIP-447); -1 is not checked. */
  generationId: number;
  memberId: string;
  groupInstanceId: string;
  topics: OffsetCommitTopic[];
}
export interface TxnOffsetCommitResponse {
  errorCode: number;
  errorMessage: string;
  topics: GroupTopicResult[];
}
export interface WriteTxnMarkersRequest {
  markers: TxnMarker[];
}
export interface TxnMarker {
  producerId: number;
  producerEpoch: number;
  committed: boolean;
  /** The coordinator's epoch (its Raft term); markers from an older one are refused. */
  coordinatorEpoch: number;
  topics: TxnTopic[];
}
export interface WriteTxnMarkersResponse {
  markers: TxnMarkerResult[];
}
export interface TxnMarkerResult {
  producerId: number;
  topics: GroupTopicResult[];
}
export interface ListTransactionsRequest {
  stateFilters: string[];
  producerIdFilters: number[];
}
export interface ListTransactionsResponse {
  errorCode: number;
  errorMessage: string;
  transactions: ListedTransaction[];
}
export interface ListedTransaction {
  transactionalId: string;
  producerId: number;
  state: string;
}
export interface DescribeTransactionsRequest {
  transactionalIds: string[];
}
export interface DescribeTransactionsResponse {
  transactions: DescribedTransaction[];
}
export interface DescribedTransaction {
  errorCode: number;
  errorMessage: string;
  transactionalId: string;
  state: string;
  transactionTimeoutMs: number;
  /** When the open transaction started; -1 with none open. */
  transactionStartTimeMs: number;
  producerId: number;
  producerEpoch: number;
  topics: TxnTopic[];
  groups: string[];
}
export interface DescribeProducersRequest {
  topics: TxnTopic[];
}
export interface DescribeProducersResponse {
  topics: DescribeProducersTopic[];
}
export interface DescribeProducersTopic {
  name: string;
  partitions: DescribeProducersPartition[];
}
export interface DescribeProducersPartition {
  partition: number;
  errorCode: number;
  errorMessage: string;
  activeProducers: ProducerStateEntry[];
}
export interface ProducerStateEntry {
  producerId: number;
  producerEpoch: number;
  lastSequence: number;
  lastTimestampMs: number;
  coordinatorEpoch: number;
  /** First offset of the producer's open transaction; -1 with none open. */
  currentTxnStartOffset: number;
}
