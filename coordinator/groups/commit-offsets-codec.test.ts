import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import { decodeMetadataCommand, encodeCanonicalMetadataCommand, encodeMetadataCommand, METADATA_ENVELOPE_VERSION } from '../metadata/commands.js';
import { COMMIT_OFFSETS_TAG, decodeCommitOffsets, encodeCommitOffsets } from './commit-offsets-codec.js';
import { type CommitOffsetsCommand, type OffsetCommitEntry, commitOffsetsCommand } from './group-commands.js';
import { GroupStore } from './group-store.js';

function entry(overrides: Partial<OffsetCommitEntry> = {}): OffsetCommitEntry {
  return { group: 'orders-eu', topic: 'orders', partition: 3, offset: 42, leaderEpoch: 7, metadata: '', commitTimeMs: 1_795_300_000_000, ...overrides };
}

function batch(groups: number, partitions: number): CommitOffsetsCommand {
  const entries: OffsetCommitEntry[] = [];
  for (let g = 0; g < groups; g++) for (let p = 0; p < partitions; p++) entries.push(entry({ group: `group-${g}`, partition: p, offset: 1_000_000 + g * 100 + p }));
  return commitOffsetsCommand(entries);
}

/** The command as the JSON envelope every other command uses (how commit-offsets were logged before). */
function asJsonEnvelope(command: CommitOffsetsCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: METADATA_ENVELOPE_VERSION, command }));
}

function expectCode(run: () => unknown, code: ErrorCode, message: string): void {
  expect(run).toThrow(expect.objectContaining({ code, message: expect.stringContaining(message) }));
}

describe('commit-offsets binary encoding', () => {
  it('round-trips a batch of many groups through the metadata codec, starting with its tag rather than JSON', () => {
    const command = batch(20, 8);
    const bytes = encodeMetadataCommand(command);
    expect(bytes[0]).toBe(COMMIT_OFFSETS_TAG);
    expect(decodeMetadataCommand(bytes)).toEqual(command);
    // Less than a quarter of the JSON envelope's size.
    expect(bytes.length).toBeLessThan(asJsonEnvelope(command).length / 4);
  });

  it('keeps the extremes: epoch -1, offsets and times up to 2^53 - 1, the largest partition, multi-byte and long metadata', () => {
    const command = commitOffsetsCommand([
      entry({ leaderEpoch: -1, offset: 0, commitTimeMs: 0, partition: 0 }),
      entry({ offset: Number.MAX_SAFE_INTEGER, commitTimeMs: Number.MAX_SAFE_INTEGER, partition: 2 ** 31 - 1, leaderEpoch: 2 ** 31 - 1 }),
      entry({ partition: 5, metadata: 'zoë — 東京 🚀' }),
      entry({ partition: 6, metadata: 'x'.repeat(300) }),
      entry({ group: 'g'.repeat(1024), topic: 't'.repeat(249), partition: 1 }),
    ]);
    expect(decodeCommitOffsets(encodeCommitOffsets(command))).toEqual(command);
  });

  it('gives equal bytes for equal commands, and the leader the same frozen command its followers decode', () => {
    const command = batch(3, 4);
    expect(encodeCommitOffsets(command)).toEqual(encodeCommitOffsets(structuredClone(command)));
    const encoded = encodeCanonicalMetadataCommand(command);
    expect(encoded.command).toEqual(decodeMetadataCommand(encoded.bytes));
    const decoded = decodeMetadataCommand(encoded.bytes) as CommitOffsetsCommand;
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(Object.isFrozen(decoded.groups[0]!.topics[0]!.partitions)).toBe(true);
    expect(Object.isFrozen(decoded.groups[0]!.topics[0]!.partitions[0])).toBe(true);
  });

  it('still reads commit-offsets entries logged as JSON, and both forms apply to the same group state', () => {
    const command = batch(4, 3);
    const fromJson = decodeMetadataCommand(asJsonEnvelope(command)) as CommitOffsetsCommand;
    const fromBinary = decodeMetadataCommand(encodeMetadataCommand(command)) as CommitOffsetsCommand;
    expect(fromJson).toEqual(fromBinary);
    const exists = (): boolean => true;
    const a = GroupStore.empty();
    const b = GroupStore.empty();
    a.apply(fromJson, exists);
    b.apply(fromBinary, exists);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.offset('group-2', 'orders', 1)?.offset).toBe(1_000_201);
  });

  it('refuses to encode values the reader would refuse, with INVALID_REQUEST naming the field', () => {
    const bad: [string, OffsetCommitEntry][] = [
      ['an offset', entry({ offset: -1 })],
      ['an offset', entry({ offset: 1.5 })],
      ['a partition', entry({ partition: 2 ** 31 })],
      ['a leader epoch', entry({ leaderEpoch: -2 })],
      ['a group id', entry({ group: '' })],
      ['a group id', entry({ group: 'g'.repeat(1025) })],
      ['a topic name', entry({ topic: 't'.repeat(250) })],
      ['a commit time', entry({ commitTimeMs: Number.NaN })],
    ];
    for (const [field, e] of bad) expectCode(() => encodeMetadataCommand(commitOffsetsCommand([e])), ErrorCode.INVALID_REQUEST, field);
  });

  it('refuses malformed records with CORRUPT_MESSAGE, and a newer layout with UNSUPPORTED_VERSION', () => {
    const good = encodeCommitOffsets(batch(2, 2));
    expectCode(() => decodeCommitOffsets(good.subarray(0, good.length - 1)), ErrorCode.CORRUPT_MESSAGE, 'ends inside');
    expectCode(() => decodeCommitOffsets(Uint8Array.of(...good, 0)), ErrorCode.CORRUPT_MESSAGE, 'bytes follow the last group');
    expectCode(() => decodeCommitOffsets(Uint8Array.of(COMMIT_OFFSETS_TAG, 2, 0)), ErrorCode.UNSUPPORTED_VERSION, 'newer version');
    expectCode(() => decodeCommitOffsets(Uint8Array.of(COMMIT_OFFSETS_TAG, 0, 0)), ErrorCode.CORRUPT_MESSAGE, 'version 0');
    // A group count of 1,000,000 in a 5-byte record.
    expectCode(() => decodeCommitOffsets(Uint8Array.of(COMMIT_OFFSETS_TAG, 1, 0xc0, 0x84, 0x3d)), ErrorCode.CORRUPT_MESSAGE, 'more than the');
    // One group whose id is an empty string.
    expectCode(() => decodeCommitOffsets(Uint8Array.of(COMMIT_OFFSETS_TAG, 1, 1, 0, 0, 0)), ErrorCode.CORRUPT_MESSAGE, 'a group id has 0 characters');
    // A group id that is not UTF-8 (0xff never appears in UTF-8).
    expectCode(() => decodeCommitOffsets(Uint8Array.of(COMMIT_OFFSETS_TAG, 1, 1, 2, 0xff, 0xfe, 0)), ErrorCode.CORRUPT_MESSAGE, 'not valid UTF-8');
    // Group "g", topic "t", partition 2^31 (past the largest partition number).
    const tooBig = Uint8Array.of(COMMIT_OFFSETS_TAG, 1, 1, 1, 0x67, 1, 1, 0x74, 1, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0);
    expectCode(() => decodeCommitOffsets(tooBig), ErrorCode.CORRUPT_MESSAGE, 'a partition 2147483648 is outside');
    // An offset varint of 9 bytes.
    const longVarint = Uint8Array.of(COMMIT_OFFSETS_TAG, 1, 1, 1, 0x67, 1, 1, 0x74, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0);
    expectCode(() => decodeCommitOffsets(longVarint), ErrorCode.CORRUPT_MESSAGE, 'longer than 8 bytes');
  });
});
