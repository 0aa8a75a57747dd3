/**
 * The controller: turns admin requests into metadata commands, or into per-item errors.
 *
 * Pure functions of (current state, request, injected brokers and randomness). Each returns one
 * result per requested item and the commands to log for the items that succeeded, so one bad topic
 * never blocks the others. The caller must apply (or at least account for) the returned commands
 * before it runs the controller again: validation is only as good as the state it sees, which is
 * why the Coordinator runs admin operations one at a time.
 *
 * Error codes and rules follow Kafka's CreateTopics, DeleteTopics, IncrementalAlterConfigs,
 * CreatePartitions and BrokerHeartbeat, so the Kafka listener can pass results through unchanged.
 * New replicas go only to unfenced brokers (placementBrokers); broker-sessions.ts decides, with
 * brokerHeartbeat and fenceBroker here, when a broker is fenced or unfenced.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { assert } from './assert.js';
import {
  type BrokerListener,
  type FenceBrokerCommand,
  type MetadataCommand,
  type PartitionAssignment,
  type RegisterBrokerCommand,
  type UnfenceBrokerCommand,
  MetadataCommandType,
  readMetadataCommand,
} from './commands.js';
import { reassignmentTarget } from './partition-rules.js';
import { type RandomSource, randomUuid } from './random.js';
import { ShapeReader } from './shape.js';
import type { MetadataStateView } from './state.js';
import { type TopicConfigEntry, describeTopicConfigs, topicConfigKeyProblem, validateTopicConfigs } from './topic-config.js';
import { topicCollisionKey, topicNameProblem } from './topic-name.js';

/** The most partitions one topic may have unless the caller sets another limit. */
export const DEFAULT_MAX_PARTITIONS_PER_TOPIC = 10_000;

/** What replica placement needs to know about a live (registered and unfenced) broker. */
export interface PlacementBroker {
  readonly nodeId: number;
  readonly rack: string | null;
}

/** The per-item outcome of an admin operation. */
export interface TopicResult {
  readonly name: string;
  readonly errorCode: ErrorCode;
  /** null on success. */
  readonly errorMessage: string | null;
  /** Set on success (not for validateOnly creates, which allocate no id). */
  readonly topicId?: string;
}

export interface CreateTopicResult extends TopicResult {
  /** Set on success. */
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
}

export interface DescribeConfigsResult {
  readonly name: string;
  readonly errorCode: ErrorCode;
  readonly errorMessage: string | null;
  /** Empty on error. */
  readonly configs: readonly TopicConfigEntry[];
}

/** Results to return and commands to log (empty for validateOnly and for requests that all failed). */
export interface ControllerOutcome<R> {
  readonly results: R[];
  readonly commands: MetadataCommand[];
}

export interface CreateTopicRequest {
  readonly name: string;
  /** Omitted or -1: defaults.numPartitions. */
  readonly numPartitions?: number;
  /** Omitted or -1: defaults.replicationFactor. */
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string>>;
}

export interface TopicDefaults {
  /** Kafka's num.partitions. */
  readonly numPartitions: number;
  /** Kafka's default.replication.factor. */
  readonly replicationFactor: number;
}

export interface CreateTopicsOptions {
  readonly defaults: TopicDefaults;
  /** The brokers replicas may be placed on: placementBrokers(state) for a coordinator. */
  readonly brokers: readonly PlacementBroker[];
  readonly random: RandomSource;
  /** Validate and report, but return no commands. */
  readonly validateOnly?: boolean;
  readonly maxPartitionsPerTopic?: number;
}

/** One incremental config change, as in Kafka's IncrementalAlterConfigs. */
export type ConfigOp =
  | { readonly op: 'set'; readonly key: string; readonly value: string }
  /** Removes the override: the key reverts to its default. */
  | { readonly op: 'delete'; readonly key: string };

export interface AlterConfigsRequest {
  readonly name: string;
  readonly ops: readonly ConfigOp[];
}

export interface CreatePartitionsRequest {
  readonly name: string;
  /** The new total number of partitions. */
  readonly count: number;
}

export interface CreatePartitionsOptions {
  /** The brokers new replicas may be placed on: placementBrokers(state) for a coordinator. */
  readonly brokers: readonly PlacementBroker[];
  readonly random: RandomSource;
  readonly validateOnly?: boolean;
  readonly maxPartitionsPerTopic?: number;
}

export interface BrokerRegistrationRequest {
  readonly nodeId: number;
  readonly incarnationId: string;
  readonly host: string;
  readonly port: number;
  readonly rack?: string | null;
  readonly listeners?: readonly BrokerListener[];
}

export type RegisterBrokerOutcome =
  | { readonly command: RegisterBrokerCommand }
  /** The same incarnation registered again with identical details: nothing to log. */
  | { readonly command: null; readonly brokerEpoch: number };

/** A broker's periodic sign of life (Kafka's BrokerHeartbeat). */
export interface BrokerHeartbeatRequest {
  readonly nodeId: number;
  /** The epoch its registration returned. */
  readonly brokerEpoch: number;
  /** The offset of the last metadata record the broker has applied; -1 before any. */
  readonly metadataOffset: number;
  /** Asks to be fenced (controlled shutdown): the broker stays fenced while it keeps asking. */
  readonly wantFence?: boolean;
}

export interface BrokerHeartbeatOutcome {
  /** The transition to log, or null when the broker's state does not change. */
  readonly command: FenceBrokerCommand | UnfenceBrokerCommand | null;
  /** Whether the broker is fenced once `command` is applied. */
  readonly fenced: boolean;
}

const NONE = ErrorCode.NONE;

function failure(name: string, error: StreamBusError): TopicResult {
  return { name, errorCode: error.code, errorMessage: error.message };
}

/** Runs one item; a StreamBusError becomes that item's result, anything else is a bug and escapes. */
function perItem<R extends TopicResult>(name: string, run: () => R): R | TopicResult {
  try {
    return run();
  } catch (error) {
    if (error instanceof StreamBusError) return failure(name, error);
    throw error;
  }
}

function fail(code: ErrorCode, message: string, topic?: string): never {
  throw new StreamBusError(code, message, topic === undefined ? undefined : { context: { topic } });
}

/** Names that occur more than once; Kafka answers each occurrence with INVALID_REQUEST. */
function duplicates(names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const name of names) (seen.has(name) ? twice : seen).add(name);
  return twice;
}

function duplicateResult(name: string): TopicResult {
  return failure(name, new StreamBusError(ErrorCode.INVALID_REQUEST, `topic '${name}' appears more than once in the request`));
}

function randomIndex(random: RandomSource, n: number): number {
  const b = random(4);
  return ((((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0) % n;
}

/**
 * Chooses replicas for `count` partitions: leaders round-robin over the brokers from a random start,
 * followers the next brokers with a shift that changes every round so follower load spreads too.
 * When every broker has a rack and there are at least two racks, brokers are interleaved by rack and
 * each partition takes brokers from distinct racks first, so losing a rack loses at most one replica
 * of a partition while racks suffice. (Brokers with and without racks mixed: racks are ignored.)
 * Returns one replica list per partition, the preferred leader first. Single node: [[id], [id], ...].
 */
export function placeReplicas(
  brokers: readonly PlacementBroker[],
  count: number,
  replicationFactor: number,
  random: RandomSource,
): number[][] {
  assert(replicationFactor >= 1 && replicationFactor <= brokers.length, 'placement needs 1 ≤ RF ≤ brokers');
  const sorted = [...brokers].sort((a, b) => a.nodeId - b.nodeId);
  const racks = [...new Set(sorted.map((b) => b.rack))];
  const rackAware = racks.length > 1 && racks.every((r) => r !== null);
  const ring = rackAware ? interleaveByRack(sorted) : sorted;
  const n = ring.length;
  const start = randomIndex(random, n);
  const out: number[][] = [];
  for (let p = 0; p < count; p++) {
    const leaderIndex = (start + p) % n;
    const round = Math.floor(p / n);
    const leader = ring[leaderIndex];
    assert(leader !== undefined, 'leader index inside the ring');
    const chosen: PlacementBroker[] = [leader];
    const usedRacks = new Set([leader.rack]);
    // Walk the rest of the ring from a per-round shift; first pass takes only unused racks.
    const order: PlacementBroker[] = [];
    for (let k = 0; k < n - 1; k++) {
      const broker = ring[(leaderIndex + 1 + ((round + k) % (n - 1))) % n];
      if (broker !== undefined) order.push(broker);
    }
    for (const broker of order) {
      if (chosen.length === replicationFactor) break;
      if (!rackAware || !usedRacks.has(broker.rack)) {
        chosen.push(broker);
        usedRacks.add(broker.rack);
      }
    }
    for (const broker of order) {
      if (chosen.length === replicationFactor) break;
      if (!chosen.includes(broker)) chosen.push(broker);
    }
    out.push(chosen.map((b) => b.nodeId));
  }
  return out;
}

function interleaveByRack(sorted: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string | null, PlacementBroker[]>();
  for (const broker of sorted) {
    const list = byRack.get(broker.rack) ?? [];
    list.push(broker);
    byRack.set(broker.rack, list);
  }
  const lists = [...byRack.entries()].sort(([a], [b]) => ((a ?? '') < (b ?? '') ? -1 : 1)).map(([, list]) => list);
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < sorted.length; i++) {
    for (const list of lists) {
      const broker = list[i];
      if (broker !== undefined) out.push(broker);
    }
  }
  return out;
}

function newPartitions(replicaLists: readonly number[][], firstIndex: number): PartitionAssignment[] {
  return replicaLists.map((replicas, i) => ({
    partition: firstIndex + i,
    replicas,
    isr: [...replicas],
    leader: replicas[0] ?? -1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  }));
}

function checkReplicationFactor(rf: number, brokers: readonly PlacementBroker[], topic: string): void {
  if (rf > brokers.length) {
    fail(
      ErrorCode.INVALID_REPLICATION_FACTOR,
      `replication factor ${rf} is larger than the number of available brokers (${brokers.length}): ` +
        'only registered, unfenced brokers that are not draining take new replicas',
      topic,
    );
  }
}

/**
 * The brokers that may take new replicas: registered, unfenced and not draining, in node id order.
 * A fenced broker is starting (not caught up with the metadata yet), shutting down or has stopped
 * sending heartbeats; a replica placed on it would start under-replicated. A draining broker is
 * being emptied for maintenance (`streambus broker drain`).
 */
export function placementBrokers(state: MetadataStateView): PlacementBroker[] {
  return state.brokers()
    .filter((b) => !b.fenced && b.draining !== true)
    .map((b) => ({ nodeId: b.nodeId, rack: b.rack }));
}

function checkPartitionCount(count: number, max: number, topic: string): void {
  if (count > max) {
    fail(ErrorCode.INVALID_PARTITIONS, `${count} partitions is more than the limit of ${max} per topic`, topic);
  }
}

/**
 * Validates topic creations and returns a create-topic command for each valid one. Errors per topic:
 * INVALID_TOPIC (illegal name, or '.'/'_' collision with another topic), TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, INVALID_REQUEST (a name given twice).
 */
export function createTopics(
  state: MetadataStateView,
  requests: readonly CreateTopicRequest[],
  options: CreateTopicsOptions,
): ControllerOutcome<CreateTopicResult> {
  const maxPartitions = options.maxPartitionsPerTopic ?? DEFAULT_MAX_PARTITIONS_PER_TOPIC;
  const twice = duplicates(requests.map((r) => r.name));
  const collisionKeys = new Map(state.topics().map((t) => [topicCollisionKey(t.name), t.name]));
  const newIds = new Set<string>();
  const commands: MetadataCommand[] = [];
  const results = requests.map((request) => {
    const name = request.name;
    if (twice.has(name)) return duplicateResult(name);
    return perItem(name, (): CreateTopicResult => {
      const nameProblem = topicNameProblem(name);
      if (nameProblem !== undefined) fail(ErrorCode.INVALID_TOPIC, nameProblem, typeof name === 'string' ? name : undefined);
      if (state.topic(name) !== undefined) fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`, name);
      const collidesWith = collisionKeys.get(topicCollisionKey(name));
      if (collidesWith !== undefined) {
        fail(
          ErrorCode.INVALID_TOPIC,
          `topic '${name}' collides with topic '${collidesWith}': '.' and '_' read the same in metric names`,
          name,
        );
      }
      const numPartitions = resolveDefault(request.numPartitions, options.defaults.numPartitions);
      if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
        fail(ErrorCode.INVALID_PARTITIONS, `number of partitions must be at least 1 (or -1 for the default), got ${numPartitions}`, name);
      }
      checkPartitionCount(numPartitions, maxPartitions, name);
      const replicationFactor = resolveDefault(request.replicationFactor, options.defaults.replicationFactor);
      if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
        fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `replication factor must be at least 1 (or -1 for the default), got ${replicationFactor}`,
          name,
        );
      }
      checkReplicationFactor(replicationFactor, options.brokers, name);
      const configs = validateConfigsFor(name, request.configs ?? {});
      // The name is taken for the rest of this request even under validateOnly, as it would be.
      collisionKeys.set(topicCollisionKey(name), name);
      if (options.validateOnly === true) return { name, errorCode: NONE, errorMessage: null, numPartitions, replicationFactor };
      const topicId = newTopicId(state, newIds, options.random);
      const replicaLists = placeReplicas(options.brokers, numPartitions, replicationFactor, options.random);
      commands.push({
        type: MetadataCommandType.CREATE_TOPIC,
        name,
        topicId,
        partitions: newPartitions(replicaLists, 0),
        configs,
      });
      return { name, errorCode: NONE, errorMessage: null, topicId, numPartitions, replicationFactor };
    });
  });
  return { results, commands };
}

function resolveDefault(value: number | undefined, fallback: number): number {
  return value === undefined || value === -1 ? fallback : value;
}

function validateConfigsFor(topic: string, configs: Readonly<Record<string, string>>): Record<string, string> {
  try {
    return validateTopicConfigs(configs);
  } catch (error) {
    if (error instanceof StreamBusError) fail(error.code, `topic '${topic}': ${error.message}`, topic);
    throw error;
  }
}

function newTopicId(state: MetadataStateView, taken: Set<string>, random: RandomSource): string {
  // A collision of 122 random bits means the random source is broken; retry a few times, then stop.
  for (let attempt = 0; attempt < 8; attempt++) {
    const id = randomUuid(random);
    if (!taken.has(id) && state.topicById(id) === undefined) {
      taken.add(id);
      return id;
    }
  }
  assert(false, 'the random source keeps producing topic ids that are taken');
}

/** Returns a delete-topic command per existing topic; UNKNOWN_TOPIC_OR_PARTITION for the others. */
export function deleteTopics(state: MetadataStateView, names: readonly string[]): ControllerOutcome<TopicResult> {
  const twice = duplicates(names);
  const commands: MetadataCommand[] = [];
  const results = names.map((name) => {
    if (twice.has(name)) return duplicateResult(name);
    return perItem(name, (): TopicResult => {
      const topic = state.topic(name);
      if (topic === undefined) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`, name);
      commands.push({ type: MetadataCommandType.DELETE_TOPIC, name, topicId: topic.topicId });
      return { name, errorCode: NONE, errorMessage: null, topicId: topic.topicId };
    });
  });
  return { results, commands };
}

/**
 * Applies incremental config changes per topic. The merged result (current overrides, minus
 * deletes, plus sets) is validated as a whole; a topic whose merge changes nothing logs nothing.
 */
export function alterConfigs(
  state: MetadataStateView,
  requests: readonly AlterConfigsRequest[],
  options: { readonly validateOnly?: boolean } = {},
): ControllerOutcome<TopicResult> {
  const twice = duplicates(requests.map((r) => r.name));
  const commands: MetadataCommand[] = [];
  const results = requests.map(({ name, ops }) => {
    if (twice.has(name)) return duplicateResult(name);
    return perItem(name, (): TopicResult => {
      const topic = state.topic(name);
      if (topic === undefined) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`, name);
      const keys = ops.map((o) => o.key);
      const repeated = [...duplicates(keys)];
      if (repeated.length > 0) fail(ErrorCode.INVALID_REQUEST, `topic '${name}': config key '${repeated[0]}' appears in more than one operation`, name);
      const merged: Record<string, string> = { ...topic.configs };
      for (const op of ops) {
        if (op.op === 'set') {
          merged[op.key] = op.value;
        } else if (op.op === 'delete') {
          const problem = topicConfigKeyProblem(op.key);
          if (problem !== undefined) fail(ErrorCode.INVALID_CONFIG, `topic '${name}': cannot delete ${problem}`, name);
          delete merged[op.key];
        } else {
          fail(ErrorCode.INVALID_REQUEST, `topic '${name}': unknown config operation ${JSON.stringify((op as { op: unknown }).op)}`, name);
        }
      }
      const next = validateConfigsFor(name, merged);
      const set: Record<string, string> = {};
      for (const [key, value] of Object.entries(next)) if (topic.configs[key] !== value) set[key] = value;
      const removed = Object.keys(topic.configs).filter((key) => !(key in next)).sort();
      const changes = Object.keys(set).length + removed.length;
      if (options.validateOnly !== true && changes > 0) {
        commands.push({ type: MetadataCommandType.ALTER_TOPIC_CONFIGS, name, topicId: topic.topicId, set, delete: removed });
      }
      return { name, errorCode: NONE, errorMessage: null, topicId: topic.topicId };
    });
  });
  return { results, commands };
}

/**
 * Grows topics to a new partition count, placing the new partitions with the topic's replication
 * factor. INVALID_PARTITIONS when the count does not grow or passes the limit.
 */
export function createPartitions(
  state: MetadataStateView,
  requests: readonly CreatePartitionsRequest[],
  options: CreatePartitionsOptions,
): ControllerOutcome<TopicResult> {
  const maxPartitions = options.maxPartitionsPerTopic ?? DEFAULT_MAX_PARTITIONS_PER_TOPIC;
  const twice = duplicates(requests.map((r) => r.name));
  const commands: MetadataCommand[] = [];
  const results = requests.map(({ name, count }) => {
    if (twice.has(name)) return duplicateResult(name);
    return perItem(name, (): TopicResult => {
      const topic = state.topic(name);
      if (topic === undefined) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`, name);
      const current = topic.partitions.length;
      if (!Number.isSafeInteger(count)) fail(ErrorCode.INVALID_PARTITIONS, `partition count must be a whole number, got ${count}`, name);
      if (count === current) fail(ErrorCode.INVALID_PARTITIONS, `topic '${name}' already has ${current} partitions`, name);
      if (count < current) {
        fail(
          ErrorCode.INVALID_PARTITIONS,
          `topic '${name}' has ${current} partitions and cannot shrink to ${count}: partitions can only be added`,
          name,
        );
      }
      checkPartitionCount(count, maxPartitions, name);
      // The first partition's replication factor, as Kafka does; while it is being reassigned, its target's.
      const first = topic.partitions[0];
      const replicationFactor = first === undefined ? 1 : reassignmentTarget(first).length;
      checkReplicationFactor(replicationFactor, options.brokers, name);
      if (options.validateOnly !== true) {
        const replicaLists = placeReplicas(options.brokers, count - current, replicationFactor, options.random);
        commands.push({
          type: MetadataCommandType.CREATE_PARTITIONS,
          name,
          topicId: topic.topicId,
          partitions: newPartitions(replicaLists, current),
        });
      }
      return { name, errorCode: NONE, errorMessage: null, topicId: topic.topicId };
    });
  });
  return { results, commands };
}

/**
 * Validates a broker registration (INVALID_REQUEST on a malformed one). A repeat of the current
 * registration (same incarnation, same details) logs nothing and keeps its broker epoch, so a broker
 * that retries after a timeout does not fence itself.
 */
export function registerBroker(state: MetadataStateView, request: BrokerRegistrationRequest): RegisterBrokerOutcome {
  const shape = new ShapeReader(ErrorCode.INVALID_REQUEST, 'broker registration');
  const command = readMetadataCommand(
    shape,
    {
      type: MetadataCommandType.REGISTER_BROKER,
      nodeId: request.nodeId,
      incarnationId: request.incarnationId,
      host: request.host,
      port: request.port,
      rack: request.rack ?? null,
      listeners: request.listeners ?? [],
    },
    'registration',
  );
  assert(command.type === MetadataCommandType.REGISTER_BROKER, 'reader returned another command type');
  const names = command.listeners.map((l) => l.name);
  const repeated = [...duplicates(names)];
  if (repeated.length > 0) fail(ErrorCode.INVALID_REQUEST, `broker ${command.nodeId}: listener '${repeated[0]}' is named twice`);
  const current = state.broker(command.nodeId);
  if (
    current !== undefined &&
    current.incarnationId === command.incarnationId &&
    current.host === command.host &&
    current.port === command.port &&
    current.rack === command.rack &&
    JSON.stringify(current.listeners) === JSON.stringify(command.listeners)
  ) {
    return { command: null, brokerEpoch: current.brokerEpoch };
  }
  return { command };
}

/**
 * The fence-broker command for the broker's registration with `brokerEpoch`, or null when there is
 * nothing to fence (not registered, another epoch, or already fenced).
 */
export function fenceBroker(state: MetadataStateView, nodeId: number, brokerEpoch: number): FenceBrokerCommand | null {
  const broker = state.broker(nodeId);
  if (broker === undefined || broker.brokerEpoch !== brokerEpoch || broker.fenced) return null;
  return { type: MetadataCommandType.FENCE_BROKER, nodeId, brokerEpoch };
}

/**
 * Validates a heartbeat against the registration it names and decides the broker's fencing:
 * - wantFence: fence it (it is shutting down);
 * - otherwise a fenced broker is unfenced once it has applied the metadata up to its own
 *   registration record (its metadataOffset ≥ its broker epoch), so it knows every topic it hosts
 *   before it is given new ones; until then it stays fenced and keeps heartbeating.
 * Throws StreamBusError: INVALID_REQUEST for a malformed heartbeat, BROKER_ID_NOT_REGISTERED for a
 * node id with no registration (the broker registers again), STALE_BROKER_EPOCH for an epoch that
 * is not the current registration's (an older incarnation, or one this state has not seen).
 */
export function brokerHeartbeat(state: MetadataStateView, request: BrokerHeartbeatRequest): BrokerHeartbeatOutcome {
  const shape = new ShapeReader(ErrorCode.INVALID_REQUEST, 'broker heartbeat');
  const nodeId = shape.integer(request.nodeId, 'heartbeat.nodeId', 0, 2 ** 31 - 1);
  const brokerEpoch = shape.integer(request.brokerEpoch, 'heartbeat.brokerEpoch', 0);
  const metadataOffset = shape.integer(request.metadataOffset, 'heartbeat.metadataOffset', -1);
  const wantFence: unknown = request.wantFence ?? false;
  if (typeof wantFence !== 'boolean') shape.fail('heartbeat.wantFence', 'true or false', wantFence);
  const broker = state.broker(nodeId);
  if (broker === undefined) {
    throw new StreamBusError(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${nodeId} is not registered; register before sending heartbeats`, {
      context: { broker: String(nodeId) },
    });
  }
  if (broker.brokerEpoch !== brokerEpoch) {
    throw new StreamBusError(
      ErrorCode.STALE_BROKER_EPOCH,
      `broker ${nodeId} sent epoch ${brokerEpoch}, but its current registration has epoch ${broker.brokerEpoch}; register again`,
      { context: { broker: String(nodeId) } },
    );
  }
  if (wantFence) return { command: fenceBroker(state, nodeId, brokerEpoch), fenced: true };
  if (!broker.fenced) return { command: null, fenced: false };
  if (metadataOffset < brokerEpoch) return { command: null, fenced: true };
  return { command: { type: MetadataCommandType.UNFENCE_BROKER, nodeId, brokerEpoch }, fenced: false };
}

/** Describes each topic's configs; UNKNOWN_TOPIC_OR_PARTITION for topics that do not exist. */
export function describeConfigs(state: MetadataStateView, names: readonly string[]): DescribeConfigsResult[] {
  return names.map((name) => {
    const topic = state.topic(name);
    if (topic === undefined) {
      return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${name}' does not exist`, configs: [] };
    }
    return { name, errorCode: NONE, errorMessage: null, configs: describeTopicConfigs(topic.configs) };
  });
}
