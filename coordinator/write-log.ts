/**
 * The info lines of topic admin writes: one per kind of write per 100 ms rather than one per write.
 *
 * The process logger writes synchronously (the last lines before a crash are the ones that explain
 * it), so each line is a write(2) on the event loop. At thousands of metadata writes a second, a
 * line per write cost about a tenth of the leader's CPU and woke whatever reads its stdout once per
 * write; a line per Raft round (one event-loop turn) still put a write(2) in every round. The writes
 * of one kind within FLUSH_DELAY_MS of the first now share a line that names every topic they
 * touched and the range of offsets they got. A lone write logs exactly what a single write always
 * logged, `{ topics, metadataOffset }` with the same message, at most FLUSH_DELAY_MS later.
 */
import type { Logger } from './logger.js';

/** Most distinct topic names one coalesced line lists; the rest are counted. */
const MAX_TOPICS_PER_LINE = 100;
/** How long a recorded write may wait for others to share its line. */
export const FLUSH_DELAY_MS = 100;

interface Pending {
  readonly topics: Set<string>;
  writes: number;
  firstMetadataOffset: number;
  metadataOffset: number;
}

export class WriteLog {
  readonly #logger: Logger;
  /** Keyed by the line's message ("altered topic configs"...), in first-seen order. */
  readonly #pending = new Map<string, Pending>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Notes one applied write of kind `what` that touched `topics` and ended at `metadataOffset`. */
  record(what: string, topics: readonly string[], metadataOffset: number): void {
    let pending = this.#pending.get(what);
    if (pending === undefined) {
      pending = { topics: new Set(), writes: 0, firstMetadataOffset: metadataOffset, metadataOffset };
      this.#pending.set(what, pending);
    }
    for (const topic of topics) pending.topics.add(topic);
    pending.writes++;
    pending.firstMetadataOffset = Math.min(pending.firstMetadataOffset, metadataOffset);
    pending.metadataOffset = Math.max(pending.metadataOffset, metadataOffset);
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
    // A pending line must not keep a finished process alive; close() flushes it.
    this.#timer.unref();
  }

  /** Logs what was recorded since the last flush, at once. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [what, pending] of this.#pending) {
      const topics = [...pending.topics];
      if (pending.writes === 1) {
        this.#logger.info({ topics, metadataOffset: pending.metadataOffset }, what);
        continue;
      }
      const listed = topics.slice(0, MAX_TOPICS_PER_LINE);
      this.#logger.info(
        {
          topics: listed,
          ...(topics.length > listed.length ? { moreTopics: topics.length - listed.length } : {}),
          writes: pending.writes,
          firstMetadataOffset: pending.firstMetadataOffset,
          metadataOffset: pending.metadataOffset,
        },
        what,
      );
    }
    this.#pending.clear();
  }
}
