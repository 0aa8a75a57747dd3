/**
 * <data.dir>/meta.properties: which node and cluster a data directory belongs to, like Kafka's
 * file of the same name. Written once, when a node first uses the directory, and checked at every
 * start after that, so a node pointed at another node's or another cluster's data refuses to
 * start instead of joining with the wrong identity.
 *
 * `streambus dev` leaves cluster.id unset: the first start generates one and this file keeps it,
 * so restarts keep it. A coordinator of a multi-node group is given the cluster id its group
 * shares (cluster.id); this file then records it. The Raft store checks the same identity again
 * (coordinator/raft/storage), so the two cannot drift apart unnoticed.
 *
 * Format (Java properties, '#' comments):
 *   version=1
 *   node.id=<int>
 *   cluster.id=<string>
 * The file is written to a temporary name, synced and renamed, so a crash leaves either no file or
 * a whole one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

export const META_PROPERTIES_FILE = 'meta.properties';
const META_VERSION = 1;
const CLUSTER_ID_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;

export interface NodeIdentity {
  readonly nodeId: number;
  readonly clusterId: string;
}

export interface ResolveIdentityOptions {
  readonly dataDir: string;
  readonly nodeId: number;
  /** The configured cluster.id, if any. */
  readonly clusterId?: string | undefined;
  /** With no configured and no stored cluster id: generate one (`streambus dev`) rather than refuse. */
  readonly generateClusterId?: boolean;
}

/** A new cluster id: 16 random bytes in base64url (22 characters), the shape Kafka uses. */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/** Refuses a cluster id that is not 1..255 characters of letters, digits, '.', '_' and '-' with INVALID_CONFIG. */
export function checkClusterId(clusterId: string): string {
  if (!CLUSTER_ID_PATTERN.test(clusterId)) {
    throw new StreamBusError(
      ErrorCode.INVALID_CONFIG,
      `cluster.id must be 1..255 characters of letters, digits, '.', '_' and '-', got ${JSON.stringify(clusterId)}`,
    );
  }
  return clusterId;
}

/**
 * The identity of the data directory: the stored one, checked against the configuration, or, for
 * a directory without meta.properties, the configured (or generated) one, written down. Rejects
 * with INCONSISTENT_CLUSTER_ID when the directory belongs to another cluster, INVALID_CONFIG when
 * it belongs to another node id, when no cluster id is configured for a new directory (and none
 * may be generated), or for a malformed file, and KAFKA_STORAGE_ERROR when it cannot be read or
 * written.
 */
export async function resolveIdentity(options: ResolveIdentityOptions): Promise<NodeIdentity> {
  const file = path.join(options.dataDir, META_PROPERTIES_FILE);
  const configured = options.clusterId === undefined ? undefined : checkClusterId(options.clusterId);
  const stored = await readIdentity(file);
  if (stored !== undefined) {
    if (stored.nodeId !== options.nodeId) {
      throw new StreamBusError(
        ErrorCode.INVALID_CONFIG,
        `the data directory ${options.dataDir} belongs to node ${stored.nodeId}, not node ${options.nodeId} (${file}); check node.id and data.dir`,
      );
    }
    if (configured !== undefined && configured !== stored.clusterId) {
      throw new StreamBusError(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `the data directory ${options.dataDir} belongs to cluster "${stored.clusterId}", but cluster.id is "${configured}" (${file}); ` +
          'check cluster.id and data.dir',
      );
    }
    return stored;
  }
  let clusterId = configured;
  if (clusterId === undefined) {
    if (options.generateClusterId !== true) {
      throw new StreamBusError(
        ErrorCode.INVALID_CONFIG,
        `cluster.id is not set and ${options.dataDir} holds no ${META_PROPERTIES_FILE}: every coordinator of a group must be given the same cluster.id ` +
          '(for example 16 random bytes in base64url) before its first start',
      );
    }
    clusterId = newClusterId();
  }
  const identity = { nodeId: options.nodeId, clusterId };
  await writeIdentity(options.dataDir, file, identity);
  return identity;
}

async function readIdentity(file: string): Promise<NodeIdentity | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseIdentity(text, file);
}

/** Parses the file's text; INVALID_CONFIG naming the file and what is wrong. */
export function parseIdentity(text: string, file: string): NodeIdentity {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw malformed(file, `the line "${line.slice(0, 80)}" is not key=value`);
    values.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const version = values.get('version');
  if (version !== String(META_VERSION)) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `${file} has version ${version ?? '(none)'}; this StreamBus reads version ${META_VERSION}`);
  }
  const nodeId = Number(values.get('node.id'));
  if (!Number.isSafeInteger(nodeId) || nodeId < 0) throw malformed(file, `node.id ${JSON.stringify(values.get('node.id') ?? null)} is not a whole number`);
  const clusterId = values.get('cluster.id') ?? '';
  if (!CLUSTER_ID_PATTERN.test(clusterId)) throw malformed(file, `cluster.id ${JSON.stringify(clusterId)} is not a valid cluster id`);
  return { nodeId, clusterId };
}

function malformed(file: string, reason: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_CONFIG, `${file} is malformed: ${reason}`);
}

async function writeIdentity(dataDir: string, file: string, identity: NodeIdentity): Promise<void> {
  const text = [
    '# Which node and cluster this data directory belongs to. Written by StreamBus on first start; do not edit.',
    `version=${META_VERSION}`,
    `node.id=${identity.nodeId}`,
    `cluster.id=${identity.clusterId}`,
    '',
  ].join('\n');
  const temporary = `${file}.tmp`;
  try {
    await mkdir(dataDir, { recursive: true });
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
    // The rename itself must survive a crash: sync the directory that holds the entry.
    const dir = await open(dataDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}
