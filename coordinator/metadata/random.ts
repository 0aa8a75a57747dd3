/**
 * Injected randomness for the metadata core. The core never calls Math.random or crypto itself:
 * the coordinator passes `node:crypto` randomBytes, tests and the simulator pass a seeded source,
 * so a failing run replays exactly.
 */
import { assert } from './assert.js';

/** Returns `byteLength` random bytes. Must return a fresh array of exactly that length. */
export type RandomSource = (byteLength: number) => Uint8Array;

/**
 * A deterministic source for tests and simulation (xorshift32 seeded through splitmix32).
 * Not for production: topic ids from it are predictable.
 */
export function seededRandomSource(seed: number): RandomSource {
  // splitmix32 spreads small seeds (0, 1, 2...) over the state space; xorshift needs a non-zero state.
  let z = (seed + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  let state = (z ^ (z >>> 16)) >>> 0 || 0x6d2b79f5;
  return (byteLength) => {
    const out = new Uint8Array(byteLength);
    for (let i = 0; i < byteLength; i++) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      out[i] = state & 0xff;
    }
    return out;
  };
}

function takeBytes(random: RandomSource, byteLength: number): Uint8Array {
  const bytes = random(byteLength);
  assert(bytes.length === byteLength, () => `random source returned ${bytes.length} bytes, asked for ${byteLength}`);
  return bytes;
}

const HEX = '0123456789abcdef';

/** A random (version 4, RFC 9562) UUID in canonical lower-case form, e.g. `3f2c...-4...-8...`. */
export function randomUuid(random: RandomSource): string {
  const b = takeBytes(random, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
    const byte = b[i] ?? 0;
    text += (HEX[byte >>> 4] ?? '') + (HEX[byte & 0x0f] ?? '');
  }
  return text;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A cluster id in Kafka's format: 16 random bytes as unpadded base64url (22 characters), so Kafka
 * tools that print or compare cluster ids see the shape they expect.
 */
export function randomClusterId(random: RandomSource): string {
  const b = takeBytes(random, 16);
  let text = '';
  let bits = 0;
  let acc = 0;
  for (const byte of b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text += BASE64URL[(acc >>> bits) & 0x3f] ?? '';
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) text += BASE64URL[(acc << (6 - bits)) & 0x3f] ?? '';
  return text;
}
