/**
 * The binary encoding of commit-offsets commands.
 *
 * Every other metadata command is UTF-8 JSON in a versioned envelope (../metadata/commands.ts).
 * Committed offsets are the exception because of their volume: at 20,000 commits a second every
 * coordinator node decodes and applies each offset, and JSON (parse, shape checks, deep freeze)
 * cost about 2.4 µs an offset on each node, several times what this encoding costs. So a
 * commit-offsets command is written as a tagged binary record instead, told apart from JSON by its
 * first byte (JSON starts with `{`).
 *
 * Layout, every count and number an unsigned LEB128 varint (numbers up to 2^53 - 1):
 *
 *   tag 0x01 | version 1 | groups
 *   group     = string(group id) | topics
 *   topic     = string(name) | partitions
 *   partition = partition | offset | leaderEpoch + 1 | string(metadata) | commitTimeMs
 *   string    = byte length | UTF-8 bytes
 *
 * (each list is a count followed by its items). Canonical: equal commands have equal bytes. The
 * reader checks every bound the JSON reader checks (group ids, topic names, partition numbers,
 * offsets, epochs, metadata length, times), refuses trailing bytes and counts the bytes left cannot
 * hold, and throws CORRUPT_MESSAGE for anything else; a newer version gets UNSUPPORTED_VERSION.
 * What it returns is deeply frozen, like every decoded command.
 *
 * Pure: no node:* imports.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import {
  type CommitOffsetsCommand,
  type CommittedPartition,
  type GroupOffsetCommits,
  GroupCommandType,
  MAX_GROUP_ID_LENGTH,
  MAX_INT32,
  MAX_OFFSET_METADATA_LENGTH,
  MAX_PARTITION,
  MAX_TOPIC_LENGTH,
} from './group-commands.js';

/** The first byte of a binary commit-offsets record (a JSON envelope starts with `{`, 0x7b). */
export const COMMIT_OFFSETS_TAG = 0x01;
/** The layout version this code writes and the newest it reads. */
export const COMMIT_OFFSETS_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Whether `bytes` hold a binary commit-offsets record rather than a JSON envelope. */
export function isBinaryCommitOffsets(bytes: Uint8Array): boolean {
  return bytes[0] === COMMIT_OFFSETS_TAG;
}

// ---- writing

class Writer {
  #buffer = new Uint8Array(1024);
  #length = 0;

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  varint(n: number): void {
    this.#reserve(8);
    let value = n;
    while (value >= 0x80) {
      this.#buffer[this.#length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.#buffer[this.#length++] = value;
  }

  string(text: string): void {
    // At most 3 bytes per UTF-16 unit: reserve that, encode in place, then write the real length.
    this.#reserve(text.length * 3 + 8);
    const start = this.#length;
    // Room for the length varint: a 1-byte length for short strings, moved if it turns out longer.
    const { written } = encoder.encodeInto(text, this.#buffer.subarray(start + 1));
    if (written < 0x80) {
      this.#buffer[start] = written;
      this.#length = start + 1 + written;
      return;
    }
    const bytes = this.#buffer.slice(start + 1, start + 1 + written);
    this.#length = start;
    this.varint(written);
    this.#reserve(written);
    this.#buffer.set(bytes, this.#length);
    this.#length += written;
  }

  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

function invalid(what: string, value: unknown): never {
  throw new StreamBusError(ErrorCode.INVALID_REQUEST, `commit-offsets command to encode: ${what}, got ${JSON.stringify(value) ?? String(value)}`);
}

function checkedInteger(value: number, what: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) invalid(`${what} must be an integer in ${min}..${max}`, value);
  return value;
}

function checkedString(value: string, what: string, minLength: number, maxLength: number): string {
  if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) invalid(`${what} must be a string of ${minLength}..${maxLength} characters`, value);
  return value;
}

/**
 * The canonical bytes of a commit-offsets command. Throws INVALID_REQUEST for a value out of the
 * bounds the reader accepts, so nothing malformed reaches the log.
 */
export function encodeCommitOffsets(command: CommitOffsetsCommand): Uint8Array {
  const out = new Writer();
  out.varint(COMMIT_OFFSETS_TAG);
  out.varint(COMMIT_OFFSETS_VERSION);
  out.varint(command.groups.length);
  for (const group of command.groups) {
    out.string(checkedString(group.group, 'a group id', 1, MAX_GROUP_ID_LENGTH));
    out.varint(group.topics.length);
    for (const topic of group.topics) {
      out.string(checkedString(topic.topic, 'a topic name', 1, MAX_TOPIC_LENGTH));
      out.varint(topic.partitions.length);
      for (const p of topic.partitions) {
        out.varint(checkedInteger(p.partition, 'a partition', 0, MAX_PARTITION));
        out.varint(checkedInteger(p.offset, 'an offset', 0, Number.MAX_SAFE_INTEGER));
        out.varint(checkedInteger(p.leaderEpoch, 'a leader epoch', -1, MAX_INT32) + 1);
        out.string(checkedString(p.metadata, 'offset metadata', 0, MAX_OFFSET_METADATA_LENGTH));
        out.varint(checkedInteger(p.commitTimeMs, 'a commit time', 0, Number.MAX_SAFE_INTEGER));
      }
    }
  }
  return out.bytes();
}

// ---- reading

class Reader {
  readonly #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.#bytes[this.#at++];
      if (byte === undefined) corrupt(`it ends inside ${what}`);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) corrupt(`${what} is past 2^53 - 1`);
        return value;
      }
      scale *= 0x80;
    }
    return corrupt(`${what} is a varint longer than 8 bytes`);
  }

  /** A count of items that each take at least `minItemBytes`: bounded by the bytes left. */
  count(what: string, minItemBytes: number): number {
    const n = this.varint(what);
    if (n * minItemBytes > this.remaining) corrupt(`${what} is ${n}, more than the ${this.remaining} bytes left can hold`);
    return n;
  }

  integer(what: string, min: number, max: number, shift = 0): number {
    const value = this.varint(what) - shift;
    if (value < min || value > max) corrupt(`${what} ${value} is outside ${min}..${max}`);
    return value;
  }

  string(what: string, minLength: number, maxLength: number): string {
    const length = this.varint(`the length of ${what}`);
    if (length > this.remaining) corrupt(`${what} is ${length} bytes, more than the ${this.remaining} left`);
    const start = this.#at;
    this.#at += length;
    let text: string;
    if (length <= 64 && isAscii(this.#bytes, start, this.#at)) {
      // Ids and topic names are short ASCII: building the string directly beats a TextDecoder call
      // (and a spread of the bytes into String.fromCharCode) several times over.
      text = '';
      for (let i = start; i < this.#at; i++) text += String.fromCharCode(this.#bytes[i]!);
    } else {
      try {
        text = decoder.decode(this.#bytes.subarray(start, this.#at));
      } catch (cause) {
        throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `commit-offsets record: ${what} is not valid UTF-8`, { cause });
      }
    }
    if (text.length < minLength || text.length > maxLength) corrupt(`${what} has ${text.length} characters, outside ${minLength}..${maxLength}`);
    return text;
  }
}

function isAscii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

function corrupt(why: string): never {
  throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `commit-offsets record: ${why}`);
}

/** Smallest encodings: a group or topic is a 1-char string and a count; a partition five fields. */
const MIN_GROUP_BYTES = 3;
const MIN_TOPIC_BYTES = 3;
const MIN_PARTITION_BYTES = 5;

/**
 * Decodes a binary commit-offsets record into a deeply frozen command. Throws CORRUPT_MESSAGE for
 * malformed bytes and UNSUPPORTED_VERSION for a newer layout.
 */
export function decodeCommitOffsets(bytes: Uint8Array): CommitOffsetsCommand {
  const read = new Reader(bytes);
  if (read.varint('the tag') !== COMMIT_OFFSETS_TAG) corrupt('it does not start with the commit-offsets tag');
  const version = read.varint('the version');
  if (version === 0) corrupt('version 0 does not exist');
  if (version > COMMIT_OFFSETS_VERSION) {
    throw new StreamBusError(
      ErrorCode.UNSUPPORTED_VERSION,
      `commit-offsets record has version ${version}; this StreamBus reads up to ${COMMIT_OFFSETS_VERSION} (it was written by a newer version; upgrade this node)`,
    );
  }
  const groups = new Array<GroupOffsetCommits>(read.count('the group count', MIN_GROUP_BYTES));
  for (let g = 0; g < groups.length; g++) {
    const group = read.string('a group id', 1, MAX_GROUP_ID_LENGTH);
    const topics = new Array<GroupOffsetCommits['topics'][number]>(read.count('a topic count', MIN_TOPIC_BYTES));
    for (let t = 0; t < topics.length; t++) {
      const topic = read.string('a topic name', 1, MAX_TOPIC_LENGTH);
      const partitions = new Array<CommittedPartition>(read.count('a partition count', MIN_PARTITION_BYTES));
      for (let p = 0; p < partitions.length; p++) {
        partitions[p] = Object.freeze({
          partition: read.integer('a partition', 0, MAX_PARTITION),
          offset: read.integer('an offset', 0, Number.MAX_SAFE_INTEGER),
          leaderEpoch: read.integer('a leader epoch', -1, MAX_INT32, 1),
          metadata: read.string('offset metadata', 0, MAX_OFFSET_METADATA_LENGTH),
          commitTimeMs: read.integer('a commit time', 0, Number.MAX_SAFE_INTEGER),
        });
      }
      topics[t] = Object.freeze({ topic, partitions: Object.freeze(partitions) });
    }
    groups[g] = Object.freeze({ group, topics: Object.freeze(topics) });
  }
  if (read.remaining !== 0) corrupt(`${read.remaining} bytes follow the last group`);
  return Object.freeze({ type: GroupCommandType.COMMIT_OFFSETS, groups: Object.freeze(groups) });
}
