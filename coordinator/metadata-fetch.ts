/**
 * The coordinator's metadata reads for followers (fetchMetadata): committed records from an
 * offset, or the snapshot when that offset was compacted away, with a long poll at the end of the
 * log that answers at the next commit, after its wait, on abort, or when the coordinator closes.
 */
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import type { RaftMetadataLog } from './metadata-log/raft-metadata-log.js';
import { MAX_READ_RECORDS } from './metadata-log/metadata-log.js';
import type { MetadataFetchResult } from './service/coordinator-api.js';
import type { AdminOptions } from './coordinator-options.js';

export interface MetadataFetcherOptions {
  readonly nodeId: number;
  readonly log: RaftMetadataLog;
  /** The longest a long poll waits, whatever it asks. */
  readonly fetchMaxWaitMs: number;
  /** Why the coordinator takes no more calls (failed or closing), or undefined. */
  readonly refusal: () => StreamBusError | undefined;
}

export class MetadataFetcher {
  readonly #nodeId: number;
  readonly #log: RaftMetadataLog;
  readonly #fetchMaxWaitMs: number;
  readonly #refusal: () => StreamBusError | undefined;
  /** Long polls, woken early on close. */
  readonly #polls = new Set<() => void>();

  constructor(options: MetadataFetcherOptions) {
    this.#nodeId = options.nodeId;
    this.#log = options.log;
    this.#fetchMaxWaitMs = options.fetchMaxWaitMs;
    this.#refusal = options.refusal;
  }

  async fetchMetadata(fromOffset: number, maxRecords: number, maxWaitMs: number, options: AdminOptions): Promise<MetadataFetchResult> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) {
      throw new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `metadata offset ${fromOffset} is not a whole number ≥ 0`);
    }
    const wait = Math.min(Math.max(0, Number.isFinite(maxWaitMs) ? maxWaitMs : 0), this.#fetchMaxWaitMs);
    if (fromOffset === this.#log.committedOffset + 1 && wait > 0) await this.#nextCommit(wait, options.signal);
    return this.#readFrom(fromOffset, maxRecords);
  }

  /** Answers every long poll now (the coordinator is closing). */
  wakeAll(): void {
    for (const wake of [...this.#polls]) wake();
  }

  async #readFrom(fromOffset: number, maxRecords: number): Promise<MetadataFetchResult> {
    const log = this.#log;
    if (fromOffset < log.startOffset) {
      const found = await log.snapshot();
      if (found === undefined) {
        throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, `the metadata log starts at ${log.startOffset} but holds no snapshot`);
      }
      return { kind: 'snapshot', startOffset: log.startOffset, committedOffset: log.committedOffset, offset: found.offset, snapshot: found.snapshot };
    }
    if (fromOffset > log.committedOffset + 1) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `metadata offset ${fromOffset} is past the end of node ${this.#nodeId}'s committed log (next offset ${log.committedOffset + 1})`,
      );
    }
    const count = Math.min(Math.max(1, Number.isSafeInteger(maxRecords) ? maxRecords : 1), MAX_READ_RECORDS);
    const records = await log.read(fromOffset, count);
    return { kind: 'records', startOffset: log.startOffset, committedOffset: log.committedOffset, records };
  }

  /** Resolves at the next commit (or snapshot install), after `ms`, on abort, or on close. */
  #nextCommit(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', done);
        this.#polls.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const unsubscribe = this.#log.onCommit(done);
      signal?.addEventListener('abort', done, { once: true });
      this.#polls.add(done);
    });
  }
}
