import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { seededRandom } from './random.js';
import { RetryClass, backoffDelayMs, classifyError, decideRetry, refreshesMetadata, resolveRetryOptions, unknownTopicGaveUp } from './retry.js';

describe('policy > retry > backoff', () => {
  it('doubles from retryBackoffMs up to retryBackoffMaxMs without jitter', () => {
    const options = resolveRetryOptions({ backoffMs: 100, backoffMaxMs: 1000, jitter: 0 });
    const schedule = [1, 2, 3, 4, 5, 6, 40].map((attempt) => backoffDelayMs(attempt, options, () => 0.5));
    expect(schedule).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('spreads each delay within ±jitter of the base and never above the maximum', () => {
    const options = resolveRetryOptions({ backoffMs: 100, backoffMaxMs: 1000, jitter: 0.2 });
    const random = seededRandom(99);
    for (let i = 0; i < 200; i++) {
      const first = backoffDelayMs(1, options, random);
      expect(first).toBeGreaterThanOrEqual(80);
      expect(first).toBeLessThanOrEqual(120);
      const capped = backoffDelayMs(10, options, random);
      expect(capped).toBeGreaterThanOrEqual(800);
      expect(capped).toBeLessThanOrEqual(1000);
    }
  });

  it('gives the same schedule for the same seed', () => {
    const options = resolveRetryOptions();
    const schedule = (seed: number): number[] => {
      const random = seededRandom(seed);
      return [1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, options, random));
    };
    expect(schedule(1234)).toEqual(schedule(1234));
    expect(schedule(1234)).not.toEqual(schedule(4321));
  });

  it('uses the Kafka-like defaults: 100 ms first, 1000 ms max, 20% jitter', () => {
    expect(resolveRetryOptions()).toEqual({ backoffMs: 100, backoffMaxMs: 1000, jitter: 0.2, retries: Number.POSITIVE_INFINITY });
  });
});

describe('policy > retry > decision', () => {
  const options = resolveRetryOptions({ backoffMs: 100, backoffMaxMs: 1000, jitter: 0, retries: 3 });
  const random = (): number => 0.5;

  it('retries a retriable error after the scheduled backoff', () => {
    expect(decideRetry({ retriesDone: 0, retriable: true, nowMs: 0, deadlineMs: 10_000 }, options, random)).toEqual({ retry: true, delayMs: 100 });
    expect(decideRetry({ retriesDone: 2, retriable: true, nowMs: 0, deadlineMs: 10_000 }, options, random)).toEqual({ retry: true, delayMs: 400 });
  });

  it('never retries a non-retriable error', () => {
    expect(decideRetry({ retriesDone: 0, retriable: false, nowMs: 0, deadlineMs: 10_000 }, options, random)).toEqual({
      retry: false,
      reason: 'not-retriable',
    });
  });

  it('stops when the retry budget is spent', () => {
    expect(decideRetry({ retriesDone: 3, retriable: true, nowMs: 0, deadlineMs: 10_000 }, options, random)).toEqual({
      retry: false,
      reason: 'retries-exhausted',
    });
  });

  it('stops when the backoff would end at or after the deadline', () => {
    expect(decideRetry({ retriesDone: 0, retriable: true, nowMs: 9_900, deadlineMs: 10_000 }, options, random)).toEqual({
      retry: false,
      reason: 'deadline',
    });
    expect(decideRetry({ retriesDone: 0, retriable: true, nowMs: 9_899, deadlineMs: 10_000 }, options, random)).toEqual({ retry: true, delayMs: 100 });
  });
});

describe('policy > retry > classification', () => {
  it('refreshes metadata before retrying when a leader moved or a broker is gone', () => {
    const refresh = [
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.FENCED_LEADER_EPOCH,
      ErrorCode.UNKNOWN_LEADER_EPOCH,
      ErrorCode.LEADER_NOT_AVAILABLE,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.NETWORK_EXCEPTION,
      ErrorCode.REQUEST_TIMED_OUT,
      ErrorCode.KAFKA_STORAGE_ERROR,
    ];
    for (const code of refresh) {
      expect(classifyError(code, new StreamBusError(code).retriable), String(code)).toBe(RetryClass.REFRESH_AND_RETRY);
      expect(refreshesMetadata(code)).toBe(true);
    }
  });

  it('retries NOT_ENOUGH_REPLICAS without refreshing: the leader is right, the ISR is short for now', () => {
    for (const code of [ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND]) {
      expect(classifyError(code, new StreamBusError(code).retriable)).toBe(RetryClass.RETRY);
      expect(refreshesMetadata(code)).toBe(false);
    }
  });

  it('fails at once on the broker\'s considered answers', () => {
    for (const code of [ErrorCode.INVALID_RECORD, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.POLICY_VIOLATION, ErrorCode.OFFSET_OUT_OF_RANGE]) {
      expect(classifyError(code, new StreamBusError(code).retriable)).toBe(RetryClass.FATAL);
    }
  });

  it('retries UNKNOWN_TOPIC_OR_PARTITION only within its window from the first occurrence', () => {
    expect(unknownTopicGaveUp(undefined, 50_000, 10_000)).toBe(false);
    expect(unknownTopicGaveUp(1_000, 10_999, 10_000)).toBe(false);
    expect(unknownTopicGaveUp(1_000, 11_000, 10_000)).toBe(true);
  });
});
