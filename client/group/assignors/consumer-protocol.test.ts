/*
 * The consumer protocol bytes against a peer nobody here wrote: kafkajs's own MemberMetadata and
 * MemberAssignment (src/consumer/assignerProtocol.js, exported as AssignerProtocol) for the layouts
 * kafkajs implements, and kafkajs's primitive Encoder, driven field by field from Kafka's schema,
 * for the versions kafkajs does not write. Then round trips, every truncation and seeded random
 * mutations, which must either decode or fail with a StreamBusError, never anything else.
 */
import { createRequire } from 'node:module';
import { AssignerProtocol } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../../proto/errors.js';
import { seededRandom, type Random } from '../../policy/random.js';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  memberSubscription,
  type DecodedSubscription,
} from './consumer-protocol.js';
import { decodeCooperativeUserData, decodeStickyUserData, encodeCooperativeUserData, encodeStickyUserData } from './sticky-user-data.js';
import type { MemberAssignment, Subscription, TopicPartitions } from './types.js';

/** The part of kafkajs's protocol Encoder these tests drive. */
interface KafkajsEncoder {
  writeInt16(value: number): KafkajsEncoder;
  writeInt32(value: number): KafkajsEncoder;
  writeString(value: string | null): KafkajsEncoder;
  writeBytes(value: Buffer | null): KafkajsEncoder;
  writeArray(values: readonly unknown[], type?: 'int32' | 'string'): KafkajsEncoder;
  readonly buffer: Buffer;
}
const require = createRequire(import.meta.url);
const KafkajsEncoderClass = require('kafkajs/src/protocol/encoder') as new () => KafkajsEncoder;

function kafkajsTopicPartitions(encoder: KafkajsEncoder, entries: readonly TopicPartitions[]): KafkajsEncoder {
  encoder.writeInt32(entries.length);
  for (const entry of entries) encoder.writeString(entry.topic).writeArray(entry.partitions, 'int32');
  return encoder;
}

/** Kafka's ConsumerProtocolSubscription schema, written with kafkajs's primitives. */
function kafkajsSubscription(version: number, subscription: Subscription): Buffer {
  const encoder = new KafkajsEncoderClass()
    .writeInt16(version)
    .writeArray(subscription.topics, 'string')
    .writeBytes(subscription.userData === null ? null : Buffer.from(subscription.userData));
  if (version >= 1) kafkajsTopicPartitions(encoder, subscription.ownedPartitions);
  if (version >= 2) encoder.writeInt32(subscription.generation);
  if (version >= 3) encoder.writeString(subscription.rackId);
  return encoder.buffer;
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function expectStreamBusError(run: () => unknown, code: ErrorCode): StreamBusError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(StreamBusError);
  expect((caught as StreamBusError).code).toBe(code);
  return caught as StreamBusError;
}

const full: Subscription = {
  topics: ['orders', 'payments', 'ünïcödé'],
  userData: bytes(1, 2, 3, 250),
  ownedPartitions: [
    { topic: 'orders', partitions: [0, 3, 7] },
    { topic: 'payments', partitions: [] },
  ],
  generation: 42,
  rackId: 'eu-west-1a',
};

/** What a subscription looks like after a trip through `version`: later fields take their defaults. */
function atVersion(subscription: Subscription, version: number): DecodedSubscription {
  return {
    version,
    topics: subscription.topics,
    userData: subscription.userData,
    ownedPartitions: version >= 1 ? subscription.ownedPartitions : [],
    generation: version >= 2 ? subscription.generation : -1,
    rackId: version >= 3 ? subscription.rackId : null,
  };
}

function assignment(entries: Record<string, number[]>, userData: Uint8Array | null = null): MemberAssignment {
  return { partitions: new Map(Object.entries(entries)), userData };
}

describe('assignors > consumer protocol > kafkajs compatibility', () => {
  it('writes a v0 subscription byte for byte as kafkajs MemberMetadata does', () => {
    const ours = encodeSubscription({ ...full, userData: bytes() }, 0);
    const theirs = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: [...full.topics], userData: Buffer.alloc(0) });
    expect(Buffer.from(ours).equals(theirs)).toBe(true);
    const withData = encodeSubscription(full, 0);
    const theirsWithData = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: [...full.topics], userData: Buffer.from(full.userData ?? []) });
    expect(Buffer.from(withData).equals(theirsWithData)).toBe(true);
  });

  it('reads the subscription kafkajs MemberMetadata writes', () => {
    const theirs = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['a', 'b'], userData: Buffer.from([9, 8]) });
    expect(decodeSubscription(theirs)).toEqual({ version: 0, topics: ['a', 'b'], userData: bytes(9, 8), ownedPartitions: [], generation: -1, rackId: null });
  });

  it('gives kafkajs a v3 subscription it reads as topics and user data', () => {
    const decoded = AssignerProtocol.MemberMetadata.decode(Buffer.from(encodeSubscription(full)));
    expect(decoded?.version).toBe(3);
    expect(decoded?.topics).toEqual(full.topics);
    expect(decoded?.userData.equals(Buffer.from(full.userData ?? []))).toBe(true);
  });

  it('writes v1 to v3 subscriptions in the layout of Kafka\'s schema', () => {
    for (const version of [1, 2, 3]) {
      expect(Buffer.from(encodeSubscription(full, version)).equals(kafkajsSubscription(version, full))).toBe(true);
      const noRack = { ...full, userData: null, rackId: null };
      expect(Buffer.from(encodeSubscription(noRack, version)).equals(kafkajsSubscription(version, noRack))).toBe(true);
    }
  });

  it('writes a v3 subscription as these exact bytes', () => {
    const subscription: Subscription = { topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partitions: [1] }], generation: 5, rackId: 'r' };
    expect([...encodeSubscription(subscription)]).toEqual([
      0, 3, // version
      0, 0, 0, 1, 0, 1, 0x74, // topics: ["t"]
      0xff, 0xff, 0xff, 0xff, // user_data: null
      0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 1, // owned_partitions: [{ "t", [1] }]
      0, 0, 0, 5, // generation_id
      0, 1, 0x72, // rack_id: "r"
    ]);
  });

  it('writes v0 and v1 assignments byte for byte as kafkajs MemberAssignment does', () => {
    for (const version of [0, 1]) {
      const ours = encodeAssignment(assignment({ alpha: [0, 2, 4], beta: [1] }, bytes()), version);
      const theirs = AssignerProtocol.MemberAssignment.encode({ version, assignment: { alpha: [0, 2, 4], beta: [1] }, userData: Buffer.alloc(0) });
      expect(Buffer.from(ours).equals(theirs)).toBe(true);
    }
  });

  it('reads the assignments kafkajs writes and kafkajs reads ours', () => {
    const theirs = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { beta: [3], alpha: [1, 0] }, userData: Buffer.from([7]) });
    const decoded = decodeAssignment(theirs);
    expect(decoded.version).toBe(1);
    expect([...decoded.partitions]).toEqual([['beta', [3]], ['alpha', [1, 0]]]);
    expect(decoded.userData).toEqual(bytes(7));

    const back = AssignerProtocol.MemberAssignment.decode(Buffer.from(encodeAssignment(assignment({ zeta: [5], alpha: [0, 1] }, bytes(1, 2)))));
    expect(back?.version).toBe(1);
    expect(back?.assignment).toEqual({ alpha: [0, 1], zeta: [5] });
    expect(back?.userData.equals(Buffer.from([1, 2]))).toBe(true);
  });
});

describe('assignors > consumer protocol > round trip', () => {
  it('keeps every field a version has and defaults the rest', () => {
    for (const version of [0, 1, 2, 3]) expect(decodeSubscription(encodeSubscription(full, version))).toEqual(atVersion(full, version));
  });

  it('keeps assignments of every version, in ascending topic order', () => {
    for (const version of [0, 1, 2, 3]) {
      const decoded = decodeAssignment(encodeAssignment(assignment({ b: [2, 0], a: [1] }, null), version));
      expect(decoded.version).toBe(version);
      expect([...decoded.partitions]).toEqual([['a', [1]], ['b', [2, 0]]]);
      expect(decoded.userData).toBeNull();
    }
  });

  it('round trips random subscriptions and assignments', () => {
    const random = seededRandom(77);
    for (let i = 0; i < 300; i++) {
      const subscription = randomSubscription(random);
      const version = Math.floor(random() * 4);
      expect(decodeSubscription(encodeSubscription(subscription, version))).toEqual(atVersion(subscription, version));
      const entries = Object.fromEntries(subscription.ownedPartitions.map((entry) => [entry.topic, [...entry.partitions]]));
      const decoded = decodeAssignment(encodeAssignment(assignment(entries, subscription.userData)));
      expect(Object.fromEntries(decoded.partitions)).toEqual(entries);
      expect(decoded.userData).toEqual(subscription.userData);
    }
  });

  it('builds an assignor\'s member from JoinGroup fields and metadata bytes', () => {
    const member = memberSubscription('consumer-1-abc', 'instance-1', encodeSubscription(full));
    expect(member).toEqual({ memberId: 'consumer-1-abc', groupInstanceId: 'instance-1', ...full });
  });
});

describe('assignors > consumer protocol > bad input', () => {
  it('refuses every truncation of a subscription of every version', () => {
    for (const version of [0, 1, 2, 3]) {
      const encoded = encodeSubscription(full, version);
      for (let length = 0; length < encoded.length; length++) {
        expectStreamBusError(() => decodeSubscription(encoded.subarray(0, length)), ErrorCode.MALFORMED_FRAME);
      }
    }
  });

  it('refuses every non-empty truncation of an assignment', () => {
    const encoded = encodeAssignment(assignment({ alpha: [0, 2], beta: [1] }, bytes(5, 6)));
    for (let length = 1; length < encoded.length; length++) {
      expectStreamBusError(() => decodeAssignment(encoded.subarray(0, length)), ErrorCode.MALFORMED_FRAME);
    }
  });

  it('reads zero bytes as an empty assignment, which a coordinator sends a member the leader left out', () => {
    expect(decodeAssignment(bytes())).toEqual({ version: 0, partitions: new Map(), userData: null });
  });

  it('either decodes or fails with a StreamBusError on randomly mutated bytes', () => {
    const random = seededRandom(4242);
    const samples = [encodeSubscription(full), encodeSubscription(full, 1), encodeAssignment(assignment({ alpha: [0, 2], beta: [1] }, bytes(3)))];
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const sample = samples[i % samples.length]!;
      const mutated = mutate(sample, random);
      const decode = i % samples.length === 2 ? decodeAssignment : decodeSubscription;
      try {
        decode(mutated);
      } catch (error) {
        expect(error).toBeInstanceOf(StreamBusError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it('refuses a negative version with UNSUPPORTED_VERSION', () => {
    const encoded = encodeSubscription(full);
    encoded[0] = 0xff;
    encoded[1] = 0xff;
    expectStreamBusError(() => decodeSubscription(encoded), ErrorCode.UNSUPPORTED_VERSION);
    expectStreamBusError(() => decodeAssignment(bytes(0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)), ErrorCode.UNSUPPORTED_VERSION);
  });

  it('reads a newer version as v3 and ignores the fields it appends', () => {
    const encoded = encodeSubscription(full);
    const newer = new Uint8Array(encoded.length + 6);
    newer.set(encoded);
    newer[1] = 4;
    newer.set([0, 0, 0, 9, 0xab, 0xcd], encoded.length);
    expect(decodeSubscription(newer)).toEqual({ ...atVersion(full, 3), version: 4 });
    const assignmentBytes = encodeAssignment(assignment({ a: [1] }));
    const newerAssignment = Uint8Array.from([...assignmentBytes, 1, 2, 3]);
    newerAssignment[1] = 9;
    expect(decodeAssignment(newerAssignment).partitions.get('a')).toEqual([1]);
  });

  it('refuses trailing bytes after the last field of a version it knows', () => {
    const error = expectStreamBusError(() => decodeSubscription(Uint8Array.from([...encodeSubscription(full, 2), 0])), ErrorCode.MALFORMED_FRAME);
    expect(error.message).toMatch(/trailing/);
    expectStreamBusError(() => decodeAssignment(Uint8Array.from([...encodeAssignment(assignment({ a: [1] })), 0])), ErrorCode.MALFORMED_FRAME);
  });

  it('refuses a null topic name, a null topic list and topic names that are not UTF-8', () => {
    expectStreamBusError(() => decodeSubscription(bytes(0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), ErrorCode.MALFORMED_FRAME);
    expectStreamBusError(() => decodeSubscription(bytes(0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), ErrorCode.MALFORMED_FRAME);
    const error = expectStreamBusError(() => decodeSubscription(bytes(0, 0, 0, 0, 0, 1, 0, 2, 0xc3, 0x28, 0xff, 0xff, 0xff, 0xff)), ErrorCode.MALFORMED_FRAME);
    expect(error.message).toMatch(/UTF-8/);
  });

  it('refuses an array count the remaining bytes cannot hold, without allocating it', () => {
    const error = expectStreamBusError(() => decodeSubscription(bytes(0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0)), ErrorCode.MALFORMED_FRAME);
    expect(error.message).toMatch(/claims 2147483647 elements/);
    expectStreamBusError(() => decodeAssignment(bytes(0, 1, 0, 0, 0, 1, 0, 1, 0x61, 0x10, 0, 0, 0)), ErrorCode.MALFORMED_FRAME);
  });

  it('refuses an assignment that lists a topic twice', () => {
    const twice = new KafkajsEncoderClass().writeInt16(1);
    kafkajsTopicPartitions(twice, [{ topic: 'a', partitions: [0] }, { topic: 'a', partitions: [1] }]).writeBytes(null);
    expectStreamBusError(() => decodeAssignment(twice.buffer), ErrorCode.MALFORMED_FRAME);
  });

  it('refuses to encode a version it does not know, a partition that is not an int32 or an oversized topic name', () => {
    expectStreamBusError(() => encodeSubscription(full, 4), ErrorCode.UNSUPPORTED_VERSION);
    expectStreamBusError(() => encodeAssignment(assignment({ a: [0] }), -1), ErrorCode.UNSUPPORTED_VERSION);
    expectStreamBusError(() => encodeAssignment(assignment({ a: [2 ** 31] })), ErrorCode.INVALID_REQUEST);
    expectStreamBusError(() => encodeSubscription({ ...full, generation: 1.5 }), ErrorCode.INVALID_REQUEST);
    expectStreamBusError(() => encodeSubscription({ ...full, topics: ['x'.repeat(40_000)] }), ErrorCode.INVALID_REQUEST);
  });
});

describe('assignors > sticky user data', () => {
  const state = { ownedPartitions: [{ topic: 'orders', partitions: [4, 1] }, { topic: 'ünï', partitions: [0] }], generation: 17 };

  it('writes StickyAssignorUserData v1 in the layout of Kafka\'s schema and reads it back', () => {
    const theirs = kafkajsTopicPartitions(new KafkajsEncoderClass(), state.ownedPartitions).writeInt32(17).buffer;
    const ours = encodeStickyUserData(state);
    expect(Buffer.from(ours).equals(theirs)).toBe(true);
    expect(decodeStickyUserData(ours)).toEqual(state);
  });

  it('reads v0 user data, which has no generation, as NO_GENERATION', () => {
    const v0 = kafkajsTopicPartitions(new KafkajsEncoderClass(), state.ownedPartitions).buffer;
    expect(decodeStickyUserData(v0)).toEqual({ ownedPartitions: state.ownedPartitions, generation: -1 });
  });

  it('refuses truncated sticky user data and bytes after the generation', () => {
    const encoded = encodeStickyUserData(state);
    // Cutting exactly the 4 generation bytes leaves valid v0 user data.
    for (let length = 0; length < encoded.length; length++) {
      if (length === encoded.length - 4) continue;
      expectStreamBusError(() => decodeStickyUserData(encoded.subarray(0, length)), ErrorCode.MALFORMED_FRAME);
    }
    expectStreamBusError(() => decodeStickyUserData(Uint8Array.from([...encoded, 0])), ErrorCode.MALFORMED_FRAME);
  });

  it('writes the cooperative user data as one int32 and refuses anything else', () => {
    expect([...encodeCooperativeUserData(258)]).toEqual([0, 0, 1, 2]);
    expect(decodeCooperativeUserData(bytes(0xff, 0xff, 0xff, 0xff))).toBe(-1);
    expectStreamBusError(() => decodeCooperativeUserData(bytes(0, 0, 1)), ErrorCode.MALFORMED_FRAME);
    expectStreamBusError(() => decodeCooperativeUserData(bytes(0, 0, 1, 2, 3)), ErrorCode.MALFORMED_FRAME);
  });
});

function randomSubscription(random: Random): Subscription {
  const topicCount = Math.floor(random() * 5);
  const topics = Array.from({ length: topicCount }, (_, i) => `topic-${i}-${Math.floor(random() * 1000)}`);
  const ownedPartitions = topics
    .filter(() => random() < 0.5)
    .map((topic) => ({ topic, partitions: Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * 2 ** 31)) }));
  const userData = random() < 0.3 ? null : Uint8Array.from({ length: Math.floor(random() * 20) }, () => Math.floor(random() * 256));
  return {
    topics,
    userData,
    ownedPartitions,
    generation: Math.floor(random() * 2 ** 31) - (random() < 0.1 ? 2 ** 31 : 0),
    rackId: random() < 0.5 ? null : `rack-${Math.floor(random() * 9)}`,
  };
}

/** One to three random edits: overwrite a byte, insert one, delete one, or cut the tail. */
function mutate(input: Uint8Array, random: Random): Uint8Array {
  let out = [...input];
  const edits = 1 + Math.floor(random() * 3);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * out.length);
    const kind = Math.floor(random() * 4);
    if (kind === 0) out[at] = Math.floor(random() * 256);
    else if (kind === 1) out.splice(at, 0, Math.floor(random() * 256));
    else if (kind === 2) out.splice(at, 1);
    else out = out.slice(0, at);
  }
  return Uint8Array.from(out);
}
