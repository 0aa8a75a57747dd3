import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../client/network/connection.js';
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
  const settings: Record<string, string> = { 'data.dir': dataDir, 'native.port': '0', 'kafka.port': '0', 'admin.port': '0', 'raft.port': '0', 'schema.registry.port': '0', ...extra };
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

describe('single node > a coordinator group of one', () => {
  it('serves the coordinator APIs on its native port and keeps its generated cluster id across restarts', async () => {
    const dataDir = join(root, 'group-of-one');
    const node = await startSingleNode(config(dataDir), quiet);
    let clusterId: string;
    try {
      clusterId = node.clusterId;
      expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const connection = await connect({ host: '127.0.0.1', port: node.native.bound.port });
      try {
        const status = await connection.request('COORDINATOR_STATUS', {});
        expect(status).toMatchObject({ clusterId, nodeId: 1, role: 'leader', leaderId: 1, leaderApiPort: node.native.bound.port });
        expect(status.members).toEqual([expect.objectContaining({ nodeId: 1, voter: true, raftPort: node.raft.bound.port, apiPort: node.native.bound.port })]);
        const created = await connection.request('CREATE_TOPICS', { topics: [{ name: 'kept', partitions: 2, replicationFactor: 0, configs: {} }], timeoutMs: 0, validateOnly: false });
        expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
      } finally {
        await connection.close();
      }
    } finally {
      await node.close();
    }
    const again = await startSingleNode(config(dataDir), quiet);
    try {
      expect(again.clusterId).toBe(clusterId);
      const connection = await connect({ host: '127.0.0.1', port: again.native.bound.port });
      try {
        const metadata = await connection.request('METADATA', { topics: ['kept'], allTopics: false, allowAutoTopicCreation: false });
        expect(metadata.topics[0]).toMatchObject({ name: 'kept', errorCode: ErrorCode.NONE });
        expect(metadata.topics[0]?.partitions).toHaveLength(2);
      } finally {
        await connection.close();
      }
    } finally {
      await again.close();
    }
  });

  it('serves the coordinator\'s Raft metrics next to the broker\'s on its one admin port', async () => {
    const node = await startSingleNode(config(join(root, 'metrics')), quiet);
    try {
      const response = await fetch(`http://127.0.0.1:${node.admin.bound.port}/metrics`, { signal: AbortSignal.timeout(5_000) });
      const text = await response.text();
      expect(text).toMatch(/^streambus_raft_is_leader 1$/m);
      expect(text).toMatch(/^streambus_raft_leader_id 1$/m);
      expect(text).toMatch(/^streambus_raft_commit_index [1-9]\d*$/m);
      expect(text).toMatch(/^# TYPE streambus_connections_open gauge$/m);
    } finally {
      await node.close();
    }
  });

  it('refuses node.id 0, which is no Raft node id, with INVALID_CONFIG', async () => {
    await expect(startSingleNode(config(join(root, 'node-zero'), { 'node.id': '0' }), quiet)).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('node.id'),
    });
  });
});
