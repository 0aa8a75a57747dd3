import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { formatVoters, parseVoters } from './voters.js';

describe('coordinator > voters setting', () => {
  it('reads id@host:port entries, IPv6 hosts in brackets, and prints them back in node id order', () => {
    const voters = parseVoters('3@127.0.0.3:9095, 1@127.0.0.1:9095,2@[::1]:9095');
    expect([...voters]).toEqual([
      [3, { host: '127.0.0.3', port: 9095 }],
      [1, { host: '127.0.0.1', port: 9095 }],
      [2, { host: '::1', port: 9095 }],
    ]);
    expect(formatVoters(voters)).toBe('1@127.0.0.1:9095,2@[::1]:9095,3@127.0.0.3:9095');
  });

  it.each([
    ['', 'the list is empty'],
    ['127.0.0.1:9095', 'is not id@host:port'],
    ['1@127.0.0.1', 'is not id@host:port'],
    ['one@127.0.0.1:9095', 'is not id@host:port'],
    ['0@127.0.0.1:9095', 'node id 0'],
    ['1@127.0.0.1:0', 'port 0'],
    ['1@127.0.0.1:70000', 'port 70000'],
    ['1@a:9095,1@b:9095', 'node 1 is named twice'],
    ['1@a:9095,2@a:9095', 'given to two nodes'],
    ['1@a:9095,,2@b:9095', 'is not id@host:port'],
  ])('refuses %j with INVALID_CONFIG saying %s', (text, reason) => {
    expect(() => parseVoters(text)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringContaining(reason) }));
  });
});
