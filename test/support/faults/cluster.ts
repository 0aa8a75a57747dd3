/**
 * A local StreamBus cluster of real processes for fault tests and the replication benchmarks:
 * three `streambus coordinator` processes (test/support/coordinator-cluster.ts) and N `streambus
 * broker` processes (test/support/broker-process.ts), all on 127.0.0.1 with ephemeral ports and
 * their own temp data directories.
 *
 * On top of the two process harnesses it keeps what a fault test needs to ask between faults:
 * which brokers are paused (a stopped process still accepts TCP connections, so it must not be
 * asked anything), a partition's leader, replicas and ISR as a running broker's followed metadata
 * has it, and each broker's own log end offsets (its Prometheus `partition_log_end_offset` gauges,
 * what an operator would look at). Faults: kill -9, SIGSTOP/SIGCONT, restart on the same data, and
 * wiping a stopped broker's data directory (a lost disk).
 *
 * The compiled CLI (dist/) runs the processes: `npm run build` first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type Connection } from '../../../client/index.js';
import { ErrorCode } from '../../../proto/errors.js';
import type * as M from '../../../proto/messages.js';
import { BrokerProcess } from '../broker-process.js';
import { CoordinatorCluster } from '../coordinator-cluster.js';

/** The first broker's node id; the others follow (101, 102, 103, ...). */
export const FIRST_BROKER_ID = 101;

export type Settings = Readonly<Record<string, string | number | boolean>>;

export interface LocalClusterOptions {
  /** Broker processes. Default 3. */
  readonly brokers?: number;
  /** Extra settings for every coordinator (e.g. broker.session.timeout.ms). */
  readonly coordinatorSettings?: Settings;
  /**
   * Extra settings for every broker. The broker harness heartbeats every 500 ms unless told
   * otherwise; pass `'broker.heartbeat.interval.ms': 2000` for the product default.
   */
  readonly brokerSettings?: Settings;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
}

/** Polls `probe` every `everyMs` until it returns true; throws `what` with `details()` at the deadline. */
export async function eventually(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number, details: () => string = () => '', everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await Promise.resolve()
      .then(probe)
      .catch(() => false);
    if (done) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${details()}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export class LocalCluster {
  readonly coordinators: CoordinatorCluster;
  readonly brokers: readonly BrokerProcess[];
  readonly #root: string;
  readonly #paused = new Set<number>();

  private constructor(coordinators: CoordinatorCluster, brokers: BrokerProcess[], root: string) {
    this.coordinators = coordinators;
    this.brokers = brokers;
    this.#root = root;
  }

  /** Starts the coordinators, then every broker, and waits until each broker is ready (registered and unfenced). */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const root = await mkdtemp(path.join(tmpdir(), 'streambus-local-cluster-'));
    const coordinators = await CoordinatorCluster.start({ nodes: 3, settings: options.coordinatorSettings ?? {} });
    const brokers: BrokerProcess[] = [];
    for (let i = 0; i < (options.brokers ?? 3); i++) {
      const nodeId = FIRST_BROKER_ID + i;
      brokers.push(
        new BrokerProcess({ nodeId, dataDir: path.join(root, `broker-${nodeId}`), coordinators: coordinators.bootstrap, settings: options.brokerSettings ?? {} }),
      );
    }
    const cluster = new LocalCluster(coordinators, brokers, root);
    try {
      await Promise.all(brokers.map((broker) => broker.start()));
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  broker(nodeId: number): BrokerProcess {
    const broker = this.brokers.find((b) => b.nodeId === nodeId);
    if (broker === undefined) throw new Error(`no broker ${nodeId} in this cluster`);
    return broker;
  }

  /** Brokers that run and are not paused: the ones that can answer. */
  get answering(): BrokerProcess[] {
    return this.brokers.filter((b) => b.running && !this.#paused.has(b.nodeId));
  }

  /** "host:port" of every answering broker, for a client's bootstrap list. */
  get bootstrap(): string[] {
    return this.answering.map((b) => b.address);
  }

  async kill(nodeId: number): Promise<void> {
    await this.broker(nodeId).kill();
    this.#paused.delete(nodeId);
  }

  /** Starts a stopped or killed broker again on its data directory (new ports); resolves once it is ready. */
  async restart(nodeId: number): Promise<void> {
    await this.broker(nodeId).start();
  }

  /** SIGSTOP. */
  pause(nodeId: number): void {
    this.broker(nodeId).pause();
    this.#paused.add(nodeId);
  }

  /** SIGCONT. */
  resume(nodeId: number): void {
    this.broker(nodeId).resume();
    this.#paused.delete(nodeId);
  }

  isPaused(nodeId: number): boolean {
    return this.#paused.has(nodeId);
  }

  /** Deletes a stopped broker's data directory: it comes back as an empty replica. */
  async wipe(nodeId: number): Promise<void> {
    const broker = this.broker(nodeId);
    if (broker.running) throw new Error(`broker ${nodeId} is running: stop it before wiping its data`);
    await rm(broker.dataDir, { recursive: true, force: true });
  }

  /** Creates a topic through a broker and waits until every answering broker sees a leader for each partition. */
  async createTopic(spec: TopicSpec): Promise<void> {
    const broker = this.answering[0];
    if (broker === undefined) throw new Error('no broker answers');
    const connection = await connectTo(broker);
    try {
      const created = await connection.request('CREATE_TOPICS', {
        topics: [{ name: spec.name, partitions: spec.partitions, replicationFactor: spec.replicationFactor, configs: { ...spec.configs } }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      const result = created.topics[0];
      if (result?.errorCode !== ErrorCode.NONE) throw new Error(`creating ${spec.name} failed: ${result?.errorCode ?? '?'} ${result?.errorMessage ?? ''}`);
    } finally {
      await connection.close();
    }
    await eventually(
      `${spec.name} led on every broker`,
      async () => {
        const views = await Promise.all(this.answering.map((b) => this.partitionsOn(b, spec.name)));
        return views.every((partitions) => partitions !== undefined && partitions.length === spec.partitions && partitions.every((p) => p.leader > 0));
      },
      20_000,
      () => this.logs(),
    );
  }

  /** A topic's partitions as `broker`'s followed metadata has them; undefined when it does not answer. */
  async partitionsOn(broker: BrokerProcess, topic: string): Promise<M.PartitionInfo[] | undefined> {
    if (!broker.running || this.#paused.has(broker.nodeId)) return undefined;
    const connection = await connectTo(broker).catch(() => undefined);
    if (connection === undefined) return undefined;
    try {
      const answer = await connection.request('METADATA', { topics: [topic], allTopics: false, allowAutoTopicCreation: false }, { timeoutMs: 2_000 });
      const found = answer.topics[0];
      return found?.errorCode === ErrorCode.NONE ? found.partitions : undefined;
    } catch {
      return undefined;
    } finally {
      await connection.close();
    }
  }

  /** A topic's partitions as the first answering broker other than `except` sees them. */
  async partitions(topic: string, except?: number): Promise<M.PartitionInfo[]> {
    for (const broker of this.answering) {
      if (broker.nodeId === except) continue;
      const found = await this.partitionsOn(broker, topic);
      if (found !== undefined) return found;
    }
    throw new Error(`no broker answered METADATA for ${topic}`);
  }

  /** One partition, as `partitions` sees it. */
  async partition(topic: string, partition: number, except?: number): Promise<M.PartitionInfo> {
    const found = (await this.partitions(topic, except)).find((p) => p.partition === partition);
    if (found === undefined) throw new Error(`${topic} has no partition ${partition}`);
    return found;
  }

  /** Whether every partition of `topic` has its whole replica set in sync, as every answering broker sees it. */
  async fullyInSync(topic: string): Promise<boolean> {
    const views = await Promise.all(this.answering.map((b) => this.partitionsOn(b, topic)));
    return views.every((partitions) => partitions !== undefined && partitions.every((p) => p.leader > 0 && p.isr.length === p.replicas.length));
  }

  /** Partition → log end offset on one broker, from its metrics. */
  async logEndOffsets(nodeId: number, topic: string): Promise<Map<number, number>> {
    const text = await this.broker(nodeId).metrics();
    const ends = new Map<number, number>();
    const pattern = /^streambus_partition_log_end_offset\{([^}]*)\} (\d+)/gm;
    for (const match of text.matchAll(pattern)) {
      const labels = match[1]!;
      if (!labels.includes(`topic="${topic}"`)) continue;
      const partition = /partition="(\d+)"/.exec(labels)?.[1];
      if (partition !== undefined) ends.set(Number(partition), Number(match[2]));
    }
    return ends;
  }

  /** The last log lines of every process, for a failing test's message. */
  logs(lines = 20): string {
    const brokers = this.brokers.map((b) => `--- broker ${b.nodeId}\n${b.lines.slice(-lines).join('\n')}`).join('\n');
    return `${this.coordinators.logs(lines)}\n${brokers}`;
  }

  /** Kills every process and deletes every data directory. Safe to call twice. */
  async dispose(): Promise<void> {
    await Promise.all(this.brokers.map((b) => b.kill()));
    this.#paused.clear();
    await this.coordinators.dispose();
    await rm(this.#root, { recursive: true, force: true });
  }
}

/** A native connection to one broker with short timeouts (the caller closes it). */
export function connectTo(broker: BrokerProcess, requestTimeoutMs = 5_000): Promise<Connection> {
  return connect({ host: broker.native.host, port: broker.native.port, requestTimeoutMs, connectTimeoutMs: 2_000 });
}
