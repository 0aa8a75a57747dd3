/**
 * A MetadataLog in memory, for tests and simulations of code that follows the log (brokers, caches).
 * Same contract as LocalMetadataLog (offsets, ordering, listener timing, errors) without a disk:
 * commands still go through the byte encoding, so what readers see is what a real log would return.
 *
 * Unlike LocalMetadataLog it can compact, as a Raft log does: compact(offset) folds the records up
 * to `offset` into a snapshot and drops them, so startOffset moves and followers that are behind
 * must load the snapshot. That is the path a broker takes when it falls behind a replicated log.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, type MetadataRecord, decodeMetadataCommand, encodeMetadataCommand } from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';
import { type Logger, silentLogger } from '../logger.js';
import { abortReason, asError } from '../metadata/abort.js';
import { CommitListeners } from './commit-listeners.js';
import { type MetadataAppendOptions, type MetadataLog, type MetadataLogSnapshot, MAX_READ_RECORDS } from './metadata-log.js';

export class MemoryMetadataLog implements MetadataLog {
  /** Records from startOffset on: #records[i] has offset #startOffset + i. */
  #records: MetadataRecord[] = [];
  #startOffset = 0;
  #snapshot: MetadataLogSnapshot | undefined;
  readonly #listeners: CommitListeners;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Number of read() calls so far; lets tests prove that a follower does not poll. */
  readCount = 0;

  constructor(options: { readonly logger?: Logger } = {}) {
    this.#listeners = new CommitListeners(options.logger ?? silentLogger);
  }

  get committedOffset(): number {
    return this.#startOffset + this.#records.length - 1;
  }

  get startOffset(): number {
    return this.#startOffset;
  }

  append(commands: readonly MetadataCommand[], options: MetadataAppendOptions = {}): Promise<number[]> {
    if (this.#closed) return Promise.reject(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed'));
    if (options.signal?.aborted === true) return Promise.reject(abortReason(options.signal));
    let payloads: Uint8Array[];
    try {
      payloads = commands.map((command) => encodeMetadataCommand(command));
    } catch (error) {
      return Promise.reject(asError(error));
    }
    if (payloads.length === 0) return Promise.resolve([]);
    // Commit on a later turn, in call order, as a disk write would.
    const result = this.#tail.then(() => {
      if (this.#closed) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed');
      const first = this.committedOffset + 1;
      const records = payloads.map((payload, i) => ({ offset: first + i, command: decodeMetadataCommand(payload) }));
      this.#records.push(...records);
      this.#listeners.notify(records);
      return records.map((r) => r.offset);
    });
    this.#tail = result.catch(() => undefined);
    return result;
  }

  read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]> {
    this.readCount++;
    if (this.#closed) return Promise.reject(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed'));
    const end = this.committedOffset + 1;
    if (!Number.isSafeInteger(fromOffset) || fromOffset < this.#startOffset || fromOffset > end) {
      return Promise.reject(
        new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `metadata offset ${fromOffset} is outside the log (${this.#startOffset}..${end})`),
      );
    }
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, `maxRecords must be a whole number ≥ 1, got ${maxRecords}`));
    }
    const from = fromOffset - this.#startOffset;
    return Promise.resolve(this.#records.slice(from, from + Math.min(maxRecords, MAX_READ_RECORDS)));
  }

  snapshot(): Promise<MetadataLogSnapshot | undefined> {
    if (this.#closed) return Promise.reject(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed'));
    return Promise.resolve(this.#snapshot);
  }

  /**
   * Replaces the records up to and including `throughOffset` with a snapshot of the state they
   * build (on top of the previous snapshot), as a Raft node does after taking one; startOffset
   * becomes throughOffset + 1. Throws StreamBusError OFFSET_OUT_OF_RANGE for an offset that is not
   * committed or already compacted, and SHUTTING_DOWN after close().
   */
  compact(throughOffset: number): MetadataLogSnapshot {
    if (this.#closed) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed');
    if (!Number.isSafeInteger(throughOffset) || throughOffset < this.#startOffset || throughOffset > this.committedOffset) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `cannot compact through offset ${throughOffset}: the log holds ${this.#startOffset}..${this.committedOffset}`,
      );
    }
    const state = this.#snapshot === undefined ? MetadataState.empty() : MetadataState.restore(this.#snapshot.snapshot);
    const covered = throughOffset - this.#startOffset + 1;
    for (const record of this.#records.slice(0, covered)) state.apply(record);
    this.#snapshot = { offset: throughOffset, snapshot: state.snapshot() };
    this.#records = this.#records.slice(covered);
    this.#startOffset = throughOffset + 1;
    return this.#snapshot;
  }

  /**
   * Takes a snapshot from elsewhere, as a Raft follower takes its leader's InstallSnapshot: records
   * up to `installed.offset` are dropped, and when the snapshot reaches past the log's end the log
   * continues after it. Listeners get an empty batch at once (see MetadataLog.onCommit). Throws
   * StreamBusError CORRUPT_MESSAGE (or UNSUPPORTED_VERSION) for a snapshot that does not restore or
   * whose offset disagrees with its lastAppliedOffset, OFFSET_OUT_OF_RANGE for one older than the
   * log's start.
   */
  installSnapshot(installed: MetadataLogSnapshot): void {
    if (this.#closed) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed');
    const restored = MetadataState.restore(installed.snapshot);
    if (restored.lastAppliedOffset !== installed.offset) {
      throw new StreamBusError(
        ErrorCode.CORRUPT_MESSAGE,
        `snapshot offset ${installed.offset} differs from its lastAppliedOffset ${restored.lastAppliedOffset}`,
      );
    }
    if (installed.offset < this.#startOffset - 1) {
      throw new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `snapshot at ${installed.offset} is older than the log start ${this.#startOffset}`);
    }
    const covered = Math.min(this.#records.length, installed.offset - this.#startOffset + 1);
    this.#records = this.#records.slice(covered);
    this.#snapshot = { offset: installed.offset, snapshot: restored.snapshot() };
    this.#startOffset = installed.offset + 1;
    this.#listeners.notifySnapshot();
  }

  onCommit(listener: (records: readonly MetadataRecord[]) => void): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.#tail;
  }
}
