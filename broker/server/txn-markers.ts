/**
 * The broker's two transaction APIs (docs/transactions-broker.md):
 *
 * WRITE_TXN_MARKERS (46): the transaction coordinator, once a transaction's outcome is decided,
 * asks each partition leader to write a commit or abort marker (a control batch) for the producer.
 * Each partition's answer comes once the marker is replicated to the ISR (the high watermark
 * covers it, as for acks=all), so the coordinator may then move the transaction to Complete: no
 * leader change can lose a marker it was told about. A marker from an older coordinator epoch than
 * one the partition already saw for that producer is refused (TRANSACTION_COORDINATOR_FENCED), as
 * is one for an older producer epoch (INVALID_PRODUCER_EPOCH); either writes nothing.
 *
 * DESCRIBE_PRODUCERS (49): the producer state of partitions this broker leads.
 */
import type { Logger } from 'pino';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import type * as M from '../../proto/messages.js';
import type { PartitionLog } from '../log/index.js';

/** How long a marker waits for the ISR before the partition answers REQUEST_TIMED_OUT. */
export const MARKER_REPLICATION_TIMEOUT_MS = 30_000;

export interface MarkerWriter {
  /** The log of a partition this broker leads, with its leader epoch, or the error to answer. */
  partition(topic: string, partition: number): { log: PartitionLog; leaderEpoch: number } | StreamBusError;
  /** Resolves once the high watermark covers `endOffset` (the ISR has the marker). */
  waitReplicated(topic: string, partition: number, log: PartitionLog, endOffset: number, timeoutMs: number, leaderEpoch: number): Promise<void>;
  nowMs(): number;
  readonly logger: Logger;
}

/** Serves WRITE_TXN_MARKERS: every listed partition gets its own result, markers in parallel. */
export async function writeTxnMarkers(body: M.WriteTxnMarkersRequest, writer: MarkerWriter): Promise<M.WriteTxnMarkersResponse> {
  const markers = await Promise.all(
    body.markers.map(async (marker): Promise<M.TxnMarkerResult> => ({
      producerId: marker.producerId,
      topics: await Promise.all(
        marker.topics.map(async (topic): Promise<M.GroupTopicResult> => ({
          name: topic.name,
          partitions: await Promise.all(topic.partitions.map((partition) => writeOne(marker, topic.name, partition, writer))),
        })),
      ),
    })),
  );
  return { markers };
}

async function writeOne(marker: M.TxnMarker, topic: string, partition: number, writer: MarkerWriter): Promise<M.GroupPartitionResult> {
  try {
    checkMarker(marker);
    const found = writer.partition(topic, partition);
    if (found instanceof StreamBusError) throw found;
    const { log, leaderEpoch } = found;
    const written = await log.appendMarker(
      { producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch },
      { nowMs: writer.nowMs(), leaderEpoch },
    );
    await writer.waitReplicated(topic, partition, log, written.lastOffset + 1, MARKER_REPLICATION_TIMEOUT_MS, leaderEpoch);
    return { partition, errorCode: ErrorCode.NONE, errorMessage: '' };
  } catch (error) {
    const failure = asError(error, writer.logger, topic, partition);
    return { partition, errorCode: failure.code, errorMessage: failure.message };
  }
}

/** Refuses what no coordinator sends: negative ids, epochs out of the int16 range. */
function checkMarker(marker: M.TxnMarker): void {
  if (!Number.isSafeInteger(marker.producerId) || marker.producerId < 0) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a marker needs a producer id >= 0, got ${marker.producerId}`);
  }
  if (!Number.isInteger(marker.producerEpoch) || marker.producerEpoch < 0 || marker.producerEpoch > 0x7fff) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a marker's producer epoch must be 0 to 32767, got ${marker.producerEpoch}`);
  }
  if (!Number.isInteger(marker.coordinatorEpoch) || marker.coordinatorEpoch < 0 || marker.coordinatorEpoch > 0x7fff_ffff) {
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `a marker's coordinator epoch must be 0 to 2^31-1, got ${marker.coordinatorEpoch}`);
  }
}

/** Serves DESCRIBE_PRODUCERS from the producer state of the partitions this broker leads. */
export function describeProducers(
  body: M.DescribeProducersRequest,
  partitionLog: (topic: string, partition: number) => PartitionLog | StreamBusError,
): M.DescribeProducersResponse {
  return {
    topics: body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition): M.DescribeProducersPartition => {
        const log = partitionLog(topic.name, partition);
        if (log instanceof StreamBusError) return { partition, errorCode: log.code, errorMessage: log.message, activeProducers: [] };
        return {
          partition,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          activeProducers: log.producers().map((entry) => ({
            producerId: entry.producerId,
            producerEpoch: entry.producerEpoch,
            lastSequence: entry.batches.at(-1)?.lastSequence ?? -1,
            lastTimestampMs: entry.lastTimestampMs,
            coordinatorEpoch: entry.coordinatorEpoch,
            currentTxnStartOffset: entry.txnFirstOffset,
          })),
        };
      }),
    })),
  };
}

function asError(error: unknown, logger: Logger, topic: string, partition: number): StreamBusError {
  if (error instanceof StreamBusError) return error;
  logger.error({ err: error, topic, partition }, 'unexpected error writing a transaction marker');
  return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, error instanceof Error ? error.message : String(error), { cause: error, context: { topic, partition } });
}
