/**
 * CPU profiles for the benchmark: start/stop V8's sampling profiler in this process (the client
 * side), and reduce a .cpuprofile (ours or the server's) to the functions and files with the most
 * self time, which is what tells a reader where a run spent its CPU.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { GcTally, type GcSummary } from './gc-tally.js';

/** The parts of V8's Profiler.Profile this summary reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface SelfTimeEntry {
  readonly name: string;
  readonly selfMs: number;
  /** Percent of the profile's busy time (all samples except idle). */
  readonly busyPct: number;
  /** For functions: the nearest caller with a source file that accounts for most of this self time. */
  readonly mainCaller?: string;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly topFunctions: readonly SelfTimeEntry[];
  readonly topFiles: readonly SelfTimeEntry[];
}

/**
 * Self time per function (name, file and line) and per file. V8 records, for each sample, the
 * node that was on top of the stack and the time since the previous sample; summing those deltas
 * per node gives self time. Idle samples are counted apart so percentages are of busy time.
 */
export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const frames = new Map<number, { fn: string; file: string }>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url);
    const name = functionName === '' ? '(anonymous)' : functionName;
    frames.set(node.id, { fn: file === '' ? name : `${name} ${file}:${lineNumber + 1}`, file: file === '' ? name : file });
  }
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Each function's self time is also attributed to its nearest caller in our code or a package
  // (Node's own node:* frames are skipped): that says *why* the time was spent, e.g. socket writes
  // of the produce path versus those of the logger.
  const callerOf = (id: number): string | undefined => {
    for (let parent = parentOf.get(id); parent !== undefined; parent = parentOf.get(parent)) {
      const frame = frames.get(parent);
      if (frame !== undefined && frame.fn !== frame.file && !frame.file.startsWith('node:')) return frame.fn;
    }
    return undefined;
  };
  const callers = new Map<string, Map<string, number>>();
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < samples.length; i++) {
    const deltaUs = Math.max(0, deltas[i] ?? 0);
    const frame = frames.get(samples[i]!);
    if (frame === undefined) continue;
    totalUs += deltaUs;
    if (frame.fn === '(idle)') {
      idleUs += deltaUs;
      continue;
    }
    byFunction.set(frame.fn, (byFunction.get(frame.fn) ?? 0) + deltaUs);
    const caller = callerOf(samples[i]!) ?? '(root)';
    let perCaller = callers.get(frame.fn);
    if (perCaller === undefined) {
      perCaller = new Map();
      callers.set(frame.fn, perCaller);
    }
    perCaller.set(caller, (perCaller.get(caller) ?? 0) + deltaUs);
    byFile.set(frame.file, (byFile.get(frame.file) ?? 0) + deltaUs);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const rank = (map: Map<string, number>, withCallers: boolean): SelfTimeEntry[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => {
        const entry = { name, selfMs: us / 1000, busyPct: (us / busyUs) * 100 };
        const perCaller = withCallers ? callers.get(name) : undefined;
        if (perCaller === undefined) return entry;
        const [caller, callerUs] = [...perCaller].sort((a, b) => b[1] - a[1])[0]!;
        return { ...entry, mainCaller: `${caller} (${((callerUs / us) * 100).toFixed(0)} %)` };
      });
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, topFunctions: rank(byFunction, true), topFiles: rank(byFile, false) };
}

/** A file URL made short and stable: relative to the package (dist/...), node_modules/<pkg>/..., or node:... */
function shortUrl(url: string): string {
  if (url === '') return '';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + 1);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Renders a summary as two markdown tables. */
export function formatProfileSummary(title: string, summary: ProfileSummary): string {
  const busyMs = summary.totalMs - summary.idleMs;
  const lines = [
    `#### ${title}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy (${((busyMs / Math.max(1, summary.totalMs)) * 100).toFixed(0)} %)`,
    '',
    '| self ms | % busy | function | main caller |',
    '|---:|---:|---|---|',
    ...summary.topFunctions.map((e) => `| ${e.selfMs.toFixed(0)} | ${e.busyPct.toFixed(1)} | \`${e.name}\` | ${e.mainCaller === undefined ? '' : `\`${e.mainCaller}\``} |`),
    '',
    '| self ms | % busy | file |',
    '|---:|---:|---|',
    ...summary.topFiles.map((e) => `| ${e.selfMs.toFixed(0)} | ${e.busyPct.toFixed(1)} | \`${e.name}\` |`),
    '',
  ];
  return lines.join('\n');
}

/**
 * Samples this process's CPU until stop(), which writes the .cpuprofile and returns it.
 * The inspector session in the same thread answers synchronously, so no await is needed.
 */
export class InProcessProfiler {
  readonly #session = new Session();
  readonly #gc = new GcTally();
  readonly #observer = new PerformanceObserver((list) => this.#gc.add(list.getEntries()));
  #gcSummary: GcSummary | undefined;

  /** GC counts and pauses over the profiled window, once stop() ran. */
  get gcSummary(): GcSummary | undefined {
    return this.#gcSummary;
  }

  start(): void {
    this.#gc.start();
    this.#observer.observe({ entryTypes: ['gc'] });
    this.#session.connect();
    this.#session.post('Profiler.enable');
    this.#session.post('Profiler.setSamplingInterval', { interval: 500 });
    this.#session.post('Profiler.start');
  }

  stop(file: string): CpuProfile {
    let result: CpuProfile | undefined;
    this.#session.post('Profiler.stop', (error, response) => {
      if (error === null) result = response.profile as CpuProfile;
    });
    this.#session.disconnect();
    this.#observer.disconnect();
    this.#gcSummary = this.#gc.summary();
    if (result === undefined) throw new Error('the CPU profiler returned no profile');
    writeFileSync(file, JSON.stringify(result));
    return result;
  }
}
