/**
 * Fan-out of committed records to onCommit listeners, shared by the MetadataLog implementations so
 * they notify in exactly the same way.
 */
import type { MetadataRecord } from '../metadata/commands.js';
import { type Logger, silentLogger } from '../logger.js';

export type CommitListener = (records: readonly MetadataRecord[]) => void;

export class CommitListeners {
  readonly #listeners = new Set<CommitListener>();

  constructor(private readonly logger: Logger = silentLogger) {}

  add(listener: CommitListener): () => void {
    // Wrapping gives each subscription its own identity, so subscribing one function twice and
    // unsubscribing once leaves the other subscription in place.
    const entry: CommitListener = (records) => listener(records);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  notify(records: readonly MetadataRecord[]): void {
    if (records.length === 0) return;
    this.#each(records);
  }

  /**
   * Tells every listener that the log replaced records they were not given with a snapshot (its
   * startOffset moved past them): they get an empty batch and must load the snapshot.
   */
  notifySnapshot(): void {
    this.#each([]);
  }

  #each(records: readonly MetadataRecord[]): void {
    // A snapshot of the set: a listener that unsubscribes others mid-notify does not skip anyone.
    for (const listener of [...this.#listeners]) {
      try {
        listener(records);
      } catch (error) {
        // A throwing listener is a bug. The commit has happened and the other listeners must still
        // see it, so report and rethrow outside this call stack instead of failing the append.
        this.logger.error({ err: error, firstOffset: records[0]?.offset }, 'metadata commit listener threw');
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
