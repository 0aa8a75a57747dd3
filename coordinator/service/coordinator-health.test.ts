/**
 * A coordinator node's metrics and health checks, on real nodes (LevelDB stores in temp
 * directories, TCP Raft transports): the Raft gauges and write counters after real writes, the
 * advertised Raft address, readiness without a leader and with one, and liveness and readiness
 * once the store fails (LevelDB's native batch write made to fail with ENOSPC, as
 * raft-host-faults.test.ts does, since a full disk cannot be made safely on a shared machine).
 */
import { ClassicLevel } from 'classic-level';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startAdminServer, type AdminServer } from '../../broker/observability/index.js';
import { ErrorCode } from '../../proto/errors.js';
import { freePort } from '../../test/support/coordinator-cluster.js';
import { waitFor } from '../raft/host/testing/host-cluster.js';
import type { Endpoint } from './coordinator-api.js';
import { CoordinatorMetrics } from './coordinator-metrics.js';
import { CoordinatorNode, type CoordinatorNodeOptions } from './coordinator-node.js';

const HOST = '127.0.0.1';
let root: string;
const nodes: CoordinatorNode[] = [];
const servers: AdminServer[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'streambus-coordinator-health-'));
});

afterEach(async () => {
  vi.restoreAllMocks();
  for (const server of servers.splice(0)) await server.close();
  for (const node of nodes.splice(0)) await node.close();
  await rm(root, { recursive: true, force: true });
});

async function start(nodeId: number, extra: Partial<CoordinatorNodeOptions> = {}): Promise<CoordinatorNode> {
  const node = await CoordinatorNode.start({
    nodeId,
    clusterId: 'health',
    dataDir: join(root, `node-${nodeId}`),
    raftListen: extra.voters?.get(nodeId) ?? { host: HOST, port: 0 },
    defaults: { numPartitions: 1, replicationFactor: 1 },
    raft: { tickMs: 50 },
    ...extra,
  });
  nodes.push(node);
  return node;
}

/** The value of one sample line of the exposition, e.g. `streambus_raft_term` or `x{member="1"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('coordinator health > metrics', () => {
  it('exports the raft gauges, the write counters and the broker counts of a leading node', async () => {
    const node = await start(1, { metrics: new CoordinatorMetrics({ version: '9.9.9' }) });
    await node.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    const { brokerEpoch } = await node.coordinator.registerBroker({ nodeId: 101, incarnationId: 'a', host: HOST, port: 9 });
    await node.coordinator.registerBroker({ nodeId: 102, incarnationId: 'b', host: HOST, port: 9 });
    await node.coordinator.brokerHeartbeat({ nodeId: 101, brokerEpoch, metadataOffset: node.log.state.lastAppliedOffset });

    const text = await node.metrics.scrape();
    const status = node.host.status();
    expect(sample(text, 'streambus_raft_term')).toBe(status.term);
    expect(status.term).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'streambus_raft_is_leader')).toBe(1);
    expect(sample(text, 'streambus_raft_leader_id')).toBe(1);
    expect(sample(text, 'streambus_raft_commit_index')).toBe(status.commit);
    expect(sample(text, 'streambus_raft_applied_index')).toBe(status.applied);
    expect(sample(text, 'streambus_raft_last_index')).toBe(status.lastIndex);
    expect(sample(text, 'streambus_raft_snapshot_index')).toBe(0);
    expect(sample(text, 'streambus_raft_member_lag_entries{member="1"}')).toBe(0);
    expect(sample(text, 'streambus_raft_leader_changes_total')).toBe(1);
    // init-cluster, register-coordinator, two registrations and an unfence: each one proposal.
    const proposals = sample(text, 'streambus_raft_proposals_total')!;
    expect(proposals).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'streambus_raft_proposal_latency_seconds_count')).toBe(proposals);
    const synced = sample(text, 'streambus_raft_synced_writes_total')!;
    expect(synced).toBeGreaterThanOrEqual(proposals / 2);
    expect(sample(text, 'streambus_raft_persist_latency_seconds_count')).toBe(synced);
    expect(sample(text, 'streambus_coordinator_brokers_registered')).toBe(2);
    expect(sample(text, 'streambus_coordinator_brokers_fenced')).toBe(1);
    expect(sample(text, 'streambus_coordinator_metadata_offset')).toBe(node.log.state.lastAppliedOffset);
    expect(text).toMatch(/streambus_build_info\{version="9\.9\.9",nodejs="v[^"]+"\} 1/);
    expect(text).not.toContain('nodejs_eventloop_lag_seconds');
  });

  it('exports transactions by state with the oldest open one\'s age, producer ids handed out, and the registry\'s subjects, versions and ids', async () => {
    let nowMs = 1_795_000_000_000;
    const node = await start(1, { metrics: new CoordinatorMetrics({ nowMs: () => nowMs }) });
    await node.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    const idle = await node.metrics.scrape();
    expect(sample(idle, 'streambus_transactions{state="Ongoing"}')).toBe(0);
    expect(sample(idle, 'streambus_transactions_oldest_open_seconds')).toBe(0);
    expect(sample(idle, 'streambus_schema_registry_subjects')).toBe(0);

    const init = (transactionalId: string) => node.coordinator.transactions.initProducerId({ transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    const open = await init('payments-1');
    await init('payments-2');
    const startedAt = Date.now();
    expect(await node.coordinator.transactions.addOffsets({ transactionalId: 'payments-1', producerId: open.producerId, producerEpoch: open.producerEpoch, groupId: 'payments' })).toBe(ErrorCode.NONE);
    nowMs = startedAt + 42_000;

    const registry = await node.serveSchemaRegistry({ listen: { host: HOST, port: 0 }, advertisedHost: HOST });
    const register = (subject: string, schema: object) =>
      fetch(`http://${HOST}:${registry.bound.port}/subjects/${subject}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      }).then((response) => response.status);
    expect(await register('orders-value', { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] })).toBe(200);
    expect(await register('orders-value', { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'note', type: 'string', default: '' }] })).toBe(200);
    expect(await register('users-value', { type: 'string' })).toBe(200);

    const text = await node.metrics.scrape();
    expect(sample(text, 'streambus_transactions{state="Ongoing"}')).toBe(1);
    expect(sample(text, 'streambus_transactions{state="Empty"}')).toBe(1);
    expect(sample(text, 'streambus_transactions{state="PrepareCommit"}')).toBe(0);
    const age = sample(text, 'streambus_transactions_oldest_open_seconds')!;
    expect(age).toBeGreaterThan(40);
    expect(age).toBeLessThan(44);
    // Two transactional ids took an id each, from the first block the coordinator allocated.
    expect(sample(text, 'streambus_producer_ids_allocated')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'streambus_schema_registry_subjects')).toBe(2);
    expect(sample(text, 'streambus_schema_registry_versions')).toBe(3);
    expect(sample(text, 'streambus_schema_registry_max_schema_id')).toBe(3);
  });

  it('shows a follower its leader, no leadership and no member lag', async () => {
    const voters = new Map<number, Endpoint>([
      [1, { host: HOST, port: await freePort(HOST) }],
      [2, { host: HOST, port: await freePort(HOST) }],
    ]);
    const [a, b] = await Promise.all([start(1, { voters }), start(2, { voters })]);
    await waitFor(() => a.host.leaderId !== 0 && a.host.leaderId === b.host.leaderId, 'a leader both nodes know', 15_000);
    const follower = a.host.leaderId === 1 ? b : a;
    const text = await follower.metrics.scrape();
    expect(sample(text, 'streambus_raft_is_leader')).toBe(0);
    expect(sample(text, 'streambus_raft_leader_id')).toBe(a.host.leaderId);
    expect(text).not.toMatch(/^streambus_raft_member_lag_entries\{/m);
    expect(sample(text, 'streambus_raft_proposals_total')).toBe(0);
  });

  it('records the configured raft advertised host with the bound port, and the host name for a wildcard bind', async () => {
    const named = await start(1, { raftAdvertisedHost: 'coordinator-1.example' });
    await named.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    await waitFor(() => named.coordinator.status().members[0]?.raft.host === 'coordinator-1.example', 'the advertised raft host in the status');
    expect(named.coordinator.status().members[0]?.raft).toEqual({ host: 'coordinator-1.example', port: named.raftAddress.port });

    const wildcard = await start(2, { raftListen: { host: '0.0.0.0', port: 0 } });
    await wildcard.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    expect(wildcard.coordinator.status().members[0]?.raft).toEqual({ host: hostname(), port: wildcard.raftAddress.port });
  });
});

describe('coordinator health > readiness and liveness', () => {
  it('is live but not ready while no leader is known, and ready once one is', async () => {
    const voters = new Map<number, Endpoint>([
      [1, { host: HOST, port: await freePort(HOST) }],
      [2, { host: HOST, port: await freePort(HOST) }],
    ]);
    const alone = await start(1, { voters });
    expect(alone.liveness()).toEqual({ ok: true, reasons: [] });
    const waiting = await alone.readiness();
    expect(waiting.ok).toBe(false);
    expect(waiting.reasons[0]).toMatch(/^no coordinator leader is known \(term \d+\)$/);

    await start(2, { voters });
    await waitFor(() => alone.host.leaderId !== 0, 'a leader once the second voter runs', 15_000);
    await expect(alone.readiness()).resolves.toEqual({ ok: true, reasons: [] });
  });

  it('fails /livez and /readyz with the reason once the store fails for good', async () => {
    const node = await start(1);
    await node.coordinator.whenLeading({ signal: AbortSignal.timeout(5_000) });
    const admin = await startAdminServer({
      host: HOST,
      port: 0,
      registry: node.metrics.registry,
      live: () => ({ live: node.liveness().ok, reasons: node.liveness().reasons }),
      ready: async () => {
        const health = await node.readiness();
        return { ready: health.ok, reasons: health.reasons };
      },
    });
    servers.push(admin);
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const response = await fetch(`http://${HOST}:${admin.port}${path}`, { signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: await response.text() };
    };
    expect(await get('/livez')).toEqual({ status: 200, body: '{"status":"live"}\n' });
    expect((await get('/readyz')).status).toBe(200);

    const dir = join(node.dataDir, 'coordinator', 'raft');
    const proto = ClassicLevel.prototype as unknown as { _chainedBatch: (this: { location: string }) => { _write: (...args: unknown[]) => Promise<void> } };
    const original = proto._chainedBatch;
    vi.spyOn(proto, '_chainedBatch').mockImplementation(function (this: { location: string }) {
      const batch = original.call(this);
      if (this.location === dir) batch._write = () => Promise.reject(new Error('IO error: ENOSPC: no space left on device'));
      return batch;
    });
    const refused = await node.coordinator.registerBroker({ nodeId: 101, incarnationId: 'a', host: HOST, port: 9 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR });
    expect((await node.failed).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);

    const live = await get('/livez');
    expect(live.status).toBe(503);
    expect(JSON.parse(live.body)).toEqual({ status: 'not_live', reasons: [expect.stringMatching(/^the raft host stopped for good: .*ENOSPC/)] });
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('the raft host stopped for good');
  });
});
