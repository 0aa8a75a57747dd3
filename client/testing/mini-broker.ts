/**
 * An in-memory broker for testing clients: it speaks every native API with the semantics the
 * client relies on (offset assignment, whole-batch fetches with long polling,
 * OFFSET_OUT_OF_RANGE, ListOffsets by time, topic and config administration), and lets a test
 * inject faults: partition errors, whole-request errors, dropped connections, leaderless
 * partitions, a broker that is down.
 *
 * Several MiniBrokers form one cluster when each later one `joins` the first: they share the
 * topics (one copy of each log: every broker is a replica, always in sync), list each other in
 * metadata with their racks, and a test moves leaderships with setLeader (which bumps the leader
 * epoch). A broker that does not lead a partition answers NOT_LEADER_OR_FOLLOWER, except to a
 * consumer's fetch, which any replica serves (as the real broker does for rack-aware consumers).
 * A fetch carrying an older or newer current_leader_epoch gets FENCED_LEADER_EPOCH or
 * UNKNOWN_LEADER_EPOCH.
 *
 * Two ways in: `connect` (an in-process Connection, no sockets: fast and deterministic) or
 * `handle` (the Handler shape of broker/network/server.ts, to serve it over real TCP).
 * Idempotent producers: it hands out producer ids (INIT_PRODUCER_ID, and FIND_COORDINATOR names
 * itself) and checks each stamped batch's epoch and sequence as a partition leader does (a
 * duplicate of one of the last 5 batches answers with its original offset and writes nothing; a
 * gap answers OUT_OF_ORDER_SEQUENCE_NUMBER; an unknown producer with a sequence above 0,
 * UNKNOWN_PRODUCER_ID). A fault with `afterWrite` serves the request and then drops the answer,
 * as a connection lost after the broker wrote the batch. Transactions are not served here.
 *
 * Not a reference implementation of the broker: storage is a list of batches per partition.
 */
import type { ApiName, RequestOf, ResponseOf } from '../../proto/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { BATCH_HEADER_BYTES, decodeRecordBatchesSync, patchBaseOffset, readBatchHeader } from '../../proto/record-batch/index.js';
import { RequestTimeoutError } from '../errors.js';
import type { Connection, ConnectionOptions, RequestOptions } from '../network/types.js';

interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly bytes: Buffer;
}

/** What a partition leader remembers of one idempotent producer. */
interface ProducerEntry {
  epoch: number;
  lastSequence: number;
  /** The last 5 batches: (first sequence, last sequence, base offset). */
  readonly recent: { firstSequence: number; lastSequence: number; baseOffset: number }[];
}

interface PartitionLog {
  batches: StoredBatch[];
  logStartOffset: number;
  nextOffset: number;
  leader: number;
  leaderEpoch: number;
  readonly producers: Map<number, ProducerEntry>;
}

interface TopicState {
  readonly id: string;
  readonly partitions: PartitionLog[];
  readonly configs: Map<string, string>;
}

export interface InjectedFault {
  readonly api: ApiName;
  /** Restrict to one partition of one topic (partition-level error in the response body). */
  readonly topic?: string;
  readonly partition?: number;
  readonly errorCode: ErrorCode;
  /** How many times it fires. Default 1. */
  times?: number;
  /** Fail the whole request (an ErrorResponse / transport error) instead of one partition. */
  readonly wholeRequest?: boolean;
  /** Serve the request, then fail it as a whole: the answer is lost, the effect stays. */
  readonly afterWrite?: boolean;
}

export interface MiniBrokerOptions {
  readonly nodeId?: number;
  readonly host?: string;
  readonly port?: number;
  readonly clusterId?: string;
  /** This broker's rack in metadata. Default '' (none). */
  readonly rack?: string;
  /** Join this broker's cluster: share its topics and list each other in metadata. */
  readonly joins?: MiniBroker;
  /** false: answer INIT_PRODUCER_ID with UNSUPPORTED_VERSION, as a server without idempotence. Default true. */
  readonly idempotence?: boolean;
}

/** What the brokers of one mini cluster share. */
interface SharedState {
  readonly topics: Map<string, TopicState>;
  readonly members: MiniBroker[];
  readonly waiters: Set<() => void>;
  metadataOffset: number;
  nextTopicId: number;
  nextProducerId: number;
  /** Producer id → its current epoch, as the coordinator's producer-id bookkeeping. */
  readonly producerEpochs: Map<number, number>;
}

const TOPIC_DEFAULTS: Readonly<Record<string, string>> = {
  'max.message.bytes': '1048588',
  'retention.ms': '604800000',
  'cleanup.policy': 'delete',
};

export class MiniBroker {
  readonly nodeId: number;
  host: string;
  port: number;
  readonly clusterId: string;
  readonly rack: string;
  readonly faults: InjectedFault[] = [];
  /** Every request served, by API, for assertions. */
  readonly requests: { api: ApiName; body: unknown }[] = [];
  /** Delay before each in-process request is served, so several can be in flight. Default 0. */
  latencyMs = 0;
  /** While true, connects to this broker are refused (in-process connections only). */
  down = false;
  readonly #idempotence: boolean;
  readonly #connections = new Set<InProcessConnection>();
  readonly #shared: SharedState;

  constructor(options: MiniBrokerOptions = {}) {
    this.nodeId = options.nodeId ?? 1;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 9093;
    this.clusterId = options.joins?.clusterId ?? options.clusterId ?? 'mini-cluster';
    this.rack = options.rack ?? '';
    const joined = options.joins;
    this.#idempotence = options.idempotence ?? true;
    this.#shared =
      joined === undefined
        ? { topics: new Map(), members: [], waiters: new Set(), metadataOffset: 0, nextTopicId: 1, nextProducerId: 1000, producerEpochs: new Map() }
        : joined.#shared;
    this.#shared.members.push(this);
    this.#shared.metadataOffset++;
  }

  /** The cluster's topics (shared by every broker of a mini cluster). */
  get topics(): Map<string, TopicState> {
    return this.#shared.topics;
  }

  /**
   * A ConnectFn for the client: connections served in-process by the cluster member at the
   * address asked for (this broker for its own address or an unknown one). Refused with
   * NETWORK_EXCEPTION while that member is `down`.
   */
  readonly connect = (options: ConnectionOptions): Promise<Connection> => {
    const target = this.#shared.members.find((m) => m.host === options.host && m.port === options.port) ?? this;
    if (target.down) {
      return Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `cannot connect to ${options.host}:${options.port}: refused`, { context: { broker: `${options.host}:${options.port}` } }));
    }
    const connection = new InProcessConnection(target, options);
    target.#connections.add(connection);
    return Promise.resolve(connection);
  };

  /** Takes the broker down (its connections drop, connects are refused) or brings it back. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) this.dropConnections();
  }

  /** Fails every open in-process connection as if the network dropped it. */
  dropConnections(): void {
    for (const connection of this.#connections) connection.drop();
    this.#connections.clear();
  }

  createTopic(name: string, partitions = 1, configs: Record<string, string> = {}): void {
    const logs: PartitionLog[] = [];
    for (let i = 0; i < partitions; i++) logs.push({ batches: [], logStartOffset: 0, nextOffset: 0, leader: this.nodeId, leaderEpoch: 0, producers: new Map() });
    this.topics.set(name, { id: `topic-${this.#shared.nextTopicId++}`, partitions: logs, configs: new Map(Object.entries(configs)) });
    this.#shared.metadataOffset++;
  }

  /** Moves a partition's leadership (-1: none), bumping its leader epoch as a controller would. */
  setLeader(topic: string, partition: number, leader: number): void {
    const log = this.#log(topic, partition);
    log.leader = leader;
    log.leaderEpoch++;
    this.#shared.metadataOffset++;
  }

  /** Records stored in a partition, decoded. */
  records(topic: string, partition: number): { offset: number; key: string | null; value: string | null }[] {
    const log = this.#log(topic, partition);
    return log.batches.flatMap((b) =>
      decodeRecordBatchesSync(b.bytes).flatMap((batch) =>
        batch.records.map((r) => ({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null })),
      ),
    );
  }

  /** The Handler of broker/network/server.ts. */
  async handle<A extends ApiName>(api: A, _version: number, body: RequestOf<A>): Promise<ResponseOf<A>> {
    this.requests.push({ api, body });
    if (this.down) throw new StreamBusError(ErrorCode.NETWORK_EXCEPTION, `broker ${this.nodeId} is down`);
    const whole = this.#takeFault(api, undefined, undefined, true);
    if (whole !== undefined) throw new StreamBusError(whole, `injected ${api} failure`);
    const response = (await this.#dispatch(api, body as never)) as ResponseOf<A>;
    const lost = this.#takeFault(api, undefined, undefined, true, true);
    if (lost !== undefined) throw new StreamBusError(lost, `injected ${api} failure after it was served`);
    return response;
  }

  async #dispatch(api: ApiName, body: never): Promise<unknown> {
    switch (api) {
      case 'API_VERSIONS':
        return { errorCode: 0, apis: [], serverVersion: 'mini', clusterId: this.clusterId, nodeId: this.nodeId, maxFrameBytes: 64 << 20, maxInFlight: 64 };
      case 'METADATA':
        return this.#metadata(body);
      case 'PRODUCE':
        return this.#produce(body);
      case 'FETCH':
        return this.#fetch(body);
      case 'LIST_OFFSETS':
        return this.#listOffsets(body);
      case 'CREATE_TOPICS':
        return this.#createTopics(body);
      case 'DELETE_TOPICS':
        return this.#deleteTopics(body);
      case 'DESCRIBE_CONFIGS':
        return this.#describeConfigs(body);
      case 'ALTER_CONFIGS':
        return this.#alterConfigs(body);
      case 'CREATE_PARTITIONS':
        return this.#createPartitions(body);
      case 'DELETE_RECORDS':
        return this.#deleteRecords(body);
      case 'FIND_COORDINATOR':
        return { errorCode: 0, errorMessage: '', nodeId: this.nodeId, host: this.host, port: this.port };
      case 'INIT_PRODUCER_ID':
        return this.#initProducerId(body);
    }
    throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `${api} is not served by the mini broker`);
  }

  #initProducerId(body: RequestOf<'INIT_PRODUCER_ID'>): ResponseOf<'INIT_PRODUCER_ID'> {
    if (!this.#idempotence) throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, 'INIT_PRODUCER_ID is not served');
    const epochs = this.#shared.producerEpochs;
    if (body.producerId >= 0) {
      const epoch = epochs.get(body.producerId);
      if (epoch === undefined) return { errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING, errorMessage: 'unknown producer id', producerId: -1, producerEpoch: -1, throttleMs: 0 };
      epochs.set(body.producerId, epoch + 1);
      return { errorCode: 0, errorMessage: '', producerId: body.producerId, producerEpoch: epoch + 1, throttleMs: 0 };
    }
    const producerId = this.#shared.nextProducerId++;
    epochs.set(producerId, 0);
    return { errorCode: 0, errorMessage: '', producerId, producerEpoch: 0, throttleMs: 0 };
  }

  /**
   * The leader's sequence check of one stamped batch: NONE to write it, a duplicate's original base
   * offset, or the refusal.
   */
  #checkSequence(log: PartitionLog, producerId: number, epoch: number, firstSequence: number, count: number): { errorCode: ErrorCode; duplicateOf?: number } {
    const lastSequence = (firstSequence + count - 1) % 0x8000_0000;
    const entry = log.producers.get(producerId);
    if (entry !== undefined && epoch < entry.epoch) return { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH };
    if (entry === undefined || epoch > entry.epoch) {
      if (firstSequence !== 0) return { errorCode: entry === undefined ? ErrorCode.UNKNOWN_PRODUCER_ID : ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
      return { errorCode: ErrorCode.NONE };
    }
    const duplicate = entry.recent.find((b) => b.firstSequence === firstSequence && b.lastSequence === lastSequence);
    if (duplicate !== undefined) return { errorCode: ErrorCode.NONE, duplicateOf: duplicate.baseOffset };
    if (firstSequence !== (entry.lastSequence + 1) % 0x8000_0000) return { errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    return { errorCode: ErrorCode.NONE };
  }

  #recordSequence(log: PartitionLog, producerId: number, epoch: number, firstSequence: number, count: number, baseOffset: number): void {
    const lastSequence = (firstSequence + count - 1) % 0x8000_0000;
    let entry = log.producers.get(producerId);
    if (entry === undefined || epoch > entry.epoch) {
      entry = { epoch, lastSequence, recent: [] };
      log.producers.set(producerId, entry);
    }
    entry.lastSequence = lastSequence;
    entry.recent.push({ firstSequence, lastSequence, baseOffset });
    if (entry.recent.length > 5) entry.recent.shift();
  }

  #takeFault(api: ApiName, topic: string | undefined, partition: number | undefined, wholeRequest: boolean, afterWrite = false): ErrorCode | undefined {
    const index = this.faults.findIndex(
      (f) =>
        f.api === api &&
        (f.wholeRequest ?? false) === wholeRequest &&
        (f.afterWrite ?? false) === afterWrite &&
        (wholeRequest || ((f.topic === undefined || f.topic === topic) && (f.partition === undefined || f.partition === partition))),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault.errorCode;
  }

  #log(topic: string, partition: number): PartitionLog {
    const log = this.topics.get(topic)?.partitions[partition];
    if (log === undefined) throw new Error(`no ${topic}-${partition}`);
    return log;
  }

  #metadata(body: RequestOf<'METADATA'>): ResponseOf<'METADATA'> {
    const names = body.allTopics ? [...this.topics.keys()] : body.topics;
    return {
      clusterId: this.clusterId,
      controllerId: this.nodeId,
      brokers: this.#shared.members.map((m) => ({ nodeId: m.nodeId, host: m.host, port: m.port, rack: m.rack })),
      metadataOffset: this.#shared.metadataOffset,
      topics: names.map((name) => {
        const topic = this.topics.get(name);
        if (topic === undefined) {
          return { name, topicId: '', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'unknown topic', internal: false, partitions: [] };
        }
        return {
          name,
          topicId: topic.id,
          errorCode: 0,
          errorMessage: '',
          internal: false,
          partitions: topic.partitions.map((p, i) => ({
            partition: i,
            errorCode: p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : 0,
            leader: p.leader,
            leaderEpoch: p.leaderEpoch,
            replicas: this.#shared.members.map((m) => m.nodeId),
            isr: this.#shared.members.map((m) => m.nodeId),
          })),
        };
      }),
    };
  }

  /**
   * The error a partition gets, if any: an injected fault, an unknown partition, a leader epoch
   * that does not match (when the request carries one), or NOT_LEADER_OR_FOLLOWER unless this
   * broker leads it or (`anyReplica`, a consumer's fetch) is one of its replicas.
   */
  #partitionError(api: ApiName, topic: string, partition: number, anyReplica = false, currentLeaderEpoch?: number): number {
    const injected = this.#takeFault(api, topic, partition, false);
    if (injected !== undefined) return injected;
    const log = this.topics.get(topic)?.partitions[partition];
    if (log === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (currentLeaderEpoch !== undefined && currentLeaderEpoch >= 0) {
      if (currentLeaderEpoch < log.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
      if (currentLeaderEpoch > log.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    }
    if (log.leader !== this.nodeId && !(anyReplica && log.leader >= 0)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return ErrorCode.NONE;
  }

  #produce(body: RequestOf<'PRODUCE'>): ResponseOf<'PRODUCE'> {
    const topics = body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const errorCode = this.#partitionError('PRODUCE', t.name, p.partition);
        const result = { partition: p.partition, errorCode, errorMessage: '', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
        if (errorCode !== ErrorCode.NONE) return result;
        const log = this.#log(t.name, p.partition);
        const maxBytes = Number(this.topics.get(t.name)!.configs.get('max.message.bytes') ?? TOPIC_DEFAULTS['max.message.bytes']);
        // Copy: the producer keeps its buffer for retries, and offsets are patched in place.
        const records = Buffer.from(p.records);
        const baseOffset = log.nextOffset;
        let position = 0;
        const stored: StoredBatch[] = [];
        while (position + BATCH_HEADER_BYTES <= records.length) {
          const header = readBatchHeader(records, position);
          if (header.sizeBytes > maxBytes) return { ...result, errorCode: ErrorCode.MESSAGE_TOO_LARGE };
          if (header.producerId >= 0) {
            const check = this.#checkSequence(log, header.producerId, header.producerEpoch, header.baseSequence, header.recordCount);
            if (check.errorCode !== ErrorCode.NONE) return { ...result, errorCode: check.errorCode };
            if (check.duplicateOf !== undefined) return { ...result, baseOffset: check.duplicateOf, logStartOffset: log.logStartOffset };
            this.#recordSequence(log, header.producerId, header.producerEpoch, header.baseSequence, header.recordCount, log.nextOffset);
          }
          patchBaseOffset(records, position, log.nextOffset);
          const bytes = records.subarray(position, position + header.sizeBytes);
          stored.push({ baseOffset: log.nextOffset, lastOffset: log.nextOffset + header.lastOffsetDelta, maxTimestamp: header.maxTimestamp, bytes });
          log.nextOffset += header.lastOffsetDelta + 1;
          position += header.sizeBytes;
        }
        log.batches.push(...stored);
        return { ...result, baseOffset, logStartOffset: log.logStartOffset };
      }),
    }));
    for (const wake of this.#shared.waiters) wake();
    return { topics, throttleMs: 0 };
  }

  async #fetch(body: RequestOf<'FETCH'>): Promise<ResponseOf<'FETCH'>> {
    const deadline = Date.now() + body.maxWaitMs;
    for (;;) {
      let bytes = 0;
      let budget = body.maxBytes;
      // As the real broker does, a partition error answers the long poll at once.
      let failed = false;
      const topics = body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const base = { partition: p.partition, errorMessage: '', highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: Buffer.alloc(0), abortedTransactions: [] };
          const consumer = (body.replicaId ?? 0) <= 0;
          const errorCode = this.#partitionError('FETCH', t.name, p.partition, consumer, p.currentLeaderEpoch);
          if (errorCode !== ErrorCode.NONE) {
            failed = true;
            return { ...base, errorCode };
          }
          const log = this.#log(t.name, p.partition);
          const marks = { highWatermark: log.nextOffset, lastStableOffset: log.nextOffset, logStartOffset: log.logStartOffset };
          if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.nextOffset) {
            failed = true;
            return { ...base, ...marks, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
          }
          const chosen: Buffer[] = [];
          let size = 0;
          for (const batch of log.batches) {
            if (batch.lastOffset < p.fetchOffset) continue;
            // At least one whole batch, then whole batches while they fit (KIP-74).
            if (chosen.length > 0 && (size + batch.bytes.length > p.maxBytes || size + batch.bytes.length > budget)) break;
            chosen.push(batch.bytes);
            size += batch.bytes.length;
          }
          budget -= size;
          bytes += size;
          return { ...base, ...marks, errorCode: 0, records: chosen.length === 1 ? chosen[0]! : Buffer.concat(chosen) };
        }),
      }));
      const remaining = deadline - Date.now();
      if (bytes >= Math.max(1, body.minBytes) || failed || remaining <= 0) return { topics, throttleMs: 0 };
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#shared.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, remaining);
        this.#shared.waiters.add(wake);
      });
    }
  }

  #listOffsets(body: RequestOf<'LIST_OFFSETS'>): ResponseOf<'LIST_OFFSETS'> {
    return {
      topics: body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const errorCode = this.#partitionError('LIST_OFFSETS', t.name, p.partition);
          const result = { partition: p.partition, errorCode, errorMessage: '', offset: -1, timestamp: -1 };
          if (errorCode !== ErrorCode.NONE) return result;
          const log = this.#log(t.name, p.partition);
          if (p.timestamp === -2) return { ...result, offset: log.logStartOffset };
          if (p.timestamp === -1) return { ...result, offset: log.nextOffset };
          for (const batch of log.batches) {
            if (batch.maxTimestamp < p.timestamp) continue;
            for (const decoded of decodeRecordBatchesSync(batch.bytes)) {
              for (const r of decoded.records) {
                if (r.timestamp >= p.timestamp && r.offset >= log.logStartOffset) return { ...result, offset: r.offset, timestamp: r.timestamp };
              }
            }
          }
          return result;
        }),
      })),
    };
  }

  #createTopics(body: RequestOf<'CREATE_TOPICS'>): ResponseOf<'CREATE_TOPICS'> {
    return {
      topics: body.topics.map((t) => {
        const injected = this.#takeFault('CREATE_TOPICS', t.name, undefined, false);
        if (injected !== undefined) return { name: t.name, errorCode: injected, errorMessage: 'injected', topicId: '' };
        if (this.topics.has(t.name)) return { name: t.name, errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `topic ${t.name} already exists`, topicId: '' };
        if (t.partitions < 0) return { name: t.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'bad count', topicId: '' };
        for (const key of Object.keys(t.configs)) {
          if (!(key in TOPIC_DEFAULTS)) return { name: t.name, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `unknown config ${key}`, topicId: '' };
        }
        if (!body.validateOnly) this.createTopic(t.name, t.partitions === 0 ? 1 : t.partitions, t.configs);
        return { name: t.name, errorCode: 0, errorMessage: '', topicId: this.topics.get(t.name)?.id ?? '' };
      }),
      metadataOffset: 0,
    };
  }

  #deleteTopics(body: RequestOf<'DELETE_TOPICS'>): ResponseOf<'DELETE_TOPICS'> {
    return {
      topics: body.names.map((name) => {
        const existed = this.topics.delete(name);
        if (existed) this.#shared.metadataOffset++;
        return { name, errorCode: existed ? 0 : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: existed ? '' : 'unknown topic', topicId: '' };
      }),
      metadataOffset: 0,
    };
  }

  #describeConfigs(body: RequestOf<'DESCRIBE_CONFIGS'>): ResponseOf<'DESCRIBE_CONFIGS'> {
    return {
      topics: body.topics.map((name) => {
        const topic = this.topics.get(name);
        if (topic === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'unknown topic', entries: [] };
        const entries = Object.entries(TOPIC_DEFAULTS).map(([key, fallback]) => {
          const set = topic.configs.get(key);
          return { name: key, value: set ?? fallback, source: set === undefined ? 'default' : 'topic', readOnly: false, sensitive: false, documentation: '' };
        });
        return { name, errorCode: 0, errorMessage: '', entries };
      }),
    };
  }

  #alterConfigs(body: RequestOf<'ALTER_CONFIGS'>): ResponseOf<'ALTER_CONFIGS'> {
    return {
      topics: body.topics.map((t) => {
        const topic = this.topics.get(t.name);
        if (topic === undefined) return { name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'unknown topic', topicId: '' };
        const bad = t.ops.find((op) => !(op.name in TOPIC_DEFAULTS));
        if (bad !== undefined) return { name: t.name, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `unknown config ${bad.name}`, topicId: '' };
        if (!body.validateOnly) {
          for (const op of t.ops) {
            if (op.op === 1) topic.configs.delete(op.name);
            else topic.configs.set(op.name, op.value ?? '');
          }
        }
        return { name: t.name, errorCode: 0, errorMessage: '', topicId: topic.id };
      }),
      metadataOffset: 0,
    };
  }

  #createPartitions(body: RequestOf<'CREATE_PARTITIONS'>): ResponseOf<'CREATE_PARTITIONS'> {
    return {
      topics: body.topics.map((t) => {
        const topic = this.topics.get(t.name);
        if (topic === undefined) return { name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'unknown topic', topicId: '' };
        if (t.count <= topic.partitions.length) {
          return { name: t.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `topic has ${topic.partitions.length} partitions already`, topicId: '' };
        }
        if (!body.validateOnly) {
          while (topic.partitions.length < t.count) topic.partitions.push({ batches: [], logStartOffset: 0, nextOffset: 0, leader: this.nodeId, leaderEpoch: 0, producers: new Map() });
          this.#shared.metadataOffset++;
        }
        return { name: t.name, errorCode: 0, errorMessage: '', topicId: topic.id };
      }),
      metadataOffset: 0,
    };
  }

  #deleteRecords(body: RequestOf<'DELETE_RECORDS'>): ResponseOf<'DELETE_RECORDS'> {
    return {
      topics: body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const errorCode = this.#partitionError('DELETE_RECORDS', t.name, p.partition);
          if (errorCode !== ErrorCode.NONE) return { partition: p.partition, errorCode, errorMessage: '', lowWatermark: -1 };
          const log = this.#log(t.name, p.partition);
          const target = p.offset === -1 ? log.nextOffset : p.offset;
          if (target > log.nextOffset) return { partition: p.partition, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, errorMessage: '', lowWatermark: -1 };
          log.logStartOffset = Math.max(log.logStartOffset, target);
          log.batches = log.batches.filter((b) => b.lastOffset >= log.logStartOffset);
          return { partition: p.partition, errorCode: 0, errorMessage: '', lowWatermark: log.logStartOffset };
        }),
      })),
    };
  }
}

/** A Connection served in-process by a MiniBroker: no sockets, same contract. */
class InProcessConnection implements Connection {
  readonly host: string;
  readonly port: number;
  #connected = true;
  readonly #pending = new Set<(error: StreamBusError) => void>();
  readonly #broker: MiniBroker;
  readonly #requestTimeoutMs: number;

  constructor(broker: MiniBroker, options: ConnectionOptions) {
    this.#broker = broker;
    this.host = options.host;
    this.port = options.port;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  get connected(): boolean {
    return this.#connected;
  }

  request<A extends ApiName>(api: A, body: RequestOf<A>, options: RequestOptions = {}): Promise<ResponseOf<A>> {
    if (!this.#connected) return Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'connection closed'));
    return new Promise<ResponseOf<A>>((resolve, reject) => {
      const fail = (error: StreamBusError): void => {
        cleanup();
        reject(error);
      };
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      const timer = setTimeout(() => fail(new RequestTimeoutError(api, `${this.host}:${this.port}`, timeoutMs)), timeoutMs);
      const onAbort = (): void => fail(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, 'aborted'));
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#pending.delete(fail);
        options.signal?.removeEventListener('abort', onAbort);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(fail);
      // Answer on a later turn, as a socket would (after latencyMs when the test set one).
      const latencyMs = this.#broker.latencyMs;
      const later = (serve: () => void): void => {
        if (latencyMs > 0) setTimeout(serve, latencyMs);
        else setImmediate(serve);
      };
      later(() => {
        this.#broker.handle(api, 0, body).then(
          (response) => {
            if (!this.#pending.has(fail)) return;
            cleanup();
            resolve(response);
          },
          (error: unknown) => fail(error instanceof StreamBusError ? error : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(error))),
        );
      });
    });
  }

  send<A extends ApiName>(api: A, body: RequestOf<A>): Promise<void> {
    if (!this.#connected) return Promise.reject(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'connection closed'));
    void this.#broker.handle(api, 0, body).catch(() => undefined);
    return Promise.resolve();
  }

  drop(): void {
    this.#connected = false;
    for (const fail of [...this.#pending]) fail(new StreamBusError(ErrorCode.NETWORK_EXCEPTION, 'connection dropped'));
  }

  close(): Promise<void> {
    this.drop();
    return Promise.resolve();
  }
}
