/**
 * The TcpRaftTransport's options, their defaults and their validation, plus the rate limiter its
 * outbound and inbound connections share for repeated warnings. Kept apart so the connection files
 * and the transport read one definition of every bound.
 */
import { DEFAULT_MAX_FRAME_BYTES } from '../../../proto/framing.js';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import type { Logger } from '../../logger.js';
import type { PeerAddress } from './raft-transport.js';

export const DEFAULT_MAX_QUEUED_MESSAGES = 4096;
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_RECONNECT_BACKOFF_MIN_MS = 50;
export const DEFAULT_RECONNECT_BACKOFF_MAX_MS = 1000;
/**
 * Repeated warnings and errors about one cause (an unknown node or another cluster's node retrying
 * every second, a peer refusing us) are logged at most this often.
 */
const WARN_INTERVAL_MS = 10_000;
/** The largest handshake frame (a HELLO or a REFUSAL, both tiny), and what a stranger may send before its hello. */
export const MAX_HANDSHAKE_FRAME_BYTES = 64 * 1024;

export interface TcpRaftTransportOptions {
  /** This node's id (a positive integer). */
  readonly nodeId: number;
  /** Every node of the cluster has the same one; peers with another are refused. Not empty. */
  readonly clusterId: string;
  /** Where to accept peer connections; port 0 binds an ephemeral port (see `address`). */
  readonly listen: PeerAddress;
  /** The other nodes and their Raft addresses. An entry for this node itself is ignored. */
  readonly peers: ReadonlyMap<number, PeerAddress>;
  /** Frames queued per peer, at most. Default 4096. */
  readonly maxQueuedMessages?: number;
  /** Bytes of frames queued per peer, at most. Default 64 MiB. */
  readonly maxQueuedBytes?: number;
  /** Largest frame sent or accepted, length field included. Default 64 MiB + 1 KiB (a 64 MiB body). */
  readonly maxFrameBytes?: number;
  /** Time for a connection to open and finish its handshake, either side. Default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay; it doubles per failure. Default 50 ms. */
  readonly reconnectBackoffMinMs?: number;
  /** Largest reconnect delay. Default 1000 ms. */
  readonly reconnectBackoffMaxMs?: number;
  /** Uniform in [0, 1): the backoff jitter. Default Math.random; tests pass a seeded one. */
  readonly random?: () => number;
  /** The local address outgoing connections bind (multi-node tests on 127.0.0.x). Default: the system picks it. */
  readonly localAddress?: string;
  readonly logger?: Logger;
}

/** The validated numeric options, defaults filled in. */
export interface Settings {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer, got ${value}`);
  return value;
}

/** Checks the node id, the cluster id and every bound. Throws StreamBusError(INVALID_CONFIG). */
export function settingsOf(o: TcpRaftTransportOptions): Settings {
  if (!Number.isSafeInteger(o.nodeId) || o.nodeId < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `nodeId must be a positive integer, got ${o.nodeId}`);
  if (typeof o.clusterId !== 'string' || o.clusterId === '') throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'clusterId must not be empty');
  const settings: Settings = {
    maxQueuedMessages: positiveInteger('maxQueuedMessages', o.maxQueuedMessages, DEFAULT_MAX_QUEUED_MESSAGES),
    maxQueuedBytes: positiveInteger('maxQueuedBytes', o.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES),
    maxFrameBytes: positiveInteger('maxFrameBytes', o.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES),
    connectTimeoutMs: positiveInteger('connectTimeoutMs', o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    backoffMinMs: positiveInteger('reconnectBackoffMinMs', o.reconnectBackoffMinMs, DEFAULT_RECONNECT_BACKOFF_MIN_MS),
    backoffMaxMs: positiveInteger('reconnectBackoffMaxMs', o.reconnectBackoffMaxMs, DEFAULT_RECONNECT_BACKOFF_MAX_MS),
  };
  if (settings.backoffMaxMs < settings.backoffMinMs) throw new StreamBusError(ErrorCode.INVALID_CONFIG, 'reconnectBackoffMaxMs is below reconnectBackoffMinMs');
  // A frame needs its 12-byte header; the FrameDecoder refuses a smaller bound.
  if (settings.maxFrameBytes < 64) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `maxFrameBytes must be at least 64, got ${settings.maxFrameBytes}`);
  return settings;
}

/** Throws StreamBusError(INVALID_CONFIG) unless `address` is a host and a port in 0..65535. */
export function checkAddress(what: string, address: PeerAddress): void {
  if (typeof address.host !== 'string' || address.host === '' || !Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
    throw new StreamBusError(ErrorCode.INVALID_CONFIG, `${what} must be a host and a port in 0..65535, got ${JSON.stringify(address)}`);
  }
}

/** Throws StreamBusError(INVALID_CONFIG) for a peer id that is not a positive integer or a bad address. */
export function checkPeers(peers: ReadonlyMap<number, PeerAddress>): void {
  for (const [id, address] of peers) {
    if (!Number.isSafeInteger(id) || id < 1) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `peer id must be a positive integer, got ${id}`);
    checkAddress(`the address of peer ${id}`, address);
  }
}

/** Lets one warning per key through per interval; remembers a bounded number of keys. */
export class WarnLimiter {
  readonly #lastMs = new Map<string, number>();

  allow(key: string): boolean {
    const now = performance.now();
    const last = this.#lastMs.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return false;
    if (this.#lastMs.size >= 1024) this.#lastMs.clear();
    this.#lastMs.set(key, now);
    return true;
  }
}

/** What the transport shares with each of its connections, outbound and inbound. */
export interface ConnectionContext {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly settings: Settings;
  readonly log: Logger;
  readonly warnings: WarnLimiter;
}
