import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { ByteBudget } from './byte-budget.js';

/** Resolves true if the promise settles within the deadline, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('producer > buffer > backpressure', () => {
  it('grants space at once while it fits', () => {
    const budget = new ByteBudget(100);
    expect(budget.tryAcquire(60)).toBe(true);
    expect(budget.tryAcquire(50)).toBe(false);
    expect(budget.usedBytes).toBe(60);
  });

  it('makes a sender wait until completions free enough space', async () => {
    const budget = new ByteBudget(100);
    budget.tryAcquire(80);
    const waiting = budget.acquire(50, 5_000);
    expect(await settlesWithin(waiting, 20)).toBe(false);
    budget.release(40);
    await expect(waiting).resolves.toBeUndefined();
    expect(budget.usedBytes).toBe(90);
  });

  it('serves waiters in order: a small request does not overtake a large one', async () => {
    const budget = new ByteBudget(100);
    budget.tryAcquire(100);
    const order: string[] = [];
    const large = budget.acquire(90, 5_000).then(() => order.push('large'));
    const small = budget.acquire(5, 5_000).then(() => order.push('small'));
    expect(budget.tryAcquire(1)).toBe(false);
    budget.release(10);
    expect(await settlesWithin(small, 20)).toBe(false);
    budget.release(90);
    await Promise.all([large, small]);
    expect(order).toEqual(['large', 'small']);
  });

  it('fails a waiting sender with REQUEST_TIMED_OUT after maxBlockMs and holds nothing for it', async () => {
    const budget = new ByteBudget(100);
    budget.tryAcquire(100);
    const error = await budget.acquire(10, 30).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamBusError);
    expect((error as StreamBusError).code).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect(budget.waiting).toBe(0);
    budget.release(100);
    expect(budget.usedBytes).toBe(0);
  });

  it('rejects with the abort reason when the signal aborts, and lets the next waiter through', async () => {
    const budget = new ByteBudget(100);
    budget.tryAcquire(50);
    const controller = new AbortController();
    const blocked = budget.acquire(100, 5_000, controller.signal);
    const next = budget.acquire(40, 5_000);
    controller.abort(new Error('stop'));
    await expect(blocked).rejects.toThrow('stop');
    await expect(next).resolves.toBeUndefined();
    expect(budget.usedBytes).toBe(90);
  });
});
