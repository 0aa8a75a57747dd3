/**
 * The single-node metadata log: a classic-level database in its own directory.
 *
 * Durability: each append call is one LevelDB batch written with sync (fsync) before its promise
 * resolves, so a resolved append survives a crash or power loss; LevelDB applies a batch atomically,
 * so a crash never leaves half of one. Appends are written one at a time in call order.
 *
 * Integrity: every record carries a CRC-32C (record-codec.ts). open() checks the whole log (the
 * metadata log is small, and the coordinator replays all of it anyway): offsets must be contiguous,
 * every checksum must match and every command must decode. Anything else refuses to start with an
 * error naming the offset, because silently dropping a corrupt tail would drop committed metadata
 * (topics would vanish and their ids could be reused). read() checks again on the way out.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { type MetadataCommand, type MetadataRecord, decodeMetadataCommand, encodeMetadataCommand } from '../metadata/commands.js';
import { type Logger, silentLogger } from '../logger.js';
import { abortReason, asError } from '../metadata/abort.js';
import { CommitListeners } from './commit-listeners.js';
import { type MetadataAppendOptions, type MetadataLog, type MetadataLogSnapshot, MAX_READ_RECORDS } from './metadata-log.js';
import {
  FORMAT_KEY,
  LOG_FORMAT_VERSION,
  RECORD_KEY_END,
  RECORD_KEY_MIN,
  decodeRecordValue,
  encodeRecordValue,
  offsetOfKey,
  recordKey,
} from './record-codec.js';

export interface LocalMetadataLogOptions {
  /** The directory of this log's database; created if missing. Nothing else may live in it. */
  readonly dir: string;
  readonly logger?: Logger;
  /** Largest encoded command. Default 4 MiB (a 10 000-partition create-topic is about 1 MiB). */
  readonly maxRecordBytes?: number;
  /** Most commands in one append call. Default 10 000. */
  readonly maxCommandsPerAppend?: number;
  /** Most append calls waiting to be written; more fail with THROTTLING_QUOTA_EXCEEDED. Default 1024. */
  readonly maxQueuedAppends?: number;
}

interface PendingAppend {
  readonly commands: readonly MetadataCommand[];
  readonly payloads: readonly Uint8Array[];
  readonly resolve: (offsets: number[]) => void;
  readonly reject: (error: Error) => void;
  started: boolean;
  settled: boolean;
  detach: () => void;
}

type Db = ClassicLevel<Uint8Array, Uint8Array>;

function storageError(message: string, cause?: unknown): StreamBusError {
  return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, message, cause === undefined ? undefined : { cause });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class LocalMetadataLog implements MetadataLog {
  readonly dir: string;
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #listeners: CommitListeners;
  readonly #maxRecordBytes: number;
  readonly #maxCommandsPerAppend: number;
  readonly #maxQueuedAppends: number;
  readonly #queue: PendingAppend[] = [];
  readonly #startOffset: number;
  #committedOffset: number;
  #draining: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #failure: StreamBusError | undefined;

  private constructor(db: Db, options: LocalMetadataLogOptions, startOffset: number, committedOffset: number) {
    this.dir = options.dir;
    this.#db = db;
    this.#logger = options.logger ?? silentLogger;
    this.#listeners = new CommitListeners(this.#logger);
    this.#maxRecordBytes = options.maxRecordBytes ?? 4 * 1024 * 1024;
    this.#maxCommandsPerAppend = options.maxCommandsPerAppend ?? 10_000;
    this.#maxQueuedAppends = options.maxQueuedAppends ?? 1024;
    this.#startOffset = startOffset;
    this.#committedOffset = committedOffset;
  }

  /**
   * Opens (or creates) the log in `options.dir` and verifies every record. Rejects with
   * KAFKA_STORAGE_ERROR if the directory cannot be opened (for example another process holds it)
   * or any record is corrupt, missing or truncated; the message names the offset.
   */
  static async open(options: LocalMetadataLogOptions): Promise<LocalMetadataLog> {
    const logger = options.logger ?? silentLogger;
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (cause) {
      throw storageError(`cannot create the metadata log directory ${options.dir}: ${describe(cause)}`, cause);
    }
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(options.dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (cause) {
      const locked = (cause as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED';
      throw storageError(
        locked
          ? `the metadata log at ${options.dir} is in use by another process or instance`
          : `cannot open the metadata log at ${options.dir}: ${describe(cause)}`,
        cause,
      );
    }
    try {
      const { startOffset, committedOffset } = await verify(db, options.dir);
      logger.info({ dir: options.dir, startOffset, committedOffset }, 'metadata log opened');
      return new LocalMetadataLog(db, options, startOffset, committedOffset);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  get committedOffset(): number {
    return this.#committedOffset;
  }

  /** The offset of the first record kept; 0 until snapshots allow older records to be removed. */
  get startOffset(): number {
    return this.#startOffset;
  }

  append(commands: readonly MetadataCommand[], options: MetadataAppendOptions = {}): Promise<number[]> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (!Array.isArray(commands)) return Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, 'append takes an array of commands'));
    if (commands.length === 0) return Promise.resolve([]);
    if (commands.length > this.#maxCommandsPerAppend) {
      return Promise.reject(
        new StreamBusError(ErrorCode.INVALID_REQUEST, `${commands.length} commands in one append; the limit is ${this.#maxCommandsPerAppend}`),
      );
    }
    if (this.#queue.length >= this.#maxQueuedAppends) {
      return Promise.reject(
        new StreamBusError(ErrorCode.THROTTLING_QUOTA_EXCEEDED, `${this.#queue.length} metadata appends are already waiting; retry later`),
      );
    }
    let payloads: Uint8Array[];
    try {
      // Encoding validates each command's structure, so nothing malformed is queued.
      const list: readonly MetadataCommand[] = commands;
      payloads = list.map((command) => encodeMetadataCommand(command));
    } catch (error) {
      return Promise.reject(asError(error));
    }
    const tooLarge = payloads.findIndex((p) => p.length > this.#maxRecordBytes);
    if (tooLarge !== -1) {
      return Promise.reject(
        new StreamBusError(
          ErrorCode.INVALID_REQUEST,
          `metadata command ${tooLarge} encodes to ${payloads[tooLarge]?.length} bytes; the limit is ${this.#maxRecordBytes}`,
        ),
      );
    }
    return new Promise<number[]>((resolve, reject) => {
      const pending: PendingAppend = { commands, payloads, resolve, reject, started: false, settled: false, detach: () => undefined };
      if (signal !== undefined) {
        const onAbort = (): void => {
          if (pending.started || pending.settled) return;
          pending.settled = true;
          this.#queue.splice(this.#queue.indexOf(pending), 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(pending);
      this.#draining ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        next.started = true;
        next.detach();
        await this.#write(next);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #write(pending: PendingAppend): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) {
      pending.settled = true;
      pending.reject(refused);
      return;
    }
    const first = this.#committedOffset + 1;
    const values = pending.payloads.map((payload, i) => encodeRecordValue(first + i, payload));
    try {
      await this.#db.batch(
        values.map((value, i) => ({ type: 'put' as const, key: recordKey(first + i), value })),
        { sync: true },
      );
    } catch (cause) {
      // After a failed sync write LevelDB's state on disk is unknown; fail closed for good.
      this.#failure = storageError(`writing metadata records from offset ${first} to ${this.dir} failed: ${describe(cause)}`, cause);
      this.#logger.error({ err: cause, dir: this.dir, firstOffset: first }, 'metadata log write failed; refusing further appends');
      pending.settled = true;
      pending.reject(this.#failure);
      return;
    }
    // Listeners get what a later read() would return: decoded from the bytes now on disk.
    const records: MetadataRecord[] = pending.payloads.map((payload, i) => ({ offset: first + i, command: decodeMetadataCommand(payload) }));
    this.#committedOffset = first + records.length - 1;
    this.#listeners.notify(records);
    pending.settled = true;
    pending.resolve(records.map((r) => r.offset));
  }

  async read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]> {
    const refused = this.#closing !== undefined ? new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed') : undefined;
    if (refused !== undefined) throw refused;
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `read offset must be a whole number ≥ 0, got ${fromOffset}`);
    }
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `maxRecords must be a whole number ≥ 1, got ${maxRecords}`);
    }
    const committed = this.#committedOffset;
    if (fromOffset < this.#startOffset || fromOffset > committed + 1) {
      throw new StreamBusError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `metadata offset ${fromOffset} is outside the log (${this.#startOffset}..${committed + 1})`,
      );
    }
    const last = Math.min(committed, fromOffset + Math.min(maxRecords, MAX_READ_RECORDS) - 1);
    if (last < fromOffset) return [];
    const records: MetadataRecord[] = [];
    try {
      const entries = await this.#db.iterator({ gte: recordKey(fromOffset), lte: recordKey(last) }).all();
      for (const [key, value] of entries) {
        const expected = fromOffset + records.length;
        const offset = offsetOfKey(key);
        if (offset !== expected) throw corrupt(this.dir, expected, offset === undefined ? 'unexpected key' : `record ${expected} is missing`);
        records.push({ offset, command: decodeOrThrow(this.dir, offset, value) });
      }
    } catch (error) {
      if (this.#closing !== undefined) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log closed during the read', { cause: error });
      if (error instanceof StreamBusError) throw error;
      throw storageError(`reading the metadata log at ${this.dir} from offset ${fromOffset} failed: ${describe(error)}`, error);
    }
    // The paired check: what comes back must be exactly the committed range asked for.
    if (records.length !== last - fromOffset + 1) throw corrupt(this.dir, fromOffset + records.length, 'record is missing');
    return records;
  }

  /**
   * Always undefined: this log keeps every record (startOffset stays 0), so a follower never needs
   * a snapshot. Rejects with SHUTTING_DOWN after close().
   */
  snapshot(): Promise<MetadataLogSnapshot | undefined> {
    if (this.#closing !== undefined) return Promise.reject(new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed'));
    return Promise.resolve(undefined);
  }

  onCommit(listener: (records: readonly MetadataRecord[]) => void): () => void {
    return this.#listeners.add(listener);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const shutdown = new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closing');
    for (const pending of this.#queue.splice(0)) {
      pending.settled = true;
      pending.detach();
      pending.reject(shutdown);
    }
    await this.#draining;
    this.#listeners.clear();
    await this.#db.close();
    this.#logger.info({ dir: this.dir, committedOffset: this.#committedOffset }, 'metadata log closed');
  }

  #refusal(): StreamBusError | undefined {
    if (this.#closing !== undefined) return new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed');
    return this.#failure;
  }
}

function corrupt(dir: string, offset: number, reason: string, cause?: unknown): StreamBusError {
  return storageError(
    `the metadata log at ${dir} is corrupt at offset ${offset}: ${reason}. Refusing to start rather than drop ` +
      'committed metadata; restore this directory from a backup (or, in a replicated cluster, rebuild this node from its peers)',
    cause,
  );
}

function decodeOrThrow(dir: string, offset: number, value: Uint8Array): MetadataCommand {
  try {
    return decodeRecordValue(offset, value);
  } catch (error) {
    throw corrupt(dir, offset, describe(error), error);
  }
}

/** Checks the format marker and every record; returns the offset range. */
async function verify(db: Db, dir: string): Promise<{ startOffset: number; committedOffset: number }> {
  const format = await db.get(FORMAT_KEY);
  // Records start at offset 0: nothing removes old records yet (snapshots will, and will record the
  // new start), so a log that starts later has lost its head.
  const startOffset = 0;
  let expected = startOffset;
  for await (const [key, value] of db.iterator({ gte: RECORD_KEY_MIN, lt: RECORD_KEY_END })) {
    const offset = offsetOfKey(key);
    if (offset === undefined) throw corrupt(dir, expected, `unexpected key ${Buffer.from(key).toString('hex')}`);
    if (offset !== expected) throw corrupt(dir, expected, `record ${expected} is missing (the next record found is ${offset})`);
    decodeOrThrow(dir, offset, value);
    expected = offset + 1;
  }
  const committedOffset = expected - 1;
  if (format === undefined) {
    if (committedOffset !== -1) throw storageError(`the metadata log at ${dir} has records but no format marker; it was not written by StreamBus`);
    await db.put(FORMAT_KEY, new Uint8Array([LOG_FORMAT_VERSION]), { sync: true });
  } else if (format.length !== 1 || format[0] !== LOG_FORMAT_VERSION) {
    throw new StreamBusError(
      ErrorCode.UNSUPPORTED_VERSION,
      `the metadata log at ${dir} has format ${Buffer.from(format).toString('hex')}; this version reads format ${LOG_FORMAT_VERSION}`,
    );
  }
  return { startOffset, committedOffset };
}
