/**
 * What every benchmark's command line shares: reading a positive number from a flag, and running
 * `main` only when the file is the program node was started with (a smoke test imports the same
 * file and calls its run function instead), exiting 0 or 1 with the failure on stderr.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

/** The flag's value as a positive number (an integer when `integer`), `fallback` when absent; throws naming the flag otherwise. */
export function positiveNumber(text: string | undefined, name: string, fallback: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  return value;
}

/**
 * Runs `main` when `moduleUrl` (the caller's import.meta.url) is the script node was started with,
 * on the main thread only: a worker started from the same file (bench/offsets.ts's committers)
 * sees that file as its process.argv[1] too, and must not run a second benchmark beside the first.
 */
export function runWhenInvoked(moduleUrl: string, main: () => Promise<void>, label = 'bench'): void {
  if (!isMainThread) return;
  const script = process.argv[1];
  if (script === undefined || moduleUrl !== pathToFileURL(realpathSync(script)).href) return;
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${label} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
