import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { FrameDecoder } from '../../../proto/framing.js';
import { MessageType, type Message } from '../index.js';
import { Prng } from '../sim/prng.js';
import { bytes, sampleMessages } from './fixtures/sample-messages.js';
import {
  RAFT_PROTOCOL_VERSION,
  RaftApi,
  decodeHello,
  decodeRaftMessage,
  decodeRefusal,
  encodeHello,
  encodeHelloFrame,
  encodeRaftMessage,
  encodeRaftMessageFrame,
  encodeRefusal,
  encodeRefusalFrame,
  raftSchemaUrl,
} from './wire.js';

/** protobufjs over the same schema: the reference reader and a writer that skips our checks. */
const root = protobuf.parse(readFileSync(raftSchemaUrl, 'utf8'), { keepCase: false }).root;
root.resolveAll();
const RaftMessageType = root.lookupType('streambus.raft.RaftMessage');
const rawMessage = (value: Record<string, unknown>): Uint8Array => RaftMessageType.encode(RaftMessageType.fromObject(value)).finish();

function expectError(run: () => unknown, code: ErrorCode): StreamBusError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(StreamBusError);
    expect((err as StreamBusError).code).toBe(code);
    return err as StreamBusError;
  }
  throw new Error('expected a StreamBusError');
}

const malformed = (value: Record<string, unknown>): StreamBusError => expectError(() => decodeRaftMessage(rawMessage(value)), ErrorCode.MALFORMED_FRAME);
const envelope = { from: 1, to: 2, term: 5 };

describe('raft > transport > wire > messages', () => {
  it('covers every message type in the samples', () => {
    expect(new Set(sampleMessages.map((m) => m.type))).toEqual(new Set(Object.values(MessageType)));
  });

  it.each(sampleMessages.map((m, i) => [`${i} ${m.type}`, m] as const))('round-trips %s', (_name, message) => {
    expect(decodeRaftMessage(encodeRaftMessage(message))).toEqual(message);
  });

  it('writes bytes that protobufjs reads as the same fields', () => {
    const decoded = RaftMessageType.toObject(RaftMessageType.decode(encodeRaftMessage(sampleMessages[0]!)), { longs: Number, defaults: false });
    expect(decoded).toMatchObject({
      from: 1,
      to: 2,
      term: 7,
      append: { prevIndex: 41, prevTerm: 6, commit: 40, entries: [{ index: 42, term: 6, kind: 1 }, { index: 43, term: 7, kind: 1 }, { index: 44, term: 7, kind: 2, voters: [1, 2, 3, 2 ** 40] }] },
    });
  });

  it('encodes a heartbeat to the documented bytes', () => {
    const body = encodeRaftMessage({ type: 'heartbeat', from: 1, to: 2, term: 3, commit: 4, readSeq: 5 });
    // from=1, to=2, term=3, then field 6 (heartbeat, LEN) of 4 bytes: commit=4, read_seq=5.
    expect([...body]).toEqual([0x08, 1, 0x10, 2, 0x18, 3, 0x32, 4, 0x08, 4, 0x10, 5]);
  });

  it('returns data that shares no memory with the frame it came from', () => {
    const body = encodeRaftMessage(sampleMessages[0]!);
    const message = decodeRaftMessage(body);
    body.fill(0);
    expect(message).toEqual(sampleMessages[0]);
  });

  it('frames a message, a hello and a refusal with their api and the protocol version', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeHelloFrame({ clusterId: 'c1', from: 1, to: 2, protocolVersion: RAFT_PROTOCOL_VERSION }));
    decoder.push(encodeRaftMessageFrame(sampleMessages[3]!));
    decoder.push(encodeRefusalFrame({ errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, errorMessage: 'no' }));
    const frames = [decoder.next(), decoder.next(), decoder.next()];
    expect(frames.map((f) => [f?.api, f?.versionOrStatus, f?.correlationId])).toEqual([
      [RaftApi.HELLO, 1, 0],
      [RaftApi.MESSAGE, 1, 0],
      [RaftApi.REFUSAL, 1, 0],
    ]);
    expect(decodeHello(frames[0]!.body)).toEqual({ clusterId: 'c1', from: 1, to: 2, protocolVersion: 1 });
    expect(decodeRaftMessage(frames[1]!.body)).toEqual(sampleMessages[3]);
    expect(decodeRefusal(frames[2]!.body)).toEqual({ errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, errorMessage: 'no' });
  });
});

describe('raft > transport > wire > strict decoding', () => {
  it('refuses a body with no message type, or one this build does not know', () => {
    malformed(envelope);
    expectError(() => decodeRaftMessage(new Uint8Array(0)), ErrorCode.MALFORMED_FRAME);
    // Field 99 (LEN, empty): a future message type; protobuf skips it, so no type is set.
    expectError(() => decodeRaftMessage(Buffer.concat([rawMessage(envelope), Buffer.from([0x9a, 0x06, 0x00])])), ErrorCode.MALFORMED_FRAME);
  });

  it('refuses a body with two message types', () => {
    expect(malformed({ ...envelope, timeoutNow: {}, heartbeat: { commit: 1 } }).message).toMatch(/both/);
  });

  it('refuses node ids that are zero or equal, and numbers beyond 2^53 (a negative int64 among them)', () => {
    malformed({ from: 0, to: 2, term: 1, timeoutNow: {} });
    malformed({ from: 1, to: 0, term: 1, timeoutNow: {} });
    malformed({ from: 2, to: 2, term: 1, timeoutNow: {} });
    malformed({ ...envelope, term: '9007199254740993', timeoutNow: {} });
    // int64 -1 and -5 as a writer of signed fields would send them: ten-byte sign-extended varints.
    const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const minusFive = [0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    expectError(() => decodeRaftMessage(bytes(0x08, 1, 0x10, 2, 0x18, ...minusOne, 0x6a, 0)), ErrorCode.MALFORMED_FRAME);
    expectError(() => decodeRaftMessage(bytes(0x08, 1, 0x10, 2, 0x18, 3, 0x32, 13, 0x08, ...minusFive, 0x10, 1)), ErrorCode.MALFORMED_FRAME);
  });

  it('refuses an entry whose kind does not match its fields', () => {
    const append = (entry: Record<string, unknown>): Record<string, unknown> => ({ ...envelope, append: { prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 1, ...entry }] } });
    expect(malformed(append({ kind: 0, data: bytes(1) })).message).toMatch(/unknown kind 0/);
    malformed(append({ kind: 3 }));
    expect(malformed(append({ kind: 1, data: bytes(1), voters: [1] })).message).toMatch(/normal entry 1 carries voters/);
    expect(malformed(append({ kind: 2, data: bytes(1), voters: [1] })).message).toMatch(/config entry 1 carries data/);
    malformed(append({ kind: 2 }));
  });

  it('refuses voter sets that are empty, unsorted, duplicated or name node 0', () => {
    for (const voters of [[], [2, 1], [1, 1], [0, 1]]) {
      malformed({ ...envelope, append: { entries: [{ index: 1, term: 1, kind: 2, voters }] } });
      malformed({ ...envelope, snapshot: { snapshot: { meta: { index: 1, term: 1, voters }, data: bytes(1) } } });
    }
  });

  it('refuses appends whose entries skip or repeat an index, or whose terms go back or pass the message term', () => {
    const normal = (index: number, term: number): Record<string, unknown> => ({ index, term, kind: 1 });
    malformed({ ...envelope, append: { prevIndex: 3, prevTerm: 1, entries: [normal(5, 1)] } });
    malformed({ ...envelope, append: { prevIndex: 3, prevTerm: 1, entries: [normal(4, 1), normal(4, 1)] } });
    malformed({ ...envelope, append: { prevIndex: 3, prevTerm: 2, entries: [normal(4, 1)] } });
    malformed({ ...envelope, append: { prevIndex: 3, prevTerm: 1, entries: [normal(4, 3), normal(5, 2)] } });
    malformed({ ...envelope, append: { prevIndex: 3, prevTerm: 1, entries: [normal(4, 6)] } });
    malformed({ ...envelope, append: { prevIndex: 3, prevTerm: 6, entries: [] } });
  });

  it('refuses a snapshot message without a snapshot or without its metadata', () => {
    malformed({ ...envelope, snapshot: {} });
    malformed({ ...envelope, snapshot: { snapshot: { data: bytes(1) } } });
  });

  it('refuses every truncation of a valid encoding', () => {
    for (const message of sampleMessages) {
      const body = encodeRaftMessage(message);
      for (let n = 0; n < body.length; n++) {
        let result: Message | undefined;
        try {
          result = decodeRaftMessage(body.subarray(0, n));
        } catch (err) {
          expect((err as StreamBusError).code).toBe(ErrorCode.MALFORMED_FRAME);
          continue;
        }
        // A cut that ends exactly between two fields is a shorter valid message; never a different type.
        expect(result.type).toBe(message.type);
      }
    }
  });
});

describe('raft > transport > wire > encoding invalid values', () => {
  const bad: readonly [string, unknown][] = [
    ['a non-integer term', { type: 'timeout-now', from: 1, to: 2, term: 1.5 }],
    ['a negative index', { type: 'append-response', from: 1, to: 2, term: 1, index: -1, reject: false, hintIndex: 0, hintTerm: 0 }],
    ['an unknown type', { type: 'gossip', from: 1, to: 2, term: 1 }],
    ['node 0 as sender', { type: 'timeout-now', from: 0, to: 2, term: 1 }],
    ['a config entry without voters', { type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: 'config', index: 1, term: 1, voters: [] }] }],
    ['data that is not bytes', { type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: 'normal', index: 1, term: 1, data: 'x' }] }],
    ['an entry of unknown kind', { type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: 'learner', index: 1, term: 1 }] }],
    ['a snapshot without metadata', { type: 'snapshot', from: 1, to: 2, term: 1, snapshot: { data: bytes() } }],
    ['a read index without context', { type: 'read-index', from: 1, to: 2, term: 1 }],
  ];
  it.each(bad)('refuses %s with INVALID_REQUEST', (_name, value) => {
    expectError(() => encodeRaftMessage(value as Message), ErrorCode.INVALID_REQUEST);
  });
});

describe('raft > transport > wire > hello and refusal', () => {
  it('round-trips a hello', () => {
    const hello = { clusterId: 'cluster-a', from: 3, to: 1, protocolVersion: 1 };
    expect(decodeHello(encodeHello(hello))).toEqual(hello);
  });

  it('refuses a hello without a cluster id or with node 0', () => {
    expectError(() => decodeHello(encodeHelloUnchecked({ clusterId: '', from: 3, to: 1, protocolVersion: 1 })), ErrorCode.MALFORMED_FRAME);
    expectError(() => decodeHello(encodeHelloUnchecked({ clusterId: 'a', from: 0, to: 1, protocolVersion: 1 })), ErrorCode.MALFORMED_FRAME);
    expectError(() => encodeHello({ clusterId: 'a', from: 1, to: 0, protocolVersion: 1 }), ErrorCode.INVALID_REQUEST);
  });

  it('refuses a refusal that carries no error', () => {
    expectError(() => decodeRefusal(encodeRefusal({ errorCode: 0, errorMessage: '' })), ErrorCode.MALFORMED_FRAME);
  });
});

function encodeHelloUnchecked(value: Record<string, unknown>): Uint8Array {
  const type = root.lookupType('streambus.raft.Hello');
  return type.encode(type.fromObject(value)).finish();
}

describe('raft > transport > wire > fuzz', () => {
  /** Either a typed MALFORMED_FRAME, or a valid message: one that re-encodes and decodes to itself. */
  function decodeCleanly(input: Uint8Array): 'ok' | 'refused' {
    let message: Message;
    try {
      message = decodeRaftMessage(input);
    } catch (err) {
      if (!(err instanceof StreamBusError) || err.code !== ErrorCode.MALFORMED_FRAME) throw err;
      return 'refused';
    }
    expect(decodeRaftMessage(encodeRaftMessage(message))).toEqual(message);
    return 'ok';
  }

  it('turns random bytes into a typed error or a valid message (seeded)', () => {
    const seed = 20_240_601;
    const prng = new Prng(seed);
    const outcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < 20_000; i++) {
      const input = new Uint8Array(prng.int(48));
      for (let j = 0; j < input.length; j++) input[j] = prng.int(256);
      outcomes[decodeCleanly(input)]++;
    }
    expect(outcomes.refused, `seed ${seed}`).toBeGreaterThan(0);
  });

  it('turns mutated valid encodings into a typed error or a valid message (seeded)', () => {
    const seed = 77;
    const prng = new Prng(seed);
    const encodings = sampleMessages.map((m) => encodeRaftMessage(m));
    const outcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < 30_000; i++) {
      const input = Buffer.from(prng.pick(encodings));
      const mutations = prng.range(1, 3);
      let mutated: Buffer = input;
      for (let k = 0; k < mutations; k++) mutated = mutate(prng, mutated);
      outcomes[decodeCleanly(mutated)]++;
    }
    // Both outcomes occur, so the mutations reach past the first checks.
    expect(outcomes.refused, `seed ${seed}`).toBeGreaterThan(1000);
    expect(outcomes.ok, `seed ${seed}`).toBeGreaterThan(1000);
  });
});

function mutate(prng: Prng, input: Buffer): Buffer {
  if (input.length === 0) return Buffer.from([prng.int(256)]);
  const at = prng.int(input.length);
  switch (prng.int(5)) {
    case 0: {
      const out = Buffer.from(input);
      out[at] = prng.int(256);
      return out;
    }
    case 1: {
      const out = Buffer.from(input);
      out[at] = (out[at]! ^ (1 << prng.int(8))) & 0xff;
      return out;
    }
    case 2:
      return input.subarray(0, at);
    case 3:
      return Buffer.concat([input.subarray(0, at), Buffer.from([prng.int(256)]), input.subarray(at)]);
    default: {
      const from = prng.int(input.length);
      return Buffer.concat([input.subarray(0, at), input.subarray(from, from + prng.int(8)), input.subarray(at)]);
    }
  }
}
