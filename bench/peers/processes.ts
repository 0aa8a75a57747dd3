/**
 * Starting and stopping the peer servers (nats-server, redis-server) as child processes, and
 * installing their Debian packages when missing.
 *
 * Every server runs under a small shell guard that reads its stdin, a pipe from this process:
 * when the benchmark ends in any way, even kill -9, the pipe closes and the guard stops the
 * server. So no server outlives the benchmark.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';

/** A Debian package the comparison needs and the program it provides. */
export interface DebianTool {
  readonly packageName: string;
  readonly binary: string;
}

function isInstalled(packageName: string): boolean {
  return spawnSync('dpkg', ['-s', packageName], { stdio: 'ignore' }).status === 0;
}

/** The program's absolute path from PATH (plus the sbin folders, which a non-login PATH may lack). */
export function findBinary(binary: string): string | undefined {
  const result = spawnSync('sh', ['-c', `PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v ${binary}`], { encoding: 'utf8' });
  const found = result.status === 0 ? result.stdout.trim() : '';
  return found !== '' && existsSync(found) ? found : undefined;
}

/**
 * Installs the packages whose program is missing (apt-get; root only), saying what it installs.
 * Returns the absolute path of each program; throws with a clear message when one cannot be had.
 */
export function ensureTools(tools: readonly DebianTool[], log: (line: string) => void): Map<string, string> {
  const missing = tools.filter((t) => findBinary(t.binary) === undefined || !isInstalled(t.packageName));
  const toInstall = missing.filter((t) => findBinary(t.binary) === undefined).map((t) => t.packageName);
  if (toInstall.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new Error(`missing ${toInstall.join(', ')}: install with 'sudo apt-get install -y ${toInstall.join(' ')}' (the benchmark installs them itself only when run as root)`);
    }
    log(`installing Debian packages: ${toInstall.join(', ')} (apt-get install -y)`);
    const install = (): boolean =>
      spawnSync('apt-get', ['install', '-y', '-qq', ...toInstall], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
    if (!install()) {
      // A fresh machine may have no package lists yet.
      log('apt-get install failed; running apt-get update once and retrying');
      execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (!install()) throw new Error(`apt-get install ${toInstall.join(' ')} failed`);
    }
  }
  const paths = new Map<string, string>();
  for (const tool of tools) {
    const found = findBinary(tool.binary);
    if (found === undefined) throw new Error(`${tool.binary} not found after installing ${tool.packageName}`);
    paths.set(tool.binary, found);
  }
  return paths;
}

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Resolves once host:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why !== undefined) throw new Error(why);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (performance.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The guard: start the server with its output in a log file, print its pid, wait for stdin to
// close, then stop the server (TERM, KILL after 10 s), remove its data directory if asked, and
// exit with the server's status.
const GUARD_SCRIPT = [
  '"$@" </dev/null >>"$GUARD_LOG" 2>&1 &',
  'child=$!',
  'echo "$child"',
  'read -r _ || true',
  'kill -TERM "$child" 2>/dev/null',
  '( sleep 10; kill -KILL "$child" 2>/dev/null ) &',
  'killer=$!',
  'wait "$child"; status=$?',
  'kill "$killer" 2>/dev/null',
  'if [ -n "$GUARD_REMOVE_DIR" ]; then rm -rf -- "$GUARD_REMOVE_DIR"; fi',
  'exit "$status"',
].join('\n');

export interface ManagedProcessOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The server's stdout and stderr go here. */
  readonly logFile: string;
  readonly cwd: string;
  /** A folder the guard deletes once the server has exited (its data directory). */
  readonly removeDirOnExit?: string;
}

/** A server process started under the guard. */
export class ManagedProcess {
  readonly name: string;
  /** The server's own pid (for /proc accounting), not the guard's. */
  readonly pid: number;
  readonly logFile: string;
  readonly #guard: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(name: string, pid: number, logFile: string, guard: ChildProcess, exited: Promise<void>) {
    this.name = name;
    this.pid = pid;
    this.logFile = logFile;
    this.#guard = guard;
    this.#exited = exited;
  }

  /** Starts the server and resolves with its pid once the guard reported it. */
  static async start(options: ManagedProcessOptions): Promise<ManagedProcess> {
    closeSync(openSync(options.logFile, 'a'));
    // detached: its own process group, so a Ctrl-C in the terminal reaches this process, which
    // stops the servers in order, rather than killing the guards under it.
    const guard = spawn('sh', ['-c', GUARD_SCRIPT, 'guard', options.command, ...options.args], {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
      env: { ...process.env, GUARD_LOG: options.logFile, GUARD_REMOVE_DIR: options.removeDirOnExit ?? '' },
    });
    const exited = new Promise<void>((resolve) => guard.once('exit', () => resolve()));
    const pid = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: guard.stdout });
      const timer = setTimeout(() => reject(new Error(`${options.name}: the guard reported no pid within 5 s`)), 5_000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        const pid = Number(line.trim());
        if (Number.isInteger(pid) && pid > 0) resolve(pid);
        else reject(new Error(`${options.name}: the guard printed "${line}" instead of a pid`));
      });
      guard.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return new ManagedProcess(options.name, pid, options.logFile, guard, exited);
  }

  /** Undefined while the server runs; otherwise why it is gone, with the end of its log. */
  exitReason(): string | undefined {
    if (existsSync(`/proc/${this.pid}`) && !isZombie(this.pid)) return undefined;
    return `${this.name} exited; end of its log:\n${tail(this.logFile, 20)}`;
  }

  /** Stops the server (SIGTERM, then SIGKILL) and waits for it, at most timeoutMs. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.#guard.exitCode !== null || this.#guard.signalCode !== null) return;
    this.#guard.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        killQuietly(this.pid);
        killQuietly(this.#guard.pid);
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.#exited, late]);
    clearTimeout(timer);
  }
}

function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Things to undo when the run ends, in reverse order: stop servers, remove temp folders. Runs
 * at most once, also on SIGINT/SIGTERM (then the process exits 130/143).
 */
export class Cleanup {
  readonly #steps: { readonly label: string; readonly run: () => Promise<void> }[] = [];
  #done: Promise<void> | undefined;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping everything the benchmark started\n`);
    void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    process.once('SIGINT', this.#onSignal);
    process.once('SIGTERM', this.#onSignal);
  }

  add(label: string, run: () => Promise<void>): void {
    this.#steps.push({ label, run });
  }

  run(): Promise<void> {
    this.#done ??= (async () => {
      process.removeListener('SIGINT', this.#onSignal);
      process.removeListener('SIGTERM', this.#onSignal);
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          process.stderr.write(`cleanup (${step.label}) failed: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
    })();
    return this.#done;
  }
}
