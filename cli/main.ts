#!/usr/bin/env node
/**
 * The `streambus` executable (package.json bin → dist/cli/main.js). Wires the process to the
 * runner: real streams, the environment, and signals. The first SIGINT or SIGTERM asks the running
 * command to stop cleanly (consume closes its consumer and exits 0, dev shuts the server down);
 * a second one exits at once with 130.
 */
import { runCli } from './run.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (): void => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  controller.abort(new Error('interrupted'));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// The reader of our output went away (`consume ... | head`): stop like Ctrl-C instead of crashing
// on the write error.
const onOutputError = (error: NodeJS.ErrnoException): void => {
  if (error.code !== 'EPIPE') throw error;
  controller.abort(new Error('output closed'));
};
process.stdout.on('error', onOutputError);

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  isTTY: process.stdout.isTTY,
  signal: controller.signal,
});

// Exit once what was written has been handed to the OS; a client socket or timer left open by a
// library must not keep a finished command alive.
process.stdout.write('', () => {
  process.stderr.write('', () => process.exit(code));
});
