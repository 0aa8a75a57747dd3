/**
 * The Kafka codec on its own: golden bytes written from Kafka's protocol description, round trips
 * of every served message at every served version, decoding fed one byte at a time, and random or
 * mutated input, which must either decode or fail with StreamBusError(MALFORMED_FRAME), never
 * anything else.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../errors.js';
import { expectedDecode, sampleMessage, seeded } from '../../test/kafka/support/schema-samples.js';
import {
  KafkaFrameReader,
  KafkaReader,
  KafkaWriter,
  decodeKafkaRequest,
  decodeKafkaResponse,
  decodeMessage,
  decodeRequestHeader,
  encodeKafkaRequestFrame,
  encodeKafkaResponseFrame,
  encodeMessageBuffer,
  encodeUnsupportedApiVersionsFrame,
  kafkaApiOf,
  kafkaApiVersions,
  kafkaApis,
  peekRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  type Field,
  type FieldType,
  type KafkaApiName,
  type MessageSchema,
} from './index.js';

const apiNames = Object.keys(kafkaApis) as KafkaApiName[];

function versionsOf(api: KafkaApiName): number[] {
  const { minVersion, maxVersion } = kafkaApis[api];
  return Array.from({ length: maxVersion - minVersion + 1 }, (_, i) => minVersion + i);
}

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function ascii(text: string): string {
  return Buffer.from(text, 'ascii').toString('hex');
}

function malformed(run: () => unknown): StreamBusError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.MALFORMED_FRAME);
    return error as StreamBusError;
  }
  throw new Error('expected a MALFORMED_FRAME error');
}

/** The frame without its size field, as the frame reader returns it. */
function body(frame: Buffer): Buffer {
  expect(frame.readInt32BE(0)).toBe(frame.length - 4);
  return frame.subarray(4);
}

describe('kafka codec > golden bytes', () => {
  it('decodes the ApiVersions v3 request librdkafka sends first (header v2, compact strings, tagged fields)', () => {
    const frame = hex(`
      0012 0003 00000001 0007 ${ascii('rdkafka')} 00
      0b ${ascii('librdkafka')} 06 ${ascii('2.0.2')} 00`);
    const header = decodeRequestHeader(frame, requestHeaderVersion('API_VERSIONS', 3));
    expect(header).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka', bodyOffset: 18 });
    expect(decodeKafkaRequest('API_VERSIONS', 3, frame, header.bodyOffset)).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
  });

  it('answers ApiVersions v3 with a v0 response header and a compact table (197 bytes after the correlation id)', () => {
    const frame = Buffer.concat(encodeKafkaResponseFrame('API_VERSIONS', 3, 1, { errorCode: 0, apiKeys: kafkaApiVersions(), throttleTimeMs: 0 }));
    expect(frame.length).toBe(4 + 4 + 197);
    expect(frame.subarray(0, 18)).toEqual(hex('000000c9 00000001 0000 1c 0000 0000 0007 00'));
    expect(frame.subarray(-5)).toEqual(hex('00000000 00'));
  });

  it('answers an ApiVersions version it does not serve in the v0 layout with UNSUPPORTED_VERSION and the whole table', () => {
    const frame = Buffer.concat(encodeUnsupportedApiVersionsFrame(7));
    expect(frame).toEqual(
      hex(`000000ac 00000007 0023 0000001b
        0000 0000 0007  0001 0004 000b  0002 0001 0003  0003 0000 0006
        0008 0002 0007  0009 0001 0005  000a 0000 0002  000b 0000 0005
        000c 0000 0003  000d 0000 0003  000e 0000 0003  000f 0000 0004
        0010 0000 0002  0012 0000 0003  0013 0000 0004  0014 0000 0003
        0015 0000 0001  0016 0000 0001  0018 0000 0001  0019 0000 0001
        001a 0000 0001  001c 0000 0002  0020 0000 0002  0021 0000 0001
        0025 0000 0001  002a 0000 0001  002f 0000 0000`),
    );
  });

  it('reads a Metadata v0 request with an empty topic list (every topic) and v1 with a null one', () => {
    const v0 = hex(`0003 0000 0000002a 0005 ${ascii('probe')} 00000000`);
    const header = decodeRequestHeader(v0, 1);
    expect(header).toMatchObject({ apiKey: 3, apiVersion: 0, correlationId: 42, clientId: 'probe' });
    expect(decodeKafkaRequest('METADATA', 0, v0, header.bodyOffset)).toEqual({ topics: [], allowAutoTopicCreation: true });
    const v1 = hex(`0003 0001 0000002b ffff ffffffff`);
    expect(decodeRequestHeader(v1, 1).clientId).toBeNull();
    expect(decodeKafkaRequest('METADATA', 1, v1, 10)).toEqual({ topics: null, allowAutoTopicCreation: true });
  });

  it('writes a Produce v3 response: partition results, log append time, no log start offset before v5', () => {
    const frame = encodeKafkaResponseFrame('PRODUCE', 3, 9, {
      responses: [{ name: 't', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 5, logAppendTimeMs: -1, logStartOffset: 0 }] }],
      throttleTimeMs: 0,
    });
    expect(Buffer.concat(frame)).toEqual(
      hex(`00000029 00000009 00000001 0001 74 00000001 00000002 0000 0000000000000005 ffffffffffffffff 00000000`),
    );
  });

  it('writes a Fetch v4 partition with aborted_transactions null and the record bytes as they are', () => {
    const records = Buffer.alloc(600, 7);
    const chunks = encodeKafkaResponseFrame('FETCH', 4, 1, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 'x',
          partitions: [
            { partitionIndex: 0, errorCode: 0, highWatermark: 3, lastStableOffset: 3, logStartOffset: 0, abortedTransactions: null, preferredReadReplica: -1, records },
          ],
        },
      ],
    });
    // The record bytes travel as the caller's own Buffer (no copy).
    expect(chunks).toContain(records);
    const frame = Buffer.concat(chunks);
    expect(frame.subarray(4, 4 + 49)).toEqual(
      hex(`00000001 00000000 00000001 0001 78 00000001 00000000 0000 0000000000000003 0000000000000003 ffffffff 00000258`),
    );
  });
});

describe('kafka codec > round trips', () => {
  for (const api of apiNames) {
    const { request, response } = kafkaApis[api];
    for (const version of versionsOf(api)) {
      it(`round-trips ${kafkaApis[api].name} v${version} requests and responses`, () => {
        for (const variant of [0, 1]) {
          for (const schema of [request, response] as MessageSchema[]) {
            const sample = sampleMessage(schema, version, variant);
            const bytes = encodeMessageBuffer(schema, version, sample as never);
            expect(decodeMessage(schema, version, bytes)).toEqual(expectedDecode(schema, version, sample));
          }
        }
      });
    }
  }

  it('round-trips whole frames: a request through its header, a response through its header', () => {
    for (const api of apiNames) {
      for (const version of versionsOf(api)) {
        const sample = sampleMessage(kafkaApis[api].request, version);
        const frame = encodeKafkaRequestFrame(api, version, 77, 'client', sample as never);
        const peeked = peekRequestHeader(body(frame));
        expect(kafkaApiOf(peeked.apiKey)).toBe(api);
        const header = decodeRequestHeader(body(frame), requestHeaderVersion(api, version));
        expect(header).toMatchObject({ apiVersion: version, correlationId: 77, clientId: 'client' });
        expect(decodeKafkaRequest(api, version, body(frame), header.bodyOffset)).toEqual(expectedDecode(kafkaApis[api].request, version, sample));
        const answer = sampleMessage(kafkaApis[api].response, version, 1);
        const response = Buffer.concat(encodeKafkaResponseFrame(api, version, 78, answer as never));
        const decoded = decodeKafkaResponse(api, version, body(response));
        expect(decoded).toEqual({ correlationId: 78, body: expectedDecode(kafkaApis[api].response, version, answer) });
      }
    }
  });

  it('writes large record data as separate chunks and small data copied, with the same bytes either way', () => {
    const pieces = [Buffer.alloc(2000, 1), Buffer.alloc(10, 2), Buffer.alloc(700, 3)];
    const writer = new KafkaWriter(16);
    writer.int32(5).records(pieces, false).int16(-1);
    const chunks = writer.finish();
    expect(chunks).toContain(pieces[0]);
    expect(chunks).toContain(pieces[2]);
    expect(chunks).not.toContain(pieces[1]);
    const reader = new KafkaReader(Buffer.concat(chunks), 'test');
    expect(reader.int32('a')).toBe(5);
    expect(reader.bytes('records', false, true)).toEqual(Buffer.concat(pieces));
    expect(reader.int16('b')).toBe(-1);
    reader.expectEnd();
  });
});

describe('kafka codec > primitives', () => {
  it('reads and writes int64 values across the whole safe-integer range, and refuses larger ones', () => {
    for (const value of [0, -1, 1, 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_700_000_000_000]) {
      const bytes = new KafkaWriter().int64(value).finishBuffer();
      expect(bytes.readBigInt64BE(0)).toBe(BigInt(value));
      expect(new KafkaReader(bytes, 'test').int64('v')).toBe(value);
    }
    const beyond = Buffer.alloc(8);
    beyond.writeBigInt64BE(2n ** 60n);
    expect(malformed(() => new KafkaReader(beyond, 'test').int64('offset')).message).toMatch(/offset: an int64 beyond 2\^53 at byte 0/);
  });

  it('reads and writes unsigned varints up to 32 bits and refuses longer ones', () => {
    for (const value of [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 0xffff_ffff]) {
      expect(new KafkaReader(new KafkaWriter().uvarint(value).finishBuffer(), 'test').uvarint('v')).toBe(value);
    }
    malformed(() => new KafkaReader(hex('ffffffffff01'), 'test').uvarint('v'));
    malformed(() => new KafkaReader(hex('ffffffff7f'), 'test').uvarint('v'));
  });

  it('refuses an array count the remaining bytes cannot hold, before allocating anything', () => {
    const error = malformed(() => decodeMessage(kafkaApis.DELETE_TOPICS.request, 0, hex('7fffffff 00000000')));
    expect(error.message).toBe('DeleteTopicsRequest v0: topicNames: 2147483647 elements cannot fit in 4 bytes at byte 4');
  });

  it('refuses null where the version does not allow it, and lengths below -1', () => {
    expect(malformed(() => decodeMessage(kafkaApis.METADATA.request, 0, hex('ffffffff'))).message).toMatch(/topics: null in a field that cannot be null/);
    malformed(() => decodeMessage(kafkaApis.DELETE_TOPICS.request, 0, hex('00000001 fffe 00000000')));
    expect(() => encodeMessageBuffer(kafkaApis.METADATA.request, 0, { topics: null, allowAutoTopicCreation: true })).toThrow(RangeError);
  });

  it('refuses bytes left over after a message', () => {
    expect(malformed(() => decodeMessage(kafkaApis.API_VERSIONS.request, 0, hex('00'))).message).toMatch(/1 bytes left over/);
  });

  it('skips tagged fields it does not know in flexible versions', () => {
    const withTags = hex(`05 ${ascii('abcd')} 02 ${ascii('1')} 02 00 02 ffff 07 00`);
    expect(decodeMessage(kafkaApis.API_VERSIONS.request, 3, withTags)).toEqual({ clientSoftwareName: 'abcd', clientSoftwareVersion: '1' });
  });

  it('declares null only for strings, bytes, records and arrays, in every schema', () => {
    const check = (fields: readonly Field[]): void => {
      for (const field of fields) {
        if (field.nullableSince !== undefined) expect(typeof field.type === 'string' ? ['string', 'bytes', 'records'] : ['array']).toContain(typeof field.type === 'string' ? field.type : Object.keys(field.type)[0]);
        const inner: FieldType = typeof field.type !== 'string' && 'array' in field.type ? field.type.array : field.type;
        if (typeof inner !== 'string' && 'struct' in inner) check(inner.struct);
      }
    };
    for (const api of apiNames) for (const schema of [kafkaApis[api].request, kafkaApis[api].response]) check(schema.fields);
  });
});

describe('kafka codec > headers and the API table', () => {
  it('builds the ApiVersions table from the descriptors, ordered by key, one row per served API', () => {
    const table = kafkaApiVersions();
    expect(table.map((r) => r.apiKey)).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 24, 25, 26, 28, 32, 33, 37, 42, 47]);
    for (const api of apiNames) {
      expect(table).toContainEqual({ apiKey: kafkaApis[api].key, minVersion: kafkaApis[api].minVersion, maxVersion: kafkaApis[api].maxVersion });
    }
  });

  it('advertises the versions the clients need: MsgVer2, ZSTD and gzip/snappy/lz4 (Produce v0) for librdkafka, Fetch v11 for kafka-python, FindCoordinator v0 for LZ4', () => {
    const range = (api: KafkaApiName): [number, number] => [kafkaApis[api].minVersion, kafkaApis[api].maxVersion];
    expect(range('PRODUCE')).toEqual([0, 7]);
    expect(range('FETCH')).toEqual([4, 11]);
    expect(range('LIST_OFFSETS')[0]).toBeLessThanOrEqual(1);
    expect(range('FIND_COORDINATOR')[0]).toBe(0);
    expect(range('API_VERSIONS')).toEqual([0, 3]);
  });

  it('uses request header v2 and response header v0 for ApiVersions v3, and v1/v0 for classic versions', () => {
    expect(requestHeaderVersion('API_VERSIONS', 3)).toBe(2);
    expect(requestHeaderVersion('API_VERSIONS', 9)).toBe(2);
    expect(responseHeaderVersion('API_VERSIONS', 3)).toBe(0);
    expect(requestHeaderVersion('PRODUCE', 7)).toBe(1);
    expect(responseHeaderVersion('FETCH', 11)).toBe(0);
  });

  it('decodes request header v0 (no client id) and refuses a frame too short for the fixed header', () => {
    expect(decodeRequestHeader(hex('0007 0000 00000005'), 0)).toEqual({ apiKey: 7, apiVersion: 0, correlationId: 5, clientId: null, bodyOffset: 8 });
    malformed(() => peekRequestHeader(hex('0003 0000 0000')));
    malformed(() => decodeRequestHeader(hex('0003 0000 00000001 0009 6162'), 1));
  });
});

describe('kafka codec > framing', () => {
  function frames(): Buffer[] {
    return [
      encodeKafkaRequestFrame('API_VERSIONS', 3, 1, 'rdkafka', { clientSoftwareName: 'x', clientSoftwareVersion: '1' }),
      encodeKafkaRequestFrame('METADATA', 4, 2, null, { topics: [{ name: 'orders' }], allowAutoTopicCreation: false }),
      encodeKafkaRequestFrame('PRODUCE', 7, 3, 'p', {
        transactionalId: null,
        acks: -1,
        timeoutMs: 1000,
        topicData: [{ name: 'orders', partitionData: [{ index: 0, records: Buffer.alloc(3000, 9) }] }],
      }),
    ];
  }

  it('returns the same frames whether the bytes arrive at once or one byte at a time', () => {
    const stream = Buffer.concat(frames());
    const whole = new KafkaFrameReader();
    whole.push(stream);
    const atOnce: Buffer[] = [];
    for (let frame = whole.next(); frame !== undefined; frame = whole.next()) atOnce.push(Buffer.from(frame));
    const trickle = new KafkaFrameReader();
    const oneByOne: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      trickle.push(stream.subarray(i, i + 1));
      for (let frame = trickle.next(); frame !== undefined; frame = trickle.next()) oneByOne.push(Buffer.from(frame));
    }
    expect(oneByOne).toEqual(atOnce);
    expect(atOnce.map((frame) => frame.length)).toEqual(frames().map((frame) => frame.length - 4));
    expect(trickle.bufferedBytes).toBe(0);
  });

  it('fails every strict prefix of a request body with MALFORMED_FRAME', () => {
    const frame = body(frames()[2] as Buffer);
    const header = decodeRequestHeader(frame, 1);
    for (let end = header.bodyOffset; end < frame.length; end += end < header.bodyOffset + 80 ? 1 : 97) {
      malformed(() => decodeKafkaRequest('PRODUCE', 7, frame.subarray(0, end), header.bodyOffset));
    }
  });

  it('refuses a frame size above the limit with FRAME_TOO_LARGE and below a header with MALFORMED_FRAME, for good', () => {
    const big = new KafkaFrameReader({ maxFrameBytes: 1024 });
    big.push(hex('00000400'));
    expect(() => big.next()).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    expect(() => big.next()).toThrow(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    for (const size of ['ffffffff', '00000007', '80000000']) {
      const small = new KafkaFrameReader();
      small.push(hex(size));
      expect(() => small.next()).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED_FRAME }));
    }
    const exact = new KafkaFrameReader({ maxFrameBytes: 1024 });
    exact.push(Buffer.concat([hex('000003fc'), Buffer.alloc(1020)]));
    expect(exact.next()?.length).toBe(1020);
  });
});

describe('kafka codec > hostile input', () => {
  function decodeAny(api: KafkaApiName, version: number, frame: Buffer): void {
    const header = decodeRequestHeader(frame, requestHeaderVersion(api, version));
    decodeKafkaRequest(api, version, frame, header.bodyOffset);
  }

  it('decodes mutated requests or refuses them with MALFORMED_FRAME, never another error (seeds 1-300)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seeded(seed);
      const api = apiNames[Math.floor(random() * apiNames.length)] as KafkaApiName;
      const versions = versionsOf(api);
      const version = versions[Math.floor(random() * versions.length)] as number;
      const frame = Buffer.from(body(encodeKafkaRequestFrame(api, version, seed, 'fuzz', sampleMessage(kafkaApis[api].request, version, seed % 2) as never)));
      const mutations = 1 + Math.floor(random() * 4);
      let mutated = frame;
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(random() * mutated.length);
        const kind = random();
        if (kind < 0.5) mutated[at] = Math.floor(random() * 256);
        else if (kind < 0.75) mutated = mutated.subarray(0, at);
        else mutated = Buffer.concat([mutated.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), mutated.subarray(at)]);
      }
      try {
        decodeAny(api, version, mutated);
      } catch (error) {
        if (!(error instanceof StreamBusError) || error.code !== ErrorCode.MALFORMED_FRAME) {
          throw new Error(`seed ${seed}: ${kafkaApis[api].name} v${version} threw ${String(error)}`);
        }
      }
    }
  });

  it('refuses random bytes as any request with MALFORMED_FRAME or decodes them (seeds 1-300)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seeded(seed * 7919);
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      for (const api of apiNames) {
        const version = kafkaApis[api].maxVersion;
        try {
          decodeKafkaRequest(api, version, bytes, 0);
        } catch (error) {
          if (!(error instanceof StreamBusError) || error.code !== ErrorCode.MALFORMED_FRAME) throw new Error(`seed ${seed}: ${api} threw ${String(error)}`);
        }
      }
    }
  });
});
