/**
 * Stamps an encoded RecordBatch v2 with a producer id, epoch, base sequence and the transactional
 * bit, and recomputes its CRC (those fields lie inside it).
 *
 * Why patch bytes rather than re-encode: a batch drops its record objects once it is encoded (see
 * batch.ts), so a resend after an epoch bump (KIP-360) cannot rebuild it; the payload is unchanged,
 * only 15 header bytes and the CRC differ.
 */
import { BATCH_LOG_OVERHEAD, Offsets, computeBatchCrc, crc32c } from '../../proto/record-batch/index.js';

const TRANSACTIONAL_BIT = 0x10;

export interface BatchStamp {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly isTransactional: boolean;
}

/** Writes the stamp into the batch at the start of `buf` (one batch) and fixes its CRC, in place. */
export function stampBatch(buf: Buffer, stamp: BatchStamp): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setBigInt64(Offsets.producerId, BigInt(stamp.producerId));
  view.setInt16(Offsets.producerEpoch, stamp.producerEpoch);
  view.setInt32(Offsets.baseSequence, stamp.baseSequence);
  const attributes = view.getInt16(Offsets.attributes);
  view.setInt16(Offsets.attributes, stamp.isTransactional ? attributes | TRANSACTIONAL_BIT : attributes & ~TRANSACTIONAL_BIT);
  const sizeBytes = view.getInt32(Offsets.batchLength) + BATCH_LOG_OVERHEAD;
  view.setUint32(Offsets.crc, computeBatchCrc(buf, 0, sizeBytes, crc32c));
}
