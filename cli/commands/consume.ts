/**
 * `streambus consume <topic>`: prints records of a topic without joining a consumer group (nothing
 * is committed, nothing is rebalanced).
 *
 * Stopping: with -n it stops after n records; --exit-at-end stops once it has printed everything
 * that was in the topic when it started; otherwise (or with --follow) it follows new records until
 * Ctrl-C, which closes the consumer and exits 0. Output waits for stdout to drain, so a slow reader
 * (`| less`) slows consumption instead of growing memory.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { defineCommand, UsageError } from '../command.js';
import type { Message } from '../client.js';

const NAME = 'consume';
const ENCODINGS = ['utf8', 'base64', 'hex'] as const;
type Encoding = (typeof ENCODINGS)[number];

/** Where to start, as parsed from --from. */
export type StartPosition =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'timestamp'; readonly timestampMs: number };

/**
 * Parses --from: beginning|earliest, end|latest, an offset (123), or a time: @<ms since the epoch>
 * or an ISO 8601 date-time (2024-05-01T12:00:00Z). A bare number is always an offset; times need
 * the @ or the ISO form, so the two can never be confused.
 */
export function parseStart(text: string): StartPosition {
  const trimmed = text.trim();
  if (trimmed === 'beginning' || trimmed === 'earliest' || trimmed === 'start') return { kind: 'earliest' };
  if (trimmed === 'end' || trimmed === 'latest') return { kind: 'latest' };
  if (/^\d+$/.test(trimmed) && Number.isSafeInteger(Number(trimmed))) return { kind: 'offset', offset: Number(trimmed) };
  if (/^@\d+$/.test(trimmed) && Number.isSafeInteger(Number(trimmed.slice(1)))) return { kind: 'timestamp', timestampMs: Number(trimmed.slice(1)) };
  const iso = trimmed.startsWith('@') ? trimmed.slice(1) : trimmed;
  if (/^\d{4}-\d{2}-\d{2}/.test(iso)) {
    const ms = Date.parse(iso);
    if (Number.isFinite(ms) && ms >= 0) return { kind: 'timestamp', timestampMs: ms };
  }
  throw new UsageError(`--from expects beginning, end, an offset, @<ms> or an ISO 8601 time, got '${text}'`, NAME);
}

function encode(bytes: Buffer | null, encoding: Encoding): string | null {
  return bytes === null ? null : bytes.toString(encoding);
}

/**
 * Renders a record with a --format template: %t topic, %p partition, %o offset, %T timestamp (ms),
 * %k key, %v value, %h headers (k=v,k=v), %% a percent sign; \n and \t as escapes.
 */
export function formatRecord(template: string, record: Message, encoding: Encoding): string {
  return template.replace(/%[tpoTkvh%]|\\[nt\\]/g, (token) => {
    switch (token) {
      case '%t':
        return record.topic;
      case '%p':
        return String(record.partition);
      case '%o':
        return String(record.offset);
      case '%T':
        return String(record.timestamp);
      case '%k':
        return encode(record.key, encoding) ?? '';
      case '%v':
        return encode(record.value, encoding) ?? '';
      case '%h':
        return record.headers.map((h) => `${h.key}=${encode(h.value, encoding) ?? ''}`).join(',');
      case '%%':
        return '%';
      case '\\n':
        return '\n';
      case '\\t':
        return '\t';
      default:
        return '\\';
    }
  });
}

/** The NDJSON shape of a record (--json): stable field names, bytes as text in the chosen encoding. */
export function recordJson(record: Message, encoding: Encoding): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: encode(record.key, encoding),
    value: encode(record.value, encoding),
    headers: record.headers.map((h) => ({ key: h.key, value: encode(h.value, encoding) })),
  };
}

export const command = defineCommand({
  name: NAME,
  summary: 'Print records of a topic',
  description: [
    'Prints each record\'s value on its own line, or what --format says; --json prints one JSON object per record.',
    'Without -n (or with --follow) it keeps waiting for new records until Ctrl-C; with -n it stops after n records,',
    'or at the end of the topic unless --follow is given. No consumer group is joined and no offset is committed.',
  ].join('\n'),
  positionals: [{ name: 'topic', description: 'The topic to read' }],
  options: {
    from: { type: 'string', short: 'o', default: 'beginning', valueName: 'position', description: 'Where to start in each partition: beginning, end, an offset, @<ms since epoch> or an ISO 8601 time' },
    partition: { type: 'integer', short: 'p', min: 0, description: 'Read only this partition (default: all)' },
    count: { type: 'integer', short: 'n', min: 1, description: 'Stop after this many records' },
    follow: { type: 'boolean', short: 'f', description: 'Wait for new records (the default without -n)' },
    'exit-at-end': { type: 'boolean', short: 'e', description: 'Stop after the records that existed at start' },
    format: { type: 'string', default: '%v', valueName: 'template', description: 'Line template: %t topic, %p partition, %o offset, %T timestamp, %k key, %v value, %h headers' },
    encoding: { type: 'string', default: 'utf8', valueName: ENCODINGS.join('|'), description: 'How keys, values and headers are printed' },
  },
  examples: [
    'streambus consume orders -n 10',
    "streambus consume orders --from end --format '%p:%o %k=%v'",
    'streambus consume orders --from 2024-05-01T00:00:00Z --exit-at-end --json',
  ],
  async run(ctx) {
    const { topic } = ctx.args;
    const { count, partition } = ctx.options;
    const start = parseStart(ctx.options.from);
    const encoding = ctx.options.encoding as Encoding;
    if (!ENCODINGS.includes(encoding)) throw new UsageError(`--encoding expects one of ${ENCODINGS.join(', ')}, got '${ctx.options.encoding}'`, NAME);
    if (ctx.options.follow && ctx.options['exit-at-end']) throw new UsageError('--follow and --exit-at-end cannot be combined', NAME);
    const follow = ctx.options.follow || (count === undefined && !ctx.options['exit-at-end']);

    const client = await ctx.client();
    const admin = client.admin();
    // Rejects with UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
    const [description] = await admin.describeTopics([topic], { signal: ctx.signal });
    const described = description?.partitions ?? [];
    let partitions = described.map((p) => p.partition).sort((a, b) => a - b);
    if (partition !== undefined) {
      if (!partitions.includes(partition)) {
        throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic} has no partition ${partition}`, { context: { topic, partition } });
      }
      partitions = [partition];
    }
    if (partitions.length === 0) {
      throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic} does not exist`, { context: { topic } });
    }

    // describeTopics read each partition's log start and high watermark: the end we stop at
    // without --follow, and the start for --from beginning/end.
    const ends = new Map(described.map((p) => [p.partition, Math.max(0, p.latestOffset)]));
    let starts: Map<number, number>;
    if (start.kind === 'earliest') starts = new Map(described.map((p) => [p.partition, Math.max(0, p.earliestOffset)]));
    else if (start.kind === 'latest') starts = ends;
    else if (start.kind === 'offset') starts = new Map(partitions.map((p) => [p, start.offset]));
    else {
      const answers = await admin.listOffsets(partitions.map((p) => ({ topic, partition: p, at: { timestamp: start.timestampMs } })), { signal: ctx.signal });
      const found = new Map(answers.map((a) => [a.partition, a.offset]));
      // No record at or after the time: start at the end, like seekToTimestamp.
      starts = new Map(partitions.map((p) => [p, (found.get(p) ?? -1) < 0 ? (ends.get(p) ?? 0) : found.get(p)!]));
    }

    // Without --follow, partitions already at their end need no fetching at all.
    const remaining = new Set(partitions.filter((p) => follow || (starts.get(p) ?? 0) < (ends.get(p) ?? 0)));
    if (remaining.size === 0) return;

    const consumer = client.consumer({ autoOffsetReset: start.kind === 'latest' ? 'latest' : 'earliest' });
    let printed = 0;
    try {
      consumer.assign([...remaining].map((p) => ({ topic, partition: p, offset: starts.get(p) ?? 0 })));
      for await (const record of consumer.messages({ signal: ctx.signal })) {
        if (!follow && record.offset >= (ends.get(record.partition) ?? 0)) {
          // Written after we started: this partition is done (this also covers offset gaps).
          remaining.delete(record.partition);
          if (remaining.size === 0) break;
          continue;
        }
        ctx.out.stdout.write(ctx.out.json ? `${JSON.stringify(recordJson(record, encoding))}\n` : `${formatRecord(ctx.options.format, record, encoding)}\n`);
        await ctx.out.drain();
        if (ctx.signal.aborted) break;
        printed += 1;
        if (count !== undefined && printed >= count) break;
        if (!follow) {
          const position = consumer.position({ topic, partition: record.partition }) ?? record.offset + 1;
          if (position >= (ends.get(record.partition) ?? 0)) remaining.delete(record.partition);
          if (remaining.size === 0) break;
        }
      }
    } catch (error) {
      // Ctrl-C rejects the pending read with the signal's reason: a normal way to stop.
      if (!ctx.signal.aborted) throw error;
    } finally {
      await consumer.close();
    }
  },
});
