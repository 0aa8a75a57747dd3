/**
 * Reading a fetch request's partitions: who may be read (leader or any replica, by who asks), the
 * replication checks, the reads themselves, started together, and the request's max_bytes shared
 * out in request order afterwards. The broker's FETCH handler (broker.ts) wraps this in the long
 * poll; the answers keep each partition's stored batches as a list, never one copy.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import { readBatchHeader } from '../../proto/record-batch/index.js';
import type { ChunkedReadResult, PartitionLog } from '../log/index.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { TopicView } from './metadata-view.js';

export const DEFAULT_FETCH_MAX_BYTES = 50 * 1024 * 1024;
export const DEFAULT_PARTITION_FETCH_BYTES = 1024 * 1024;
export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;
const NO_BATCHES: readonly Buffer[] = [];

/**
 * A fetch answer as the broker builds it: each `records` is the list of stored batches, not one
 * copy. The FETCH entry of the handler table checks that it encodes as a FetchResponse.
 */
export type FetchPartitionAnswer = Omit<M.FetchPartitionResult, 'records'> & { records: readonly Buffer[] };
export interface FetchAnswer {
  throttleMs: number;
  topics: { name: string; partitions: FetchPartitionAnswer[] }[];
}

/** What reading a fetch needs from the broker. */
export interface FetchReadDeps {
  /** The partition's log and topic as this broker serves it, or why it cannot. */
  partitionLog(topic: string, partition: number, as: 'leader' | 'replica'): { topic: TopicView; log: PartitionLog } | StreamBusError;
  readonly checkFetch: ReplicaManager['checkFetch'];
  /** The typed form of a read's failure (an unexpected one is logged). */
  typed(error: unknown, topic: string, partition: number): StreamBusError;
}

/**
 * One read of every partition a fetch names, with the request's limits applied. `bytes` counts
 * the record bytes returned (for min_bytes), `failed` whether any partition failed (which ends a
 * long poll at once). A bad isolation level is refused with INVALID_REQUEST.
 */
export async function readFetch(deps: FetchReadDeps, body: M.FetchRequest): Promise<{ response: FetchAnswer; bytes: number; failed: boolean }> {
  if (body.isolationLevel !== READ_UNCOMMITTED && body.isolationLevel !== READ_COMMITTED) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `isolation level must be 0 (read_uncommitted) or 1 (read_committed), not ${body.isolationLevel}`);
  }
  // Followers copy everything; read_committed consumers read only below the last stable offset.
  const committedOnly = body.isolationLevel === READ_COMMITTED && !isReplica(body);
  const maxBytes = body.maxBytes > 0 ? body.maxBytes : DEFAULT_FETCH_MAX_BYTES;
  let remaining = maxBytes;
  let bytes = 0;
  let failed = false;
  const as = fetchesAs(body);
  // Every partition's read starts at once (LevelDB reads run on the thread pool, so a request for
  // several partitions costs about its slowest read, not their sum), each up to its own limit and
  // the request's; max_bytes is then shared out in request order, as if read one after another.
  const planned = body.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((p) => startPartitionRead(deps, topic.name, p, as, committedOnly, Math.min(p.maxBytes > 0 ? p.maxBytes : DEFAULT_PARTITION_FETCH_BYTES, maxBytes), body.replicaId ?? 0)),
  }));
  const topics: FetchAnswer['topics'] = [];
  for (const topic of planned) {
    const partitions: FetchPartitionAnswer[] = [];
    for (const plan of topic.partitions) {
      if ('answer' in plan) {
        failed = true;
        partitions.push(plan.answer);
        continue;
      }
      const { p, log, limit: partitionLimit } = plan;
      const read = await plan.read;
      if (read instanceof StreamBusError) {
        failed = true;
        partitions.push(fetchError(p.partition, read, log));
        continue;
      }
      // Only the first partition that returns data may exceed the limits (so one oversized batch
      // can always make progress); later ones stop at what is left of max_bytes.
      const { records, recordsBytes } = withinBudget(read.chunks, Math.min(partitionLimit, remaining), bytes === 0);
      bytes += recordsBytes;
      remaining = Math.max(0, remaining - recordsBytes);
      const lastChunk = records.at(-1);
      const abortedTransactions =
        committedOnly && lastChunk !== undefined
          ? log.abortedTransactions(p.fetchOffset, readBatchHeader(lastChunk).lastOffset + 1).map(({ producerId, firstOffset }) => ({ producerId, firstOffset }))
          : [];
      partitions.push({
        partition: p.partition,
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        highWatermark: log.highWatermark,
        lastStableOffset: log.lastStableOffset,
        logStartOffset: log.logStartOffset,
        abortedTransactions,
        records,
      });
    }
    topics.push({ name: topic.name, partitions });
  }
  return { response: { topics, throttleMs: 0 }, bytes, failed };
}

/**
 * One partition of a fetch: its answer at once when it cannot be read (unknown, not led here,
 * a fenced epoch, a diverging follower), else its read started, up to `limit` bytes.
 */
function startPartitionRead(
  deps: FetchReadDeps,
  topicName: string,
  p: M.FetchPartition,
  as: 'leader' | 'replica',
  committedOnly: boolean,
  limit: number,
  replicaId: number,
): { readonly answer: FetchPartitionAnswer } | { readonly p: M.FetchPartition; readonly log: PartitionLog; readonly limit: number; readonly read: Promise<ChunkedReadResult | StreamBusError> } {
  const found = deps.partitionLog(topicName, p.partition, as);
  if (found instanceof StreamBusError) return { answer: fetchError(p.partition, found) };
  const { log } = found;
  const checked = deps.checkFetch(topicName, found.topic.partitions[p.partition]!, log, replicaId, p);
  if ('refuse' in checked) return { answer: fetchError(p.partition, checked.refuse, log) };
  if ('diverging' in checked) return { answer: { ...fetchError(p.partition, undefined, log), divergingEpoch: checked.diverging } };
  const maxOffset = committedOnly ? Math.min(checked.maxOffset, log.lastStableOffset) : checked.maxOffset;
  const read = log.readChunks(p.fetchOffset, Math.max(limit, 1), { maxOffset }).catch((error: unknown) => deps.typed(error, topicName, p.partition));
  return { p, log, limit, read };
}

/**
 * The batches of one partition's read that fit `limit` bytes, and their size: the longest prefix within it, which
 * is what a read with that limit returns (whole batches, in order), or the first batch alone when
 * it is larger and `first` (no partition before it returned data) says it may exceed the limit.
 */
function withinBudget(chunks: readonly Buffer[], limit: number, first: boolean): { records: readonly Buffer[]; recordsBytes: number } {
  let bytes = 0;
  let count = 0;
  while (count < chunks.length && bytes + chunks[count]!.length <= limit) bytes += chunks[count++]!.length;
  if (count === 0 && first && chunks.length > 0) return { records: chunks.slice(0, 1), recordsBytes: chunks[0]!.length };
  return { records: count === chunks.length ? chunks : chunks.slice(0, count), recordsBytes: bytes };
}

/** Whether a fetch comes from a follower (replica_id is a broker id) rather than a consumer. */
export function isReplica(body: M.FetchRequest): boolean {
  return (body.replicaId ?? 0) > 0;
}

/**
 * Who may serve a fetch: a follower's fetch only the leader (a follower that asks another follower
 * gets NOT_LEADER_OR_FOLLOWER), a consumer's any replica, each bounded by its own high watermark.
 */
export function fetchesAs(body: M.FetchRequest): 'leader' | 'replica' {
  return isReplica(body) ? 'leader' : 'replica';
}

/** A partition's answer without records: an error, or (error undefined) a diverging epoch's frame. */
export function fetchError(partition: number, error: StreamBusError | undefined, log?: PartitionLog): FetchPartitionAnswer {
  return {
    partition,
    errorCode: error?.code ?? ErrorCode.NONE,
    errorMessage: error?.message ?? '',
    highWatermark: log?.highWatermark ?? -1,
    lastStableOffset: log?.lastStableOffset ?? -1,
    logStartOffset: log?.logStartOffset ?? -1,
    abortedTransactions: [],
    records: NO_BATCHES,
  };
}
