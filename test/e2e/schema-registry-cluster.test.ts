/**
 * The schema registry on a group of three `streambus coordinator` processes: every node serves the
 * REST API, a write sent to a follower is forwarded to the leader and answered as the leader
 * answered, every node reads what was registered anywhere, and after the leader is killed the new
 * leader takes the writes (its followers forward to it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorCluster, type CoordinatorNode } from '../support/coordinator-cluster.js';
import { eventually } from '../support/dev-server.js';

let cluster: CoordinatorCluster;

beforeAll(async () => {
  cluster = await CoordinatorCluster.start({ settings: { 'log.level': 'info' } });
}, 90_000);

afterAll(async () => {
  await cluster?.dispose();
});

/** The registry address a node logged in its ready line. */
function registryOf(node: CoordinatorNode): string {
  for (const line of node.logLines) {
    if (!line.includes('streambus coordinator ready')) continue;
    const entry = JSON.parse(line) as { schemaRegistry?: { host: string; port: number } };
    if (entry.schemaRegistry !== undefined) return `http://${entry.schemaRegistry.host}:${entry.schemaRegistry.port}`;
  }
  throw new Error(`coordinator ${node.nodeId} logged no schema registry address`);
}

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.json() };
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.json() };
}

const schema = (name: string): string => JSON.stringify({ type: 'record', name, fields: [{ name: 'a', type: 'int' }] });

/**
 * Registers through `node`, retrying as clients do while the group has no reachable leader: 50004
 * (none known) and 50003 (forwarding to a leader that just died failed).
 */
async function registerVia(node: CoordinatorNode, subject: string, name: string): Promise<number> {
  let last: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    const answer = await post(`${registryOf(node)}/subjects/${subject}/versions`, { schema: schema(name) });
    if (answer.status === 200) return (answer.body as { id: number }).id;
    last = answer.body;
    const code = (answer.body as { error_code?: number }).error_code;
    if (code !== 50004 && code !== 50003) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`registration through coordinator ${node.nodeId} failed: ${JSON.stringify(last)}\n${cluster.nodes.map((n) => `${n.nodeId}: ${registryOf(n)}`).join(", ")}\n${cluster.logs(15)}`);
}

describe('schema registry > coordinator group', () => {
  it('takes writes on every node (followers forward them) and answers reads everywhere', async () => {
    const ids: number[] = [];
    for (const node of cluster.nodes) ids.push(await registerVia(node, `node-${node.nodeId}-value`, `R${node.nodeId}`));
    expect(new Set(ids).size).toBe(3);
    for (const node of cluster.nodes) {
      await eventually(async () => ((await getJson(`${registryOf(node)}/subjects`)).body as string[]).length === 3, 10_000, 50);
      expect((await getJson(`${registryOf(node)}/schemas/ids/${ids[0]}`)).body).toEqual({ schema: schema('R1') });
    }
    // An error decided by the leader comes back through the follower unchanged.
    const follower = cluster.nodes[0]!;
    const refused = await post(`${registryOf(follower)}/subjects/node-1-value/versions`, { schema: JSON.stringify({ type: 'record', name: 'R1', fields: [{ name: 'b', type: 'int' }] }) });
    expect(refused.status).toBe(409);
  }, 60_000);

  it('carries on with a new leader after the leader is killed', async () => {
    const before = await registerVia(cluster.nodes[1]!, 'before-failover', 'Before');
    let killed: CoordinatorNode | undefined;
    for (const node of cluster.nodes) {
      if (node.logLines.some((line) => line.includes('coordinator leader ready: accepting writes'))) killed = node;
    }
    if (killed === undefined) throw new Error(`no coordinator logged that it leads\n${cluster.logs()}`);
    await killed.kill();
    const survivor = cluster.nodes.find((n) => n !== killed)!;
    const after = await registerVia(survivor, 'after-failover', 'After');
    expect(after).toBeGreaterThan(before);
    for (const node of cluster.nodes.filter((n) => n !== killed)) {
      await eventually(async () => ((await getJson(`${registryOf(node)}/subjects`)).body as string[]).includes('after-failover'), 10_000, 50);
    }
  }, 90_000);
});
