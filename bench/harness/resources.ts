/**
 * What a run cost: CPU time of the server process (from /proc/<pid>/stat, all its threads) and of
 * this client process (process.cpuUsage), the rest of the machine's CPU (contention), and the bytes
 * the server caused to be written to disk (/proc/<pid>/io). With these a report can say which side
 * was the bottleneck: on a 2-core machine a side near 100 % of one core is saturated (Node runs
 * JavaScript on one thread), and disk bytes over payload bytes is the storage write amplification.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
const clockTicksPerSecond = readClockTicks();

function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms; undefined when the
 * process is gone or /proc is not there. Resolution is one clock tick (10 ms on Linux).
 */
export function processCpuMs(pid: number): number | undefined {
  return cpuMsOf(`/proc/${pid}/stat`);
}

/**
 * CPU time of a process and its children, in ms: its own threads, the children it has already
 * reaped (cutime/cstime), and the children still running (recursively). Redis, for one, forks to
 * rewrite its append-only file; that work belongs to the server, not to "other". Undefined when
 * the process is gone.
 */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = cpuFieldsOf(`/proc/${pid}/stat`);
  if (own === undefined) return undefined;
  let total = own.selfMs + own.reapedChildrenMs;
  for (const child of childPids(pid)) total += processTreeCpuMs(child) ?? 0;
  return total;
}

function childPids(pid: number): number[] {
  const children: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const tid of tasks) {
    try {
      for (const id of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (id !== '') children.push(Number(id));
      }
    } catch {
      // The thread ended meanwhile, or the kernel lacks CONFIG_PROC_CHILDREN.
    }
  }
  return children;
}

/** CPU time of a process's main thread (its JavaScript event loop, for Node), in ms. */
export function mainThreadCpuMs(pid: number): number | undefined {
  return cpuMsOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuMsOf(statFile: string): number | undefined {
  return cpuFieldsOf(statFile)?.selfMs;
}

function cpuFieldsOf(statFile: string): { selfMs: number; reapedChildrenMs: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(statFile, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime, stime, cutime, cstime) of the stat line are at 11-14 once the first two are cut.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  const children = Number(fields[13]) + Number(fields[14]);
  return { selfMs: ((utime + stime) * 1000) / clockTicksPerSecond, reapedChildrenMs: Number.isFinite(children) ? (children * 1000) / clockTicksPerSecond : 0 };
}

/**
 * Busy time of the whole machine so far (all cores: user, nice, system, irq, softirq, steal),
 * in ms, from the first line of /proc/stat; undefined without /proc.
 */
export function machineBusyMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return ((user + nice + system + irq + softirq + steal) * 1000) / clockTicksPerSecond;
}

/** Bytes a process caused to be written to storage so far (write_bytes of /proc/<pid>/io). */
export function processDiskWriteBytes(pid: number): number | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const match = /^write_bytes:\s*(\d+)$/m.exec(io);
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Use over a measured interval; CPU as percent of one core (200 % = both cores of a 2-core box). */
export interface ResourceUse {
  readonly serverCorePct: number;
  /**
   * The server's main thread alone: near 100 % means its event loop is saturated; the rest of
   * serverCorePct is LevelDB compaction, the libuv pool (LevelDB writes and fsyncs) and V8's GC helpers.
   */
  readonly serverMainThreadCorePct: number;
  readonly clientCorePct: number;
  /**
   * Everything else the machine ran meanwhile (other processes, kernel work not charged to ours):
   * a run with a large figure here shared its cores and its numbers are pessimistic.
   */
  readonly otherCorePct: number;
  /** Bytes the server caused to be written to disk (NaN without /proc/<pid>/io). */
  readonly serverDiskWriteBytes: number;
}

export interface ResourceMeterOptions {
  /** Count the server's child processes (forks) as server CPU. Default false. */
  readonly includeChildren?: boolean;
}

/** Measures server and client CPU, and the server's disk writes, between start() and stop(). */
export class ResourceMeter {
  readonly #serverPid: number;
  readonly #serverCpuMs: (pid: number) => number | undefined;
  #serverStartMs = 0;
  #serverMainStartMs = 0;
  #clientStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  #wallStartMs = 0;
  #machineStartMs = 0;
  #diskStartBytes = 0;

  constructor(serverPid: number, options: ResourceMeterOptions = {}) {
    this.#serverPid = serverPid;
    this.#serverCpuMs = options.includeChildren === true ? processTreeCpuMs : processCpuMs;
  }

  start(): void {
    this.#serverStartMs = this.#serverCpuMs(this.#serverPid) ?? Number.NaN;
    this.#serverMainStartMs = mainThreadCpuMs(this.#serverPid) ?? Number.NaN;
    this.#clientStart = process.cpuUsage();
    this.#machineStartMs = machineBusyMs() ?? Number.NaN;
    this.#diskStartBytes = processDiskWriteBytes(this.#serverPid) ?? Number.NaN;
    this.#wallStartMs = performance.now();
  }

  stop(): ResourceUse {
    const wallMs = Math.max(1, performance.now() - this.#wallStartMs);
    const serverMs = (this.#serverCpuMs(this.#serverPid) ?? Number.NaN) - this.#serverStartMs;
    const serverMainMs = (mainThreadCpuMs(this.#serverPid) ?? Number.NaN) - this.#serverMainStartMs;
    const client = process.cpuUsage(this.#clientStart);
    const clientMs = (client.user + client.system) / 1000;
    const machineMs = (machineBusyMs() ?? Number.NaN) - this.#machineStartMs;
    const pct = (cpuMs: number): number => (cpuMs / wallMs) * 100;
    return {
      serverCorePct: pct(serverMs),
      serverMainThreadCorePct: pct(serverMainMs),
      clientCorePct: pct(clientMs),
      otherCorePct: Math.max(0, pct(machineMs - serverMs - clientMs)),
      serverDiskWriteBytes: (processDiskWriteBytes(this.#serverPid) ?? Number.NaN) - this.#diskStartBytes,
    };
  }
}
