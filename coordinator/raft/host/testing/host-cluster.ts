/**
 * A cluster of RaftHosts for tests: real LevelRaftStorage in a temp directory per node, the
 * in-memory network in place of TCP, real timers. Nodes can be stopped (close, as a crash would
 * leave them: whatever was persisted stays) and started again from their directory.
 *
 * The state machine is a list of the applied proposals' texts; its snapshot is that list as JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../logger.js';
import type { Entry, Snapshot } from '../../index.js';
import { LevelRaftStorage } from '../../storage/level-raft-storage.js';
import type { RaftStorage, RaftWrite } from '../../storage/raft-storage.js';
import type { RaftHostOptions } from '../host-options.js';
import { RaftHost } from '../raft-host.js';
import type { RaftStateMachine } from '../state-machine.js';
import { MemoryNetwork } from './memory-network.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ListStateMachine implements RaftStateMachine {
  items: string[] = [];
  restores = 0;
  /** Config entries applied, as voter lists. */
  configs: number[][] = [];

  restore(snapshot: Snapshot): void {
    this.items = snapshot.data.length === 0 ? [] : (JSON.parse(decoder.decode(snapshot.data)) as string[]);
    this.restores++;
  }

  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.kind === 'config') this.configs.push([...entry.voters]);
      else if (entry.data.length > 0) this.items.push(decoder.decode(entry.data));
    }
  }

  takeSnapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.items));
  }
}

/** Counts the writes that reach the real storage underneath (the batching check), and the synced ones. */
export class CountingStorage implements RaftStorage {
  persists = 0;
  /** Writes made with fsync (every persist but the host's commit-only ones). */
  syncedPersists = 0;
  /** Every write, in order, for tests that look at what was written without fsync. */
  readonly writes: RaftWrite[] = [];
  readonly #inner: RaftStorage;

  constructor(inner: RaftStorage) {
    this.#inner = inner;
  }

  load(): ReturnType<RaftStorage['load']> {
    return this.#inner.load();
  }

  persist(write: RaftWrite): Promise<void> {
    this.persists++;
    if (write.sync !== false) this.syncedPersists++;
    this.writes.push(write);
    return this.#inner.persist(write);
  }

  compact(snapshot: Snapshot): Promise<void> {
    return this.#inner.compact(snapshot);
  }

  entries(from: number, to: number): Promise<Entry[]> {
    return this.#inner.entries(from, to);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** A Logger that keeps every warning, for tests that check what was logged. */
export class RecordingLogger implements Logger {
  readonly warnings: { fields: object; message: string }[] = [];
  debug(): void {}
  info(): void {}
  warn(fields: object, message: string): void {
    this.warnings.push({ fields, message });
  }
  error(): void {}
}

export interface ClusterMember {
  readonly id: number;
  readonly dir: string;
  readonly stateMachine: ListStateMachine;
  readonly storage: CountingStorage;
  readonly host: RaftHost;
  readonly fatal: Error[];
}

export type HostOverrides = Partial<Omit<RaftHostOptions, 'nodeId' | 'storage' | 'transport' | 'stateMachine'>>;

export class HostCluster {
  readonly network = new MemoryNetwork();
  readonly root: string;
  /** Every node id that may ever take part (the peer map of each host). */
  readonly ids: readonly number[];
  readonly #defaults: HostOverrides;
  readonly #members = new Map<number, ClusterMember>();

  private constructor(root: string, ids: readonly number[], defaults: HostOverrides) {
    this.root = root;
    this.ids = ids;
    this.#defaults = defaults;
  }

  /** Starts `voters` as the founding members; `ids` lists every node that may join later too. */
  static async start(voters: readonly number[], options: { ids?: readonly number[]; host?: HostOverrides } = {}): Promise<HostCluster> {
    const root = await mkdtemp(join(tmpdir(), 'streambus-raft-host-'));
    const cluster = new HostCluster(root, options.ids ?? voters, { tickMs: 20, ...options.host });
    for (const id of voters) await cluster.startNode(id, { initialVoters: voters });
    return cluster;
  }

  /** Starts node `id` from its directory (new, or what an earlier run left). */
  async startNode(id: number, overrides: HostOverrides = {}): Promise<ClusterMember> {
    if (this.#members.has(id)) throw new Error(`node ${id} is already running`);
    const dir = join(this.root, `node-${id}`);
    const storage = new CountingStorage(await LevelRaftStorage.open({ dir, nodeId: id, clusterId: 'test-cluster' }));
    const stateMachine = new ListStateMachine();
    const fatal: Error[] = [];
    const host = await RaftHost.start({
      ...this.#defaults,
      ...overrides,
      nodeId: id,
      storage,
      transport: this.network.connect(id),
      stateMachine,
      peers: MemoryNetwork.peers(this.ids.filter((other) => other !== id)),
      onFatal: (error) => fatal.push(error),
    });
    const member = { id, dir, stateMachine, storage, host, fatal };
    this.#members.set(id, member);
    return member;
  }

  /** Closes node `id` (its storage keeps what was persisted, as after a crash). */
  async stopNode(id: number): Promise<void> {
    const member = this.member(id);
    this.#members.delete(id);
    await member.host.close();
  }

  member(id: number): ClusterMember {
    const member = this.#members.get(id);
    if (member === undefined) throw new Error(`node ${id} is not running`);
    return member;
  }

  host(id: number): RaftHost {
    return this.member(id).host;
  }

  items(id: number): string[] {
    return this.member(id).stateMachine.items;
  }

  get running(): number[] {
    return [...this.#members.keys()];
  }

  /** Waits until the running nodes (or `among`) agree on one leader among them; returns it. */
  async leader(among: readonly number[] = this.running, timeoutMs = 5000): Promise<number> {
    let found = 0;
    await waitFor(
      () => {
        const leaders = among.filter((id) => this.host(id).status().role === 'leader');
        if (leaders.length !== 1) return false;
        found = leaders[0]!;
        return among.every((id) => this.host(id).leaderId === found);
      },
      `one leader among ${among.join(', ')}`,
      timeoutMs,
    );
    return found;
  }

  async close(): Promise<void> {
    for (const id of this.running) await this.stopNode(id);
    await rm(this.root, { recursive: true, force: true });
  }
}

/** Polls `condition` every 5 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
