/**
 * Loaded into the server with NODE_OPTIONS=--import=<this file> when the benchmark runs with
 * --profile. The first SIGUSR2 starts V8's sampling profiler; the second stops it and writes the
 * .cpuprofile to $STREAMBUS_BENCH_PROFILE_FILE (and a tally of GC pauses to <file>.gc.json), so the profile covers the measured workloads and
 * not start-up or unmeasured setup. If the process exits while profiling, the profile is written
 * then.
 *
 * Why a hook and not `node --cpu-prof`: Node refuses --cpu-prof in NODE_OPTIONS, the shared test
 * harness (test/support/dev-server.ts) spawns the server without extra node arguments, and
 * --cpu-prof cannot leave out start-up.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { GcTally } from './harness/gc-tally.js';

const file = process.env.STREAMBUS_BENCH_PROFILE_FILE;
if (file !== undefined && file !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // 500 µs rather than V8's 1 ms default: runs are a few seconds, and finer samples separate the
  // short hot functions of the produce path.
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let state: 'idle' | 'profiling' | 'written' = 'idle';
  const gc = new GcTally();
  const observer = new PerformanceObserver((list) => gc.add(list.getEntries()));
  const stop = (): void => {
    if (state !== 'profiling') return;
    state = 'written';
    observer.disconnect();
    // Written first: the harness waits for the profile file, so the GC tally must already be there.
    writeFileSync(`${file}.gc.json`, JSON.stringify(gc.summary()));
    // A same-thread inspector session answers synchronously, so this completes before exit.
    session.post('Profiler.stop', (error, result) => {
      if (error === null) writeFileSync(file, JSON.stringify(result.profile));
    });
  };
  process.on('SIGUSR2', () => {
    if (state === 'idle') {
      state = 'profiling';
      gc.start();
      observer.observe({ entryTypes: ['gc'] });
      session.post('Profiler.start');
    } else {
      stop();
    }
  });
  process.on('exit', stop);
}
