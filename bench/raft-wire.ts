/**
 * Micro-benchmark of the Raft wire codec (coordinator/raft/transport/wire.ts): encode + decode of
 * the small messages a steady cluster sends most (heartbeats and their responses, appends carrying
 * one small entry, append acks), and of an append batching 64 entries of 100 B.
 *
 * The figure that matters is messages/s for a whole frame encode plus a body decode, the work one
 * message costs the sender and the receiver together (the brief asks for at least 50,000/s).
 * Run: npm run build && node dist/bench/raft-wire.js [secondsPerCase]
 */
import { decodeRaftMessage, encodeRaftMessageFrame } from '../coordinator/raft/transport/wire.js';
import type { Entry, Message } from '../coordinator/raft/index.js';
import { FRAME_HEADER_BYTES } from '../proto/framing.js';

const secondsPerCase = Number(process.argv[2] ?? '1');

function entries(count: number, dataBytes: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ kind: 'normal' as const, index: 1_000_001 + i, term: 12, data: new Uint8Array(dataBytes).fill(i & 0xff) }));
}

const cases: readonly [string, Message][] = [
  ['heartbeat', { type: 'heartbeat', from: 1, to: 2, term: 12, commit: 1_000_000, readSeq: 4_711 }],
  ['heartbeat-response', { type: 'heartbeat-response', from: 2, to: 1, term: 12, readSeq: 4_711 }],
  ['append, 1 entry of 100 B', { type: 'append', from: 1, to: 2, term: 12, prevIndex: 1_000_000, prevTerm: 12, commit: 999_999, entries: entries(1, 100) }],
  ['append-response', { type: 'append-response', from: 2, to: 1, term: 12, index: 1_000_001, reject: false, hintIndex: 0, hintTerm: 0 }],
  ['append, 64 entries of 100 B', { type: 'append', from: 1, to: 2, term: 12, prevIndex: 1_000_000, prevTerm: 12, commit: 999_999, entries: entries(64, 100) }],
];

function measure(label: string, message: Message): number {
  const roundTrip = (): void => {
    const frame = encodeRaftMessageFrame(message);
    decodeRaftMessage(frame.subarray(FRAME_HEADER_BYTES));
  };
  for (let i = 0; i < 2_000; i++) roundTrip(); // warm up the JIT
  const started = performance.now();
  const deadline = started + secondsPerCase * 1000;
  let ops = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 100; i++) roundTrip();
    ops += 100;
  }
  const perSecond = ops / ((performance.now() - started) / 1000);
  const size = encodeRaftMessageFrame(message).length;
  console.log(`${label.padEnd(30)} ${String(size).padStart(6)} B/frame  ${Math.round(perSecond).toLocaleString('en-US').padStart(11)} messages/s encode+decode`);
  return perSecond;
}

function main(): void {
  console.log(`Raft wire codec, ${secondsPerCase} s per case, Node ${process.version}`);
  const small: number[] = [];
  for (const [label, message] of cases) {
    const rate = measure(label, message);
    if (message.type !== 'append' || message.entries.length <= 1) small.push(rate);
  }
  console.log(`slowest small message: ${Math.round(Math.min(...small)).toLocaleString('en-US')} messages/s`);
}

main();
