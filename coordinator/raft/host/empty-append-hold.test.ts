import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../index.js';
import { EmptyAppendHold } from './empty-append-hold.js';

const append = (to: number, commit: number, entries = 0): Message => ({
  type: 'append',
  from: 1,
  to,
  term: 2,
  prevIndex: 10,
  prevTerm: 2,
  entries: Array.from({ length: entries }, (_, i) => ({ kind: 'normal' as const, index: 11 + i, term: 2, data: new Uint8Array(1) })),
  commit,
});
const heartbeat = (to: number): Message => ({ type: 'heartbeat', from: 1, to, term: 2, commit: 9, readSeq: 0 });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let hold: EmptyAppendHold | undefined;
afterEach(() => hold?.stop());

function recording(holdMs: number): { hold: EmptyAppendHold; sent: Message[][] } {
  const sent: Message[][] = [];
  hold = new EmptyAppendHold((messages) => sent.push([...messages]), holdMs);
  return { hold, sent };
}

describe('raft host > empty append hold', () => {
  it('sends appends with entries and every other message at once, in order, and holds empty appends until the hold ends', async () => {
    const { hold, sent } = recording(20);
    hold.send([append(2, 5, 1), heartbeat(3), append(3, 5)]);
    expect(sent).toEqual([[append(2, 5, 1), heartbeat(3)]]);
    await sleep(60);
    expect(sent).toEqual([[append(2, 5, 1), heartbeat(3)], [append(3, 5)]]);
  });

  it('drops a held empty append once an append with entries goes to the same node, and keeps only the latest per node', async () => {
    const { hold, sent } = recording(20);
    hold.send([append(2, 5), append(3, 5)]);
    hold.send([append(2, 6, 2), append(3, 7)]);
    expect(sent).toEqual([[append(2, 6, 2)]]);
    await sleep(60);
    // Node 2's commit news rode on its append; node 3 gets only its latest empty append.
    expect(sent).toEqual([[append(2, 6, 2)], [append(3, 7)]]);
  });

  it('sends what it holds on flush, drops it on stop, and sends everything at once with a hold of 0', async () => {
    const flushed = recording(1000);
    flushed.hold.send([append(2, 5)]);
    flushed.hold.flush();
    expect(flushed.sent).toEqual([[append(2, 5)]]);
    flushed.hold.send([append(3, 6)]);
    flushed.hold.stop();
    await sleep(20);
    expect(flushed.sent).toEqual([[append(2, 5)]]);
    const direct = recording(0);
    direct.hold.send([append(2, 5), heartbeat(3)]);
    expect(direct.sent).toEqual([[append(2, 5), heartbeat(3)]]);
  });
});
