/**
 * Starts a group of `streambus coordinator` child processes on 127.0.0.1 for integration tests and
 * benchmarks: each node on its own free API and Raft ports, with its own temp data directory, all
 * founding voters of one cluster id. Modelled on ./dev-server.ts; the compiled CLI (dist/) is used.
 *
 * Readiness comes from each process: it logs one JSON line whose msg ends in "ready"; the harness
 * waits for it with a deadline. Ports are picked by binding port 0 and closing the socket, so a
 * node restarted later comes back on the same addresses its peers know.
 *
 * Faults: kill (-9), pause (SIGSTOP) and resume (SIGCONT), stop (SIGTERM) and restart on the same
 * data. No process outlives the test: dispose() kills every node, and a process 'exit' hook kills
 * any a failed test left behind (SIGKILL reaches a paused process too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { CoordinatorClient } from '../../client/index.js';
import { cliPath } from './dev-server.js';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface CoordinatorClusterOptions {
  /** Founding voters, ids 1..nodes. Default 3. */
  readonly nodes?: number;
  /** Extra settings for every node, passed as --set key=value. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  readonly startTimeoutMs?: number;
  /** Arguments for node itself, before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

/** Every live child of every harness in this process, for the exit hook. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** A port that was free a moment ago on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not read the bound port');
  return address.port;
}

export class CoordinatorNode {
  readonly nodeId: number;
  readonly api: Address;
  readonly raft: Address;
  readonly dataDir: string;
  /** The last 2000 log lines of the current (or last) process. */
  logLines: string[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);
  #paused = false;

  constructor(nodeId: number, api: Address, raft: Address, dataDir: string) {
    this.nodeId = nodeId;
    this.api = api;
    this.raft = raft;
    this.dataDir = dataDir;
  }

  get address(): string {
    return `${this.api.host}:${this.api.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns the process and waits for its ready line. */
  async start(args: readonly string[], nodeArgs: readonly string[], timeoutMs: number): Promise<void> {
    if (this.running) throw new Error(`coordinator ${this.nodeId} is already running`);
    const child = spawn(process.execPath, [...nodeArgs, cliPath, 'coordinator', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, STREAMBUS_DATA_DIR: '', STREAMBUS_CONFIG: '' },
    });
    trackChild(child);
    this.#child = child;
    this.#paused = false;
    this.logLines = [];
    const lines = this.logLines;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
    });
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (lines.length > 2000) lines.shift();
        if (isReadyLine(line)) resolve();
      });
      void this.#exited.then((code) => reject(new Error(`coordinator ${this.nodeId} exited with ${String(code)} before it was ready\n${stderr}\n${lines.join('\n')}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`coordinator ${this.nodeId} was not ready within ${timeoutMs} ms\n${stderr}\n${lines.join('\n')}`)), timeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (error) {
      child.kill('SIGKILL');
      await this.#exited;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** kill -9: no shutdown code runs. Resolves once the process is gone. */
  async kill(): Promise<void> {
    await this.#signalAndWait('SIGKILL', 10_000);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. Resolves with the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    return this.#signalAndWait('SIGTERM', timeoutMs);
  }

  /** SIGSTOP: the process keeps its sockets but does nothing (a long GC pause, a frozen VM). */
  pause(): void {
    if (!this.running) throw new Error(`coordinator ${this.nodeId} is not running`);
    this.#child!.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (!this.running) throw new Error(`coordinator ${this.nodeId} is not running`);
    this.#child!.kill('SIGCONT');
    this.#paused = false;
  }

  async #signalAndWait(signal: NodeJS.Signals, timeoutMs: number): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.running) return child?.exitCode ?? null;
    // A paused process handles SIGTERM only once continued.
    if (this.#paused && signal !== 'SIGKILL') child.kill('SIGCONT');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
      this.#paused = false;
    }
  }
}

/** A log line saying the node is serving: JSON with a msg ending in "ready". */
function isReadyLine(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const entry = JSON.parse(line) as { msg?: unknown };
    return typeof entry.msg === 'string' && /\bready$/.test(entry.msg);
  } catch {
    return false;
  }
}

export class CoordinatorCluster {
  readonly clusterId: string;
  readonly nodes: readonly CoordinatorNode[];
  readonly #settings: Readonly<Record<string, string | number | boolean>>;
  readonly #nodeArgs: readonly string[];
  readonly #startTimeoutMs: number;
  readonly #root: string;

  private constructor(init: { clusterId: string; nodes: CoordinatorNode[]; settings: Readonly<Record<string, string | number | boolean>>; nodeArgs: readonly string[]; startTimeoutMs: number; root: string }) {
    this.clusterId = init.clusterId;
    this.nodes = init.nodes;
    this.#settings = init.settings;
    this.#nodeArgs = init.nodeArgs;
    this.#startTimeoutMs = init.startTimeoutMs;
    this.#root = init.root;
  }

  /**
   * Starts every node at once and waits until each is ready. Ports are picked free beforehand
   * (bind port 0, close), so another process may take one in between: a start that fails on
   * EADDRINUSE is retried on fresh ports, up to three attempts; any other failure is thrown at once.
   */
  static async start(options: CoordinatorClusterOptions = {}): Promise<CoordinatorCluster> {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'npm run build' first (npm test does)`);
    for (let attempt = 1; ; attempt++) {
      try {
        return await CoordinatorCluster.#startOnFreePorts(options);
      } catch (error) {
        const portTaken = error instanceof Error && error.message.includes('EADDRINUSE');
        if (!portTaken || attempt === 3) throw error;
      }
    }
  }

  static async #startOnFreePorts(options: CoordinatorClusterOptions): Promise<CoordinatorCluster> {
    const count = options.nodes ?? 3;
    const root = await mkdtemp(path.join(tmpdir(), 'streambus-coordinators-'));
    const nodes: CoordinatorNode[] = [];
    for (let nodeId = 1; nodeId <= count; nodeId++) {
      const host = '127.0.0.1';
      nodes.push(new CoordinatorNode(nodeId, { host, port: await freePort(host) }, { host, port: await freePort(host) }, path.join(root, `coordinator-${nodeId}`)));
    }
    const cluster = new CoordinatorCluster({
      clusterId: randomBytes(16).toString('base64url'),
      nodes,
      settings: options.settings ?? {},
      nodeArgs: options.nodeArgs ?? [],
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      root,
    });
    try {
      await Promise.all(nodes.map((n) => cluster.#startNode(n)));
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  /** Every node's coordinator API address, "host:port". */
  get bootstrap(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** The founding voters as the coordinator.voters setting spells them: "1@host:port,...". */
  get voters(): string {
    return this.nodes.map((n) => `${n.nodeId}@${n.raft.host}:${n.raft.port}`).join(',');
  }

  node(nodeId: number): CoordinatorNode {
    const node = this.nodes.find((n) => n.nodeId === nodeId);
    if (node === undefined) throw new Error(`no coordinator ${nodeId}`);
    return node;
  }

  /** The command-line arguments of a node: the settings of issue 4's coordinator command. */
  argsOf(node: CoordinatorNode): string[] {
    const settings: Record<string, string | number | boolean> = {
      'node.id': node.nodeId,
      'cluster.id': this.clusterId,
      'coordinator.voters': this.voters,
      'raft.host': node.raft.host,
      'raft.port': node.raft.port,
      'coordinator.host': node.api.host,
      'coordinator.port': node.api.port,
      // Every node serves an HTTP admin port; 0 keeps the nodes (and other tests) off 9644.
      'admin.port': 0,
      // Likewise the schema registry, off 8081.
      'schema.registry.port': 0,
      'data.dir': node.dataDir,
      'log.format': 'json',
      'log.level': 'info',
      ...this.#settings,
    };
    return Object.entries(settings).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`]);
  }

  /** Starts a stopped or killed node again on its own data directory and addresses. */
  async restart(nodeId: number): Promise<void> {
    await this.#startNode(this.node(nodeId));
  }

  /** Kills every node and removes the data directories. Safe to call twice. */
  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await rm(this.#root, { recursive: true, force: true });
  }

  /** The last log lines of every node, for a failing test's message. */
  logs(lines = 40): string {
    return this.nodes.map((n) => `--- coordinator ${n.nodeId}\n${n.logLines.slice(-lines).join('\n')}`).join('\n');
  }

  #startNode(node: CoordinatorNode): Promise<void> {
    return node.start(this.argsOf(node), this.#nodeArgs, this.#startTimeoutMs);
  }
}

/**
 * Registers a broker that exists only on paper (no process) and heartbeats until the coordinator
 * unfences it, so that topics can be placed on a coordinator-only cluster. Its session lapses
 * afterwards (no more heartbeats): topics already created stay, which is all the tests need.
 */
export async function registerPaperBroker(client: CoordinatorClient, clusterId: string, nodeId = 101, timeoutMs = 15_000): Promise<{ brokerEpoch: number }> {
  const registration = await client.registerBroker({
    nodeId,
    incarnationId: randomBytes(16).toString('base64url'),
    clusterId,
    host: '127.0.0.1',
    port: 9,
    listeners: [{ name: 'native', host: '127.0.0.1', port: 9 }],
  });
  const deadline = Date.now() + timeoutMs;
  let metadataOffset = registration.metadataOffset;
  for (;;) {
    const beat = await client.brokerHeartbeat({ nodeId, brokerEpoch: registration.brokerEpoch, metadataOffset });
    if (!beat.fenced) return { brokerEpoch: registration.brokerEpoch };
    if (Date.now() > deadline) throw new Error(`broker ${nodeId} was still fenced after ${timeoutMs} ms`);
    metadataOffset = Math.max(metadataOffset, beat.metadataOffset);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
