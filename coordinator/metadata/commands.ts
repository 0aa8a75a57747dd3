/**
 * The typed commands of the metadata log and their byte encoding.
 *
 * A command is a fact the controller decided after validation ("topic t has id X and these
 * partitions"), never a request to be checked again: the state machine applies it as written, so
 * every replica of the log reaches the same state (DESIGN.md decision 4).
 *
 * Encoding: UTF-8 JSON in a versioned envelope, `{"v":1,"command":{...}}`. Metadata is small and
 * rarely written, so JSON costs nothing that matters, and it keeps the log readable with any
 * LevelDB dump tool and free of a schema-compile step. The envelope version is the upgrade path:
 * a reader refuses a newer version (and unknown fields or command types) with a clear error rather
 * than applying a command it only partly understands, which would make replicas diverge.
 * Encoding is canonical (fixed field order, sorted config keys), so equal commands have equal bytes.
 * The one exception is commit-offsets, by far the most frequent command: it has a binary encoding
 * of its own, told apart by its first byte (../groups/commit-offsets-codec.ts says why).
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { ShapeReader, deepFreeze } from './shape.js';
import { type GroupCommand, GroupCommandType, isGroupCommandType, readGroupCommand } from '../groups/group-commands.js';
import { decodeCommitOffsets, encodeCommitOffsets, isBinaryCommitOffsets } from '../groups/commit-offsets-codec.js';
import { type TxnCommand, isTxnCommandType, readTxnCommand } from '../transactions/txn-commands.js';
import { type SchemaCommand, isSchemaCommandType, readSchemaCommand } from '../schema-registry/schema-commands.js';

export const MetadataCommandType = {
  INIT_CLUSTER: 'init-cluster',
  NO_OP: 'no-op',
  REGISTER_BROKER: 'register-broker',
  FENCE_BROKER: 'fence-broker',
  UNFENCE_BROKER: 'unfence-broker',
  CREATE_TOPIC: 'create-topic',
  DELETE_TOPIC: 'delete-topic',
  ALTER_TOPIC_CONFIGS: 'alter-topic-configs',
  CREATE_PARTITIONS: 'create-partitions',
  REGISTER_COORDINATOR: 'register-coordinator',
  CHANGE_PARTITION: 'change-partition',
  BROKER_MAINTENANCE: 'broker-maintenance',
} as const;
export type MetadataCommandType = (typeof MetadataCommandType)[keyof typeof MetadataCommandType];

/** One advertised endpoint of a broker (e.g. the native listener and the Kafka listener). */
export interface BrokerListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Where one partition lives. `leader` is -1 when the partition has no leader. */
export interface PartitionAssignment {
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  /** Grows each time the leader changes; fences requests from an old leader. */
  readonly leaderEpoch: number;
  /** Grows on any change of the partition (leader, ISR, replicas); the CAS token of AlterPartition. */
  readonly partitionEpoch: number;
  /**
   * While a reassignment runs (Kafka's KIP-455): the replicas it adds, which copy the data and must
   * join the ISR before it completes. Absent when empty, and always absent outside a reassignment.
   */
  readonly addingReplicas?: readonly number[];
  /** While a reassignment runs: the replicas it removes once it completes. Absent when empty. */
  readonly removingReplicas?: readonly number[];
}

/** Names the cluster. Written once, as the first command of a new log. */
export interface InitClusterCommand {
  readonly type: 'init-cluster';
  readonly clusterId: string;
}

/** Changes nothing; Raft leaders append one on election to commit entries of earlier terms. */
export interface NoOpCommand {
  readonly type: 'no-op';
}

/**
 * A broker (re)registers; its broker epoch becomes the offset of this record. A registration starts
 * fenced: the broker takes no new replicas until a heartbeat shows it has caught up with the log.
 */
export interface RegisterBrokerCommand {
  readonly type: 'register-broker';
  readonly nodeId: number;
  /** Differs on every broker process start, so a restart is told apart from a duplicate. */
  readonly incarnationId: string;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  readonly listeners: readonly BrokerListener[];
}

/**
 * Fences a broker: it takes no new replicas until it is unfenced. Written by the active coordinator
 * when the broker's session expires or the broker asks (controlled shutdown). Applies only while
 * `brokerEpoch` is the broker's current registration: a fence decided for an older incarnation
 * must not fence the new one, so on a mismatch every replica ignores it alike.
 */
export interface FenceBrokerCommand {
  readonly type: 'fence-broker';
  readonly nodeId: number;
  readonly brokerEpoch: number;
}

/** Unfences a broker whose heartbeat showed it caught up; same epoch rule as FenceBrokerCommand. */
export interface UnfenceBrokerCommand {
  readonly type: 'unfence-broker';
  readonly nodeId: number;
  readonly brokerEpoch: number;
}

export interface CreateTopicCommand {
  readonly type: 'create-topic';
  readonly name: string;
  readonly topicId: string;
  /** Partitions 0..n-1, in order. */
  readonly partitions: readonly PartitionAssignment[];
  /** Validated, canonical overrides (see topic-config.ts). */
  readonly configs: Readonly<Record<string, string>>;
}

export interface DeleteTopicCommand {
  readonly type: 'delete-topic';
  readonly name: string;
  readonly topicId: string;
}

/** Sets and removes config overrides; the merged result was validated by the controller. */
export interface AlterTopicConfigsCommand {
  readonly type: 'alter-topic-configs';
  readonly name: string;
  readonly topicId: string;
  readonly set: Readonly<Record<string, string>>;
  readonly delete: readonly string[];
}

/** Adds partitions numbered from the topic's current count upwards. */
export interface CreatePartitionsCommand {
  readonly type: 'create-partitions';
  readonly name: string;
  readonly topicId: string;
  readonly partitions: readonly PartitionAssignment[];
}

/** A host and port, as a coordinator node advertises it. */
export interface CoordinatorEndpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * Records where a coordinator node (a member of the Raft group) listens: its Raft peer address and
 * its coordinator API address. Written by a node when it becomes leader and the record is missing
 * or differs, and by the leader before it adds a node as a voter, so every node can reach every
 * voter, and brokers and tools can find each node's API, from the log alone.
 */
export interface RegisterCoordinatorCommand {
  readonly type: 'register-coordinator';
  /** A Raft node id: 1 or more. */
  readonly nodeId: number;
  readonly raft: CoordinatorEndpoint;
  /** null while the node's API address is not known. */
  readonly api: CoordinatorEndpoint | null;
}

/**
 * Changes one partition's leader, ISR or replica set (Kafka's PartitionChangeRecord): written by
 * the controller when it commits an ISR change a leader asked for (AlterPartition), elects a leader
 * (a broker fenced, unfenced, draining or shutting down; a preferred or unclean election), takes a
 * broker out of the ISR, or starts, completes or cancels a reassignment. Only the fields that
 * change are present, at least one of leader, isr and replicas. Every change bumps the partition
 * epoch; a change of leader also bumps the leader epoch.
 *
 * `replicas` present sets the whole replica set and the reassignment with it: `addingReplicas` and
 * `removingReplicas` are then the reassignment's (absent: none, the reassignment is over). They
 * never appear without `replicas`.
 */
export interface ChangePartitionCommand {
  readonly type: 'change-partition';
  readonly topicId: string;
  readonly partition: number;
  /** The new leader, -1 for none; absent when the leader stays. */
  readonly leader?: number;
  /** The new ISR, never empty; absent when the ISR stays. */
  readonly isr?: readonly number[];
  /** The new replica set (a reassignment's target first, then the replicas it removes). */
  readonly replicas?: readonly number[];
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

/**
 * Puts a broker in or out of maintenance (Redpanda's maintenance mode; `streambus broker drain`): a
 * draining broker keeps its replicas and its ISR places, but leads nothing the controller can give
 * to another in-sync replica, and preferred elections and new placements skip it. Keyed by node id,
 * not registration: it outlives a restart (a rolling restart keeps the broker drained).
 */
export interface BrokerMaintenanceCommand {
  readonly type: 'broker-maintenance';
  readonly nodeId: number;
  readonly draining: boolean;
}

export type MetadataCommand =
  | InitClusterCommand
  | NoOpCommand
  | RegisterBrokerCommand
  | FenceBrokerCommand
  | UnfenceBrokerCommand
  | CreateTopicCommand
  | DeleteTopicCommand
  | AlterTopicConfigsCommand
  | CreatePartitionsCommand
  | RegisterCoordinatorCommand
  | ChangePartitionCommand
  | BrokerMaintenanceCommand
  // Consumer groups: memberships and committed offsets (../groups/group-commands.ts).
  | GroupCommand
  // Producer ids and transactions (../transactions/txn-commands.ts).
  | TxnCommand
  // Schema registry: subjects, versions, ids, configs and modes (../schema-registry/schema-commands.ts).
  | SchemaCommand;

/** A committed command and its offset in the metadata log. */
export interface MetadataRecord {
  readonly offset: number;
  readonly command: MetadataCommand;
}

/** The envelope version this code writes and the newest it reads. */
export const METADATA_ENVELOPE_VERSION = 1;

/** Bounds for decoding; generous next to the controller's own limits, but they bound memory. */
const MAX_PARTITIONS_PER_COMMAND = 100_000;
const MAX_REPLICAS = 1024;
const MAX_CONFIG_ENTRIES = 1024;
const MAX_LISTENERS = 64;
const MAX_NODE_ID = 2 ** 31 - 1;
const MAX_EPOCH = 2 ** 31 - 1;

/**
 * A reassignment's adding or removing list: absent or empty reads as none (undefined), and the
 * canonical form leaves an empty one out, so partitions written before reassignments existed read
 * unchanged and snapshots of partitions without a reassignment stay as they were.
 */
function readReassigning(shape: ShapeReader, value: unknown, path: string): number[] | undefined {
  if (value === undefined) return undefined;
  const ids = shape.array(value, path, MAX_REPLICAS, (v, at) => shape.integer(v, at, 0, MAX_NODE_ID));
  return ids.length === 0 ? undefined : ids;
}

/** The reassignment fields of a partition or change, present only when non-empty. */
function reassigningFields(shape: ShapeReader, record: Record<string, unknown>, path: string): { addingReplicas?: number[]; removingReplicas?: number[] } {
  const adding = readReassigning(shape, record.addingReplicas, `${path}.addingReplicas`);
  const removing = readReassigning(shape, record.removingReplicas, `${path}.removingReplicas`);
  return { ...(adding === undefined ? {} : { addingReplicas: adding }), ...(removing === undefined ? {} : { removingReplicas: removing }) };
}

function readPartition(shape: ShapeReader, value: unknown, path: string): PartitionAssignment {
  const p = shape.object(value, path, ['partition', 'replicas', 'isr', 'leader', 'leaderEpoch', 'partitionEpoch', 'addingReplicas', 'removingReplicas']);
  const nodeId = (v: unknown, at: string): number => shape.integer(v, at, 0, MAX_NODE_ID);
  return {
    partition: shape.integer(p.partition, `${path}.partition`, 0, MAX_PARTITIONS_PER_COMMAND * 10),
    replicas: shape.array(p.replicas, `${path}.replicas`, MAX_REPLICAS, nodeId),
    isr: shape.array(p.isr, `${path}.isr`, MAX_REPLICAS, nodeId),
    leader: shape.integer(p.leader, `${path}.leader`, -1, MAX_NODE_ID),
    leaderEpoch: shape.integer(p.leaderEpoch, `${path}.leaderEpoch`, 0, MAX_EPOCH),
    partitionEpoch: shape.integer(p.partitionEpoch, `${path}.partitionEpoch`, 0, MAX_EPOCH),
    ...reassigningFields(shape, p, path),
  };
}

function readPartitions(shape: ShapeReader, value: unknown, path: string): PartitionAssignment[] {
  return shape.array(value, path, MAX_PARTITIONS_PER_COMMAND, (v, at) => readPartition(shape, v, at));
}

function readListener(shape: ShapeReader, value: unknown, path: string): BrokerListener {
  const l = shape.object(value, path, ['name', 'host', 'port']);
  return {
    name: shape.string(l.name, `${path}.name`, { maxLength: 255 }),
    host: shape.string(l.host, `${path}.host`, { maxLength: 255 }),
    port: shape.integer(l.port, `${path}.port`, 1, 65535),
  };
}

function readEndpoint(shape: ShapeReader, value: unknown, path: string): CoordinatorEndpoint {
  const e = shape.object(value, path, ['host', 'port']);
  return { host: shape.string(e.host, `${path}.host`, { maxLength: 255 }), port: shape.integer(e.port, `${path}.port`, 1, 65535) };
}

function readChangePartition(shape: ShapeReader, value: unknown, path: string): ChangePartitionCommand {
  const c = shape.object(value, path, ['type', 'topicId', 'partition', 'leader', 'isr', 'replicas', 'addingReplicas', 'removingReplicas']);
  if (c.leader === undefined && c.isr === undefined && c.replicas === undefined) shape.fail(path, 'a change of leader, isr, replicas or several', value);
  if (c.replicas === undefined && (c.addingReplicas !== undefined || c.removingReplicas !== undefined)) {
    shape.fail(path, 'without addingReplicas and removingReplicas when replicas is absent', value);
  }
  const nodeId = (v: unknown, at: string): number => shape.integer(v, at, 0, MAX_NODE_ID);
  return {
    type: MetadataCommandType.CHANGE_PARTITION,
    topicId: shape.string(c.topicId, `${path}.topicId`, { maxLength: 64 }),
    partition: shape.integer(c.partition, `${path}.partition`, 0, MAX_PARTITIONS_PER_COMMAND * 10),
    ...(c.leader === undefined ? {} : { leader: shape.integer(c.leader, `${path}.leader`, -1, MAX_NODE_ID) }),
    ...(c.isr === undefined ? {} : { isr: shape.array(c.isr, `${path}.isr`, MAX_REPLICAS, nodeId) }),
    ...(c.replicas === undefined ? {} : { replicas: shape.array(c.replicas, `${path}.replicas`, MAX_REPLICAS, nodeId) }),
    ...reassigningFields(shape, c, path),
  };
}

/**
 * Checks a command's structure and returns a fresh copy in canonical field order. Structure only:
 * whether a topic exists is the controller's business, before the command is logged.
 */
export function readMetadataCommand(shape: ShapeReader, value: unknown, path = 'command'): MetadataCommand {
  const type: unknown = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const topicFields = (c: Record<string, unknown>): { name: string; topicId: string } => ({
    name: shape.string(c.name, `${path}.name`, { maxLength: 249 }),
    topicId: shape.string(c.topicId, `${path}.topicId`, { maxLength: 64 }),
  });
  switch (type) {
    case MetadataCommandType.INIT_CLUSTER: {
      const c = shape.object(value, path, ['type', 'clusterId']);
      return { type, clusterId: shape.string(c.clusterId, `${path}.clusterId`, { maxLength: 255 }) };
    }
    case MetadataCommandType.NO_OP:
      shape.object(value, path, ['type']);
      return { type };
    case MetadataCommandType.REGISTER_BROKER: {
      const c = shape.object(value, path, ['type', 'nodeId', 'incarnationId', 'host', 'port', 'rack', 'listeners']);
      return {
        type,
        nodeId: shape.integer(c.nodeId, `${path}.nodeId`, 0, MAX_NODE_ID),
        incarnationId: shape.string(c.incarnationId, `${path}.incarnationId`, { maxLength: 64 }),
        host: shape.string(c.host, `${path}.host`, { maxLength: 255 }),
        port: shape.integer(c.port, `${path}.port`, 1, 65535),
        rack: shape.nullableString(c.rack, `${path}.rack`, 255),
        listeners: shape.array(c.listeners, `${path}.listeners`, MAX_LISTENERS, (v, at) => readListener(shape, v, at)),
      };
    }
    case MetadataCommandType.FENCE_BROKER:
    case MetadataCommandType.UNFENCE_BROKER: {
      const c = shape.object(value, path, ['type', 'nodeId', 'brokerEpoch']);
      return {
        type,
        nodeId: shape.integer(c.nodeId, `${path}.nodeId`, 0, MAX_NODE_ID),
        // A broker epoch is the offset of a registration record, so it is bounded like offsets.
        brokerEpoch: shape.integer(c.brokerEpoch, `${path}.brokerEpoch`, 0),
      };
    }
    case MetadataCommandType.CREATE_TOPIC: {
      const c = shape.object(value, path, ['type', 'name', 'topicId', 'partitions', 'configs']);
      return {
        type,
        ...topicFields(c),
        partitions: readPartitions(shape, c.partitions, `${path}.partitions`),
        configs: shape.stringMap(c.configs, `${path}.configs`, MAX_CONFIG_ENTRIES),
      };
    }
    case MetadataCommandType.DELETE_TOPIC: {
      const c = shape.object(value, path, ['type', 'name', 'topicId']);
      return { type, ...topicFields(c) };
    }
    case MetadataCommandType.ALTER_TOPIC_CONFIGS: {
      const c = shape.object(value, path, ['type', 'name', 'topicId', 'set', 'delete']);
      return {
        type,
        ...topicFields(c),
        set: shape.stringMap(c.set, `${path}.set`, MAX_CONFIG_ENTRIES),
        delete: shape
          .array(c.delete, `${path}.delete`, MAX_CONFIG_ENTRIES, (v, at) => shape.string(v, at, { maxLength: 255 }))
          .sort(),
      };
    }
    case MetadataCommandType.CREATE_PARTITIONS: {
      const c = shape.object(value, path, ['type', 'name', 'topicId', 'partitions']);
      return { type, ...topicFields(c), partitions: readPartitions(shape, c.partitions, `${path}.partitions`) };
    }
    case MetadataCommandType.REGISTER_COORDINATOR: {
      const c = shape.object(value, path, ['type', 'nodeId', 'raft', 'api']);
      return {
        type,
        nodeId: shape.integer(c.nodeId, `${path}.nodeId`, 1, MAX_NODE_ID),
        raft: readEndpoint(shape, c.raft, `${path}.raft`),
        api: c.api === null ? null : readEndpoint(shape, c.api, `${path}.api`),
      };
    }
    case MetadataCommandType.CHANGE_PARTITION:
      return readChangePartition(shape, value, path);
    case MetadataCommandType.BROKER_MAINTENANCE: {
      const c = shape.object(value, path, ['type', 'nodeId', 'draining']);
      if (typeof c.draining !== 'boolean') shape.fail(`${path}.draining`, 'true or false', c.draining);
      return { type, nodeId: shape.integer(c.nodeId, `${path}.nodeId`, 0, MAX_NODE_ID), draining: c.draining };
    }
    default:
      if (isGroupCommandType(type)) return readGroupCommand(shape, value, type, path);
      if (isTxnCommandType(type)) return readTxnCommand(shape, value, type, path);
      if (isSchemaCommandType(type)) return readSchemaCommand(shape, value, type, path);
      throw new StreamBusError(
        ErrorCode.UNSUPPORTED_VERSION,
        `${path}.type ${JSON.stringify(type) ?? 'undefined'} is not a metadata command this version knows ` +
          '(written by a newer StreamBus, or corrupt)',
      );
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A command's canonical bytes, and the deeply frozen command that decoding those bytes gives. */
export interface EncodedMetadataCommand {
  readonly bytes: Uint8Array;
  readonly command: MetadataCommand;
}

/**
 * Encodes a command as canonical bytes. Throws INVALID_REQUEST if the command is not well formed,
 * so nothing malformed is ever written to the log.
 */
export function encodeMetadataCommand(command: MetadataCommand): Uint8Array {
  return encodeCanonicalMetadataCommand(command).bytes;
}

/**
 * encodeMetadataCommand(), also returning the canonical command, equal to what
 * decodeMetadataCommand(bytes) returns: the leader applies the commands it proposed without
 * parsing its own bytes back. (The canonical form holds only strings, safe integers other than
 * -0, null, arrays and plain objects, so the JSON round trip gives it back unchanged.)
 */
export function encodeCanonicalMetadataCommand(command: MetadataCommand): EncodedMetadataCommand {
  if (command.type === GroupCommandType.COMMIT_OFFSETS) {
    const bytes = encodeCommitOffsets(command);
    return { bytes, command: decodeCommitOffsets(bytes) };
  }
  const canonical = readMetadataCommand(new ShapeReader(ErrorCode.INVALID_REQUEST, 'metadata command to encode'), command);
  const bytes = encoder.encode(JSON.stringify({ v: METADATA_ENVELOPE_VERSION, command: canonical }));
  return { bytes, command: deepFreeze(canonical) };
}

/**
 * A record read back from its canonical bytes (what the metadata log holds of a commit-offsets
 * command): `command` decodes them on first use; metadataRecordBytes() hands them on undecoded,
 * so serving such a record to a follower neither decodes nor encodes it.
 */
export class EncodedMetadataRecord implements MetadataRecord {
  readonly offset: number;
  declare readonly command: MetadataCommand;
  readonly #bytes: Uint8Array;
  #command: MetadataCommand | undefined;

  constructor(offset: number, bytes: Uint8Array) {
    this.offset = offset;
    this.#bytes = bytes;
    // An own, enumerable property like a plain record's, so the two compare and print alike.
    Object.defineProperty(this, 'command', { enumerable: true, get: () => (this.#command ??= decodeMetadataCommand(this.#bytes)) });
  }

  /** The canonical bytes, without decoding them. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }
}

/** A record's canonical bytes: those it was read from when it has them, else its command encoded now. */
export function metadataRecordBytes(record: MetadataRecord): Uint8Array {
  return record instanceof EncodedMetadataRecord ? record.bytes : encodeMetadataCommand(record.command);
}

/**
 * Decodes bytes written by encodeMetadataCommand into a deeply frozen command. Throws CORRUPT_MESSAGE
 * for bytes that are not a well-formed envelope and UNSUPPORTED_VERSION for a newer envelope or an
 * unknown command type.
 */
export function decodeMetadataCommand(bytes: Uint8Array): MetadataCommand {
  if (isBinaryCommitOffsets(bytes)) return decodeCommitOffsets(bytes);
  const shape = new ShapeReader(ErrorCode.CORRUPT_MESSAGE, 'metadata record');
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'metadata record is not valid UTF-8 JSON', { cause });
  }
  const envelope = shape.object(parsed, 'envelope', ['v', 'command']);
  const version = shape.integer(envelope.v, 'envelope.v', 1);
  if (version > METADATA_ENVELOPE_VERSION) {
    throw new StreamBusError(
      ErrorCode.UNSUPPORTED_VERSION,
      `metadata record has envelope version ${version}; this StreamBus reads up to ${METADATA_ENVELOPE_VERSION} ` +
        '(it was written by a newer version; upgrade this node)',
    );
  }
  return deepFreeze(readMetadataCommand(shape, envelope.command));
}
