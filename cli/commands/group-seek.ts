/**
 * `streambus group seek <group>`: moves a group's committed offsets, as kafka-consumer-groups.sh
 * --reset-offsets does. It always prints the plan (each partition's current and new offset) and
 * changes nothing unless `--execute` is given, and even then only when the group has no members
 * (Empty, or unknown to the coordinator): a running consumer would overwrite the new offsets with
 * its next commit, so a seek under live members is refused (NON_EMPTY_GROUP).
 *
 * Targets: `--to earliest`, `--to latest`, `--to <offset>`, `--to @<time>` (ISO 8601 or epoch ms:
 * the first record at or after it), or `--shift-by <n>` (negative moves back). New offsets are
 * clamped into [log start, end]. Partitions: `--topic T` (all its partitions) or `--topic T:P`,
 * repeatable; default every partition the group has an offset for.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type { OffsetQuery } from '../client.js';
import { UsageError, defineCommand } from '../command.js';
import { describeGroup, withGroupCoordinators } from './group-shared.js';

const NAME = 'group seek';

/** Where the offsets go. */
export type SeekTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'time'; readonly timestampMs: number }
  | { readonly kind: 'shift'; readonly by: number };

/** Parses --to / --shift-by into a target; exactly one must be given. */
export function parseSeekTarget(to: string | undefined, shiftBy: string | undefined): SeekTarget {
  if ((to === undefined) === (shiftBy === undefined)) throw new UsageError('give exactly one of --to and --shift-by', NAME);
  if (shiftBy !== undefined) {
    if (!/^[-+]?\d+$/.test(shiftBy.trim())) throw new UsageError(`--shift-by expects an integer, got '${shiftBy}'`, NAME);
    return { kind: 'shift', by: Number(shiftBy) };
  }
  const text = to!.trim();
  if (text === 'earliest' || text === 'latest') return { kind: text };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: Number(text) };
  if (text.startsWith('@')) {
    const when = text.slice(1);
    const timestampMs = /^\d+$/.test(when) ? Number(when) : Date.parse(when);
    if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) throw new UsageError(`--to @time expects ISO 8601 or epoch ms, got '${when}'`, NAME);
    return { kind: 'time', timestampMs };
  }
  throw new UsageError(`--to expects earliest, latest, an offset or @time, got '${to!}'`, NAME);
}

/** `T` or `T:P` from --topic. */
export function parseTopicSelector(text: string): { topic: string; partition: number | undefined } {
  const at = text.lastIndexOf(':');
  if (at < 0) {
    if (text === '') throw new UsageError('--topic expects T or T:P', NAME);
    return { topic: text, partition: undefined };
  }
  const topic = text.slice(0, at);
  const partition = text.slice(at + 1);
  if (topic === '' || !/^\d+$/.test(partition)) throw new UsageError(`--topic expects T or T:P, got '${text}'`, NAME);
  return { topic, partition: Number(partition) };
}

export interface SeekPlanRow {
  readonly topic: string;
  readonly partition: number;
  /** -1 when the group has no offset there. */
  readonly current: number;
  readonly next: number;
}

/** The new offset of one partition, clamped into [start, end]. Pure. */
export function plannedOffset(target: SeekTarget, current: number, start: number, end: number, atTime: number | undefined): number {
  let next: number;
  switch (target.kind) {
    case 'earliest':
      next = start;
      break;
    case 'latest':
      next = end;
      break;
    case 'offset':
      next = target.offset;
      break;
    case 'time':
      next = atTime === undefined || atTime < 0 ? end : atTime;
      break;
    case 'shift':
      next = (current >= 0 ? current : start) + target.by;
      break;
  }
  return Math.min(Math.max(next, start), end);
}

export const command = defineCommand({
  name: NAME,
  summary: 'Move a consumer group\'s committed offsets (dry run unless --execute)',
  positionals: [{ name: 'group', description: 'The group id' }],
  options: {
    to: { type: 'string', valueName: 'earliest|latest|<offset>|@<time>', description: 'Where to move the offsets' },
    'shift-by': { type: 'string', valueName: 'n', description: 'Move each offset by n (negative: back)' },
    topic: { type: 'string', multiple: true, valueName: 'T[:P]', description: 'Only this topic (or partition); repeatable. Default: every partition the group has an offset for' },
    execute: { type: 'boolean', description: 'Commit the new offsets (the group must have no members)' },
  },
  examples: [
    'streambus group seek billing --to earliest',
    'streambus group seek billing --to @2026-11-21T12:00:00Z --topic orders --execute',
    'streambus group seek billing --shift-by -100 --topic orders:3 --execute',
  ],
  async run(ctx) {
    const target = parseSeekTarget(ctx.options.to, ctx.options['shift-by']);
    const selectors = ctx.options.topic.map(parseTopicSelector);
    const groupId = ctx.args.group;
    const client = await ctx.client();
    const admin = client.admin();
    await withGroupCoordinators(ctx, async (coordinators) => {
      const description = await describeGroup(coordinators, groupId, ctx.signal);
      const committed = await coordinators.groups.fetchOffsets(groupId, undefined, { signal: ctx.signal });
      const currentOf = new Map(committed.map((c) => [`${c.topic}\u0000${c.partition}`, c.offset]));
      let partitions: { topic: string; partition: number }[];
      if (selectors.length === 0) {
        partitions = committed.map((c) => ({ topic: c.topic, partition: c.partition }));
      } else {
        const whole = selectors.filter((s) => s.partition === undefined).map((s) => s.topic);
        const described = whole.length === 0 ? [] : await admin.describeTopics([...new Set(whole)], { signal: ctx.signal });
        partitions = [
          ...described.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition }))),
          ...selectors.flatMap((s) => (s.partition === undefined ? [] : [{ topic: s.topic, partition: s.partition }])),
        ];
      }
      const unique = new Map(partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p]));
      partitions = [...unique.values()].sort((a, b) => (a.topic !== b.topic ? (a.topic < b.topic ? -1 : 1) : a.partition - b.partition));
      if (partitions.length === 0) throw new StreamBusError(ErrorCode.INVALID_REQUEST, `group ${groupId} has no committed offsets; name the partitions with --topic`);

      const query = (at: OffsetQuery['at']): OffsetQuery[] => partitions.map((p) => ({ ...p, at }));
      const [starts, ends, times] = await Promise.all([
        admin.listOffsets(query('earliest'), { signal: ctx.signal }),
        admin.listOffsets(query('latest'), { signal: ctx.signal }),
        target.kind === 'time' ? admin.listOffsets(query({ timestamp: target.timestampMs }), { signal: ctx.signal }) : Promise.resolve([]),
      ]);
      const byKey = (list: readonly { topic: string; partition: number; offset: number }[]): Map<string, number> => new Map(list.map((o) => [`${o.topic}\u0000${o.partition}`, o.offset]));
      const startOf = byKey(starts);
      const endOf = byKey(ends);
      const timeOf = byKey(times);
      const plan: SeekPlanRow[] = partitions.map((p) => {
        const key = `${p.topic}\u0000${p.partition}`;
        const current = currentOf.get(key) ?? -1;
        return { ...p, current, next: plannedOffset(target, current, startOf.get(key) ?? 0, endOf.get(key) ?? 0, timeOf.get(key)) };
      });

      const empty = description.state === 'Empty' || description.state === 'Dead';
      if (ctx.options.execute && !empty) {
        throw new StreamBusError(ErrorCode.NON_EMPTY_GROUP, `group ${groupId} is ${description.state} with ${description.members.length} member(s): stop its consumers before seeking (nothing was changed)`);
      }
      if (ctx.options.execute) {
        await coordinators.groups.commitOffsets({ groupId, offsets: plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.next })) }, { signal: ctx.signal });
      }
      if (ctx.out.json) {
        ctx.out.writeJson({ groupId, state: description.state, executed: ctx.options.execute, partitions: plan.map((p) => ({ ...p, current: p.current < 0 ? null : p.current })) });
        return;
      }
      ctx.out.table(
        [{ key: 'topic' }, { key: 'partition' }, { key: 'current', header: 'CURRENT' }, { key: 'next', header: 'NEW' }],
        plan.map((p) => ({ ...p, current: p.current < 0 ? '-' : p.current })),
      );
      ctx.out.line();
      ctx.out.line(ctx.options.execute ? `Committed ${plan.length} offset(s) for group ${groupId}.` : `Dry run: nothing changed. Add --execute to commit these offsets (the group must have no members).`);
    });
  },
});
