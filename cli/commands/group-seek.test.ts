import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { parseSeekTarget, parseTopicSelector, plannedOffset } from './group-seek.js';

describe('cli > group seek > targets', () => {
  it('reads earliest, latest, an offset, a time and a shift', () => {
    expect(parseSeekTarget('earliest', undefined)).toEqual({ kind: 'earliest' });
    expect(parseSeekTarget('latest', undefined)).toEqual({ kind: 'latest' });
    expect(parseSeekTarget('42', undefined)).toEqual({ kind: 'offset', offset: 42 });
    expect(parseSeekTarget('@1700000000000', undefined)).toEqual({ kind: 'time', timestampMs: 1_700_000_000_000 });
    expect(parseSeekTarget('@2026-11-21T12:00:00Z', undefined)).toEqual({ kind: 'time', timestampMs: Date.parse('2026-11-21T12:00:00Z') });
    expect(parseSeekTarget(undefined, '-5')).toEqual({ kind: 'shift', by: -5 });
  });

  it('refuses both or neither of --to and --shift-by, and malformed values, as usage errors', () => {
    for (const [to, shift] of [[undefined, undefined], ['earliest', '1'], ['soon', undefined], ['@never', undefined], [undefined, '1.5']] as const) {
      expect(() => parseSeekTarget(to, shift)).toThrow(expect.objectContaining({ name: 'UsageError', code: ErrorCode.INVALID_REQUEST }) as Error);
    }
  });

  it('reads T and T:P selectors, topic names with colons included', () => {
    expect(parseTopicSelector('orders')).toEqual({ topic: 'orders', partition: undefined });
    expect(parseTopicSelector('orders:3')).toEqual({ topic: 'orders', partition: 3 });
    expect(() => parseTopicSelector('orders:x')).toThrow(expect.objectContaining({ name: 'UsageError' }) as Error);
  });
});

describe('cli > group seek > plan', () => {
  it('clamps every new offset into the log', () => {
    expect(plannedOffset({ kind: 'offset', offset: 500 }, 10, 5, 100, undefined)).toBe(100);
    expect(plannedOffset({ kind: 'shift', by: -50 }, 10, 5, 100, undefined)).toBe(5);
    expect(plannedOffset({ kind: 'shift', by: 3 }, 10, 5, 100, undefined)).toBe(13);
  });

  it('shifts a partition without an offset from the log start', () => {
    expect(plannedOffset({ kind: 'shift', by: 2 }, -1, 5, 100, undefined)).toBe(7);
  });

  it('goes to the end when no record is at or after the time', () => {
    expect(plannedOffset({ kind: 'time', timestampMs: 1 }, 10, 0, 100, -1)).toBe(100);
    expect(plannedOffset({ kind: 'time', timestampMs: 1 }, 10, 0, 100, 40)).toBe(40);
  });
});
