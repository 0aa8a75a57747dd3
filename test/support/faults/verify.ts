/**
 * The check a fault test runs after each fault: a fresh consumer reads every partition from
 * offset 0, as any application would, until it has passed the highest acknowledged offset of each,
 * and the records read are compared with the ledger of what was sent (./load.ts).
 *
 * - lost: an acknowledged record that is not in the log at all (records deleted on purpose, below
 *   Ledger.deletedBefore, are not looked for);
 * - misplaced: an acknowledged record that is in the log, but not at the offset its
 *   acknowledgement reported (a record truncated and rewritten elsewhere);
 * - duplicates: extra copies of a record (a retried request whose first answer was lost; allowed
 *   without an idempotent producer, counted and reported, never counted as loss);
 * - foreign: a record whose id was never sent, or that sits in another partition than the one it
 *   was sent to;
 * - reordered: within a partition, the first copy of a record whose sequence number is below one
 *   read before it.
 */
import type { StreamBus } from '../../../client/index.js';
import type { Ledger } from './load.js';

export interface Verdict {
  readonly read: number;
  readonly acknowledged: number;
  readonly lost: readonly string[];
  readonly misplaced: readonly string[];
  readonly duplicates: number;
  readonly foreign: readonly string[];
  readonly reordered: readonly string[];
}

/** Whether a verdict shows no lost, misplaced, foreign or reordered record (duplicates are allowed). */
export function clean(verdict: Verdict): boolean {
  return verdict.lost.length === 0 && verdict.misplaced.length === 0 && verdict.foreign.length === 0 && verdict.reordered.length === 0;
}

export function describeVerdict(verdict: Verdict): string {
  const few = (ids: readonly string[]): string => (ids.length === 0 ? '0' : `${ids.length} (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''})`);
  return (
    `${verdict.read} read, ${verdict.acknowledged} acknowledged, lost ${few(verdict.lost)}, misplaced ${few(verdict.misplaced)}, ` +
    `duplicates ${verdict.duplicates}, foreign ${few(verdict.foreign)}, reordered ${few(verdict.reordered)}`
  );
}

/**
 * Reads `topic` from the start and checks it against `ledger`: every record of `acknowledged`
 * (a snapshot taken when the check began; the load may still run) must be there exactly where its
 * acknowledgement said. Throws if the reader cannot reach the acknowledged offsets in `timeoutMs`.
 */
export async function readAndVerify(bus: StreamBus, topic: string, ledger: Ledger, acknowledged: ReadonlyMap<string, number>, timeoutMs = 30_000): Promise<Verdict> {
  const targets = Array.from({ length: ledger.partitions }, () => 0);
  for (const [id, offset] of acknowledged) {
    const partition = ledger.sent.get(id)!.partition;
    targets[partition] = Math.max(targets[partition]!, offset + 1);
  }
  /** Per partition: offset → id, of everything read. */
  const logs = Array.from({ length: ledger.partitions }, () => new Map<number, string>());
  const remaining = new Set(targets.flatMap((target, partition) => (target > 0 ? [partition] : [])));
  if (remaining.size > 0) {
    const consumer = bus.consumer({ autoOffsetReset: 'earliest', maxWaitMs: 100 });
    consumer.assign([...remaining].map((partition) => ({ topic, partition, offset: 0 })));
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      for await (const batch of consumer.batches({ signal })) {
        const log = logs[batch.partition]!;
        for (const message of batch.messages) log.set(message.offset, message.value?.toString('utf8') ?? '');
        const last = batch.messages.at(-1);
        if (last !== undefined && last.offset + 1 >= targets[batch.partition]!) {
          remaining.delete(batch.partition);
          consumer.pause([{ topic, partition: batch.partition }]);
        }
        if (remaining.size === 0) break;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
      const behind = [...remaining].map((p) => `partition ${p}: read to ${Math.max(-1, ...logs[p]!.keys()) + 1}, acknowledged up to ${targets[p]!}`);
      throw new Error(`the reader did not reach the acknowledged offsets within ${timeoutMs} ms (${behind.join('; ')})`, { cause: error });
    } finally {
      await consumer.close();
    }
  }
  return judge(ledger, acknowledged, logs);
}

function judge(ledger: Ledger, acknowledged: ReadonlyMap<string, number>, logs: readonly Map<number, string>[]): Verdict {
  const copies = new Map<string, number>();
  const foreign: string[] = [];
  const reordered: string[] = [];
  let read = 0;
  logs.forEach((log, partition) => {
    let highestSeq = -1;
    for (const offset of [...log.keys()].sort((a, b) => a - b)) {
      read++;
      const value = log.get(offset)!;
      const [id = '', sentTo, seq] = value.split(' ');
      const sent = ledger.sent.get(id);
      if (sent === undefined || sent.partition !== partition || String(sent.partition) !== sentTo || String(sent.seq) !== seq) {
        foreign.push(`${partition}@${offset}:${value}`);
        continue;
      }
      const seen = copies.get(id) ?? 0;
      copies.set(id, seen + 1);
      if (seen > 0) continue;
      if (sent.seq < highestSeq) reordered.push(`${partition}@${offset}:${id}`);
      highestSeq = Math.max(highestSeq, sent.seq);
    }
  });
  const lost: string[] = [];
  const misplaced: string[] = [];
  for (const [id, offset] of acknowledged) {
    const partition = ledger.sent.get(id)!.partition;
    if (offset < ledger.deletedBefore[partition]! || logs[partition]!.get(offset)?.split(' ')[0] === id) continue;
    if ((copies.get(id) ?? 0) > 0) misplaced.push(`${id}@${partition}:${offset}`);
    else lost.push(`${id}@${partition}:${offset}`);
  }
  let duplicates = 0;
  for (const count of copies.values()) duplicates += count - 1;
  return { read, acknowledged: acknowledged.size, lost, misplaced, duplicates, foreign, reordered };
}
