import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { topicCollisionKey, validateTopicName } from './topic-name.js';

function rejection(name: unknown): StreamBusError {
  try {
    validateTopicName(name);
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error(`expected ${JSON.stringify(name)} to be rejected`);
}

describe('topic-name > validateTopicName', () => {
  it.each(['orders', 'a', 'Orders.v2_eu-west', '...', 'x'.repeat(249), '__internal'])('accepts %j', (name) => {
    expect(() => validateTopicName(name)).not.toThrow();
  });

  it.each([
    ['', /empty/],
    ['.', /"\." or "\.\."/],
    ['..', /"\." or "\.\."/],
    ['x'.repeat(250), /250 characters long; the limit is 249/],
    ['orders/eu', /contains a character other than/],
    ['café', /contains a character other than/],
    ['with space', /contains a character other than/],
  ])('rejects %j with INVALID_TOPIC', (name, message) => {
    const error = rejection(name);
    expect(error.code).toBe(ErrorCode.INVALID_TOPIC);
    expect(error.message).toMatch(message);
  });

  it('rejects a name that is not a string', () => {
    expect(rejection(42).code).toBe(ErrorCode.INVALID_TOPIC);
  });
});

describe('topic-name > topicCollisionKey', () => {
  it('gives names that differ only in . and _ the same key', () => {
    expect(topicCollisionKey('a.b_c')).toBe(topicCollisionKey('a_b.c'));
    expect(topicCollisionKey('a.b')).not.toBe(topicCollisionKey('a-b'));
  });
});
