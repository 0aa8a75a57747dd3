/**
 * Turns coordinator responses (proto/messages.ts) into the client's types (./types.ts), and their
 * error codes into typed errors. Pure.
 *
 * Responses come from the network, so nothing is taken on trust: an unknown role, records out of
 * order or before the requested offset, a snapshot that is not valid JSON of a MetadataSnapshot,
 * or command bytes the metadata codec refuses all become typed errors (MALFORMED_FRAME for a
 * response that breaks the protocol's rules, the metadata codec's own CORRUPT_MESSAGE or
 * UNSUPPORTED_VERSION for bad record or snapshot contents) instead of reaching the caller.
 */
import { MetadataState, decodeMetadataCommand, type MetadataRecord, type MetadataSnapshot } from '../../coordinator/index.js';
import { ErrorCode, StreamBusError, errorFromCode } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { formatEndpoint, isPort } from './endpoints.js';
import type { CoordinatorMember, CoordinatorRole, CoordinatorStatus, Endpoint, MetadataUpdate } from './types.js';

const roles: ReadonlySet<string> = new Set<CoordinatorRole>(['leader', 'follower', 'candidate', 'pre-candidate']);

/** Throws the typed error a response body carries; returns when its code is NONE. */
export function throwIfError(body: { readonly errorCode: number; readonly errorMessage: string }, from: Endpoint): void {
  const error = errorFromCode(body.errorCode, body.errorMessage, { broker: formatEndpoint(from) });
  if (error !== undefined) throw error;
}

function malformed(message: string, from: Endpoint): StreamBusError {
  return new StreamBusError(ErrorCode.MALFORMED_FRAME, message, { context: { broker: formatEndpoint(from) } });
}

/** An address from a host/port pair; undefined for the wire's "not known" ('' or port 0). */
function optionalEndpoint(host: string, port: number): Endpoint | undefined {
  return host === '' || !isPort(port) ? undefined : { host, port };
}

function memberFromWire(wire: M.CoordinatorMember, leaderView: boolean, from: Endpoint): CoordinatorMember {
  const raft = optionalEndpoint(wire.raftHost, wire.raftPort);
  if (raft === undefined) throw malformed(`coordinator member ${wire.nodeId} has no raft address`, from);
  return {
    nodeId: wire.nodeId,
    raft,
    api: optionalEndpoint(wire.apiHost, wire.apiPort),
    voter: wire.voter,
    matchIndex: leaderView && wire.matchIndex >= 0 ? wire.matchIndex : undefined,
    lag: leaderView && wire.lag >= 0 ? wire.lag : undefined,
    active: leaderView ? wire.active : undefined,
  };
}

/** A COORDINATOR_STATUS answer from `from`. Throws the body's error, or MALFORMED_FRAME. */
export function statusFromWire(wire: M.CoordinatorStatusResponse, from: Endpoint): CoordinatorStatus {
  throwIfError(wire, from);
  if (!roles.has(wire.role)) throw malformed(`coordinator status carries unknown role "${wire.role}"`, from);
  const role = wire.role as CoordinatorRole;
  const leaderView = role === 'leader';
  return {
    address: from,
    clusterId: wire.clusterId,
    nodeId: wire.nodeId,
    role,
    leaderId: wire.leaderId,
    leaderApi: wire.leaderId === 0 ? undefined : optionalEndpoint(wire.leaderApiHost, wire.leaderApiPort),
    term: wire.term,
    commitIndex: wire.commitIndex,
    appliedIndex: wire.appliedIndex,
    lastIndex: wire.lastIndex,
    snapshotIndex: wire.snapshotIndex,
    metadataOffset: wire.metadataOffset,
    members: wire.members.map((m) => memberFromWire(m, leaderView, from)).sort((a, b) => a.nodeId - b.nodeId),
  };
}

/**
 * A FETCH_METADATA answer to a fetch from `fromOffset`, or undefined when it carries nothing new
 * (the long poll ended empty). Throws the body's error (OFFSET_OUT_OF_RANGE past the end),
 * MALFORMED_FRAME for records out of order, and the metadata codec's errors for bad contents.
 */
export function metadataUpdateFromWire(wire: M.FetchMetadataResponse, fromOffset: number, from: Endpoint): MetadataUpdate | undefined {
  throwIfError(wire, from);
  if (wire.hasSnapshot) {
    if (wire.snapshotOffset < fromOffset - 1) {
      throw malformed(`metadata snapshot at offset ${wire.snapshotOffset} is older than the requested offset ${fromOffset}`, from);
    }
    return { kind: 'snapshot', offset: wire.snapshotOffset, snapshot: snapshotFromJson(wire.snapshot, wire.snapshotOffset, from), committedOffset: wire.committedOffset };
  }
  if (wire.records.length === 0) return undefined;
  const records: MetadataRecord[] = [];
  let previous = fromOffset - 1;
  for (const record of wire.records) {
    if (record.offset <= previous) {
      throw malformed(`metadata record at offset ${record.offset} follows offset ${previous} (fetched from ${fromOffset})`, from);
    }
    previous = record.offset;
    records.push({ offset: record.offset, command: decodeMetadataCommand(record.command) });
  }
  return { kind: 'records', records, committedOffset: wire.committedOffset };
}

/** Parses and checks a snapshot field by field (MetadataState.restore), so a bad one never escapes. */
function snapshotFromJson(bytes: Uint8Array, offset: number, from: Endpoint): MetadataSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'metadata snapshot is not valid UTF-8 JSON', { cause, context: { broker: formatEndpoint(from) } });
  }
  const snapshot = MetadataState.restore(parsed).snapshot();
  // The snapshot's offset may be a log position past its last metadata record (a Raft entry that
  // carries no metadata command), never one before it.
  if (snapshot.lastAppliedOffset > offset) {
    throw malformed(`metadata snapshot holds records up to offset ${snapshot.lastAppliedOffset}, past its stated offset ${offset}`, from);
  }
  return snapshot;
}
