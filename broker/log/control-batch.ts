/**
 * Transaction markers as record batches (Kafka's control batches): the broker writes one to a
 * partition when a transaction ends there (WRITE_TXN_MARKERS), and every replica reads it back to
 * close the transaction in its producer state (./producer-state.ts).
 *
 * A control batch has attributes isControl | isTransactional, the producer id and epoch of the
 * transaction, base sequence -1, and one record:
 *   key   = int16 version (0) | int16 type (0 abort, 1 commit)
 *   value = int16 version (0) | int32 coordinator epoch
 * Consumers skip control batches; read_committed consumers use the abort markers to end the
 * aborted ranges the fetch lists.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { decodeRecordBatchesSync, encodeRecordBatchSync, type Crc32c } from '../../proto/record-batch/index.js';
import type { MarkerInfo } from './producer-state.js';

const CONTROL_VERSION = 0;
const ControlType = { abort: 0, commit: 1 } as const;

export interface MarkerSpec extends MarkerInfo {
  readonly producerId: number;
  readonly producerEpoch: number;
}

/** Encodes a marker batch (offsets and leader epoch are the appender's to patch). */
export function encodeMarkerBatch(marker: MarkerSpec, nowMs: number, crc32c?: Crc32c): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(CONTROL_VERSION, 0);
  key.writeInt16BE(marker.committed ? ControlType.commit : ControlType.abort, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(CONTROL_VERSION, 0);
  value.writeInt32BE(marker.coordinatorEpoch, 2);
  return encodeRecordBatchSync({
    records: [{ key, value, timestamp: nowMs }],
    nowMs,
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    baseSequence: -1,
    isTransactional: true,
    isControl: true,
    ...(crc32c === undefined ? {} : { crc32c }),
  });
}

/**
 * The marker a stored control batch holds. Throws CORRUPT_MESSAGE when the batch is not a
 * control batch with one well-formed marker record.
 */
export function decodeMarker(batch: Buffer, crc32c?: Crc32c): MarkerInfo {
  const [decoded] = decodeRecordBatchesSync(batch, { verifyCrc: false, ...(crc32c === undefined ? {} : { crc32c }) });
  const record = decoded?.records[0];
  const key = record?.key;
  const value = record?.value;
  if (decoded === undefined || !decoded.header.isControl || key == null || key.length < 4) {
    throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, 'a control batch without a marker record');
  }
  const type = key.readInt16BE(2);
  if (type !== ControlType.abort && type !== ControlType.commit) {
    throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `a control record of unknown type ${type}`);
  }
  const coordinatorEpoch = value != null && value.length >= 6 ? value.readInt32BE(2) : -1;
  return { committed: type === ControlType.commit, coordinatorEpoch };
}
