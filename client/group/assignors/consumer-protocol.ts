/**
 * Kafka's consumer protocol: the bytes a member puts in JoinGroup's protocol metadata
 * (ConsumerProtocolSubscription) and the bytes the leader puts in SyncGroup for each member
 * (ConsumerProtocolAssignment). The coordinator stores and forwards them untouched, so these are
 * what the Kafka listener carries between kafkajs, librdkafka and Java members, and what our own
 * client sends: one encoding for everyone.
 *
 * ConsumerProtocolSubscription, versions 0-3, classic encoding (no tagged fields):
 *   version            int16
 *   topics             int32 count, then string (int16 length + UTF-8) each
 *   user_data          nullable bytes (int32 length, -1 = null)
 *   owned_partitions   v1+: int32 count, then { topic string, partitions int32 count + int32 each }
 *   generation_id      v2+: int32, -1 when unknown
 *   rack_id            v3+: nullable string (int16 length, -1 = null)
 *
 * ConsumerProtocolAssignment, versions 0-3, all four the same layout (v1 only announced the
 * cooperative protocol; v2 and v3 follow the subscription's numbering):
 *   version              int16
 *   assigned_partitions  int32 count, then { topic string, partitions int32 count + int32 each }
 *   user_data            nullable bytes
 *
 * Versions: a negative version is refused. A version above the highest we know is read as the
 * highest and any bytes after its fields are ignored, as Kafka's own clients do: newer versions only
 * append fields. Within a known version, trailing bytes are refused, since they mean the peer wrote
 * something we would misread. An empty assignment (zero bytes) reads as "nothing assigned": the
 * coordinator sends that to a member the leader left out of SyncGroup, which kafkajs leaders do for
 * members that get no partitions.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { NO_GENERATION, type MemberAssignment, type MemberSubscription, type Subscription, type TopicPartitions } from './types.js';
import { WireReader, WireWriter } from './wire.js';

export const SUBSCRIPTION_VERSION_MAX = 3;
export const ASSIGNMENT_VERSION_MAX = 3;
/** v1 is what Kafka clients since 2.4 send, and every client we interoperate with reads it. */
export const ASSIGNMENT_VERSION_DEFAULT = 1;

const SUBSCRIPTION = 'ConsumerProtocolSubscription';
const ASSIGNMENT = 'ConsumerProtocolAssignment';

/** A decoded subscription with the version it was written in. */
export interface DecodedSubscription extends Subscription {
  readonly version: number;
}

/** A decoded assignment with the version it was written in. */
export interface DecodedAssignment extends MemberAssignment {
  readonly version: number;
}

/**
 * Encodes a subscription. Fields the chosen version does not have (owned partitions below v1,
 * generation below v2, rack below v3) are left out, as Kafka's clients do.
 */
export function encodeSubscription(subscription: Subscription, version: number = SUBSCRIPTION_VERSION_MAX): Uint8Array {
  checkEncodeVersion(SUBSCRIPTION, version, SUBSCRIPTION_VERSION_MAX);
  const writer = new WireWriter(SUBSCRIPTION).int16(version, 'version').int32(subscription.topics.length, 'topics');
  for (const topic of subscription.topics) writer.string(topic, 'topics');
  writer.nullableBytes(subscription.userData, 'user_data');
  if (version >= 1) writeTopicPartitions(writer, subscription.ownedPartitions, 'owned_partitions');
  if (version >= 2) writer.int32(subscription.generation, 'generation_id');
  if (version >= 3) writer.nullableString(subscription.rackId, 'rack_id');
  return writer.finish();
}

/** Decodes a subscription; throws StreamBusError (MALFORMED_FRAME, UNSUPPORTED_VERSION) on bad bytes. */
export function decodeSubscription(bytes: Uint8Array): DecodedSubscription {
  const reader = new WireReader(bytes, SUBSCRIPTION);
  const version = readVersion(reader, SUBSCRIPTION);
  const count = reader.arrayCount('topics', 2);
  const topics = new Array<string>(count);
  for (let i = 0; i < count; i++) topics[i] = reader.string('topics');
  const userData = reader.nullableBytes('user_data');
  const ownedPartitions = version >= 1 ? readTopicPartitions(reader, 'owned_partitions') : [];
  const generation = version >= 2 ? reader.int32('generation_id') : NO_GENERATION;
  const rackId = version >= 3 ? reader.nullableString('rack_id') : null;
  if (version <= SUBSCRIPTION_VERSION_MAX) reader.end();
  return { version, topics, userData, ownedPartitions, generation, rackId };
}

/**
 * A JoinGroup member as the group leader's assignor needs it: the member id and group.instance.id
 * from the JoinGroup response and its decoded protocol metadata.
 */
export function memberSubscription(memberId: string, groupInstanceId: string | null, metadata: Uint8Array): MemberSubscription {
  const { version: _version, ...subscription } = decodeSubscription(metadata);
  return { memberId, groupInstanceId, ...subscription };
}

/** Encodes an assignment; topics are written in ascending order, partitions as given. */
export function encodeAssignment(assignment: MemberAssignment, version: number = ASSIGNMENT_VERSION_DEFAULT): Uint8Array {
  checkEncodeVersion(ASSIGNMENT, version, ASSIGNMENT_VERSION_MAX);
  const topics = [...assignment.partitions.keys()].sort(compareStrings);
  const entries = topics.map((topic) => ({ topic, partitions: assignment.partitions.get(topic) ?? [] }));
  const writer = new WireWriter(ASSIGNMENT).int16(version, 'version');
  writeTopicPartitions(writer, entries, 'assigned_partitions');
  writer.nullableBytes(assignment.userData, 'user_data');
  return writer.finish();
}

/**
 * Decodes an assignment; throws StreamBusError (MALFORMED_FRAME, UNSUPPORTED_VERSION) on bad bytes,
 * including a topic listed twice. Zero bytes decode as an empty assignment (see the header).
 */
export function decodeAssignment(bytes: Uint8Array): DecodedAssignment {
  if (bytes.length === 0) return { version: 0, partitions: new Map(), userData: null };
  const reader = new WireReader(bytes, ASSIGNMENT);
  const version = readVersion(reader, ASSIGNMENT);
  const entries = readTopicPartitions(reader, 'assigned_partitions');
  const partitions = new Map<string, readonly number[]>();
  for (const entry of entries) {
    if (partitions.has(entry.topic)) {
      throw new StreamBusError(ErrorCode.MALFORMED_FRAME, `${ASSIGNMENT}: assigned_partitions lists topic "${entry.topic}" twice`);
    }
    partitions.set(entry.topic, entry.partitions);
  }
  const userData = reader.nullableBytes('user_data');
  if (version <= ASSIGNMENT_VERSION_MAX) reader.end();
  return { version, partitions, userData };
}

/** `[topic string, partitions [int32]]`, shared by both messages and the sticky user data. */
export function writeTopicPartitions(writer: WireWriter, entries: readonly TopicPartitions[], field: string): void {
  writer.int32(entries.length, field);
  for (const entry of entries) writer.string(entry.topic, field).int32Array(entry.partitions, field);
}

export function readTopicPartitions(reader: WireReader, field: string): TopicPartitions[] {
  // Each entry is at least a 2-byte topic length and a 4-byte partition count.
  const count = reader.arrayCount(field, 6);
  const entries = new Array<TopicPartitions>(count);
  for (let i = 0; i < count; i++) {
    const topic = reader.string(field);
    entries[i] = { topic, partitions: reader.int32Array(field) };
  }
  return entries;
}

/** Ordering by UTF-16 code units, as Java's String.compareTo: the order Kafka's assignors sort by. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function readVersion(reader: WireReader, what: string): number {
  const version = reader.int16('version');
  if (version < 0) throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `${what}: version ${version} is not supported`);
  return version;
}

function checkEncodeVersion(what: string, version: number, max: number): void {
  if (!Number.isInteger(version) || version < 0 || version > max) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `${what}: cannot encode version ${version}; versions 0-${max} are known`);
  }
}
