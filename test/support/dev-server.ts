/**
 * Starts `streambus dev` as a real child process on ephemeral loopback ports with its own temp
 * data directory, for integration tests. The compiled CLI (dist/) is used: `npm test` builds first.
 *
 * Readiness comes from the server itself: it logs one JSON line with msg "streambus ready" and the
 * bound addresses of its listeners, which this harness waits for (with a deadline).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/**
 * The package root: the nearest folder above this file whose package.json names streambus. This
 * file runs from source (test/support/) under vitest and compiled (dist/test/support/) under the
 * benchmarks, at different depths.
 */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'streambus') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the streambus package root above test/support/dev-server');
    dir = parent;
  }
}

export const cliPath = path.join(packageRoot(), 'dist/cli/main.js');

export interface Listener {
  readonly host: string;
  readonly port: number;
}

export interface DevServerOptions {
  /** Reuse a data directory (to test restarts); a new temp dir otherwise. */
  readonly dataDir?: string;
  /** Extra settings, passed as --set key=value. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  readonly startTimeoutMs?: number;
  /** Arguments for node itself, before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Extra environment variables for the server process. */
  readonly env?: Readonly<Record<string, string>>;
}

export class DevServer {
  readonly dataDir: string;
  readonly native: Listener;
  readonly admin: Listener;
  /** The schema registry's REST API; undefined when schema.registry.enable=false. */
  readonly schemaRegistry: Listener | undefined;
  /** The Kafka listener's advertised address (from the ready line). */
  readonly kafka: Listener | undefined;
  readonly child: ChildProcess;
  readonly #ownsDataDir: boolean;
  readonly logLines: string[];
  readonly #exited: Promise<number | null>;

  constructor(init: {
    dataDir: string;
    ownsDataDir: boolean;
    native: Listener;
    admin: Listener;
    schemaRegistry?: Listener | undefined;
    kafka?: Listener | undefined;
    child: ChildProcess;
    logLines: string[];
    exited: Promise<number | null>;
  }) {
    this.dataDir = init.dataDir;
    this.#ownsDataDir = init.ownsDataDir;
    this.native = init.native;
    this.admin = init.admin;
    this.schemaRegistry = init.schemaRegistry;
    this.kafka = init.kafka;
    this.child = init.child;
    this.logLines = init.logLines;
    this.#exited = init.exited;
  }

  get bootstrap(): string {
    return `${this.native.host}:${this.native.port}`;
  }

  get adminUrl(): string {
    return `http://${this.admin.host}:${this.admin.port}`;
  }

  /** The schema registry's base URL (throws when the registry is disabled). */
  get registryUrl(): string {
    if (this.schemaRegistry === undefined) throw new Error('this dev server runs no schema registry');
    return `http://${this.schemaRegistry.host}:${this.schemaRegistry.port}`;
  }

  /** Stops the server with a signal and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** kill -9: no shutdown code runs. */
  async crash(): Promise<void> {
    await this.stop('SIGKILL');
  }

  /** Stops the server (if running) and removes its data directory when the harness made it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'npm run build' first (npm test does)`);
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'streambus-test-')));
  const settings: Record<string, string | number | boolean> = {
    'native.port': 0,
    'kafka.port': 0,
    'admin.port': 0,
    'raft.port': 0,
    'schema.registry.port': 0,
    'log.format': 'json',
    'log.level': 'info',
    ...options.settings,
  };
  const args = [...(options.nodeArgs ?? []), cliPath, 'dev', '--data-dir', dataDir];
  for (const [key, value] of Object.entries(settings)) args.push('--set', `${key}=${String(value)}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env, STREAMBUS_DATA_DIR: '' } });
  const logLines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });

  const ready = new Promise<{ native: Listener; admin: Listener; schemaRegistry: Listener | undefined; kafka: Listener | undefined }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      logLines.push(line);
      if (logLines.length > 2000) logLines.shift();
      if (!line.startsWith('{')) return;
      try {
        const entry = JSON.parse(line) as { msg?: string; native?: Listener; admin?: Listener; schemaRegistry?: Listener; kafka?: Listener };
        if (entry.msg === 'streambus ready' && entry.native !== undefined && entry.admin !== undefined) {
          resolve({ native: entry.native, admin: entry.admin, schemaRegistry: entry.schemaRegistry, kafka: entry.kafka });
        }
      } catch {
        // Not a log line of ours; keep reading.
      }
    });
    void exited.then((code) => reject(new Error(`streambus dev exited with ${String(code)} before it was ready\n${stderr}\n${logLines.join('\n')}`)));
  });
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`streambus dev was not ready within ${timeoutMs} ms\n${stderr}\n${logLines.join('\n')}`)), timeoutMs);
  });
  try {
    const { native, admin, schemaRegistry, kafka } = await Promise.race([ready, timeout]);
    return new DevServer({ dataDir, ownsDataDir, native, admin, schemaRegistry, kafka, child, logLines, exited });
  } catch (error) {
    child.kill('SIGKILL');
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true or the deadline passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
