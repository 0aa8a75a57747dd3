/**
 * The metadata state machine: folds committed metadata records into the cluster's current view.
 *
 * `apply` is deterministic (the same records in the same order always give the same state and
 * events, on every node, whether they arrive from the local log or, later, from Raft) and total for
 * commands the controller produced: commands are validated before they are logged, so `apply`
 * asserts its preconditions instead of validating, and a failed assertion is a bug that stops the
 * node (MetadataAssertionError) rather than a request error. Preconditions are all checked before
 * anything changes, so a failed assertion leaves the state as it was.
 *
 * Every image it hands out (topics, partitions, brokers, events) is frozen and replaced, never
 * mutated, on change: a broker may keep an old TopicImage from an event while the state moves on.
 *
 * Brokers: a registration starts fenced and is unfenced or fenced again only by fence-broker and
 * unfence-broker records naming its current broker epoch. Heartbeat times are soft state on the
 * active coordinator (broker-sessions.ts) and never reach the log; only the transitions do.
 *
 * Coordinators: register-coordinator records where each coordinator node (a Raft group member)
 * listens. Which nodes are voters is the Raft log's business, not this state's: a record outlives
 * its node's removal, and the coordinator combines the two.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { assert } from './assert.js';
import {
  type BrokerListener,
  type ChangePartitionCommand,
  type CoordinatorEndpoint,
  type CreateTopicCommand,
  type MetadataCommand,
  type MetadataRecord,
  type PartitionAssignment,
  type RegisterBrokerCommand,
  type RegisterCoordinatorCommand,
  MetadataCommandType,
  readMetadataCommand,
} from './commands.js';
import { ShapeReader, deepFreeze } from './shape.js';
import { isGroupCommand } from '../groups/group-commands.js';
import { type GroupImage, type GroupStoreView, GroupStore } from '../groups/group-store.js';
import { isSchemaCommand } from '../schema-registry/schema-commands.js';
import { type SchemaStoreSnapshot, type SchemaStoreView, SchemaStore } from '../schema-registry/schema-store.js';
import { isTxnCommand } from '../transactions/txn-commands.js';
import { type TransactionSnapshot, type TransactionStoreView, TransactionStore } from '../transactions/txn-store.js';

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  /** Index i holds partition i. */
  readonly partitions: readonly PartitionAssignment[];
  /** Config overrides only (canonical); see topic-config.ts for defaults. Keys sorted. */
  readonly configs: Readonly<Record<string, string>>;
}

export interface BrokerRegistration {
  readonly nodeId: number;
  readonly incarnationId: string;
  /** The offset of the registering record: grows with each registration, fences older incarnations. */
  readonly brokerEpoch: number;
  /**
   * A fenced broker takes no new replicas. True from registration until a heartbeat shows the broker
   * caught up with the metadata log, and again after its session expires or it asks to be fenced.
   */
  readonly fenced: boolean;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  readonly listeners: readonly BrokerListener[];
  /**
   * In maintenance (`streambus broker drain`): leads nothing another in-sync replica can lead, and
   * takes no new replicas or preferred leaderships. Absent when not draining. Survives registering
   * again: it belongs to the node id, not to one process.
   */
  readonly draining?: true;
}

/** Where a coordinator node listens, as its last register-coordinator record says. */
export interface CoordinatorRegistration {
  readonly nodeId: number;
  readonly raft: CoordinatorEndpoint;
  /** null while not known. */
  readonly api: CoordinatorEndpoint | null;
}

export const MetadataEventType = {
  CLUSTER_INITIALIZED: 'cluster-initialized',
  BROKER_REGISTERED: 'broker-registered',
  BROKER_FENCED: 'broker-fenced',
  BROKER_UNFENCED: 'broker-unfenced',
  BROKER_MAINTENANCE_CHANGED: 'broker-maintenance-changed',
  TOPIC_CREATED: 'topic-created',
  TOPIC_DELETED: 'topic-deleted',
  PARTITIONS_CREATED: 'partitions-created',
  TOPIC_CONFIGS_CHANGED: 'topic-configs-changed',
  COORDINATOR_REGISTERED: 'coordinator-registered',
  PARTITION_CHANGED: 'partition-changed',
  SNAPSHOT_LOADED: 'snapshot-loaded',
} as const;
export type MetadataEventType = (typeof MetadataEventType)[keyof typeof MetadataEventType];

/** What one applied record changed; brokers open and close partition logs from these. */
export type MetadataEvent =
  | { readonly type: 'cluster-initialized'; readonly offset: number; readonly clusterId: string }
  | {
      readonly type: 'broker-registered';
      readonly offset: number;
      readonly broker: BrokerRegistration;
      readonly previous: BrokerRegistration | null;
    }
  | { readonly type: 'broker-fenced'; readonly offset: number; readonly broker: BrokerRegistration }
  | { readonly type: 'broker-unfenced'; readonly offset: number; readonly broker: BrokerRegistration }
  | { readonly type: 'broker-maintenance-changed'; readonly offset: number; readonly broker: BrokerRegistration }
  | { readonly type: 'topic-created'; readonly offset: number; readonly topic: TopicImage }
  | { readonly type: 'topic-deleted'; readonly offset: number; readonly topic: TopicImage }
  | {
      readonly type: 'partitions-created';
      readonly offset: number;
      readonly topic: TopicImage;
      readonly partitions: readonly PartitionAssignment[];
    }
  | {
      readonly type: 'topic-configs-changed';
      readonly offset: number;
      readonly topic: TopicImage;
      readonly previousConfigs: Readonly<Record<string, string>>;
      /** Keys whose override was set, changed or removed, sorted. */
      readonly changedKeys: readonly string[];
    }
  | {
      readonly type: 'coordinator-registered';
      readonly offset: number;
      readonly coordinator: CoordinatorRegistration;
      readonly previous: CoordinatorRegistration | null;
    }
  | {
      readonly type: 'partition-changed';
      readonly offset: number;
      readonly topic: TopicImage;
      readonly partition: PartitionAssignment;
      readonly previous: PartitionAssignment;
    }
  /**
   * Never returned by MetadataState.apply: a MetadataCache emits it alone when it replaced its whole
   * state with a snapshot, because the log no longer holds the records it had not read. Records
   * from previous.lastAppliedOffset + 1 to `offset` were never seen one by one, so no per-record
   * events describe them. A listener must reconcile from the new state as a whole: open what it now
   * hosts, close what is gone (compare topic ids with `previous.topics`, since a topic may have been
   * deleted and re-created under the same name), and re-read broker registrations.
   */
  | { readonly type: 'snapshot-loaded'; readonly offset: number; readonly previous: MetadataSnapshot };

/**
 * The snapshot format this code writes. Version 2 added `fenced` to brokers; restore still reads
 * version 1, whose brokers come back fenced (they were registered before fencing existed, and a live
 * broker is unfenced again by its next heartbeat). Version 3 added `coordinators`; older versions
 * restore with none (each node records itself again when it next leads). Version 4 added `groups`
 * (consumer groups and their committed offsets), present only when there are some. Version 5 added
 * reassignments (a partition's `addingReplicas` and `removingReplicas`) and maintenance (a broker's
 * `draining`), each present only when set: older snapshots read with none. Version 6 added
 * `schemas` (the schema registry), present only when it holds something. Version 7 added
 * `transactions` (the next producer id and every transactional id), present only when it holds
 * something: older snapshots read with none (no producer id was ever handed out before it).
 */
export const METADATA_SNAPSHOT_VERSION = 7;
const OLDEST_SNAPSHOT_VERSION = 1;

/** The whole state as a plain JSON-able object: for Raft snapshots and fast starts. */
export interface MetadataSnapshot {
  readonly version: typeof METADATA_SNAPSHOT_VERSION;
  readonly lastAppliedOffset: number;
  readonly clusterId: string | null;
  /** Sorted by nodeId. */
  readonly brokers: readonly BrokerRegistration[];
  /** Sorted by name. */
  readonly topics: readonly TopicImage[];
  /** Sorted by nodeId. */
  readonly coordinators: readonly CoordinatorRegistration[];
  /** Consumer groups, sorted by group id; absent when there are none. */
  readonly groups?: readonly GroupImage[];
  /** The schema registry; absent when it holds nothing. */
  readonly schemas?: SchemaStoreSnapshot;
  /** Producer ids and transactions; absent when nothing was ever allocated or stored. */
  readonly transactions?: TransactionSnapshot;
}

/** The read side of the state machine, for code that must not apply records. */
export interface MetadataStateView {
  /** null until the init-cluster record is applied. */
  readonly clusterId: string | null;
  /** The offset of the last applied record; -1 before any. */
  readonly lastAppliedOffset: number;
  topic(name: string): TopicImage | undefined;
  topicById(topicId: string): TopicImage | undefined;
  /** Sorted by name. */
  topics(): readonly TopicImage[];
  broker(nodeId: number): BrokerRegistration | undefined;
  /** Sorted by nodeId. */
  brokers(): readonly BrokerRegistration[];
  coordinator(nodeId: number): CoordinatorRegistration | undefined;
  /** Sorted by nodeId. */
  coordinators(): readonly CoordinatorRegistration[];
  /** Consumer groups: memberships and committed offsets (../groups/group-store.ts). */
  readonly groups: GroupStoreView;
  /** The schema registry: ids, subjects, versions, configs and modes (../schema-registry/schema-store.ts). */
  readonly schemas: SchemaStoreView;
  /** Producer ids and transactional ids (../transactions/txn-store.ts). */
  readonly transactions: TransactionStoreView;
  snapshot(): MetadataSnapshot;
}

/** Returns why a partition assignment is malformed, or undefined. Shared with the controller. */
export function partitionProblem(p: PartitionAssignment, expectedIndex: number): string | undefined {
  if (p.partition !== expectedIndex) return `partition ${p.partition} is out of order (expected ${expectedIndex})`;
  if (p.replicas.length === 0) return `partition ${p.partition} has no replicas`;
  if (new Set(p.replicas).size !== p.replicas.length) return `partition ${p.partition} names a replica twice`;
  if (!p.isr.every((id) => p.replicas.includes(id))) return `partition ${p.partition} has an ISR member outside its replicas`;
  if (new Set(p.isr).size !== p.isr.length) return `partition ${p.partition} names an ISR member twice`;
  if (p.leader !== -1 && !p.isr.includes(p.leader)) return `partition ${p.partition} has a leader outside its ISR`;
  const adding = p.addingReplicas ?? [];
  const removing = p.removingReplicas ?? [];
  if (![...adding, ...removing].every((id) => p.replicas.includes(id))) return `partition ${p.partition} reassigns a broker outside its replicas`;
  if (new Set([...adding, ...removing]).size !== adding.length + removing.length) return `partition ${p.partition} names a broker twice among its adding and removing replicas`;
  if (removing.length > 0 && removing.length === p.replicas.length) return `partition ${p.partition} removes every replica`;
  return undefined;
}

function byName(a: TopicImage, b: TopicImage): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The keys whose value differs between two config maps (set, changed or removed), sorted. Written
 * out rather than with a Set of both key lists: every replica runs it for every config change.
 */
function changedConfigKeys(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string[] {
  const changed: string[] = [];
  for (const key of Object.keys(before)) if (before[key] !== after[key]) changed.push(key);
  for (const key of Object.keys(after)) if (!Object.hasOwn(before, key)) changed.push(key);
  return changed.sort();
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] ?? '';
  return out;
}

export class MetadataState implements MetadataStateView {
  #clusterId: string | null = null;
  #lastAppliedOffset = -1;
  readonly #topicsByName = new Map<string, TopicImage>();
  readonly #topicsById = new Map<string, TopicImage>();
  readonly #brokers = new Map<number, BrokerRegistration>();
  readonly #coordinators = new Map<number, CoordinatorRegistration>();
  #groups = GroupStore.empty();
  #schemas = SchemaStore.empty();
  #transactions = TransactionStore.empty();
  #sortedTopics: readonly TopicImage[] | undefined;
  #sortedBrokers: readonly BrokerRegistration[] | undefined;
  #sortedCoordinators: readonly CoordinatorRegistration[] | undefined;

  /** An empty state, before offset 0. */
  static empty(): MetadataState {
    return new MetadataState();
  }

  /**
   * An independent copy: applying records to it leaves this state alone. Cheap next to restore():
   * the images are frozen, so the copy shares them and only the maps are new (the coordinator keeps
   * a speculative copy, the committed state plus the writes it has proposed and not yet applied).
   */
  clone(): MetadataState {
    const copy = new MetadataState();
    copy.#clusterId = this.#clusterId;
    copy.#lastAppliedOffset = this.#lastAppliedOffset;
    for (const [name, topic] of this.#topicsByName) copy.#topicsByName.set(name, topic);
    for (const [id, topic] of this.#topicsById) copy.#topicsById.set(id, topic);
    for (const [id, broker] of this.#brokers) copy.#brokers.set(id, broker);
    for (const [id, coordinator] of this.#coordinators) copy.#coordinators.set(id, coordinator);
    copy.#groups = this.#groups.clone();
    copy.#schemas = this.#schemas.clone();
    copy.#transactions = this.#transactions.clone();
    copy.#sortedTopics = this.#sortedTopics;
    copy.#sortedBrokers = this.#sortedBrokers;
    copy.#sortedCoordinators = this.#sortedCoordinators;
    return copy;
  }

  /**
   * Rebuilds a state from snapshot(). The snapshot is checked field by field (it may come from disk
   * or a peer): a malformed one throws StreamBusError CORRUPT_MESSAGE, an unknown version
   * UNSUPPORTED_VERSION... through the same reader as commands.
   */
  static restore(snapshot: unknown): MetadataState {
    const shape = new ShapeReader(ErrorCode.CORRUPT_MESSAGE, 'metadata snapshot');
    const s = shape.object(snapshot, 'snapshot', ['version', 'lastAppliedOffset', 'clusterId', 'brokers', 'topics', 'coordinators', 'groups', 'schemas', 'transactions']);
    const version = shape.integer(s.version, 'snapshot.version', 0);
    if (version < OLDEST_SNAPSHOT_VERSION || version > METADATA_SNAPSHOT_VERSION) {
      throw new StreamBusError(
        ErrorCode.UNSUPPORTED_VERSION,
        `metadata snapshot has version ${version}; this StreamBus reads versions ${OLDEST_SNAPSHOT_VERSION}..${METADATA_SNAPSHOT_VERSION}` +
          (version > METADATA_SNAPSHOT_VERSION ? ' (it was written by a newer version; upgrade this node)' : ''),
      );
    }
    const brokerFields = ['nodeId', 'incarnationId', 'brokerEpoch', 'host', 'port', 'rack', 'listeners'];
    if (version >= 2) brokerFields.push('fenced');
    if (version >= 5) brokerFields.push('draining');
    const state = new MetadataState();
    state.#lastAppliedOffset = shape.integer(s.lastAppliedOffset, 'snapshot.lastAppliedOffset', -1);
    state.#clusterId = shape.nullableString(s.clusterId, 'snapshot.clusterId', 255);
    // Brokers and topics are read through the command reader, so a snapshot accepts exactly the
    // shapes the log accepts, and restore cannot build an image apply could not have built.
    shape.array(s.brokers, 'snapshot.brokers', 100_000, (value, path) => {
      const b = shape.object(value, path, brokerFields);
      const { brokerEpoch, fenced, draining, ...rest } = b;
      const command = readMetadataCommand(shape, { ...rest, type: MetadataCommandType.REGISTER_BROKER }, path);
      assert(command.type === MetadataCommandType.REGISTER_BROKER, 'reader returned another command type');
      const epoch = shape.integer(brokerEpoch, `${path}.brokerEpoch`, 0, state.#lastAppliedOffset);
      if (version >= 2 && typeof fenced !== 'boolean') shape.fail(`${path}.fenced`, 'true or false', fenced);
      if (draining !== undefined && draining !== true) shape.fail(`${path}.draining`, 'true, or absent', draining);
      if (state.#brokers.has(command.nodeId)) shape.fail(`${path}.nodeId`, 'unique', command.nodeId);
      state.#brokers.set(command.nodeId, brokerImage(command, epoch, fenced !== false, draining === true));
    });
    shape.array(s.topics, 'snapshot.topics', 1_000_000, (value, path) => {
      const command = readMetadataCommand(shape, { ...shape.object(value, path, ['name', 'topicId', 'partitions', 'configs']), type: MetadataCommandType.CREATE_TOPIC }, path);
      assert(command.type === MetadataCommandType.CREATE_TOPIC, 'reader returned another command type');
      if (state.#topicsByName.has(command.name)) shape.fail(`${path}.name`, 'unique', command.name);
      if (state.#topicsById.has(command.topicId)) shape.fail(`${path}.topicId`, 'unique', command.topicId);
      command.partitions.forEach((p, i) => {
        const problem = partitionProblem(p, i);
        if (problem !== undefined) shape.fail(`${path}.partitions[${i}]`, 'well formed', problem);
      });
      if (command.partitions.length === 0) shape.fail(`${path}.partitions`, 'non-empty', []);
      const image = topicImage(command);
      state.#topicsByName.set(image.name, image);
      state.#topicsById.set(image.topicId, image);
    });
    if (version >= 3) {
      shape.array(s.coordinators, 'snapshot.coordinators', 10_000, (value, path) => {
        const command = readMetadataCommand(shape, { ...shape.object(value, path, ['nodeId', 'raft', 'api']), type: MetadataCommandType.REGISTER_COORDINATOR }, path);
        assert(command.type === MetadataCommandType.REGISTER_COORDINATOR, 'reader returned another command type');
        if (state.#coordinators.has(command.nodeId)) shape.fail(`${path}.nodeId`, 'unique', command.nodeId);
        state.#coordinators.set(command.nodeId, coordinatorImage(command));
      });
    } else if (s.coordinators !== undefined) {
      shape.fail('snapshot.coordinators', `absent in a version ${version} snapshot`, s.coordinators);
    }
    if (s.groups !== undefined) {
      if (version < 4) shape.fail('snapshot.groups', `absent in a version ${version} snapshot`, s.groups);
      state.#groups = GroupStore.restore(shape, s.groups, 'snapshot.groups');
    }
    if (s.schemas !== undefined) {
      if (version < 6) shape.fail('snapshot.schemas', `absent in a version ${version} snapshot`, s.schemas);
      state.#schemas = SchemaStore.restore(shape, s.schemas, 'snapshot.schemas');
    }
    if (s.transactions !== undefined) {
      if (version < 7) shape.fail('snapshot.transactions', `absent in a version ${version} snapshot`, s.transactions);
      state.#transactions = TransactionStore.restore(shape, s.transactions, 'snapshot.transactions');
    }
    return state;
  }

  get clusterId(): string | null {
    return this.#clusterId;
  }

  get lastAppliedOffset(): number {
    return this.#lastAppliedOffset;
  }

  topic(name: string): TopicImage | undefined {
    return this.#topicsByName.get(name);
  }

  topicById(topicId: string): TopicImage | undefined {
    return this.#topicsById.get(topicId);
  }

  topics(): readonly TopicImage[] {
    this.#sortedTopics ??= Object.freeze([...this.#topicsByName.values()].sort(byName));
    return this.#sortedTopics;
  }

  broker(nodeId: number): BrokerRegistration | undefined {
    return this.#brokers.get(nodeId);
  }

  brokers(): readonly BrokerRegistration[] {
    this.#sortedBrokers ??= Object.freeze([...this.#brokers.values()].sort((a, b) => a.nodeId - b.nodeId));
    return this.#sortedBrokers;
  }

  coordinator(nodeId: number): CoordinatorRegistration | undefined {
    return this.#coordinators.get(nodeId);
  }

  coordinators(): readonly CoordinatorRegistration[] {
    this.#sortedCoordinators ??= Object.freeze([...this.#coordinators.values()].sort((a, b) => a.nodeId - b.nodeId));
    return this.#sortedCoordinators;
  }

  get groups(): GroupStoreView {
    return this.#groups;
  }

  get schemas(): SchemaStoreView {
    return this.#schemas;
  }

  get transactions(): TransactionStoreView {
    return this.#transactions;
  }

  snapshot(): MetadataSnapshot {
    // The images are frozen plain objects, so sharing them in the snapshot is safe and cheap.
    return {
      version: METADATA_SNAPSHOT_VERSION,
      lastAppliedOffset: this.#lastAppliedOffset,
      clusterId: this.#clusterId,
      brokers: this.brokers(),
      topics: this.topics(),
      coordinators: this.coordinators(),
      ...(this.#groups.size === 0 ? {} : { groups: this.#groups.snapshot() }),
      ...(this.#schemas.empty ? {} : { schemas: this.#schemas.snapshot() }),
      ...(this.#transactions.isEmpty ? {} : { transactions: this.#transactions.snapshot() }),
    };
  }

  /**
   * Applies one committed record and returns what changed. Offsets must increase strictly; they
   * need not be contiguous, because a Raft log may hold entries that are not metadata commands.
   */
  apply(record: MetadataRecord): MetadataEvent[] {
    const { offset, command } = record;
    assert(
      Number.isSafeInteger(offset) && offset > this.#lastAppliedOffset,
      () => `record offset ${offset} does not follow the last applied offset ${this.#lastAppliedOffset}`,
    );
    const events = this.#applyCommand(offset, command);
    this.#lastAppliedOffset = offset;
    return events;
  }

  #applyCommand(offset: number, command: MetadataCommand): MetadataEvent[] {
    // Group commands change no topic, broker or coordinator, so they raise no events.
    if (isGroupCommand(command)) {
      this.#groups.apply(command, (topic, partition) => (this.#topicsByName.get(topic)?.partitions.length ?? 0) > partition);
      return [];
    }
    // Schema commands likewise touch only the registry's own store.
    if (isSchemaCommand(command)) {
      this.#schemas.apply(command);
      return [];
    }
    // Producer ids and transactions likewise; the offsets a commit publishes are a group command.
    if (isTxnCommand(command)) {
      this.#transactions.apply(command);
      return [];
    }
    switch (command.type) {
      case MetadataCommandType.INIT_CLUSTER: {
        assert(
          this.#clusterId === null || this.#clusterId === command.clusterId,
          () => `cluster id is already ${this.#clusterId}; offset ${offset} sets ${command.clusterId}`,
        );
        if (this.#clusterId !== null) return [];
        this.#clusterId = command.clusterId;
        return [{ type: MetadataEventType.CLUSTER_INITIALIZED, offset, clusterId: command.clusterId }];
      }
      case MetadataCommandType.NO_OP:
        return [];
      case MetadataCommandType.REGISTER_BROKER: {
        const previous = this.#brokers.get(command.nodeId) ?? null;
        const broker = brokerImage(command, offset, true, previous?.draining === true);
        this.#putBroker(broker);
        return [{ type: MetadataEventType.BROKER_REGISTERED, offset, broker, previous }];
      }
      case MetadataCommandType.FENCE_BROKER:
      case MetadataCommandType.UNFENCE_BROKER: {
        const fence = command.type === MetadataCommandType.FENCE_BROKER;
        const current = this.#brokers.get(command.nodeId);
        // Not an assertion: the coordinator decided this against the registration it saw, and a
        // newer registration may have committed first. Every replica sees the same order and
        // skips it alike, so skipping keeps them identical.
        if (current === undefined || current.brokerEpoch !== command.brokerEpoch || current.fenced === fence) return [];
        const broker: BrokerRegistration = deepFreeze({ ...current, fenced: fence });
        this.#putBroker(broker);
        return [{ type: fence ? MetadataEventType.BROKER_FENCED : MetadataEventType.BROKER_UNFENCED, offset, broker }];
      }
      case MetadataCommandType.CREATE_TOPIC: {
        assert(!this.#topicsByName.has(command.name), () => `offset ${offset} creates topic ${command.name}, which exists`);
        assert(!this.#topicsById.has(command.topicId), () => `offset ${offset} reuses topic id ${command.topicId}`);
        assert(command.partitions.length > 0, () => `offset ${offset} creates topic ${command.name} with no partitions`);
        command.partitions.forEach((p, i) => {
          const problem = partitionProblem(p, i);
          assert(problem === undefined, () => `offset ${offset}, topic ${command.name}: ${problem}`);
        });
        const topic = topicImage(command);
        this.#putTopic(topic);
        return [{ type: MetadataEventType.TOPIC_CREATED, offset, topic }];
      }
      case MetadataCommandType.DELETE_TOPIC: {
        const topic = this.#existingTopic(offset, command.name, command.topicId);
        this.#topicsByName.delete(topic.name);
        this.#topicsById.delete(topic.topicId);
        this.#sortedTopics = undefined;
        this.#groups.topicDeleted(topic.name);
        return [{ type: MetadataEventType.TOPIC_DELETED, offset, topic }];
      }
      case MetadataCommandType.ALTER_TOPIC_CONFIGS: {
        const topic = this.#existingTopic(offset, command.name, command.topicId);
        const configs: Record<string, string> = { ...topic.configs };
        for (const key of command.delete) delete configs[key];
        Object.assign(configs, command.set);
        const next = sortedRecord(configs);
        const changedKeys = changedConfigKeys(topic.configs, next);
        if (changedKeys.length === 0) return [];
        const updated: TopicImage = deepFreeze({ ...topic, configs: next });
        this.#putTopic(updated);
        return [
          {
            type: MetadataEventType.TOPIC_CONFIGS_CHANGED,
            offset,
            topic: updated,
            previousConfigs: topic.configs,
            changedKeys,
          },
        ];
      }
      case MetadataCommandType.CREATE_PARTITIONS: {
        const topic = this.#existingTopic(offset, command.name, command.topicId);
        assert(command.partitions.length > 0, () => `offset ${offset} adds no partitions to ${command.name}`);
        const first = topic.partitions.length;
        command.partitions.forEach((p, i) => {
          const problem = partitionProblem(p, first + i);
          assert(problem === undefined, () => `offset ${offset}, topic ${command.name}: ${problem}`);
        });
        const added = command.partitions.map(copyPartition);
        const updated: TopicImage = deepFreeze({ ...topic, partitions: [...topic.partitions, ...added] });
        this.#putTopic(updated);
        return [{ type: MetadataEventType.PARTITIONS_CREATED, offset, topic: updated, partitions: updated.partitions.slice(first) }];
      }
      case MetadataCommandType.CHANGE_PARTITION:
        return this.#changePartition(offset, command);
      case MetadataCommandType.BROKER_MAINTENANCE: {
        const current = this.#brokers.get(command.nodeId);
        assert(current !== undefined, () => `offset ${offset} puts broker ${command.nodeId} in or out of maintenance, but it is not registered`);
        if ((current.draining === true) === command.draining) return [];
        const { draining: _draining, ...rest } = current;
        const broker: BrokerRegistration = deepFreeze(command.draining ? { ...rest, draining: true } : rest);
        this.#putBroker(broker);
        return [{ type: MetadataEventType.BROKER_MAINTENANCE_CHANGED, offset, broker }];
      }
      case MetadataCommandType.REGISTER_COORDINATOR: {
        const previous = this.#coordinators.get(command.nodeId) ?? null;
        const coordinator = coordinatorImage(command);
        if (previous !== null && sameCoordinator(previous, coordinator)) return [];
        this.#coordinators.set(coordinator.nodeId, coordinator);
        this.#sortedCoordinators = undefined;
        return [{ type: MetadataEventType.COORDINATOR_REGISTERED, offset, coordinator, previous }];
      }
    }
  }

  /**
   * A partition's new leader, ISR and replica set. The partition epoch grows by one; the leader
   * epoch grows by one when the leader differs from the current one (also from -1 to a broker, and
   * back). A change naming replicas sets the reassignment too (none when it names no adding or
   * removing replicas); one without keeps the reassignment as it is.
   */
  #changePartition(offset: number, command: ChangePartitionCommand): MetadataEvent[] {
    const topic = this.#topicsById.get(command.topicId);
    assert(topic !== undefined, () => `offset ${offset} changes a partition of topic id ${command.topicId}, which does not exist`);
    const previous = topic.partitions[command.partition];
    assert(previous !== undefined, () => `offset ${offset} changes partition ${command.partition} of ${topic.name}, which does not exist`);
    const leader = command.leader ?? previous.leader;
    const reassignment = command.replicas === undefined ? previous : command;
    const next: PartitionAssignment = {
      partition: previous.partition,
      replicas: [...(command.replicas ?? previous.replicas)],
      isr: [...(command.isr ?? previous.isr)],
      leader,
      leaderEpoch: leader === previous.leader ? previous.leaderEpoch : previous.leaderEpoch + 1,
      partitionEpoch: previous.partitionEpoch + 1,
      ...(reassignment.addingReplicas === undefined ? {} : { addingReplicas: [...reassignment.addingReplicas] }),
      ...(reassignment.removingReplicas === undefined ? {} : { removingReplicas: [...reassignment.removingReplicas] }),
    };
    const problem = partitionProblem(next, command.partition);
    assert(problem === undefined, () => `offset ${offset}, topic ${topic.name}: ${problem}`);
    assert(next.isr.length > 0, () => `offset ${offset} empties the ISR of ${topic.name}-${command.partition}`);
    const partitions = topic.partitions.slice();
    partitions[command.partition] = next;
    const updated: TopicImage = deepFreeze({ ...topic, partitions });
    this.#putTopic(updated);
    return [{ type: MetadataEventType.PARTITION_CHANGED, offset, topic: updated, partition: updated.partitions[command.partition]!, previous }];
  }

  #existingTopic(offset: number, name: string, topicId: string): TopicImage {
    const topic = this.#topicsById.get(topicId);
    assert(
      topic !== undefined && topic.name === name,
      () => `offset ${offset} names topic ${name} (${topicId}), which does not exist`,
    );
    return topic;
  }

  #putBroker(broker: BrokerRegistration): void {
    this.#brokers.set(broker.nodeId, broker);
    this.#sortedBrokers = undefined;
  }

  #putTopic(topic: TopicImage): void {
    this.#topicsByName.set(topic.name, topic);
    this.#topicsById.set(topic.topicId, topic);
    this.#sortedTopics = undefined;
  }
}

// Images are built in one place each, so apply and restore produce identical objects (down to the
// field order that JSON snapshots of them show).

function brokerImage(command: RegisterBrokerCommand, brokerEpoch: number, fenced: boolean, draining: boolean): BrokerRegistration {
  return deepFreeze({
    nodeId: command.nodeId,
    incarnationId: command.incarnationId,
    brokerEpoch,
    fenced,
    host: command.host,
    port: command.port,
    rack: command.rack,
    listeners: command.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })),
    ...(draining ? { draining: true as const } : {}),
  });
}

function coordinatorImage(command: RegisterCoordinatorCommand): CoordinatorRegistration {
  return deepFreeze({
    nodeId: command.nodeId,
    raft: { host: command.raft.host, port: command.raft.port },
    api: command.api === null ? null : { host: command.api.host, port: command.api.port },
  });
}

function sameCoordinator(a: CoordinatorRegistration, b: CoordinatorRegistration): boolean {
  const sameEndpoint = (x: CoordinatorEndpoint | null, y: CoordinatorEndpoint | null): boolean =>
    x === null || y === null ? x === y : x.host === y.host && x.port === y.port;
  return a.nodeId === b.nodeId && sameEndpoint(a.raft, b.raft) && sameEndpoint(a.api, b.api);
}

function topicImage(command: CreateTopicCommand): TopicImage {
  return deepFreeze({
    name: command.name,
    topicId: command.topicId,
    partitions: command.partitions.map(copyPartition),
    configs: sortedRecord(command.configs),
  });
}

function copyPartition(p: PartitionAssignment): PartitionAssignment {
  return {
    partition: p.partition,
    replicas: [...p.replicas],
    isr: [...p.isr],
    leader: p.leader,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    ...(p.addingReplicas === undefined ? {} : { addingReplicas: [...p.addingReplicas] }),
    ...(p.removingReplicas === undefined ? {} : { removingReplicas: [...p.removingReplicas] }),
  };
}
