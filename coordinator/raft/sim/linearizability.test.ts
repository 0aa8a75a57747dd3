import { describe, expect, it } from 'vitest';
import { type KvOperation, checkKvHistory, checkOperations, registerModel } from './linearizability.js';
import { Prng } from './prng.js';

const put = (clientId: number, key: string, value: string, callMs: number, returnMs: number): KvOperation => ({
  clientId,
  input: { kind: 'put', key, value },
  output: null,
  callMs,
  returnMs,
});
const get = (clientId: number, key: string, output: string | null, callMs: number, returnMs: number): KvOperation => ({
  clientId,
  input: { kind: 'get', key },
  output,
  callMs,
  returnMs,
});

describe('raft > linearizability checker', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(checkKvHistory([]).outcome).toBe('ok');
    expect(checkKvHistory([put(1, 'k', 'a', 0, 1), get(2, 'k', 'a', 2, 3), put(1, 'k', 'b', 4, 5), get(2, 'k', 'b', 6, 7)]).outcome).toBe('ok');
  });

  it('lets a read concurrent with a write see either value', () => {
    for (const seen of ['a', 'b']) {
      expect(checkKvHistory([put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 2, 10), get(2, 'k', seen, 3, 4)]).outcome).toBe('ok');
    }
  });

  it('rejects a stale read: a value read after a newer write completed', () => {
    const result = checkKvHistory([put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 2, 3), get(2, 'k', 'a', 4, 5)]);
    expect(result).toMatchObject({ outcome: 'illegal', partition: 'k' });
  });

  it('rejects a lost update: a read that misses an acknowledged write', () => {
    expect(checkKvHistory([put(1, 'k', 'a', 0, 1), get(2, 'k', null, 2, 3)]).outcome).toBe('illegal');
  });

  it('rejects a read of a write that failed (and so never happened)', () => {
    // A definitely failed write is left out of the history; reading its value is then impossible.
    expect(checkKvHistory([put(1, 'k', 'a', 0, 1), get(2, 'k', 'zombie', 2, 3)]).outcome).toBe('illegal');
  });

  it('rejects two reads that disagree on the order of two writes', () => {
    const history = [put(1, 'k', 'a', 0, 10), put(2, 'k', 'b', 0, 10), get(3, 'k', 'a', 11, 12), get(3, 'k', 'b', 13, 14), get(4, 'k', 'a', 15, 16)];
    expect(checkKvHistory(history).outcome).toBe('illegal');
  });

  it('lets a write with an unknown outcome take effect late, or never', () => {
    const unknown = put(1, 'k', 'b', 2, Infinity);
    expect(checkKvHistory([put(1, 'k', 'a', 0, 1), unknown, get(2, 'k', 'a', 50, 51)]).outcome).toBe('ok');
    expect(checkKvHistory([put(1, 'k', 'a', 0, 1), unknown, get(2, 'k', 'b', 50, 51), get(2, 'k', 'b', 60, 61)]).outcome).toBe('ok');
    // But once seen, it cannot be unseen.
    expect(checkKvHistory([put(1, 'k', 'a', 0, 1), unknown, get(2, 'k', 'b', 50, 51), get(2, 'k', 'a', 60, 61)]).outcome).toBe('illegal');
  });

  it('decides quickly a history crowded with writes of unknown outcome', () => {
    const ops: KvOperation[] = [];
    for (let i = 0; i < 40; i++) ops.push(put(i, 'k', `u${i}`, i, Infinity));
    ops.push(put(100, 'k', 'a', 50, 51), get(101, 'k', 'u7', 60, 61), get(102, 'k', 'u7', 70, 71), get(103, 'k', 'u3', 80, 81));
    expect(checkKvHistory(ops, 100_000).outcome).toBe('ok');
    // u7 was seen at 61, so it cannot appear for the first time after that in another order.
    ops.push(get(104, 'k', 'u7', 90, 91));
    expect(checkKvHistory(ops, 100_000).outcome).toBe('illegal');
  });

  it('checks keys independently', () => {
    expect(checkKvHistory([put(1, 'x', 'a', 0, 1), put(1, 'y', 'b', 2, 3), get(2, 'x', 'a', 4, 5), get(2, 'y', 'b', 4, 5)]).outcome).toBe('ok');
    expect(checkKvHistory([put(1, 'x', 'a', 0, 1), put(1, 'y', 'b', 2, 3), get(2, 'y', 'a', 4, 5)])).toMatchObject({ outcome: 'illegal', partition: 'y' });
  });

  it('reports unknown, deterministically, when the search budget runs out', () => {
    const ops: KvOperation[] = [];
    for (let i = 0; i < 14; i++) ops.push(put(i, 'k', `v${i}`, 0, 100));
    ops.push(get(99, 'k', 'never-written', 101, 102));
    expect(checkOperations(registerModel, ops, 50).outcome).toBe('unknown');
    expect(checkOperations(registerModel, ops, 50).outcome).toBe('unknown');
    expect(checkOperations(registerModel, ops).outcome).toBe('illegal');
  });

  it('decides a 10,000-operation history from 10 clients within 10 seconds', () => {
    // Build a linearizable history: a real register, operations with random overlapping intervals
    // around their true linearization points.
    const random = new Prng(2024);
    const ops: KvOperation[] = [];
    const state = new Map<string, string>();
    let now = 0;
    for (let i = 0; i < 10_000; i++) {
      now += random.range(1, 3);
      const key = `k${random.int(100)}`;
      const clientId = random.int(10);
      const callMs = now - random.range(0, 5);
      const returnMs = now + random.range(0, 5);
      if (random.chance(0.5)) {
        const value = `v${i}`;
        state.set(key, value);
        ops.push(put(clientId, key, value, callMs, returnMs));
      } else {
        ops.push(get(clientId, key, state.get(key) ?? null, callMs, returnMs));
      }
    }
    const started = performance.now();
    expect(checkKvHistory(ops).outcome).toBe('ok');
    expect(performance.now() - started).toBeLessThan(10_000);
    // Corrupt one late read: now it must fail.
    const lastGet = ops.findLastIndex((op) => op.input.kind === 'get' && op.output !== null);
    ops[lastGet] = { ...ops[lastGet]!, output: 'never-written' };
    expect(checkKvHistory(ops).outcome).toBe('illegal');
  });
});
