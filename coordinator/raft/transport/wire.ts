/**
 * The Raft peer protocol's codec (proto/raft.proto is the spec): Raft messages, the Hello that
 * opens each connection and the Refusal that ends one, as frame bodies and as whole frames.
 *
 * Bytes are protobuf, written and read by the repository's reflection codec (proto/message-codec.ts:
 * one exact-size buffer per message, each `bytes` field copied once). Decoding is strict beyond
 * protobuf's rules, because a Raft message that is well-formed protobuf but not a message the core
 * could have sent (a config entry without voters, entries that skip an index) would otherwise reach
 * the core and trip one of its assertions. Every fault is a StreamBusError: MALFORMED_FRAME from
 * the decoders, INVALID_REQUEST from the encoders (given a value that is not a valid message: a
 * caller's bug). A decoder returns a whole message or throws; it never returns part of one.
 *
 * What "valid" means, on both sides:
 * - exactly one body (the oneof) is set, and it is one this build knows;
 * - `from` and `to` are positive safe integers and differ; every index, term, commit, hint and
 *   read sequence is a non-negative safe integer (uint64 on the wire, so a negative number sent as
 *   a sign-extended int64 reads as a value beyond 2^53 and is refused);
 * - an entry's kind is NORMAL (data, no voters) or CONFIG (voters, no data), nothing else;
 * - voter sets are non-empty, sorted ascending, without duplicates, of positive ids;
 * - an append's entries sit at consecutive indexes from prevIndex + 1, their terms never decrease,
 *   start at or above prevTerm and never pass the message's term.
 *
 * Decoded `data` fields are copies: a decoded message shares no memory with the frame, so an entry
 * kept in the Raft log does not keep a whole received socket chunk alive. (The entries of one append
 * share one new buffer holding exactly their data: one allocation per message, not per entry.)
 *
 * This module reads one file when it loads (the schema, found relative to this module both in the
 * source tree and in dist/, where the build copies proto/*.proto); everything else here is pure.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../../proto/framing.js';
import { buildMessageCodec, type MessageCodec } from '../../../proto/message-codec.js';
import { MessageType, type Entry, type Message, type Snapshot } from '../index.js';

/** The only version of the Raft peer protocol; it travels in every frame header and in Hello. */
export const RAFT_PROTOCOL_VERSION = 1;

/** Values of the frame header's api field on the Raft port (raft.proto's RaftApi). */
export const RaftApi = {
  HELLO: 1,
  MESSAGE: 2,
  REFUSAL: 3,
} as const;
export type RaftApi = (typeof RaftApi)[keyof typeof RaftApi];

/** Where the schema is read from: proto/raft.proto, and dist/proto/raft.proto in the build. */
export const raftSchemaUrl = new URL('../../../proto/raft.proto', import.meta.url);

/** The first frame in each direction of a Raft connection. */
export interface Hello {
  readonly clusterId: string;
  /** The node sending this Hello. */
  readonly from: number;
  /** The node the sender believes it is talking to. */
  readonly to: number;
  readonly protocolVersion: number;
}

/** Why an acceptor will not take a connection: a code from proto/errors.ts and a sentence. */
export interface Refusal {
  readonly errorCode: number;
  readonly errorMessage: string;
}

// ---------------------------------------------------------------------------------------------
// Wire shapes: what the reflection codec reads and writes (raft.proto field names in camelCase).

const WireEntryKind = { NORMAL: 1, CONFIG: 2 } as const;

interface WireEntry {
  index: number;
  term: number;
  kind: number;
  data: Uint8Array;
  voters: number[];
}

interface WireSnapshot {
  meta?: { index: number; term: number; voters: number[] };
  data: Uint8Array;
}

interface WireBodies {
  append?: { prevIndex: number; prevTerm: number; entries: WireEntry[]; commit: number };
  appendResponse?: { index: number; reject: boolean; hintIndex: number; hintTerm: number };
  heartbeat?: { commit: number; readSeq: number };
  heartbeatResponse?: { readSeq: number };
  preVote?: WireVoteRequest;
  preVoteResponse?: { reject: boolean };
  vote?: WireVoteRequest;
  voteResponse?: { reject: boolean };
  snapshot?: { snapshot?: WireSnapshot };
  timeoutNow?: Record<string, never>;
  readIndex?: { context: string };
  readIndexResponse?: { context: string; index: number };
}

interface WireVoteRequest {
  lastIndex: number;
  lastTerm: number;
  transfer: boolean;
}

interface WireMessage extends WireBodies {
  from: number;
  to: number;
  term: number;
}

/** The oneof member that carries each message type. */
const bodyFieldOf: Readonly<Record<MessageType, keyof WireBodies>> = {
  [MessageType.APPEND]: 'append',
  [MessageType.APPEND_RESPONSE]: 'appendResponse',
  [MessageType.HEARTBEAT]: 'heartbeat',
  [MessageType.HEARTBEAT_RESPONSE]: 'heartbeatResponse',
  [MessageType.PRE_VOTE]: 'preVote',
  [MessageType.PRE_VOTE_RESPONSE]: 'preVoteResponse',
  [MessageType.VOTE]: 'vote',
  [MessageType.VOTE_RESPONSE]: 'voteResponse',
  [MessageType.SNAPSHOT]: 'snapshot',
  [MessageType.TIMEOUT_NOW]: 'timeoutNow',
  [MessageType.READ_INDEX]: 'readIndex',
  [MessageType.READ_INDEX_RESPONSE]: 'readIndexResponse',
};

const messageTypes: ReadonlySet<string> = new Set(Object.values(MessageType));

const bodyFields = Object.entries(bodyFieldOf).map(([type, field]) => [type as MessageType, field] as const);

// ---------------------------------------------------------------------------------------------
// Schema

function loadCodecs(): { message: MessageCodec<WireMessage>; hello: MessageCodec<Hello>; refusal: MessageCodec<Refusal> } {
  const { root } = protobuf.parse(readFileSync(raftSchemaUrl, 'utf8'), { keepCase: false });
  root.resolveAll();
  // The constants above and the .proto's enums must agree; a mismatch is a programmer error, so it
  // fails at load rather than misreading frames later.
  const apis = root.lookupEnum('streambus.raft.RaftApi').values;
  const kinds = root.lookupEnum('streambus.raft.EntryKind').values;
  if (apis.HELLO !== RaftApi.HELLO || apis.MESSAGE !== RaftApi.MESSAGE || apis.REFUSAL !== RaftApi.REFUSAL) {
    throw new Error('raft.proto RaftApi does not match RaftApi in wire.ts');
  }
  if (kinds.ENTRY_KIND_NORMAL !== WireEntryKind.NORMAL || kinds.ENTRY_KIND_CONFIG !== WireEntryKind.CONFIG) {
    throw new Error('raft.proto EntryKind does not match wire.ts');
  }
  return {
    message: buildMessageCodec<WireMessage>(root.lookupType('streambus.raft.RaftMessage')),
    hello: buildMessageCodec<Hello>(root.lookupType('streambus.raft.Hello')),
    refusal: buildMessageCodec<Refusal>(root.lookupType('streambus.raft.Refusal')),
  };
}

const codecs = loadCodecs();

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Encodes one Raft message as a frame body, after `headroomBytes` bytes left free for the caller.
 * Throws StreamBusError(INVALID_REQUEST) when `message` is not a valid message (see the header).
 */
export function encodeRaftMessage(message: Message, headroomBytes = 0): Buffer {
  checkMessage(message, ErrorCode.INVALID_REQUEST);
  return codecs.message.encode(toWire(message), headroomBytes);
}

/**
 * Decodes one frame body into a Raft message that shares no memory with `bytes`. Throws
 * StreamBusError(MALFORMED_FRAME) for anything that is not the encoding of a valid message.
 */
export function decodeRaftMessage(bytes: Uint8Array): Message {
  const message = fromWire(codecs.message.decode(bytes));
  checkMessage(message, ErrorCode.MALFORMED_FRAME);
  return message;
}

/** A whole MESSAGE frame (header and body) in one buffer. Throws as encodeRaftMessage does. */
export function encodeRaftMessageFrame(message: Message): Buffer {
  return frameOf(RaftApi.MESSAGE, encodeRaftMessage(message, FRAME_HEADER_BYTES));
}

/** Encodes a Hello body. Throws StreamBusError(INVALID_REQUEST) for ids that are not positive integers. */
export function encodeHello(hello: Hello): Buffer {
  checkHello(hello, ErrorCode.INVALID_REQUEST);
  return codecs.hello.encode(hello);
}

/**
 * Decodes a Hello body. Throws StreamBusError(MALFORMED_FRAME) when it does not decode, names no
 * cluster, or `from`/`to` are not positive integers. The protocol version is returned as sent:
 * whether it is acceptable is the transport's call.
 */
export function decodeHello(bytes: Uint8Array): Hello {
  const hello = codecs.hello.decode(bytes);
  checkHello(hello, ErrorCode.MALFORMED_FRAME);
  return hello;
}

/** A whole HELLO frame. */
export function encodeHelloFrame(hello: Hello): Buffer {
  return frameOf(RaftApi.HELLO, codecs.hello.encode(checkHello(hello, ErrorCode.INVALID_REQUEST), FRAME_HEADER_BYTES));
}

/** Encodes a Refusal body. */
export function encodeRefusal(refusal: Refusal): Buffer {
  return codecs.refusal.encode(refusal);
}

/** Decodes a Refusal body; a code of 0 (NONE) is not a refusal and is MALFORMED_FRAME. */
export function decodeRefusal(bytes: Uint8Array): Refusal {
  const refusal = codecs.refusal.decode(bytes);
  if (refusal.errorCode === ErrorCode.NONE) throw new StreamBusError(ErrorCode.MALFORMED_FRAME, 'a refusal with error code NONE');
  return refusal;
}

/** A whole REFUSAL frame. */
export function encodeRefusalFrame(refusal: Refusal): Buffer {
  return frameOf(RaftApi.REFUSAL, codecs.refusal.encode(refusal, FRAME_HEADER_BYTES));
}

function frameOf(api: RaftApi, frame: Buffer): Buffer {
  writeFrameHeader(frame, { correlationId: 0, api, versionOrStatus: RAFT_PROTOCOL_VERSION });
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Message → wire

function toWire(m: Message): WireMessage {
  const wire: WireMessage = { from: m.from, to: m.to, term: m.term };
  switch (m.type) {
    case MessageType.APPEND:
      wire.append = { prevIndex: m.prevIndex, prevTerm: m.prevTerm, entries: m.entries.map(entryToWire), commit: m.commit };
      break;
    case MessageType.APPEND_RESPONSE:
      wire.appendResponse = { index: m.index, reject: m.reject, hintIndex: m.hintIndex, hintTerm: m.hintTerm };
      break;
    case MessageType.HEARTBEAT:
      wire.heartbeat = { commit: m.commit, readSeq: m.readSeq };
      break;
    case MessageType.HEARTBEAT_RESPONSE:
      wire.heartbeatResponse = { readSeq: m.readSeq };
      break;
    case MessageType.PRE_VOTE:
    case MessageType.VOTE: {
      const body = { lastIndex: m.lastIndex, lastTerm: m.lastTerm, transfer: m.transfer };
      if (m.type === MessageType.VOTE) wire.vote = body;
      else wire.preVote = body;
      break;
    }
    case MessageType.PRE_VOTE_RESPONSE:
      wire.preVoteResponse = { reject: m.reject };
      break;
    case MessageType.VOTE_RESPONSE:
      wire.voteResponse = { reject: m.reject };
      break;
    case MessageType.SNAPSHOT:
      wire.snapshot = { snapshot: snapshotToWire(m.snapshot) };
      break;
    case MessageType.TIMEOUT_NOW:
      wire.timeoutNow = {};
      break;
    case MessageType.READ_INDEX:
      wire.readIndex = { context: m.context };
      break;
    case MessageType.READ_INDEX_RESPONSE:
      wire.readIndexResponse = { context: m.context, index: m.index };
      break;
  }
  return wire;
}

const NO_BYTES = new Uint8Array(0);

function entryToWire(e: Entry): WireEntry {
  return e.kind === 'normal'
    ? { index: e.index, term: e.term, kind: WireEntryKind.NORMAL, data: e.data, voters: [] }
    : { index: e.index, term: e.term, kind: WireEntryKind.CONFIG, data: NO_BYTES, voters: [...e.voters] };
}

function snapshotToWire(s: Snapshot): WireSnapshot {
  return { meta: { index: s.meta.index, term: s.meta.term, voters: [...s.meta.voters] }, data: s.data };
}

// ---------------------------------------------------------------------------------------------
// Wire → message

function malformed(why: string): StreamBusError {
  return new StreamBusError(ErrorCode.MALFORMED_FRAME, `raft wire: ${why}`);
}

/** The one body set in a decoded message, with its type; throws when none or several are set. */
function bodyOf(w: WireMessage): MessageType {
  let found: MessageType | undefined;
  for (const [type, field] of bodyFields) {
    if (w[field] === undefined) continue;
    if (found !== undefined) throw malformed(`both ${bodyFieldOf[found]} and ${field} are set`);
    found = type;
  }
  if (found === undefined) throw malformed('no message type is set (or it is one this build does not know)');
  return found;
}

function fromWire(w: WireMessage): Message {
  const type = bodyOf(w);
  const { from, to, term } = w;
  switch (type) {
    case MessageType.APPEND: {
      const b = w.append as NonNullable<WireBodies['append']>;
      return { type, from, to, term, prevIndex: b.prevIndex, prevTerm: b.prevTerm, entries: entriesFromWire(b.entries), commit: b.commit };
    }
    case MessageType.APPEND_RESPONSE: {
      const b = w.appendResponse as NonNullable<WireBodies['appendResponse']>;
      return { type, from, to, term, index: b.index, reject: b.reject, hintIndex: b.hintIndex, hintTerm: b.hintTerm };
    }
    case MessageType.HEARTBEAT: {
      const b = w.heartbeat as NonNullable<WireBodies['heartbeat']>;
      return { type, from, to, term, commit: b.commit, readSeq: b.readSeq };
    }
    case MessageType.HEARTBEAT_RESPONSE:
      return { type, from, to, term, readSeq: (w.heartbeatResponse as NonNullable<WireBodies['heartbeatResponse']>).readSeq };
    case MessageType.PRE_VOTE:
    case MessageType.VOTE: {
      const b = (type === MessageType.VOTE ? w.vote : w.preVote) as WireVoteRequest;
      return { type, from, to, term, lastIndex: b.lastIndex, lastTerm: b.lastTerm, transfer: b.transfer };
    }
    case MessageType.PRE_VOTE_RESPONSE:
    case MessageType.VOTE_RESPONSE: {
      const b = (type === MessageType.VOTE_RESPONSE ? w.voteResponse : w.preVoteResponse) as { reject: boolean };
      return { type, from, to, term, reject: b.reject };
    }
    case MessageType.SNAPSHOT: {
      const b = w.snapshot as NonNullable<WireBodies['snapshot']>;
      if (b.snapshot === undefined) throw malformed('a snapshot message without a snapshot');
      return { type, from, to, term, snapshot: snapshotFromWire(b.snapshot) };
    }
    case MessageType.TIMEOUT_NOW:
      return { type, from, to, term };
    case MessageType.READ_INDEX:
      return { type, from, to, term, context: (w.readIndex as NonNullable<WireBodies['readIndex']>).context };
    case MessageType.READ_INDEX_RESPONSE: {
      const b = w.readIndexResponse as NonNullable<WireBodies['readIndexResponse']>;
      return { type, from, to, term, context: b.context, index: b.index };
    }
  }
}

/**
 * The entries of an append, their data copied into one new buffer shared by the message's entries
 * (one allocation per message instead of one per entry; the buffer holds nothing but their data).
 */
function entriesFromWire(wire: readonly WireEntry[]): Entry[] {
  let dataBytes = 0;
  for (const e of wire) dataBytes += e.data.length;
  const slab = new Uint8Array(dataBytes);
  let offset = 0;
  const entries: Entry[] = [];
  for (const e of wire) {
    if (e.kind === WireEntryKind.NORMAL) {
      if (e.voters.length > 0) throw malformed(`normal entry ${e.index} carries voters`);
      slab.set(e.data, offset);
      entries.push({ kind: 'normal', index: e.index, term: e.term, data: slab.subarray(offset, offset + e.data.length) });
      offset += e.data.length;
    } else if (e.kind === WireEntryKind.CONFIG) {
      if (e.data.length > 0) throw malformed(`config entry ${e.index} carries data`);
      entries.push({ kind: 'config', index: e.index, term: e.term, voters: e.voters });
    } else {
      throw malformed(`entry ${e.index} has unknown kind ${e.kind}`);
    }
  }
  return entries;
}

function snapshotFromWire(s: WireSnapshot): Snapshot {
  if (s.meta === undefined) throw malformed('a snapshot without metadata');
  return { meta: { index: s.meta.index, term: s.meta.term, voters: s.meta.voters }, data: copyOf(s.data) };
}

/** A copy in memory of its own (an empty one for an empty input). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return bytes.length === 0 ? new Uint8Array(0) : new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// Validation, shared by the encoders (INVALID_REQUEST) and the decoders (MALFORMED_FRAME)

type Fault = typeof ErrorCode.INVALID_REQUEST | typeof ErrorCode.MALFORMED_FRAME;

class Checker {
  constructor(private readonly code: Fault) {}

  fail(why: string): never {
    throw new StreamBusError(this.code, `raft wire: ${why}`);
  }

  count(name: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(`${name} must be a non-negative integer, got ${String(v)}`);
    return v;
  }

  nodeId(name: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) this.fail(`${name} must be a positive integer node id, got ${String(v)}`);
    return v;
  }

  flag(name: string, v: unknown): void {
    if (typeof v !== 'boolean') this.fail(`${name} must be a boolean`);
  }

  text(name: string, v: unknown): void {
    if (typeof v !== 'string') this.fail(`${name} must be a string`);
  }

  bytes(name: string, v: unknown): void {
    if (!(v instanceof Uint8Array)) this.fail(`${name} must be a Uint8Array`);
  }

  voters(name: string, v: unknown): void {
    if (!Array.isArray(v) || v.length === 0) this.fail(`${name} must be a non-empty array of node ids`);
    let previous = 0;
    for (const id of v as unknown[]) {
      if (this.nodeId(name, id) <= previous) this.fail(`${name} must be sorted ascending without duplicates, got [${(v as unknown[]).join(', ')}]`);
      previous = id as number;
    }
  }
}

const checkers = {
  [ErrorCode.INVALID_REQUEST]: new Checker(ErrorCode.INVALID_REQUEST),
  [ErrorCode.MALFORMED_FRAME]: new Checker(ErrorCode.MALFORMED_FRAME),
};

function checkMessage(m: Message, code: Fault): void {
  const c = checkers[code];
  if (typeof m !== 'object' || m === null) c.fail('not an object');
  if (!messageTypes.has(m.type)) c.fail(`unknown type ${String(m.type)}`);
  const from = c.nodeId('from', m.from);
  if (c.nodeId('to', m.to) === from) c.fail(`from and to are both node ${from}`);
  c.count('term', m.term);
  switch (m.type) {
    case MessageType.APPEND:
      checkAppend(c, m.term, m.prevIndex, m.prevTerm, m.entries);
      c.count('commit', m.commit);
      break;
    case MessageType.APPEND_RESPONSE:
      c.count('index', m.index);
      c.flag('reject', m.reject);
      c.count('hintIndex', m.hintIndex);
      c.count('hintTerm', m.hintTerm);
      break;
    case MessageType.HEARTBEAT:
      c.count('commit', m.commit);
      c.count('readSeq', m.readSeq);
      break;
    case MessageType.HEARTBEAT_RESPONSE:
      c.count('readSeq', m.readSeq);
      break;
    case MessageType.PRE_VOTE:
    case MessageType.VOTE:
      c.count('lastIndex', m.lastIndex);
      c.count('lastTerm', m.lastTerm);
      c.flag('transfer', m.transfer);
      break;
    case MessageType.PRE_VOTE_RESPONSE:
    case MessageType.VOTE_RESPONSE:
      c.flag('reject', m.reject);
      break;
    case MessageType.SNAPSHOT:
      checkSnapshot(c, m.snapshot);
      break;
    case MessageType.TIMEOUT_NOW:
      break;
    case MessageType.READ_INDEX:
      c.text('context', m.context);
      break;
    case MessageType.READ_INDEX_RESPONSE:
      c.text('context', m.context);
      c.count('index', m.index);
      break;
  }
}

function checkAppend(c: Checker, term: number, prevIndex: unknown, prevTerm: unknown, entries: unknown): void {
  let index = c.count('prevIndex', prevIndex);
  let lastTerm = c.count('prevTerm', prevTerm);
  if (lastTerm > term) c.fail(`prevTerm ${lastTerm} is above the message's term ${term}`);
  if (!Array.isArray(entries)) c.fail('entries must be an array');
  for (const e of entries as unknown[]) {
    index++;
    if (typeof e !== 'object' || e === null) c.fail('an entry must be an object');
    const entry = e as Entry;
    if (c.count('entry index', entry.index) !== index) c.fail(`entry index ${entry.index} where ${index} was due (entries must be consecutive from prevIndex + 1)`);
    const entryTerm = c.count('entry term', entry.term);
    if (entryTerm < lastTerm || entryTerm > term) c.fail(`entry ${index} has term ${entryTerm}, outside [${lastTerm}, ${term}]`);
    lastTerm = entryTerm;
    if (entry.kind === 'normal') c.bytes('entry data', entry.data);
    else if (entry.kind === 'config') c.voters('config entry voters', entry.voters);
    else c.fail(`entry ${index} has unknown kind ${String((entry as { kind: unknown }).kind)}`);
  }
}

function checkSnapshot(c: Checker, s: unknown): void {
  if (typeof s !== 'object' || s === null) c.fail('snapshot must be an object');
  const snapshot = s as Snapshot;
  if (typeof snapshot.meta !== 'object' || (snapshot.meta as unknown) === null) c.fail('snapshot.meta must be an object');
  c.count('snapshot index', snapshot.meta.index);
  c.count('snapshot term', snapshot.meta.term);
  c.voters('snapshot voters', snapshot.meta.voters);
  c.bytes('snapshot data', snapshot.data);
}

function checkHello(hello: Hello, code: Fault): Hello {
  const c = checkers[code];
  if (typeof hello.clusterId !== 'string' || hello.clusterId === '') c.fail('hello names no cluster');
  c.nodeId('hello from', hello.from);
  c.nodeId('hello to', hello.to);
  if (!Number.isInteger(hello.protocolVersion) || hello.protocolVersion < 0) c.fail('hello has no protocol version');
  return hello;
}
