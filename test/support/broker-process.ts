/**
 * A `streambus broker` child process for integration tests, following a coordinator group
 * (./coordinator-cluster.ts). It listens on ephemeral ports (native and admin), so a broker
 * restarted on the same data directory comes back on new ports and clients must learn its new
 * address from metadata, as after a real broker replacement. The compiled CLI (dist/) is used.
 *
 * Readiness comes from the process: it logs the JSON line "streambus broker ready" with its bound
 * listeners, which start() waits for with a deadline. Faults: kill (-9), pause (SIGSTOP) and resume
 * (SIGCONT), stop (SIGTERM). A process 'exit' hook kills any child a failed test left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { settings as knownSettings } from '../../cli/config/schema.js';
import { cliPath, type Listener } from './dev-server.js';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export interface BrokerProcessOptions {
  readonly nodeId: number;
  readonly dataDir: string;
  /** Coordinator API addresses, "host:port". */
  readonly coordinators: readonly string[];
  /** broker.rack; unset: none. */
  readonly rack?: string;
  /** Extra settings, passed as --set key=value. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

export class BrokerProcess {
  readonly nodeId: number;
  readonly dataDir: string;
  native: Listener = { host: '', port: 0 };
  admin: Listener = { host: '', port: 0 };
  /** The last 2000 log lines of the current (or last) process. */
  lines: string[] = [];
  readonly #options: BrokerProcessOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;

  constructor(options: BrokerProcessOptions) {
    this.nodeId = options.nodeId;
    this.dataDir = options.dataDir;
    this.#options = options;
  }

  get address(): string {
    return `${this.native.host}:${this.native.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Spawns the broker and waits until it has registered, been unfenced and listens. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) throw new Error(`broker ${this.nodeId} is already running`);
    const settings: Record<string, string | number | boolean> = {
      'node.id': this.nodeId,
      coordinators: this.#options.coordinators.join(','),
      'data.dir': this.dataDir,
      'native.port': 0,
      'admin.port': 0,
      // Every listener on a free port: several brokers share this host (the Kafka listener's
      // default, 9092, would collide), where the build has one.
      ...('kafka.port' in knownSettings ? { 'kafka.port': 0 } : {}),
      'broker.heartbeat.interval.ms': 500,
      'log.format': 'json',
      'log.level': 'info',
      ...(this.#options.rack === undefined ? {} : { 'broker.rack': this.#options.rack }),
      ...this.#options.settings,
    };
    const args = [cliPath, 'broker', ...Object.entries(settings).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STREAMBUS_DATA_DIR: '', STREAMBUS_CONFIG: '' } });
    track(child);
    this.#child = child;
    this.#paused = false;
    this.lines = [];
    const lines = this.lines;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16 * 1024)));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (lines.length > 2000) lines.shift();
        const entry = parseLine(line);
        if (entry?.msg !== 'streambus broker ready') return;
        this.native = entry.native as Listener;
        this.admin = entry.admin as Listener;
        resolve();
      });
      void this.#exited.then(() => reject(new Error(`broker ${this.nodeId} exited before it was ready\n${stderr}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`broker ${this.nodeId} not ready within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
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
    if (!this.running) return;
    this.#child!.kill('SIGKILL');
    await this.#exited;
    this.#paused = false;
  }

  /** SIGTERM (a controlled shutdown), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const child = this.#child!;
    if (this.#paused) child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.#exited;
    clearTimeout(timer);
    this.#paused = false;
  }

  /** SIGSTOP: the process keeps its sockets open (the kernel still accepts connections) but answers nothing. */
  pause(): void {
    if (!this.running) throw new Error(`broker ${this.nodeId} is not running`);
    this.#child!.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (!this.running) throw new Error(`broker ${this.nodeId} is not running`);
    this.#child!.kill('SIGCONT');
    this.#paused = false;
  }

  /** The broker's Prometheus metrics, as text. */
  async metrics(): Promise<string> {
    return (await fetch(`http://${this.admin.host}:${this.admin.port}/metrics`)).text();
  }

  /** A metric's value for a topic label (0 when absent), e.g. counter('records_out_total', 'orders'). */
  async counter(name: string, topic: string): Promise<number> {
    const text = await this.metrics();
    const match = new RegExp(`^streambus_${name}\\{[^}]*topic="${topic}"[^}]*\\} (\\d+(?:\\.\\d+)?)`, 'm').exec(text);
    return match === null ? 0 : Number(match[1]);
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
