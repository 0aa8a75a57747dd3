/**
 * Coordinator addresses: parsing "host:port" (and "[v6]:port"), printing them back, and the
 * ordered, de-duplicated candidate list the client probes when it looks for the leader. Pure.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { parseBrokerAddress } from '../cluster/metadata.js';
import type { Endpoint } from './types.js';

/**
 * An endpoint from "host:port" text or an { host, port } object. Throws StreamBusError
 * INVALID_REQUEST for anything else (empty host, port outside 1..65535, missing port).
 */
export function toEndpoint(value: Endpoint | string): Endpoint {
  if (typeof value === 'string') {
    const parsed = parseBrokerAddress(value);
    if (parsed === undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `coordinator address "${value}" is not "host:port"`);
    return parsed;
  }
  if (value === null || typeof value !== 'object' || typeof value.host !== 'string' || value.host === '' || !isPort(value.port)) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `coordinator address ${JSON.stringify(value)} is not { host, port } with a port in 1..65535`);
  }
  return { host: value.host, port: value.port };
}

/** "host:port", with IPv6 hosts in brackets. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export function sameEndpoint(a: Endpoint | undefined, b: Endpoint | undefined): boolean {
  return a !== undefined && b !== undefined && a.host === b.host && a.port === b.port;
}

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535;
}

/**
 * The addresses worth asking, each once, in order of promise: the leader's (when known), then
 * the API addresses learned from the group, then the bootstrap list. At most `limit`.
 */
export function candidateEndpoints(groups: readonly (readonly (Endpoint | undefined)[])[], limit: number): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const group of groups) {
    for (const endpoint of group) {
      if (endpoint === undefined || out.length >= limit) continue;
      const key = formatEndpoint(endpoint);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(endpoint);
    }
  }
  return out;
}
