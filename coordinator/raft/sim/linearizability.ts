/**
 * A linearizability checker for client histories, in the style of porcupine (Wing & Gong's search
 * with Lowe's memoisation): depth-first over which pending operation takes effect next, never
 * before its call nor after its return, caching (set of operations already linearized, model
 * state) so that no configuration is explored twice. Histories are split by key first
 * (P-compositionality): a key-value store is linearizable iff each key's register is.
 *
 * An operation whose outcome is unknown (the client timed out) has `returnMs = Infinity`: it may
 * take effect at any point after its call, or never (a write that never happened is linearized
 * at the very end, where nobody can observe it). Operations that definitely failed must be left
 * out by the caller, and so must reads without a response (they constrain nothing).
 */

/** A sequential specification: `step` says whether `input` could produce `output` in `state`. */
export interface Model<State, Input, Output> {
  readonly init: State;
  step(state: State, input: Input, output: Output): { ok: boolean; next: State };
  /** A string that is equal for equal states (the memo key). */
  key(state: State): string;
}

export interface Operation<Input, Output> {
  readonly clientId: number;
  readonly input: Input;
  readonly output: Output;
  readonly callMs: number;
  /** Infinity when the outcome is unknown. */
  readonly returnMs: number;
}

export type CheckResult =
  | { readonly outcome: 'ok' }
  | { readonly outcome: 'illegal'; readonly partition: string; readonly longestPrefix: number; readonly operations: number }
  | { readonly outcome: 'unknown'; readonly partition: string };

interface Node<I, O> {
  readonly op: Operation<I, O> | undefined;
  readonly id: number;
  readonly isCall: boolean;
  /** For a call: its return node. */
  match: Node<I, O> | undefined;
  prev: Node<I, O> | undefined;
  next: Node<I, O> | undefined;
}

/**
 * Checks one partition. `maxSteps` bounds the search (the problem is NP-complete); running out
 * gives 'unknown', deterministically.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  maxSteps = 1_000_000,
): { outcome: 'ok' | 'illegal' | 'unknown'; longestPrefix: number } {
  const n = operations.length;
  if (n === 0) return { outcome: 'ok', longestPrefix: 0 };
  // Events sorted by time; at equal times calls come first, which treats touching intervals as
  // concurrent (the weaker, never falsely failing reading).
  const events: { time: number; isCall: boolean; id: number }[] = [];
  operations.forEach((op, id) => {
    events.push({ time: op.callMs, isCall: true, id });
    events.push({ time: op.returnMs, isCall: false, id });
  });
  events.sort((a, b) => {
    // Explicit comparisons: Infinity - Infinity is NaN.
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.id - b.id;
  });

  const head: Node<I, O> = { op: undefined, id: -1, isCall: false, match: undefined, prev: undefined, next: undefined };
  let tail = head;
  const calls: Node<I, O>[] = [];
  const returns: Node<I, O>[] = [];
  for (const ev of events) {
    const node: Node<I, O> = { op: operations[ev.id], id: ev.id, isCall: ev.isCall, match: undefined, prev: tail, next: undefined };
    tail.next = node;
    tail = node;
    (ev.isCall ? calls : returns)[ev.id] = node;
  }
  for (let id = 0; id < n; id++) calls[id]!.match = returns[id];

  const lift = (call: Node<I, O>): void => {
    call.prev!.next = call.next;
    if (call.next !== undefined) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next !== undefined) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node<I, O>): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next !== undefined) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next !== undefined) call.next.prev = call;
  };

  const words = Math.ceil(n / 32);
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const memoKey = (state: S): string => `${linearized.join(',')}|${model.key(state)}`;
  const stack: { call: Node<I, O>; state: S }[] = [];
  let state = model.init;
  let entry = head.next;
  let longest = 0;
  let steps = 0;

  while (head.next !== undefined) {
    if (++steps > maxSteps) return { outcome: 'unknown', longestPrefix: longest };
    if (entry === undefined) return { outcome: 'illegal', longestPrefix: longest };
    if (entry.isCall) {
      const op = entry.op!;
      const result = model.step(state, op.input, op.output);
      if (result.ok) {
        const word = entry.id >>> 5;
        const bit = 1 << (entry.id & 31);
        linearized[word]! |= bit;
        const key = memoKey(result.next);
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ call: entry, state });
          state = result.next;
          longest = Math.max(longest, stack.length);
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[word]! &= ~bit;
      }
      entry = entry.next;
    } else {
      // A return we cannot move past: its operation must already have taken effect. Backtrack.
      const top = stack.pop();
      if (top === undefined) return { outcome: 'illegal', longestPrefix: longest };
      state = top.state;
      linearized[top.call.id >>> 5]! &= ~(1 << (top.call.id & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { outcome: 'ok', longestPrefix: n };
}

/** Splits by `partition`, checks each part, and reports the first failure (parts in key order). */
export function checkPartitioned<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  partition: (op: Operation<I, O>) => string,
  maxStepsPerPartition = 1_000_000,
): CheckResult {
  const parts = new Map<string, Operation<I, O>[]>();
  for (const op of operations) {
    const key = partition(op);
    let list = parts.get(key);
    if (list === undefined) {
      list = [];
      parts.set(key, list);
    }
    list.push(op);
  }
  for (const key of [...parts.keys()].sort()) {
    const ops = parts.get(key)!;
    const result = checkOperations(model, ops, maxStepsPerPartition);
    if (result.outcome === 'illegal') return { outcome: 'illegal', partition: key, longestPrefix: result.longestPrefix, operations: ops.length };
    if (result.outcome === 'unknown') return { outcome: 'unknown', partition: key };
  }
  return { outcome: 'ok' };
}

/** A key-value store operation: put(key, value) or get(key) → value (null when absent). */
export type KvInput = { readonly kind: 'put'; readonly key: string; readonly value: string } | { readonly kind: 'get'; readonly key: string };
export type KvOutput = string | null;
export type KvOperation = Operation<KvInput, KvOutput>;

/** One key's register; used per partition by checkKvHistory. */
export const registerModel: Model<string | null, KvInput, KvOutput> = {
  init: null,
  step(state, input, output) {
    if (input.kind === 'put') return { ok: true, next: input.value };
    return { ok: output === state, next: state };
  },
  key(state) {
    return state === null ? '\u0000' : state;
  },
};

/**
 * Shrinks the search for writes with an unknown outcome, when every write of a key writes a value
 * no other write of that key writes (the simulator's writes do). Both steps keep the verdict:
 * - an unknown write whose value nobody read is dropped: it may as well take effect at the very
 *   end, where nobody observes it, and no read could have been linearized while it was in force;
 * - an unknown write somebody read must take effect before the first of those reads returns, so
 *   that becomes its return time.
 * Unknown writes are what make the search explode (each may go anywhere after its call).
 */
export function tightenUnknownWrites(operations: readonly KvOperation[]): KvOperation[] {
  const writers = new Map<string, number>();
  const firstReadReturn = new Map<string, number>();
  for (const op of operations) {
    if (op.input.kind === 'put') {
      const key = `${op.input.key}\u0000${op.input.value}`;
      writers.set(key, (writers.get(key) ?? 0) + 1);
    } else if (op.output !== null && op.returnMs !== Infinity) {
      const key = `${op.input.key}\u0000${op.output}`;
      firstReadReturn.set(key, Math.min(firstReadReturn.get(key) ?? Infinity, op.returnMs));
    }
  }
  for (const count of writers.values()) if (count > 1) return [...operations];
  const out: KvOperation[] = [];
  for (const op of operations) {
    if (op.input.kind !== 'put' || op.returnMs !== Infinity) {
      out.push(op);
      continue;
    }
    const readAt = firstReadReturn.get(`${op.input.key}\u0000${op.input.value}`);
    if (readAt !== undefined) out.push({ ...op, returnMs: Math.max(readAt, op.callMs) });
  }
  return out;
}

/** Checks a key-value history, key by key (after tightenUnknownWrites). */
export function checkKvHistory(operations: readonly KvOperation[], maxStepsPerKey = 1_000_000): CheckResult {
  return checkPartitioned(registerModel, tightenUnknownWrites(operations), (op) => op.input.key, maxStepsPerKey);
}
