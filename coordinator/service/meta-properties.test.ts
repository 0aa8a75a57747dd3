import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { META_PROPERTIES_FILE, parseIdentity, resolveIdentity } from './meta-properties.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streambus-meta-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('coordinator > meta.properties', () => {
  it('writes the identity of a new directory once and returns it on every later start', async () => {
    const first = await resolveIdentity({ dataDir: join(dir, 'data'), nodeId: 3, generateClusterId: true });
    expect(first.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const text = await readFile(join(dir, 'data', META_PROPERTIES_FILE), 'utf8');
    expect(text).toContain(`cluster.id=${first.clusterId}`);
    expect(text).toContain('node.id=3');
    expect(await resolveIdentity({ dataDir: join(dir, 'data'), nodeId: 3, generateClusterId: true })).toEqual(first);
    expect(await resolveIdentity({ dataDir: join(dir, 'data'), nodeId: 3, clusterId: first.clusterId })).toEqual(first);
  });

  it('refuses another cluster id with INCONSISTENT_CLUSTER_ID and another node id with INVALID_CONFIG', async () => {
    await resolveIdentity({ dataDir: dir, nodeId: 1, clusterId: 'cluster-a' });
    await expect(resolveIdentity({ dataDir: dir, nodeId: 1, clusterId: 'cluster-b' })).rejects.toMatchObject({ code: ErrorCode.INCONSISTENT_CLUSTER_ID });
    await expect(resolveIdentity({ dataDir: dir, nodeId: 2, clusterId: 'cluster-a' })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
  });

  it('refuses a malformed cluster id, and a new directory without one unless it may generate one', async () => {
    await expect(resolveIdentity({ dataDir: dir, nodeId: 1, clusterId: 'has space' })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
    await expect(resolveIdentity({ dataDir: dir, nodeId: 1 })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining('cluster.id is not set') });
  });

  it('refuses a damaged or foreign file naming it', async () => {
    const file = join(dir, META_PROPERTIES_FILE);
    await writeFile(file, 'version=1\nnode.id=x\ncluster.id=c\n');
    await expect(resolveIdentity({ dataDir: dir, nodeId: 1 })).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining(file) });
    expect(() => parseIdentity('version=9\nnode.id=1\ncluster.id=c\n', 'f')).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_VERSION }));
    expect(() => parseIdentity('garbage\n', 'f')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
    expect(parseIdentity('# comment\nversion=1\nnode.id=4\ncluster.id=abc\n', 'f')).toEqual({ nodeId: 4, clusterId: 'abc' });
  });
});
