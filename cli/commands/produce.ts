/**
 * `streambus produce <topic>`: one record per line of stdin, until end of input (Ctrl-D) or Ctrl-C.
 *
 * Records are sent without waiting for each acknowledgement (up to MAX_PENDING at a time, so a
 * large input cannot pile up in memory), and results are reported in input order. Empty lines are
 * skipped. On the first failed record the command stops reading, waits for what is in flight and
 * fails with that record's error.
 */
import { createInterface } from 'node:readline';
import { defineCommand, parseKeyValue, UsageError } from '../command.js';
import type { ProducerRecord, RecordMetadata } from '../client.js';

const MAX_PENDING = 1024;
const NAME = 'produce';
const ACKS = { '0': 0, '1': 1, all: -1, '-1': -1 } as const;
const COMPRESSION = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

export const command = defineCommand({
  name: NAME,
  summary: 'Write records read from stdin, one per line',
  description: 'Each non-empty line of stdin becomes one record. With --json, prints one line per record: {"topic","partition","offset"}.',
  positionals: [{ name: 'topic', description: 'The topic to write to' }],
  options: {
    key: { type: 'string', short: 'k', description: 'The key of every record' },
    'key-separator': { type: 'string', short: 'K', valueName: 'text', description: 'Split each line at the first <text> into key and value (lines without it get no key)' },
    header: { type: 'string', short: 'H', multiple: true, valueName: 'key=value', description: 'A header on every record' },
    partition: { type: 'integer', short: 'p', min: 0, description: 'Write to this partition (default: by key, or spread when there is none)' },
    acks: { type: 'string', default: 'all', valueName: '0|1|all', description: 'Acknowledgement to wait for' },
    compression: { type: 'string', default: 'none', valueName: COMPRESSION.join('|'), description: 'Batch compression codec' },
    'linger-ms': { type: 'integer', min: 0, description: 'Wait up to this long to fill a batch' },
  },
  examples: ['echo hello | streambus produce greetings', "printf 'user-1:signed in\\n' | streambus produce events -K :"],
  async run(ctx) {
    const { topic } = ctx.args;
    const { key, partition } = ctx.options;
    const separator = ctx.options['key-separator'];
    if (key !== undefined && separator !== undefined) throw new UsageError('--key and --key-separator cannot be combined', NAME);
    if (separator === '') throw new UsageError('--key-separator must not be empty', NAME);
    const acks = (ACKS as Record<string, 0 | 1 | -1>)[ctx.options.acks];
    if (acks === undefined) throw new UsageError(`--acks expects 0, 1 or all, got '${ctx.options.acks}'`, NAME);
    const compression = COMPRESSION.find((c) => c === ctx.options.compression);
    if (compression === undefined) {
      throw new UsageError(`--compression expects one of ${COMPRESSION.join(', ')}, got '${ctx.options.compression}'`, NAME);
    }
    const headers = ctx.options.header.map((text) => {
      const pair = parseKeyValue(text, '--header', NAME);
      return { key: pair.key, value: Buffer.from(pair.value, 'utf8') };
    });
    const lingerMs = ctx.options['linger-ms'];

    const producer = (await ctx.client()).producer({ acks, compression, ...(lingerMs === undefined ? {} : { lingerMs }) });
    const pending: Promise<RecordMetadata>[] = [];
    const perPartition = new Map<number, number>();
    let count = 0;
    const settleOldest = async (): Promise<void> => {
      const result = await pending.shift()!;
      count += 1;
      perPartition.set(result.partition, (perPartition.get(result.partition) ?? 0) + 1);
      if (ctx.out.json) {
        ctx.out.writeJson({ topic: result.topic, partition: result.partition, offset: result.offset < 0 ? null : result.offset });
        await ctx.out.drain();
      }
    };

    const lines = createInterface({ input: ctx.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    const stop = (): void => lines.close();
    ctx.signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const line of lines) {
        if (line === '') continue;
        const record = toRecord(topic, line, key, separator, headers, partition);
        const sent = producer.send(record);
        // Reported in order by settleOldest; a rejection before then must not count as unhandled.
        sent.catch(() => undefined);
        pending.push(sent);
        if (pending.length >= MAX_PENDING) await settleOldest();
      }
      while (pending.length > 0) await settleOldest();
      await producer.flush();
    } finally {
      ctx.signal.removeEventListener('abort', stop);
      lines.close();
      await Promise.allSettled(pending);
      await producer.close();
    }
    if (!ctx.out.json) {
      const spread = [...perPartition.entries()].sort((a, b) => a[0] - b[0]).map(([p, n]) => `partition ${p}: ${n}`);
      ctx.out.line(`Produced ${count} record${count === 1 ? '' : 's'} to ${topic}${spread.length > 0 ? ` (${spread.join(', ')})` : ''}.`);
    }
  },
});

function toRecord(
  topic: string,
  line: string,
  key: string | undefined,
  separator: string | undefined,
  headers: readonly { key: string; value: Buffer }[],
  partition: number | undefined,
): ProducerRecord {
  let recordKey: string | null = key ?? null;
  let value = line;
  if (separator !== undefined) {
    const at = line.indexOf(separator);
    if (at >= 0) {
      recordKey = line.slice(0, at);
      value = line.slice(at + separator.length);
    }
  }
  return {
    topic,
    key: recordKey,
    value,
    ...(headers.length === 0 ? {} : { headers }),
    ...(partition === undefined ? {} : { partition }),
  };
}
