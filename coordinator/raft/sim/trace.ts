/**
 * The trace of a simulated run: a running hash of every event, the last few hundred events kept
 * for printing, and the failure report that names the seed and the command replaying it.
 *
 * Two runs of one seed must hash the same, event for event; that is how the suite proves a failure
 * replays exactly. Deliveries, by far the most common event, are hashed from their numbers and
 * formatted only when a failure is printed, which keeps tracing cheap enough to leave on.
 */
import type { Message } from '../types.js';
import type { SimResult } from './options.js';

const TRACE_TAIL = 300;

interface TraceItem {
  readonly timeMs: number;
  readonly text: string | undefined;
  readonly message: Message | undefined;
}

const MESSAGE_CODES: Readonly<Record<Message['type'], number>> = {
  append: 1,
  'append-response': 2,
  heartbeat: 3,
  'heartbeat-response': 4,
  'pre-vote': 5,
  'pre-vote-response': 6,
  vote: 7,
  'vote-response': 8,
  snapshot: 9,
  'timeout-now': 10,
  'read-index': 11,
  'read-index-response': 12,
};

export class Trace {
  #hash = 0x811c9dc5;
  readonly #tail: TraceItem[] = [];
  #tailNext = 0;

  /** A rare event (fault, election, client outcome): hashed and kept as text. */
  line(timeMs: number, line: string): void {
    let h = this.#hash;
    for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
    this.#hash = h >>> 0;
    this.#remember({ timeMs, text: line, message: undefined });
  }

  /** A delivery, the common event: hashed from its numbers, formatted only if a failure is printed. */
  delivery(timeMs: number, m: Message): void {
    let h = this.#hash;
    h = Math.imul(h ^ (timeMs * 1000), 0x01000193);
    h = Math.imul(h ^ MESSAGE_CODES[m.type], 0x01000193);
    h = Math.imul(h ^ m.from, 0x01000193);
    h = Math.imul(h ^ m.to, 0x01000193);
    h = Math.imul(h ^ m.term, 0x01000193);
    if (m.type === 'append') h = Math.imul(h ^ (m.prevIndex * 31 + m.entries.length), 0x01000193);
    else if (m.type === 'append-response') h = Math.imul(h ^ (m.index * 2 + (m.reject ? 1 : 0)), 0x01000193);
    this.#hash = h >>> 0;
    this.#remember({ timeMs, text: undefined, message: m });
  }

  /** The hash of every event so far, as 8 hex digits. */
  get hash(): string {
    return (this.#hash >>> 0).toString(16).padStart(8, '0');
  }

  /** The last events, oldest first, formatted. */
  tailLines(): string[] {
    const items = [...this.#tail.slice(this.#tailNext), ...this.#tail.slice(0, this.#tailNext)];
    return items.map((item) => `${item.timeMs.toFixed(3)} ${item.text ?? `deliver ${describeMessage(item.message!)}`}`);
  }

  #remember(item: TraceItem): void {
    this.#tail[this.#tailNext] = item;
    this.#tailNext = (this.#tailNext + 1) % TRACE_TAIL;
  }
}

/** A failed run, printed so it can be replayed: the seed, every option, and the last events. */
export function describeFailure(result: SimResult, tailLines = 60): string {
  const { seed, bugs } = result.options;
  const bugNames = Object.entries(bugs)
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  const bugEnv = bugNames.length === 0 ? '' : ` STREAMBUS_RAFT_BUGS=${bugNames.join(',')}`;
  return [
    `raft simulation seed ${seed} failed: ${result.violation ?? 'no violation'}`,
    `replay: STREAMBUS_RAFT_SEED=${seed}${bugEnv} npx vitest run coordinator/raft/sim/simulator.test.ts -t "replays one seed"`,
    `options: ${JSON.stringify(result.options)}`,
    `stats: ${JSON.stringify(result.stats)}`,
    `trace hash ${result.traceHash}; last events:`,
    ...result.traceTail.slice(-tailLines),
  ].join('\n');
}

function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'append':
      return `${head} prev=${m.prevIndex}/${m.prevTerm} n=${m.entries.length} commit=${m.commit}`;
    case 'append-response':
      return `${head} index=${m.index}${m.reject ? ` reject hint=${m.hintIndex}/${m.hintTerm}` : ''}`;
    case 'heartbeat':
      return `${head} commit=${m.commit} read=${m.readSeq}`;
    case 'heartbeat-response':
      return `${head} read=${m.readSeq}`;
    case 'vote':
    case 'pre-vote':
      return `${head} last=${m.lastIndex}/${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'vote-response':
    case 'pre-vote-response':
      return `${head}${m.reject ? ' reject' : ' grant'}`;
    case 'snapshot':
      return `${head} at=${m.snapshot.meta.index}/${m.snapshot.meta.term} voters=${m.snapshot.meta.voters.join(',')}`;
    case 'read-index':
    case 'read-index-response':
      return `${head} ctx=${m.context}`;
    case 'timeout-now':
      return head;
  }
}
