import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from './logger.js';
import { FLUSH_DELAY_MS, WriteLog } from './write-log.js';

interface Line {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const record = (fields: object, message: string): void => {
    lines.push({ fields: fields as Record<string, unknown>, message });
  };
  return { logger: { debug: record, info: record, warn: record, error: record }, lines };
}

/** Runs the clock on past the flush delay. */
const later = (): void => {
  vi.advanceTimersByTime(FLUSH_DELAY_MS);
};

describe('coordinator > write log', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs a lone write as one line with its topics and metadata offset, within the flush delay', () => {
    const { logger, lines } = recorder();
    const log = new WriteLog(logger);
    log.record('altered topic configs', ['orders'], 41);
    vi.advanceTimersByTime(FLUSH_DELAY_MS - 1);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual([{ fields: { topics: ['orders'], metadataOffset: 41 }, message: 'altered topic configs' }]);
  });

  it('logs the writes within the flush delay as one line per kind, with every topic and the range of offsets', () => {
    const { logger, lines } = recorder();
    const log = new WriteLog(logger);
    log.record('altered topic configs', ['orders'], 10);
    log.record('created topics', ['payments', 'refunds'], 11);
    log.record('altered topic configs', ['orders', 'users'], 13);
    log.record('altered topic configs', ['orders'], 12);
    later();
    expect(lines).toEqual([
      { fields: { topics: ['orders', 'users'], writes: 3, firstMetadataOffset: 10, metadataOffset: 13 }, message: 'altered topic configs' },
      { fields: { topics: ['payments', 'refunds'], metadataOffset: 11 }, message: 'created topics' },
    ]);
    log.record('altered topic configs', ['users'], 14);
    later();
    expect(lines.at(-1)).toEqual({ fields: { topics: ['users'], metadataOffset: 14 }, message: 'altered topic configs' });
    expect(lines).toHaveLength(3);
  });

  it('lists at most 100 topics on a line and counts the others', () => {
    const { logger, lines } = recorder();
    const log = new WriteLog(logger);
    for (let i = 0; i < 130; i++) log.record('deleted topics', [`t${i}`], i);
    later();
    expect(lines).toHaveLength(1);
    const fields = lines[0]!.fields;
    expect(fields.topics).toHaveLength(100);
    expect(fields).toMatchObject({ moreTopics: 30, writes: 130, firstMetadataOffset: 0, metadataOffset: 129 });
  });

  it('writes what it holds at once when flushed (the coordinator flushes on close)', () => {
    const { logger, lines } = recorder();
    const log = new WriteLog(logger);
    log.record('created partitions', ['orders'], 7);
    log.flush();
    expect(lines).toEqual([{ fields: { topics: ['orders'], metadataOffset: 7 }, message: 'created partitions' }]);
    log.flush();
    later();
    expect(lines).toHaveLength(1);
  });
});
