/**
 * The README's client example, run as written against a real server, so the first code a user
 * copies keeps working.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus } from '../../client/index.js';
import { startDevServer, type DevServer } from '../support/dev-server.js';

let server: DevServer;

beforeAll(async () => {
  server = await startDevServer();
});

afterAll(async () => {
  await server?.dispose();
});

describe('readme > client example', () => {
  it('runs as written and reads back the record it sent', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const body = example!
      .replace("import { StreamBus } from 'streambus';", '')
      .replace("['127.0.0.1:9093']", JSON.stringify([server.bootstrap]));
    const seen: unknown[][] = [];
    const console = { log: (...args: unknown[]) => seen.push(args) };
    // Running the README's text is the point of this test, so it is evaluated as code.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const run = new Function('StreamBus', 'console', `return (async () => {\n${body}\n})();`) as (bus: typeof StreamBus, out: typeof console) => Promise<void>;
    await run(StreamBus, console);
    expect(seen).toEqual([[0, 'k1', 'hello']]);
  });
});
