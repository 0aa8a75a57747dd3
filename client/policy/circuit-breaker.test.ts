import { describe, expect, it } from 'vitest';
import { Admission, BreakerState, CircuitBreaker } from './circuit-breaker.js';

describe('policy > circuit breaker', () => {
  it('stays closed and allows requests while failures stay below the threshold', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    breaker.onFailure(0);
    breaker.onFailure(1);
    expect(breaker.state(2)).toBe(BreakerState.CLOSED);
    expect(breaker.admit(2)).toBe(Admission.ALLOW);
    expect(breaker.consecutiveFailures).toBe(2);
  });

  it('opens after N consecutive failures and rejects until the cool-down ends', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    const cause = new Error('refused');
    for (let i = 0; i < 3; i++) breaker.onFailure(100, cause);
    expect(breaker.state(100)).toBe(BreakerState.OPEN);
    expect(breaker.admit(100)).toBe(Admission.REJECT);
    expect(breaker.admit(1099)).toBe(Admission.REJECT);
    expect(breaker.retryInMs(600)).toBe(500);
    expect(breaker.lastFailure).toBe(cause);
  });

  it('lets exactly one probe through once half-open, and rejects the others while it is out', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 });
    breaker.onFailure(0);
    expect(breaker.state(1000)).toBe(BreakerState.HALF_OPEN);
    expect(breaker.admit(1000)).toBe(Admission.PROBE);
    expect(breaker.admit(1001)).toBe(Admission.REJECT);
    expect(breaker.admit(5000)).toBe(Admission.REJECT);
  });

  it('closes when the probe succeeds and forgets the failures', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1000 });
    breaker.onFailure(0);
    breaker.onFailure(0);
    expect(breaker.admit(1000)).toBe(Admission.PROBE);
    breaker.onSuccess();
    expect(breaker.state(1000)).toBe(BreakerState.CLOSED);
    expect(breaker.consecutiveFailures).toBe(0);
    expect(breaker.admit(1000)).toBe(Admission.ALLOW);
  });

  it('opens for another cool-down when the probe fails', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 1000 });
    for (let i = 0; i < 5; i++) breaker.onFailure(0);
    expect(breaker.admit(1000)).toBe(Admission.PROBE);
    breaker.onFailure(1200);
    expect(breaker.state(1200)).toBe(BreakerState.OPEN);
    expect(breaker.admit(2199)).toBe(Admission.REJECT);
    expect(breaker.admit(2200)).toBe(Admission.PROBE);
  });

  it('lets the next request probe when a probe is abandoned without an outcome', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 10 });
    breaker.onFailure(0);
    const probe = breaker.admit(10);
    expect(probe).toBe(Admission.PROBE);
    breaker.onAbandon(probe);
    expect(breaker.admit(11)).toBe(Admission.PROBE);
  });

  it('resets the count on any success while closed, so only consecutive failures open it', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    breaker.onFailure(0);
    breaker.onFailure(0);
    breaker.onSuccess();
    breaker.onFailure(0);
    breaker.onFailure(0);
    expect(breaker.state(0)).toBe(BreakerState.CLOSED);
  });

  it('refuses a threshold below 1 and a negative cool-down with RangeError', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failureThreshold: 1.5 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ cooldownMs: -1 })).toThrow(RangeError);
  });

  it('defaults to 3 failures and a 1000 ms cool-down', () => {
    const breaker = new CircuitBreaker();
    expect([breaker.failureThreshold, breaker.cooldownMs]).toEqual([3, 1000]);
  });
});
