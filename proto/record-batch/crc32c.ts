/**
 * CRC-32C (Castagnoli), the checksum of RecordBatch v2.
 *
 * The pure codec takes a `Crc32c` function instead of importing one, so it stays free of native
 * modules; `crc32c` below is the hardware-accelerated implementation (SSE 4.2 / ARMv8 CRC
 * instructions through @node-rs/crc32) that the broker and the clients pass in.
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

export type Crc32c = (data: Uint8Array) => number;

export const crc32c: Crc32c = (data) => nativeCrc32c(data) >>> 0;
