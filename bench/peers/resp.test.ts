import { describe, expect, it } from 'vitest';
import { encodeCommand, RespError, RespParser, type RespValue } from './resp.js';
import { streamEntries } from './redis-system.js';

function parseAll(chunks: readonly Buffer[]): RespValue[] {
  const replies: RespValue[] = [];
  const parser = new RespParser((reply) => replies.push(reply));
  for (const chunk of chunks) parser.push(chunk);
  return replies;
}

const xreadReply = Buffer.from(
  '*1\r\n*2\r\n$6\r\norders\r\n*2\r\n' +
    '*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nv\r\n$5\r\nhello\r\n' +
    '*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nv\r\n$0\r\n\r\n',
);

describe('bench > peers > resp parser', () => {
  it('parses simple strings, errors, integers, bulk strings, nil and nested arrays', () => {
    const replies = parseAll([Buffer.from('+OK\r\n-ERR wrong type\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n:1\r\n*1\r\n+x\r\n')]);
    expect(replies[0]).toBe('OK');
    expect(replies[1]).toBeInstanceOf(RespError);
    expect((replies[1] as RespError).message).toBe('ERR wrong type');
    expect(replies[2]).toBe(-42);
    expect(replies[3]).toEqual(Buffer.from('abc'));
    expect(replies.slice(4)).toEqual([null, null, [], [1, ['x']]]);
  });

  it('gives the same replies when the bytes arrive one at a time', () => {
    const whole = parseAll([xreadReply, Buffer.from(':7\r\n')]);
    const bytes = [...Buffer.concat([xreadReply, Buffer.from(':7\r\n')])].map((b) => Buffer.from([b]));
    expect(parseAll(bytes)).toEqual(whole);
    expect(whole).toHaveLength(2);
  });

  it('reads the entries of an XREAD reply, and nothing from a nil reply', () => {
    const [reply] = parseAll([xreadReply]);
    const entries = streamEntries(reply!);
    expect(entries?.map((e) => [e.id, e.value.toString()])).toEqual([
      ['1-0', 'hello'],
      ['1-1', ''],
    ]);
    expect(streamEntries(null)).toBeUndefined();
  });

  it('rejects bytes that are not RESP with a RespError', () => {
    expect(() => parseAll([Buffer.from('?what\r\n')])).toThrow(RespError);
    expect(() => parseAll([Buffer.from(':12x\r\n')])).toThrow(RespError);
  });

  it('encodes a command as an array of bulk strings, values uncopied', () => {
    const value = Buffer.from([0, 1, 2]);
    const out: Buffer[] = [];
    const bytes = encodeCommand(['XADD', 'k', '*', 'v', value], out);
    const wire = Buffer.concat(out);
    expect(wire.toString('latin1')).toBe('*5\r\n$4\r\nXADD\r\n$1\r\nk\r\n$1\r\n*\r\n$1\r\nv\r\n$3\r\n\x00\x01\x02\r\n');
    expect(bytes).toBe(wire.length);
    expect(out).toContain(value);
  });
});
