import { describe, expect, it } from 'vitest';
import { encodeSubscription, subscribedTopics } from './consumer-protocol.js';

describe('groups > consumer protocol subscription', () => {
  it('reads the topics of a subscription, whatever its version and trailing fields', () => {
    const v0 = encodeSubscription(['orders', 'payments', 'ünïcode'], new Uint8Array([1, 2, 3]));
    expect(subscribedTopics(v0)).toEqual(['orders', 'payments', 'ünïcode']);
    const v3 = new Uint8Array([...v0, 0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff]);
    new DataView(v3.buffer).setInt16(0, 3);
    expect(subscribedTopics(v3)).toEqual(['orders', 'payments', 'ünïcode']);
    expect(subscribedTopics(encodeSubscription([]))).toEqual([]);
  });

  it('answers undefined for bytes that are not a subscription: short, negative counts, cut names, bad UTF-8', () => {
    const good = encodeSubscription(['orders']);
    const negative = good.slice();
    new DataView(negative.buffer).setInt32(2, -1);
    const badUtf8 = good.slice();
    badUtf8[8] = 0xff;
    for (const bytes of [new Uint8Array(0), new Uint8Array([0, 0, 0]), negative, good.subarray(0, 9), badUtf8]) {
      expect(subscribedTopics(bytes)).toBeUndefined();
    }
  });
});
