/**
 * Starts the server under test through the shared integration-test harness
 * (test/support/dev-server.ts), adding what a benchmark needs: an optional CPU profile of the
 * server process.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startDevServer, type DevServer } from '../../test/support/dev-server.js';

export type { DevServer } from '../../test/support/dev-server.js';

export interface BenchServerOptions {
  /** The package root (holds package.json and dist/). */
  readonly rootDir: string;
  /** Extra --set key=value settings for `streambus dev`. */
  readonly settings: Readonly<Record<string, string>>;
  /** Write the server's CPU profile here when it exits; no profiling when undefined. */
  readonly profileFile?: string | undefined;
}

/**
 * Starts `streambus dev` on ephemeral loopback ports in a fresh temp data directory.
 * Call `dispose()` on the result: it stops the server (SIGTERM, which also writes the profile)
 * and removes the data directory.
 */
export async function startBenchServer(options: BenchServerOptions): Promise<DevServer> {
  const env: Record<string, string> = {};
  if (options.profileFile !== undefined) {
    const hook = path.join(options.rootDir, 'dist/bench/cpu-profile-hook.js');
    if (!existsSync(hook)) throw new Error(`${hook} is missing: run 'npm run build' first`);
    // Node refuses --cpu-prof in NODE_OPTIONS, so a preloaded hook starts the profiler instead.
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(hook).href}`.trim();
    env.STREAMBUS_BENCH_PROFILE_FILE = options.profileFile;
  }
  return startDevServer({ settings: options.settings, startTimeoutMs: 30_000, env });
}

