/**
 * A coordinator group in one process for tests: per node a real LevelRaftStorage in a temp
 * directory (wrapped to count synced writes), a RaftMetadataLog, a RaftHost and a Coordinator,
 * connected by the in-memory network of the Raft host tests (partitions, isolation, drops) instead
 * of TCP. Real timers with short ticks (20 ms), so elections take a few hundred milliseconds.
 *
 * Every node's Raft address is 127.0.0.1:(19000 + id) and its API address 127.0.0.1:(29000 + id):
 * placeholders the memory network does not use, but which the coordinator records and reports.
 * Nodes can be stopped (as a crash leaves them: what was persisted stays) and started again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator, type CoordinatorOptions } from '../../coordinator.js';
import { seededRandomSource } from '../../metadata/random.js';
import { RaftMetadataLog, type RaftMetadataLogOptions } from '../../metadata-log/raft-metadata-log.js';
import type { RaftHostOptions } from '../../raft/host/host-options.js';
import { RaftHost } from '../../raft/host/raft-host.js';
import { CountingStorage, waitFor } from '../../raft/host/testing/host-cluster.js';
import { MemoryNetwork } from '../../raft/host/testing/memory-network.js';
import { LevelRaftStorage } from '../../raft/storage/level-raft-storage.js';
import type { Endpoint } from '../coordinator-api.js';

export const CLUSTER_ID = 'memory-group';

export const raftAddress = (id: number): Endpoint => ({ host: '127.0.0.1', port: 19_000 + id });
export const apiAddress = (id: number): Endpoint => ({ host: '127.0.0.1', port: 29_000 + id });

export interface GroupOptions {
  /** Every node id that may ever take part; default: the founding voters. */
  readonly ids?: readonly number[];
  readonly host?: Partial<Omit<RaftHostOptions, 'nodeId' | 'storage' | 'transport' | 'stateMachine'>>;
  readonly log?: RaftMetadataLogOptions;
  readonly coordinator?: Partial<Omit<CoordinatorOptions, 'nodeId' | 'clusterId' | 'host' | 'log'>>;
}

export interface GroupMember {
  readonly id: number;
  readonly storage: CountingStorage;
  readonly log: RaftMetadataLog;
  readonly host: RaftHost;
  readonly coordinator: Coordinator;
  readonly fatal: Error[];
}

export class MemoryGroup {
  readonly network = new MemoryNetwork();
  readonly root: string;
  readonly voters: readonly number[];
  readonly #options: GroupOptions;
  readonly #members = new Map<number, GroupMember>();

  private constructor(root: string, voters: readonly number[], options: GroupOptions) {
    this.root = root;
    this.voters = voters;
    this.#options = options;
  }

  /** Starts `voters` as the founding members. */
  static async start(voters: readonly number[], options: GroupOptions = {}): Promise<MemoryGroup> {
    const group = new MemoryGroup(await mkdtemp(join(tmpdir(), 'streambus-coordinator-group-')), voters, options);
    for (const id of voters) await group.startNode(id);
    return group;
  }

  /** The founding voters and their (placeholder) Raft addresses, as coordinator.voters names them. */
  get configuredVoters(): Map<number, Endpoint> {
    return new Map(this.voters.map((id) => [id, raftAddress(id)]));
  }

  /** Starts node `id` from its directory; a node outside the founding voters starts empty (to be added). */
  async startNode(id: number, overrides: GroupOptions['host'] = {}): Promise<GroupMember> {
    if (this.#members.has(id)) throw new Error(`node ${id} is already running`);
    const storage = new CountingStorage(await LevelRaftStorage.open({ dir: join(this.root, `node-${id}`), nodeId: id, clusterId: CLUSTER_ID }));
    const log = new RaftMetadataLog(this.#options.log);
    const fatal: Error[] = [];
    let coordinator: Coordinator | undefined = undefined;
    const ids = this.#options.ids ?? this.voters;
    const host = await RaftHost.start({
      tickMs: 20,
      ...this.#options.host,
      ...overrides,
      nodeId: id,
      storage,
      transport: this.network.connect(id),
      stateMachine: log,
      initialVoters: this.voters.includes(id) ? this.voters : [],
      peers: MemoryNetwork.peers(ids.filter((other) => other !== id)),
      onFatal: (error) => {
        fatal.push(error);
        coordinator?.fail(error);
      },
    });
    log.attach(host);
    coordinator = Coordinator.start({
      nodeId: id,
      clusterId: CLUSTER_ID,
      host,
      log,
      raft: raftAddress(id),
      api: apiAddress(id),
      voters: this.configuredVoters,
      defaults: { numPartitions: 1, replicationFactor: 1 },
      random: seededRandomSource(id),
      ...this.#options.coordinator,
    });
    const voters = host.status().voters;
    if (voters.length === 1 && voters[0] === id) host.campaign();
    const member = { id, storage, log, host, coordinator, fatal };
    this.#members.set(id, member);
    return member;
  }

  /** Stops node `id` (its storage keeps what was persisted, as after a crash). */
  async stopNode(id: number): Promise<void> {
    const member = this.member(id);
    this.#members.delete(id);
    await member.coordinator.close();
    await member.host.close();
    await member.log.close();
  }

  member(id: number): GroupMember {
    const member = this.#members.get(id);
    if (member === undefined) throw new Error(`node ${id} is not running`);
    return member;
  }

  coordinator(id: number): Coordinator {
    return this.member(id).coordinator;
  }

  get running(): number[] {
    return [...this.#members.keys()];
  }

  /** Waits until one running node leads, takes writes and is known as leader by every running voter. */
  async leader(timeoutMs = 10_000): Promise<number> {
    let found = 0;
    await waitFor(
      () => {
        const ready = this.running.filter((id) => this.coordinator(id).leading);
        if (ready.length !== 1) return false;
        found = ready[0]!;
        const voters = this.member(found).host.status().voters;
        return this.running.filter((id) => voters.includes(id)).every((id) => this.member(id).host.leaderId === found);
      },
      'one ready coordinator leader',
      timeoutMs,
    );
    return found;
  }

  /** Waits until every running node has applied `offset`. */
  async applied(offset: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.running.every((id) => this.member(id).log.committedOffset >= offset), `every node to apply offset ${offset}`, timeoutMs);
  }

  async close(): Promise<void> {
    for (const id of this.running) await this.stopNode(id);
    await rm(this.root, { recursive: true, force: true });
  }
}

export { waitFor };
