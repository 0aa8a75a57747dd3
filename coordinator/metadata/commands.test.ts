import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, decodeMetadataCommand, encodeCanonicalMetadataCommand, encodeMetadataCommand } from './commands.js';

const partition = { partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0 };

const samples: MetadataCommand[] = [
  { type: 'init-cluster', clusterId: 'Zp3Nq4WCR5Wz0k7Qq1c3Hg' },
  { type: 'no-op' },
  {
    type: 'register-broker',
    nodeId: 1,
    incarnationId: 'b1',
    host: '127.0.0.1',
    port: 9092,
    rack: null,
    listeners: [{ name: 'kafka', host: '127.0.0.1', port: 9092 }],
  },
  { type: 'fence-broker', nodeId: 1, brokerEpoch: 2 },
  { type: 'unfence-broker', nodeId: 1, brokerEpoch: 2 },
  { type: 'create-topic', name: 'orders', topicId: 'id-1', partitions: [partition], configs: { 'retention.ms': '1000' } },
  { type: 'delete-topic', name: 'orders', topicId: 'id-1' },
  { type: 'alter-topic-configs', name: 'orders', topicId: 'id-1', set: { 'retention.ms': '5' }, delete: ['cleanup.policy'] },
  { type: 'create-partitions', name: 'orders', topicId: 'id-1', partitions: [{ ...partition, partition: 1 }] },
  { type: 'register-coordinator', nodeId: 2, raft: { host: '127.0.0.2', port: 9095 }, api: { host: '127.0.0.2', port: 9094 } },
  { type: 'register-coordinator', nodeId: 3, raft: { host: '127.0.0.3', port: 9095 }, api: null },
  { type: 'change-partition', topicId: 'id-1', partition: 0, leader: 2, isr: [2] },
  { type: 'change-partition', topicId: 'id-1', partition: 3, isr: [1, 2] },
  { type: 'change-partition', topicId: 'id-1', partition: 1, leader: -1 },
];

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

function decodeError(input: Uint8Array): StreamBusError {
  try {
    decodeMetadataCommand(input);
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error('expected decoding to fail');
}

describe('metadata > commands > encoding', () => {
  it.each(samples.map((c) => [c.type, c] as const))('round-trips a %s command', (_type, command) => {
    expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
  });

  it.each(samples.map((c) => [c.type, c] as const))(
    'gives with the bytes of a %s command the frozen command its bytes decode to, field order included',
    (_type, command) => {
      const encoded = encodeCanonicalMetadataCommand(command);
      const decoded = decodeMetadataCommand(encoded.bytes);
      expect(encoded.command).toStrictEqual(decoded);
      expect(JSON.stringify(encoded.command)).toBe(JSON.stringify(decoded));
      expect(Object.isFrozen(encoded.command)).toBe(true);
      expect(encoded.bytes).toEqual(encodeMetadataCommand(command));
    },
  );

  it('reads -0 as 0, so a command is the same before and after its JSON round trip', () => {
    const encoded = encodeCanonicalMetadataCommand({ type: 'fence-broker', nodeId: -0, brokerEpoch: -0 });
    expect(encoded.command).toEqual({ type: 'fence-broker', nodeId: 0, brokerEpoch: 0 });
    expect(Object.is((encoded.command as { nodeId: number }).nodeId, 0)).toBe(true);
    expect(decodeMetadataCommand(encoded.bytes)).toStrictEqual(encoded.command);
  });

  it('wraps the command in a versioned JSON envelope', () => {
    expect(text(encodeMetadataCommand({ type: 'no-op' }))).toBe('{"v":1,"command":{"type":"no-op"}}');
  });

  it('encodes equal commands to equal bytes whatever the field and key order', () => {
    const a = encodeMetadataCommand({ type: 'create-topic', name: 't', topicId: 'i', partitions: [partition], configs: { b: '2', a: '1' } });
    const b = encodeMetadataCommand({ configs: { a: '1', b: '2' }, partitions: [partition], topicId: 'i', name: 't', type: 'create-topic' });
    expect(text(a)).toBe(text(b));
  });

  it('returns frozen commands, so one reader cannot change what another sees', () => {
    const decoded = decodeMetadataCommand(encodeMetadataCommand(samples[5]!));
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(decoded.type === 'create-topic' && Object.isFrozen(decoded.partitions[0]!.replicas)).toBe(true);
  });

  it('refuses to encode a malformed command with INVALID_REQUEST', () => {
    const bad = { type: 'create-topic', name: 't', topicId: 'i', partitions: [{ ...partition, leader: 'one' }], configs: {} };
    expect(() => encodeMetadataCommand(bad as unknown as MetadataCommand)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining('command.partitions[0].leader') }),
    );
  });
});

describe('metadata > commands > decoding bad input', () => {
  it('rejects bytes that are not JSON with CORRUPT_MESSAGE', () => {
    expect(decodeError(bytes('{"v":1,')).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(decodeError(new Uint8Array([0xff, 0xfe])).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  it('rejects a newer envelope version with UNSUPPORTED_VERSION', () => {
    const error = decodeError(bytes('{"v":2,"command":{"type":"no-op"}}'));
    expect(error.code).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(error.message).toMatch(/newer version/);
  });

  it('rejects an unknown command type with UNSUPPORTED_VERSION', () => {
    expect(decodeError(bytes('{"v":1,"command":{"type":"launch-rocket"}}')).code).toBe(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('rejects a fence command without a valid broker epoch with CORRUPT_MESSAGE naming the field', () => {
    const error = decodeError(bytes('{"v":1,"command":{"type":"fence-broker","nodeId":1,"brokerEpoch":-1}}'));
    expect(error.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toContain('command.brokerEpoch');
    expect(decodeError(bytes('{"v":1,"command":{"type":"unfence-broker","nodeId":1}}')).message).toContain('command.brokerEpoch');
  });

  it('rejects a coordinator record with node id 0 or a port outside 1..65535 with CORRUPT_MESSAGE naming the field', () => {
    expect(decodeError(bytes('{"v":1,"command":{"type":"register-coordinator","nodeId":0,"raft":{"host":"h","port":1},"api":null}}')).message).toContain(
      'command.nodeId',
    );
    const badPort = decodeError(bytes('{"v":1,"command":{"type":"register-coordinator","nodeId":1,"raft":{"host":"h","port":70000},"api":null}}'));
    expect(badPort.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(badPort.message).toContain('command.raft.port');
  });

  it('rejects unknown fields instead of dropping them', () => {
    const error = decodeError(bytes('{"v":1,"command":{"type":"no-op","extra":1}}'));
    expect(error.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toContain('command.extra');
  });

  it('rejects every truncation of a valid record cleanly', () => {
    const full = encodeMetadataCommand(samples[5]!);
    for (let length = 0; length < full.length; length++) {
      expect(() => decodeMetadataCommand(full.subarray(0, length))).toThrow(StreamBusError);
    }
  });

  it('never crashes on mutated records: each decodes to a valid command or fails with a StreamBusError', () => {
    const full = encodeMetadataCommand(samples[2]!);
    let seed = 7;
    for (let trial = 0; trial < 500; trial++) {
      const mutated = full.slice();
      seed = (seed * 1103515245 + 12345) >>> 0;
      mutated[seed % mutated.length] = (seed >>> 8) & 0xff;
      try {
        const command = decodeMetadataCommand(mutated);
        expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
      } catch (error) {
        expect(error).toBeInstanceOf(StreamBusError);
      }
    }
  });
});

describe('metadata > commands > broker-maintenance', () => {
  it('round-trips a broker going into and out of maintenance', () => {
    for (const draining of [true, false]) {
      const command = { type: 'broker-maintenance', nodeId: 3, draining } as const;
      expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
    }
  });

  it('rejects a draining flag that is not a boolean, naming the field', () => {
    const error = decodeError(bytes('{"v":1,"command":{"type":"broker-maintenance","nodeId":3,"draining":"yes"}}'));
    expect(error.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toContain('command.draining');
  });
});

describe('metadata > commands > change-partition', () => {
  it('writes only the fields that change, in canonical order', () => {
    const json = text(encodeMetadataCommand({ isr: [2, 1], partition: 4, topicId: 'id-1', type: 'change-partition' }));
    expect(json).toBe('{"v":1,"command":{"type":"change-partition","topicId":"id-1","partition":4,"isr":[2,1]}}');
    expect(text(encodeMetadataCommand({ type: 'change-partition', topicId: 'id-1', partition: 0, leader: -1 }))).not.toContain('isr');
  });

  it('rejects a change of neither leader, ISR nor replicas with CORRUPT_MESSAGE', () => {
    const error = decodeError(bytes('{"v":1,"command":{"type":"change-partition","topicId":"id-1","partition":0}}'));
    expect(error.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toContain('a change of leader, isr, replicas or several');
  });

  it('carries a reassignment with its replicas, leaving empty adding and removing lists out', () => {
    const command = { type: 'change-partition', topicId: 'id-1', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] } as const;
    expect(decodeMetadataCommand(encodeMetadataCommand(command))).toEqual(command);
    const completed = text(encodeMetadataCommand({ type: 'change-partition', topicId: 'id-1', partition: 0, replicas: [2, 3], addingReplicas: [], removingReplicas: [] }));
    expect(completed).toBe('{"v":1,"command":{"type":"change-partition","topicId":"id-1","partition":0,"replicas":[2,3]}}');
  });

  it('rejects adding or removing replicas without the replica set they belong to', () => {
    const error = decodeError(bytes('{"v":1,"command":{"type":"change-partition","topicId":"i","partition":0,"isr":[1],"addingReplicas":[4]}}'));
    expect(error.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(error.message).toContain('without addingReplicas and removingReplicas when replicas is absent');
  });

  it('rejects a leader below -1, a negative ISR member and unknown fields, naming the field', () => {
    const leader = decodeError(bytes('{"v":1,"command":{"type":"change-partition","topicId":"i","partition":0,"leader":-2}}'));
    expect(leader.code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(leader.message).toContain('command.leader');
    expect(decodeError(bytes('{"v":1,"command":{"type":"change-partition","topicId":"i","partition":0,"isr":[1,-3]}}')).message).toContain('command.isr[1]');
    expect(decodeError(bytes('{"v":1,"command":{"type":"change-partition","topicId":"i","partition":0,"isr":[1],"epoch":1}}')).message).toContain('command.epoch');
    expect(decodeError(bytes('{"v":1,"command":{"type":"change-partition","topicId":"i","partition":0,"replicas":[1,-1]}}')).message).toContain('command.replicas[1]');
  });
});
