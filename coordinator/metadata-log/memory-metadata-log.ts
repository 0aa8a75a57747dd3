/**
 * A MetadataLog in memory, for tests and simulations of code that follows the log (brokers, caches).
 * Same contract as LocalMetadataLog (offsets, ordering, listener timing, errors) without a disk:
 * commands still go through the byte encoding, so what readers see is what a real log would return.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, type MetadataRecord, decodeMetadataCommand, encodeMetadataCommand } from '../metadata/commands.js';
import { type Logger, silentLogger } from '../logger.js';
import { abortReason, asError } from '../metadata/abort.js';
import { CommitListeners } from './commit-listeners.js';
import { type MetadataAppendOptions, type MetadataLog, MAX_READ_RECORDS } from './metadata-log.js';

export class MemoryMetadataLog implements MetadataLog {
  readonly #records: MetadataRecord[] = [];
  readonly #listeners: CommitListeners;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Number of read() calls so far; lets tests prove that a follower does not poll. */
  readCount = 0;

  constructor(options: { readonly logger?: Logger } = {}) {
    this.#listeners = new CommitListeners(options.logger ?? silentLogger);
  }

  get committedOffset(): number {
    return this.#records.length - 1;
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
      const first = this.#records.length;
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
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0 || fromOffset > this.#records.length) {
      return Promise.reject(
        new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, `metadata offset ${fromOffset} is outside the log (0..${this.#records.length})`),
      );
    }
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, `maxRecords must be a whole number ≥ 1, got ${maxRecords}`));
    }
    return Promise.resolve(this.#records.slice(fromOffset, fromOffset + Math.min(maxRecords, MAX_READ_RECORDS)));
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
