import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { resolveConfig } from '../config/index.js';
import { startSingleNode } from './single-node.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'streambus-single-node-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const quiet = pino({ level: 'silent' });

function config(dataDir: string, extra: Record<string, string> = {}): ReturnType<typeof resolveConfig> {
  const settings: Record<string, string> = { 'data.dir': dataDir, 'native.port': '0', 'admin.port': '0', ...extra };
  return resolveConfig({ flags: Object.entries(settings).map(([key, value]) => ({ key, value, origin: '--set' })) });
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

describe('single node > broker session', () => {
  it('reports ready only once its broker is registered and unfenced, and keeps it unfenced', async () => {
    const node = await startSingleNode(
      config(join(root, 'live'), { 'broker.session.timeout.ms': '400', 'broker.heartbeat.interval.ms': '50' }),
      quiet,
    );
    try {
      expect(await readyz(node.admin.bound.port)).toMatchObject({ status: 200 });
      // An observation window, not a wait for an event: over five session timeouts the in-process
      // heartbeats must keep the broker unfenced at every look.
      for (let look = 0; look < 10; look++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await readyz(node.admin.bound.port)).toMatchObject({ status: 200 });
      }
    } finally {
      await node.close();
    }
  });

  it('refuses a heartbeat interval that is not below the session timeout with INVALID_CONFIG, before opening anything', async () => {
    await expect(
      startSingleNode(config(join(root, 'bad'), { 'broker.session.timeout.ms': '1000', 'broker.heartbeat.interval.ms': '1000' }), quiet),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('broker.heartbeat.interval.ms (1000)') });
  });
});
