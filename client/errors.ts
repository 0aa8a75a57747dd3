/**
 * Client-side errors. Every operating error is a StreamBusError (proto/errors.ts); admin calls
 * that act on several topics or partitions add AdminError, which says which items failed and why.
 */
import { StreamBusError } from '../proto/errors.js';

/** One topic (or partition) an admin call could not act on. */
export interface ItemFailure {
  readonly topic: string;
  readonly partition?: number;
  readonly error: StreamBusError;
}

/**
 * An admin call failed for some of its items. `failures` lists each failed topic or partition with
 * its own typed error; items not listed succeeded (the call is not atomic across topics). `code`,
 * `codeName` and `retriable` are those of the first failure, so a single-topic call reads like a
 * plain StreamBusError.
 */
export class AdminError extends StreamBusError {
  readonly operation: string;
  readonly failures: readonly ItemFailure[];

  constructor(operation: string, failures: readonly ItemFailure[], total: number) {
    const first = failures[0]!;
    const listed = failures
      .slice(0, 10)
      .map((f) => `${f.partition === undefined ? f.topic : `${f.topic}-${f.partition}`}: ${f.error.codeName} (${f.error.message})`)
      .join('; ');
    const more = failures.length > 10 ? `; and ${failures.length - 10} more` : '';
    super(first.error.code, `${operation} failed for ${failures.length} of ${total}: ${listed}${more}`, {
      cause: first.error,
      context: first.error.context,
    });
    this.name = 'AdminError';
    this.operation = operation;
    this.failures = failures;
  }
}
