/**
 * The replicated metadata log: MetadataLog on top of a Raft group (coordinator/raft/host).
 *
 * It is two things at once. To the Raft host it is the state machine (RaftStateMachine): the host
 * hands it committed entries in log order and asks it for snapshots. To the coordinator and the
 * brokers it is a MetadataLog: append commands, read committed records from an offset, follow
 * commits, load a snapshot when the records they need were compacted away.
 *
 * Entries and offsets. One append() call is ONE Raft entry holding all its commands, so the
 * commands of a call commit together or not at all (a leader change cannot split them). Metadata
 * offsets are counted across entries as they are applied: a normal entry yields one record per
 * command it holds; an entry that is not a metadata write (the empty no-op a new leader appends,
 * a membership change) yields one NO_OP record, so offsets stay contiguous and a follower can tell
 * a gap from a quiet log (MetadataLog's contract). Every replica applies the same entries in the
 * same order with the same code, so every replica gives every record the same offset; a snapshot
 * carries the offset counter (MetadataSnapshot.lastAppliedOffset).
 *
 * Memory. The log keeps the metadata state (for snapshots) and the committed records since a
 * recent snapshot (for followers reading from an offset). Records are dropped only once a snapshot
 * covers them and more than `retainRecords` of them, or more than `retainBytes` of their encoding,
 * are held; a follower further behind loads the snapshot. Offset commits are most of the log under
 * load, and hundreds of offsets per record held as objects for seconds would keep the garbage
 * collector copying and marking them: a commit-offsets record is held as its canonical bytes (a
 * view of the entry the Raft log holds anyway), read back as an EncodedMetadataRecord that decodes
 * them only when its command is used, and served to followers as those bytes.
 *
 * Entry payload: u32 count, then per command u32 length and the command's canonical encoding
 * (coordinator/metadata/commands.ts), all big-endian. A committed entry that does not decode (it
 * cannot happen between nodes of one version) is applied as one NO_OP record and logged: refusing a
 * committed entry on one node would make the replicas diverge.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { abortReason, asError } from '../metadata/abort.js';
import {
  EncodedMetadataRecord,
  MetadataCommandType,
  decodeMetadataCommand,
  encodeCanonicalMetadataCommand,
  type MetadataCommand,
  type MetadataRecord,
} from '../metadata/commands.js';
import { MetadataState } from '../metadata/state.js';
import { GroupCommandType } from '../groups/group-commands.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Entry, Snapshot } from '../raft/index.js';
import type { RaftStateMachine } from '../raft/host/state-machine.js';
import { CommitListeners } from './commit-listeners.js';
import { MAX_READ_RECORDS, type MetadataAppendOptions, type MetadataLog, type MetadataLogSnapshot } from './metadata-log.js';

/** What the log needs from the Raft host (RaftHost.proposeNow): proposing an entry and learning whether it committed. */
export interface RaftProposer {
  /**
   * Appends `data` to the leader's log now, or THROWS the refusal (NOT_CONTROLLER on a node that
   * is not the leader, THROTTLING_QUOTA_EXCEEDED, MESSAGE_TOO_LARGE...). `applied` resolves with the
   * entry's position once it is applied here (so apply() has run for it), and rejects when it did
   * not commit or its outcome is unknown.
   */
  proposeNow(
    data: Uint8Array,
    options?: { readonly signal?: AbortSignal },
  ): { readonly position: { readonly index: number; readonly term: number }; readonly applied: Promise<{ readonly index: number; readonly term: number }> };
}

export interface RaftMetadataLogOptions {
  readonly logger?: Logger;
  /** Largest encoded command. Default 4 MiB. */
  readonly maxRecordBytes?: number;
  /** Most commands in one append call. Default 10 000. */
  readonly maxCommandsPerAppend?: number;
  /** Committed records kept in memory beyond the last snapshot. Default 10 000. */
  readonly retainRecords?: number;
  /** Encoded bytes of the records kept in memory beyond the last snapshot, at most. Default 16 MiB. */
  readonly retainBytes?: number;
}

/**
 * A committed record as the log holds it for readers: its canonical bytes (a view of the entry),
 * and the command itself unless it is a commit-offsets command (see Memory above).
 */
interface HeldRecord {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly command: MetadataCommand | undefined;
}

function held(record: MetadataRecord, bytes: Uint8Array): HeldRecord {
  return { offset: record.offset, bytes, command: record.command.type === GroupCommandType.COMMIT_OFFSETS ? undefined : record.command };
}

function readHeld(record: HeldRecord): MetadataRecord {
  return record.command === undefined ? new EncodedMetadataRecord(record.offset, record.bytes) : { offset: record.offset, command: record.command };
}

const NO_OP: MetadataCommand = Object.freeze({ type: MetadataCommandType.NO_OP });
const EMPTY = new Uint8Array(0);
const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** Encodes the commands of one append call as one entry payload. */
export function encodeEntryPayload(payloads: readonly Uint8Array[]): Uint8Array {
  let size = 4;
  for (const p of payloads) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, payloads.length);
  let at = 4;
  for (const p of payloads) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** The encoded commands of an entry payload (views of it, not copies); throws CORRUPT_MESSAGE when its framing is broken. */
export function splitEntryPayload(data: Uint8Array): Uint8Array[] {
  const corrupt = (what: string): StreamBusError => new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `metadata entry payload: ${what}`);
  if (data.length < 4) throw corrupt(`${data.length} bytes, shorter than its count`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(0);
  if (count === 0) throw corrupt('no commands');
  const parts: Uint8Array[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) throw corrupt(`command ${i} of ${count} is missing`);
    const length = view.getUint32(at);
    if (at + 4 + length > data.length) throw corrupt(`command ${i} runs past the end`);
    parts.push(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== data.length) throw corrupt(`${data.length - at} bytes after the last command`);
  return parts;
}

/** The commands of an entry payload; throws CORRUPT_MESSAGE when it does not decode. */
export function decodeEntryPayload(data: Uint8Array): MetadataCommand[] {
  return splitEntryPayload(data).map((part) => decodeMetadataCommand(part));
}

export class RaftMetadataLog implements MetadataLog, RaftStateMachine {
  readonly #logger: Logger;
  readonly #listeners: CommitListeners;
  readonly #maxRecordBytes: number;
  readonly #maxCommandsPerAppend: number;
  readonly #retainRecords: number;
  readonly #retainBytes: number;
  #proposer: RaftProposer | undefined;
  #state = MetadataState.empty();
  /** Committed records from #startOffset to #state.lastAppliedOffset, from #records[#head] on. */
  #records: HeldRecord[] = [];
  /** Records before it were dropped; the array is cut only now and then, so a drop costs O(1). */
  #head = 0;
  /** The sizes of the records from #head on. */
  #heldBytes = 0;
  #startOffset = 0;
  #snapshot: MetadataLogSnapshot | undefined;
  /**
   * The offsets of entries this node proposed and is waiting for, by Raft index: set to undefined
   * when proposed, filled in by apply(), taken by the proposer. Kept apart from #records so that
   * compaction trimming records cannot lose an answer a proposer has not read yet.
   */
  readonly #awaited = new Map<number, { readonly first: number; readonly count: number } | undefined>();
  /**
   * The commands of entries this node proposed, by Raft index, with the payload they were proposed
   * as: apply() takes them instead of decoding the payload when the committed entry carries that
   * very payload (the same bytes object; an entry that replaced it at that index does not).
   */
  readonly #proposed = new Map<number, { readonly data: Uint8Array; readonly commands: readonly MetadataCommand[] }>();
  #closed = false;

  constructor(options: RaftMetadataLogOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#listeners = new CommitListeners(this.#logger);
    this.#maxRecordBytes = options.maxRecordBytes ?? 4 * 1024 * 1024;
    this.#maxCommandsPerAppend = options.maxCommandsPerAppend ?? 10_000;
    this.#retainRecords = options.retainRecords ?? 10_000;
    this.#retainBytes = options.retainBytes ?? 16 * 1024 * 1024;
  }

  /** Connects the log to the host that replicates it (the host is built with this log as its state machine). */
  attach(proposer: RaftProposer): void {
    this.#proposer = proposer;
  }

  /** The state after the last applied record: the coordinator validates against it. */
  get state(): MetadataState {
    return this.#state;
  }

  get committedOffset(): number {
    return this.#state.lastAppliedOffset;
  }

  get startOffset(): number {
    return this.#startOffset;
  }

  // ---- MetadataLog

  append(commands: readonly MetadataCommand[], options: MetadataAppendOptions = {}): Promise<number[]> {
    try {
      return this.appendNow(commands, options);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /**
   * append() for a caller that validates each write against the state the previous ones leave
   * (the coordinator's pipeline): the commands are checked, encoded and proposed as ONE Raft entry
   * within this call, and a refusal is THROWN synchronously (INVALID_REQUEST for a malformed or
   * oversized command, NOT_CONTROLLER on a node that is not the leader, SHUTTING_DOWN after close,
   * the host's other refusals). On return the entry is in the leader's log; the promise resolves
   * with the commands' offsets once the entry is applied here, and rejects as RaftHost.propose()
   * does when it did not commit or its outcome is unknown.
   */
  appendNow(commands: readonly MetadataCommand[], options: MetadataAppendOptions = {}): Promise<number[]> {
    if (this.#closed) throw new StreamBusError(ErrorCode.SHUTTING_DOWN, 'the metadata log is closed');
    const signal = options.signal;
    if (signal?.aborted === true) throw abortReason(signal);
    if (!Array.isArray(commands)) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'append takes an array of commands');
    if (commands.length === 0) return Promise.resolve([]);
    const encoded = this.#encode(commands);
    const proposer = this.#proposer;
    if (proposer === undefined) throw new StreamBusError(ErrorCode.NOT_CONTROLLER, 'the metadata log is not attached to its Raft group yet');
    const appended = proposer.proposeNow(encoded.data, signal === undefined ? {} : { signal });
    // apply() takes it, or awaitOffsets() drops it when the entry did not commit.
    this.#proposed.set(appended.position.index, encoded);
    return this.awaitOffsets(appended);
  }

  /**
   * The offsets an entry this node proposed gets when it is applied here: one per command of a
   * metadata entry, one no-op offset for a membership change. Call it right after proposing (in the
   * same synchronous step). Rejects with the proposal's own error when it did not commit.
   */
  awaitOffsets(appended: { readonly position: { readonly index: number }; readonly applied: Promise<unknown> }): Promise<number[]> {
    const index = appended.position.index;
    this.#awaited.set(index, undefined);
    return appended.applied.then(
      () => {
        const placed = this.#awaited.get(index);
        this.#awaited.delete(index);
        if (placed === undefined) {
          // The host resolves only after applying the entry, and apply() records the offsets of
          // every awaited entry: anything else is a broken contract, not a lost write.
          throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `metadata entry ${index} was applied but its offsets are not known`);
        }
        return Array.from({ length: placed.count }, (_, i) => placed.first + i);
      },
      (error: unknown) => {
        this.#awaited.delete(index);
        this.#proposed.delete(index);
        throw asError(error);
      },
    );
  }

  /**
   * One entry payload for `commands`, and the canonical commands it decodes to; INVALID_REQUEST
   * for too many, a malformed one or an oversized one.
   */
  #encode(commands: readonly MetadataCommand[]): { readonly data: Uint8Array; readonly commands: readonly MetadataCommand[] } {
    if (commands.length > this.#maxCommandsPerAppend) {
      throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${commands.length} commands in one append; the limit is ${this.#maxCommandsPerAppend}`);
    }
    // Encoding validates each command's structure, so nothing malformed is proposed.
    const encoded = commands.map((command) => encodeCanonicalMetadataCommand(command));
    const tooLarge = encoded.findIndex((e) => e.bytes.length > this.#maxRecordBytes);
    if (tooLarge !== -1) {
      throw new StreamBusError(
        ErrorCode.INVALID_REQUEST,
        `metadata command ${tooLarge} encodes to ${encoded[tooLarge]?.bytes.length} bytes; the limit is ${this.#maxRecordBytes}`,
      );
    }
    return { data: encodeEntryPayload(encoded.map((e) => e.bytes)), commands: encoded.map((e) => e.command) };
  }

  read(fromOffset: number, maxRecords: number): Promise<MetadataRecord[]> {
    const committed = this.committedOffset;
    if (!Number.isSafeInteger(fromOffset) || fromOffset < this.#startOffset || fromOffset > committed + 1) {
      return Promise.reject(
        new StreamBusError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `metadata offset ${fromOffset} is outside the readable range ${this.#startOffset}..${committed + 1}` +
            (fromOffset < this.#startOffset ? ' (older records were compacted into a snapshot)' : ''),
        ),
      );
    }
    const count = Math.max(0, Math.min(maxRecords, MAX_READ_RECORDS, committed + 1 - fromOffset));
    const at = this.#head + fromOffset - this.#startOffset;
    const records: MetadataRecord[] = [];
    for (let i = at; i < at + count; i++) records.push(readHeld(this.#records[i]!));
    return Promise.resolve(records);
  }

  snapshot(): Promise<MetadataLogSnapshot | undefined> {
    return Promise.resolve(this.#snapshot);
  }

  onCommit(listener: (records: readonly MetadataRecord[]) => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Detaches from the host; the host's own close() rejects proposals still waiting. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#proposer = undefined;
    this.#listeners.clear();
    return Promise.resolve();
  }

  // ---- RaftStateMachine

  restore(snapshot: Snapshot): void {
    if (snapshot.data.length === 0) {
      this.#state = MetadataState.empty();
      this.#snapshot = undefined;
    } else {
      // A snapshot is checked field by field by restore(); one that fails is a corrupt peer or
      // disk, and the host treats the throw as fatal for this node.
      this.#state = MetadataState.restore(JSON.parse(textDecoder.decode(snapshot.data)) as unknown);
      this.#snapshot = { offset: this.#state.lastAppliedOffset, snapshot: this.#state.snapshot() };
    }
    this.#records = [];
    this.#head = 0;
    this.#heldBytes = 0;
    this.#startOffset = this.#state.lastAppliedOffset + 1;
    // Followers behind the snapshot learn at once that they must load it (see MetadataLog.onCommit).
    this.#listeners.notifySnapshot();
    this.#logger.info({ raftIndex: snapshot.meta.index, metadataOffset: this.#state.lastAppliedOffset }, 'metadata state restored from a snapshot');
  }

  apply(entries: readonly Entry[]): void {
    const applied: MetadataRecord[] = [];
    for (const entry of entries) {
      const { commands, parts } = this.#commandsOf(entry);
      const first = this.#state.lastAppliedOffset + 1;
      for (let i = 0; i < commands.length; i++) {
        const record: MetadataRecord = { offset: first + i, command: commands[i]! };
        // MetadataState applies facts as written; it throws only for a broken invariant (a bug),
        // which the host treats as fatal for this node.
        this.#state.apply(record);
        applied.push(record);
        const kept = held(record, parts[i] ?? EMPTY);
        this.#records.push(kept);
        this.#heldBytes += kept.bytes.length;
      }
      if (this.#awaited.has(entry.index)) this.#awaited.set(entry.index, { first, count: commands.length });
    }
    this.#trim();
    this.#listeners.notify(applied);
  }

  takeSnapshot(): Uint8Array {
    const snapshot = this.#state.snapshot();
    this.#snapshot = { offset: snapshot.lastAppliedOffset, snapshot };
    this.#trim();
    return textEncoder.encode(JSON.stringify(snapshot));
  }

  /** An entry's commands and their encodings (views of the payload; none for a no-op). */
  #commandsOf(entry: Entry): { readonly commands: readonly MetadataCommand[]; readonly parts: readonly Uint8Array[] } {
    if (entry.kind !== 'normal' || entry.data.length === 0) return { commands: [NO_OP], parts: [] };
    const proposed = this.#proposed.get(entry.index);
    try {
      const parts = splitEntryPayload(entry.data);
      if (proposed !== undefined) {
        this.#proposed.delete(entry.index);
        if (proposed.data === entry.data) return { commands: proposed.commands, parts };
      }
      return { commands: parts.map((part) => decodeMetadataCommand(part)), parts };
    } catch (error) {
      this.#logger.error({ err: error, raftIndex: entry.index }, 'a committed metadata entry does not decode; applied as a no-op');
      return { commands: [NO_OP], parts: [] };
    }
  }

  /**
   * Drops the oldest records that a snapshot covers while more than retainRecords, or more than
   * retainBytes of them, are held.
   */
  #trim(): void {
    const covered = this.#snapshot === undefined ? this.#startOffset - 1 : this.#snapshot.offset;
    const coveredHeld = covered + 1 - this.#startOffset;
    let drop = 0;
    while (drop < coveredHeld && (this.#records.length - this.#head - drop > this.#retainRecords || this.#heldBytes > this.#retainBytes)) {
      this.#heldBytes -= this.#records[this.#head + drop]!.bytes.length;
      drop++;
    }
    if (drop <= 0) return;
    this.#head += drop;
    this.#startOffset += drop;
    if (this.#head >= 1024 && this.#head * 2 >= this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }
}
