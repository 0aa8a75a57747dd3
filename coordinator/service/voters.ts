/**
 * The `coordinator.voters` setting: the founding voters of a coordinator group and their Raft
 * addresses, written like KRaft's controller.quorum.voters: "1@127.0.0.1:9095,2@127.0.0.2:9095".
 * Pure.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { Endpoint } from './coordinator-api.js';

const MAX_NODE_ID = 2 ** 31 - 1;
const ENTRY = /^(\d+)@(\[[0-9A-Fa-f:.]+\]|[^:@[\]\s]+):(\d+)$/;

function invalid(text: string, reason: string): StreamBusError {
  return new StreamBusError(ErrorCode.INVALID_CONFIG, `coordinator.voters ${JSON.stringify(text)}: ${reason} (expected id@host:port,... such as 1@127.0.0.1:9095,2@127.0.0.2:9095)`);
}

/**
 * The voters named by `text`, by node id. Throws INVALID_CONFIG naming the bad entry for an empty
 * list, an entry that is not id@host:port, a node id outside 1..2147483647, a port outside
 * 1..65535, and a node id or address given twice.
 */
export function parseVoters(text: string): Map<number, Endpoint> {
  const voters = new Map<number, Endpoint>();
  const seen = new Set<string>();
  const entries = text.split(',').map((entry) => entry.trim());
  if (text.trim() === '') throw invalid(text, 'the list is empty');
  for (const entry of entries) {
    const match = ENTRY.exec(entry);
    if (match === null) throw invalid(text, `"${entry}" is not id@host:port`);
    const [, idText = '', rawHost = '', portText = ''] = match;
    const nodeId = Number(idText);
    if (!Number.isSafeInteger(nodeId) || nodeId < 1 || nodeId > MAX_NODE_ID) throw invalid(text, `node id ${idText} in "${entry}" is not in 1..${MAX_NODE_ID}`);
    const port = Number(portText);
    if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) throw invalid(text, `port ${portText} in "${entry}" is not in 1..65535`);
    const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
    if (voters.has(nodeId)) throw invalid(text, `node ${nodeId} is named twice`);
    const address = `${host}:${port}`;
    if (seen.has(address)) throw invalid(text, `the address ${rawHost}:${port} is given to two nodes`);
    seen.add(address);
    voters.set(nodeId, { host, port });
  }
  return voters;
}

/** The setting's text for `voters`, in node id order. */
export function formatVoters(voters: ReadonlyMap<number, Endpoint>): string {
  return [...voters]
    .sort(([a], [b]) => a - b)
    .map(([id, e]) => `${id}@${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`)
    .join(',');
}
