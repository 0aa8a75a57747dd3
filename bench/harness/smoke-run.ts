/**
 * Runs a compiled benchmark harness with --smoke into a directory and reads back what it wrote:
 * the smoke tests of bench/ (under `npm test`) use it so the harnesses cannot rot.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface SmokeRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The names of the files the run wrote. */
  readonly files: readonly string[];
  /** The text of the one written file whose name ends in `suffix` (and starts with `prefix`). */
  read(suffix: string, prefix?: string): Promise<string>;
}

/** Runs dist/bench/<name>.js --smoke --out <outDir>, killed after timeoutMs. */
export async function runHarnessSmoke(name: string, outDir: string, timeoutMs: number): Promise<SmokeRun> {
  const harness = path.join(root, `dist/bench/${name}.js`);
  if (!existsSync(harness)) throw new Error(`${harness} is missing: run 'npm run build' first (npm test does)`);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [harness, '--smoke', '--out', outDir], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout: out, stderr: err });
    });
  });
  const files = await readdir(outDir);
  return {
    code,
    stdout,
    stderr,
    files,
    read: (suffix, prefix = '') => {
      const file = files.find((f) => f.startsWith(prefix) && f.endsWith(suffix));
      if (file === undefined) throw new Error(`the harness wrote no ${prefix}*${suffix} (exit ${String(code)})\n${stderr}`);
      return readFile(path.join(outDir, file), 'utf8');
    },
  };
}
