/**
 * How LevelRaftStorage lays Raft state out in LevelDB: keys, and the checksummed value of each kind.
 *
 * keys
 *   0x00 "identity"        which node and cluster this store belongs to, and its format version
 *   0x00 "hard-state"      term, vote, commit
 *   0x00 "snapshot"        snapshot metadata (index, term, voters) and the state machine's data
 *   0x01 | index (u64 BE)  one log entry; big-endian so that keys sort by index
 *
 * value = format version (1 byte) | crc32c (4 bytes BE) of the body | body
 *
 * The version byte comes first and outside the checksum, so a later format can change everything
 * after it and an older binary still says "unknown format" rather than "corrupt". Every body that
 * belongs to a log position carries that position (an entry its index and term, a snapshot its
 * index and term), so a value that ended up under the wrong key is caught, not only flipped bits.
 *
 * bodies (integers big-endian; u64 values are safe integers)
 *   identity    node id u64 | cluster id (UTF-8, the rest)
 *   hard-state  term u64 | vote u64 | commit u64
 *   snapshot    index u64 | term u64 | voter count u32 | voters u64 × count | data (the rest)
 *   entry       index u64 | term u64 | kind u8 (0 normal, 1 config) |
 *               normal: data (the rest)   config: voter count u32 | voters u64 × count
 *
 * Decoders throw StreamBusError CORRUPT_MESSAGE (or UNSUPPORTED_VERSION) with the reason only; the
 * storage adds which key it was and turns it into a refusal to start.
 */
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { crc32c } from '../../../proto/record-batch/crc32c.js';
import type { Entry, HardState, Snapshot } from '../index.js';

export const STORAGE_FORMAT_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function sideKey(name: string): Uint8Array {
  return new Uint8Array([0x00, ...encoder.encode(name)]);
}

export const IDENTITY_KEY = sideKey('identity');
export const HARD_STATE_KEY = sideKey('hard-state');
export const SNAPSHOT_KEY = sideKey('snapshot');

const ENTRY_KEY_PREFIX = 0x01;
/** The entry keys are exactly the keys in [ENTRY_KEY_MIN, ENTRY_KEY_END). */
export const ENTRY_KEY_MIN = new Uint8Array([ENTRY_KEY_PREFIX]);
export const ENTRY_KEY_END = new Uint8Array([ENTRY_KEY_PREFIX + 1]);

const HEADER_BYTES = 5;
const TWO_32 = 2 ** 32;
const KIND_NORMAL = 0;
const KIND_CONFIG = 1;

export interface StoreIdentity {
  readonly nodeId: number;
  readonly clusterId: string;
}

function corrupt(reason: string): StreamBusError {
  return new StreamBusError(ErrorCode.CORRUPT_MESSAGE, reason);
}

function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / TWO_32));
  view.setUint32(at + 4, value >>> 0);
}

/** Reads one u64 that must be a safe integer. */
function getU64(view: DataView, at: number): number {
  const high = view.getUint32(at);
  if (high > 0x1f_ffff) throw corrupt(`integer at byte ${at} is beyond 2^53`);
  return high * TWO_32 + view.getUint32(at + 4);
}

export function entryKey(index: number): Uint8Array {
  // Byte by byte rather than through a DataView: one allocation per key, and there is one per
  // entry written (index < 2^53, so the high word fits 21 bits).
  const key = new Uint8Array(9);
  key[0] = ENTRY_KEY_PREFIX;
  const high = Math.floor(index / TWO_32);
  const low = index >>> 0;
  key[1] = high >>> 24;
  key[2] = (high >>> 16) & 0xff;
  key[3] = (high >>> 8) & 0xff;
  key[4] = high & 0xff;
  key[5] = low >>> 24;
  key[6] = (low >>> 16) & 0xff;
  key[7] = (low >>> 8) & 0xff;
  key[8] = low & 0xff;
  return key;
}

/** The index in an entry key, or undefined if `key` is not a well-formed entry key. */
export function indexOfEntryKey(key: Uint8Array): number | undefined {
  if (key.length !== 9 || key[0] !== ENTRY_KEY_PREFIX) return undefined;
  try {
    return getU64(new DataView(key.buffer, key.byteOffset, key.byteLength), 1);
  } catch {
    return undefined;
  }
}

/** Wraps `bodyBytes` of a body into version | crc | body; `fill` writes the body. */
function frame(bodyBytes: number, fill: (body: DataView, bytes: Uint8Array) => void): Uint8Array {
  const value = new Uint8Array(HEADER_BYTES + bodyBytes);
  const body = value.subarray(HEADER_BYTES);
  fill(new DataView(value.buffer, HEADER_BYTES, bodyBytes), body);
  value[0] = STORAGE_FORMAT_VERSION;
  const crc = crc32c(body);
  value[1] = crc >>> 24;
  value[2] = (crc >>> 16) & 0xff;
  value[3] = (crc >>> 8) & 0xff;
  value[4] = crc & 0xff;
  return value;
}

/** Checks version and checksum; returns a view of the body. */
function unframe(value: Uint8Array): DataView {
  if (value.length < HEADER_BYTES) throw corrupt(`value is ${value.length} bytes, shorter than its ${HEADER_BYTES}-byte header (truncated)`);
  const version = value[0]!;
  if (version !== STORAGE_FORMAT_VERSION) {
    throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, `format version ${version} is unknown to this version (it reads ${STORAGE_FORMAT_VERSION})`);
  }
  const stored = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(1);
  const body = value.subarray(HEADER_BYTES);
  const computed = crc32c(body);
  if (stored !== computed) {
    throw corrupt(`checksum mismatch (stored crc32c ${hex32(stored)}, computed ${hex32(computed)})`);
  }
  return new DataView(body.buffer, body.byteOffset, body.byteLength);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function bytesOf(view: DataView, from: number): Uint8Array {
  // A copy, so a decoded value does not pin LevelDB's whole read buffer.
  return new Uint8Array(view.buffer, view.byteOffset + from, view.byteLength - from).slice();
}

function need(view: DataView, bytes: number, what: string): void {
  if (view.byteLength < bytes) throw corrupt(`${what} body is ${view.byteLength} bytes, expected at least ${bytes} (truncated)`);
}

function writeVoters(view: DataView, at: number, voters: readonly number[]): number {
  view.setUint32(at, voters.length);
  let offset = at + 4;
  for (const voter of voters) {
    setU64(view, offset, voter);
    offset += 8;
  }
  return offset;
}

function readVoters(view: DataView, at: number, what: string): { voters: number[]; end: number } {
  need(view, at + 4, what);
  const count = view.getUint32(at);
  need(view, at + 4 + count * 8, what);
  const voters: number[] = [];
  for (let i = 0; i < count; i++) voters.push(getU64(view, at + 4 + i * 8));
  return { voters, end: at + 4 + count * 8 };
}

export function encodeIdentity(identity: StoreIdentity): Uint8Array {
  const cluster = encoder.encode(identity.clusterId);
  return frame(8 + cluster.length, (view, bytes) => {
    setU64(view, 0, identity.nodeId);
    bytes.set(cluster, 8);
  });
}

export function decodeIdentity(value: Uint8Array): StoreIdentity {
  const view = unframe(value);
  need(view, 8, 'identity');
  let clusterId: string;
  try {
    clusterId = decoder.decode(bytesOf(view, 8));
  } catch {
    throw corrupt('the cluster id is not valid UTF-8');
  }
  return { nodeId: getU64(view, 0), clusterId };
}

export function encodeHardState(hs: HardState): Uint8Array {
  return frame(24, (view) => {
    setU64(view, 0, hs.term);
    setU64(view, 8, hs.vote);
    setU64(view, 16, hs.commit);
  });
}

export function decodeHardState(value: Uint8Array): HardState {
  const view = unframe(value);
  if (view.byteLength !== 24) throw corrupt(`hard state body is ${view.byteLength} bytes, expected 24`);
  return { term: getU64(view, 0), vote: getU64(view, 8), commit: getU64(view, 16) };
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const { meta, data } = snapshot;
  const head = 16 + 4 + meta.voters.length * 8;
  return frame(head + data.length, (view, bytes) => {
    setU64(view, 0, meta.index);
    setU64(view, 8, meta.term);
    writeVoters(view, 16, meta.voters);
    bytes.set(data, head);
  });
}

export function decodeSnapshot(value: Uint8Array): Snapshot {
  const view = unframe(value);
  need(view, 16, 'snapshot');
  const { voters, end } = readVoters(view, 16, 'snapshot');
  return { meta: { index: getU64(view, 0), term: getU64(view, 8), voters }, data: bytesOf(view, end) };
}

export function encodeEntry(entry: Entry): Uint8Array {
  if (entry.kind === 'config') {
    return frame(17 + 4 + entry.voters.length * 8, (view) => {
      setU64(view, 0, entry.index);
      setU64(view, 8, entry.term);
      view.setUint8(16, KIND_CONFIG);
      writeVoters(view, 17, entry.voters);
    });
  }
  const data = entry.data;
  return frame(17 + data.length, (view, bytes) => {
    setU64(view, 0, entry.index);
    setU64(view, 8, entry.term);
    view.setUint8(16, KIND_NORMAL);
    bytes.set(data, 17);
  });
}

export function decodeEntry(value: Uint8Array): Entry {
  const view = unframe(value);
  need(view, 17, 'entry');
  const index = getU64(view, 0);
  const term = getU64(view, 8);
  const kind = view.getUint8(16);
  if (kind === KIND_NORMAL) return { kind: 'normal', index, term, data: bytesOf(view, 17) };
  if (kind === KIND_CONFIG) {
    const { voters, end } = readVoters(view, 17, 'config entry');
    if (end !== view.byteLength) throw corrupt(`config entry has ${view.byteLength - end} trailing bytes`);
    return { kind: 'config', index, term, voters };
  }
  throw corrupt(`unknown entry kind ${kind}`);
}
