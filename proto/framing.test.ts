import { describe, expect, it } from 'vitest';
import { Api } from './api.js';
import { ErrorCode, StreamBusError } from './errors.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameError, encodeFrame, type Frame } from './framing.js';
import { encodeRequestFrame } from './native-codec.js';

function drain(decoder: FrameDecoder): Frame[] {
  const frames: Frame[] = [];
  for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
  return frames;
}

function sampleFrames(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    encodeFrame({ correlationId: i + 1, api: i % 11, versionOrStatus: i % 2 }, Buffer.alloc(i * 37, i & 0xff)),
  );
}

/** Mulberry32, so a failing fuzz case replays exactly from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function errorOf(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError);
    return err as FrameError;
  }
  throw new Error('expected a FrameError');
}

describe('proto > framing', () => {
  it('encodes a small metadata request to the documented bytes', () => {
    const frame = encodeRequestFrame(7, 'METADATA', 0, { topics: ['a'], allTopics: false, allowAutoTopicCreation: false });
    // length 11 | correlation id 7 | api 1 | version 0 | body: field 1 (topics) LEN 1 "a"
    expect(frame.toString('hex')).toBe('0000000b' + '00000007' + '0001' + '0000' + '0a0161');
  });

  it('decodes what it encodes', () => {
    const body = Buffer.from('hello');
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame({ correlationId: 0xfffffffe, api: Api.FETCH, versionOrStatus: 1 }, body));
    const [frame, ...rest] = drain(decoder);
    expect(rest).toEqual([]);
    expect(frame).toMatchObject({ correlationId: 0xfffffffe, api: Api.FETCH, versionOrStatus: 1 });
    expect(frame!.body.equals(body)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('decodes a frame with an empty body', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame({ correlationId: 1, api: 0, versionOrStatus: 0 }, Buffer.alloc(0)));
    expect(decoder.next()!.body.length).toBe(0);
  });

  it('decodes frames fed one byte at a time', () => {
    const frames = sampleFrames(20);
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (const byte of Buffer.concat(frames)) {
      decoder.push(Buffer.from([byte]));
      out.push(...drain(decoder));
    }
    expect(out.map((f) => f.correlationId)).toEqual(frames.map((_, i) => i + 1));
    out.forEach((f, i) => expect(f.body.equals(frames[i]!.subarray(FRAME_HEADER_BYTES))).toBe(true));
  });

  it('decodes many frames from one chunk as views of that chunk', () => {
    const chunk = Buffer.concat(sampleFrames(200));
    const decoder = new FrameDecoder();
    decoder.push(chunk);
    const out = drain(decoder);
    expect(out).toHaveLength(200);
    expect(out.every((f) => f.body.buffer === chunk.buffer)).toBe(true);
  });

  it('copies a frame that spans chunks into one buffer', () => {
    const frame = encodeFrame({ correlationId: 9, api: 2, versionOrStatus: 0 }, Buffer.alloc(1000, 7));
    const decoder = new FrameDecoder();
    decoder.push(frame.subarray(0, 300));
    expect(decoder.next()).toBeUndefined();
    decoder.push(frame.subarray(300, 700));
    decoder.push(frame.subarray(700));
    const out = decoder.next()!;
    expect(out.body.equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it('rejects an oversized length as soon as the prefix arrives, before buffering the frame', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const header = Buffer.alloc(12);
    header.writeUInt32BE(1_000_000_000, 0);
    header.writeUInt32BE(55, 4);
    header.writeUInt16BE(Api.PRODUCE, 8);
    decoder.push(header.subarray(0, 4));
    const error = errorOf(() => decoder.next());
    expect(error.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(error.correlationId).toBeUndefined();
    decoder.push(Buffer.alloc(64 * 1024));
    expect(decoder.bufferedBytes).toBe(0);
    expect(errorOf(() => decoder.next())).toBe(error);
  });

  it('reports the correlation id and api of an oversized frame when they arrived with it', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const header = Buffer.alloc(12);
    header.writeUInt32BE(1021, 0); // 1025 bytes with the prefix: one over
    header.writeUInt32BE(55, 4);
    header.writeUInt16BE(Api.PRODUCE, 8);
    decoder.push(header);
    const error = errorOf(() => decoder.next());
    expect(error).toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE, correlationId: 55, api: Api.PRODUCE });
  });

  it('accepts a frame of exactly the maximum size', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    decoder.push(encodeFrame({ correlationId: 1, api: 0, versionOrStatus: 0 }, Buffer.alloc(1024 - FRAME_HEADER_BYTES)));
    expect(decoder.next()!.body.length).toBe(1024 - FRAME_HEADER_BYTES);
  });

  it('rejects a length below the header size as MALFORMED_FRAME', () => {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.from([0, 0, 0, 7, 0, 0, 0, 1]));
    expect(errorOf(() => decoder.next()).code).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('delivers the frames before a bad length, then fails', () => {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.concat([...sampleFrames(3), Buffer.from([0, 0, 0, 2])]));
    expect([decoder.next(), decoder.next(), decoder.next()].map((f) => f?.correlationId)).toEqual([1, 2, 3]);
    expect(errorOf(() => decoder.next()).code).toBe(ErrorCode.MALFORMED_FRAME);
  });

  it('refuses header fields outside their range', () => {
    const bad = [
      { correlationId: -1, api: 0, versionOrStatus: 0 },
      { correlationId: 2 ** 32, api: 0, versionOrStatus: 0 },
      { correlationId: 0, api: 65536, versionOrStatus: 0 },
      { correlationId: 0, api: 0, versionOrStatus: 1.5 },
    ];
    for (const header of bad) {
      expect(() => encodeFrame(header, Buffer.alloc(0))).toThrow(StreamBusError);
    }
  });

  it('splits random chunkings of a frame stream identically, and fails cleanly on random bytes (seeded)', () => {
    const seed = 777;
    const random = seeded(seed);
    const stream = Buffer.concat(sampleFrames(40));
    const started = performance.now();
    for (let run = 0; run < 3000; run++) {
      const decoder = new FrameDecoder({ maxFrameBytes: 4096 });
      let input = stream;
      const mutate = run % 2 === 1;
      if (mutate) {
        input = Buffer.from(stream.subarray(0, Math.floor(random() * 600)));
        for (let f = 0; f < 3 && input.length > 0; f++) input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
      }
      const out: Frame[] = [];
      try {
        for (let at = 0; at < input.length; ) {
          const size = 1 + Math.floor(random() * 300);
          decoder.push(input.subarray(at, at + size));
          at += size;
          out.push(...drain(decoder));
        }
      } catch (err) {
        if (!(err instanceof FrameError) || !mutate) throw new Error(`seed ${seed} run ${run}: ${String(err)}`);
        expect([ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE]).toContain(err.code);
        continue;
      }
      if (!mutate) expect(out.map((f) => f.correlationId)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      else expect(decoder.bufferedBytes).toBeLessThanOrEqual(4096);
    }
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
