/**
 * kill -9 while appending: every append the child saw acknowledged must be in the log after a
 * restart, in every durability mode ('interval' included: its unsynced writes sit in the kernel's
 * page cache, which a killed process does not take down; only a power cut or kernel crash could
 * lose them, and that this test cannot simulate).
 *
 * The child runs our real TypeScript code, transpiled by test/support/ts-child.ts.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DurabilityMode } from './types.js';
import { decode, logConfig, openStore, tempDir } from './fixtures/log-fixtures.js';
import { transpileChild, type TranspiledChild } from '../../test/support/ts-child.js';

const here = dirname(fileURLToPath(import.meta.url));
let fixture: TranspiledChild;

beforeAll(async () => {
  fixture = await transpileChild(join(here, 'fixtures/crash-child.ts'));
});

afterAll(async () => {
  await fixture.remove();
});

interface Ack {
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly seq: number;
}

/** Starts the child, lets it acknowledge at least `minAcks` appends, then kills it with SIGKILL. */
async function runAndKill(dir: string, mode: DurabilityMode, minAcks: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [fixture.script, dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: Ack[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.on('exit', () => resolveExit()));
  await new Promise<void>((resolveEnough, reject) => {
    const deadline = setTimeout(() => reject(new Error(`only ${acks.length} acks within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [word, partition, baseOffset, lastOffset, seq] = line.split(' ');
        if (word === 'ack') acks.push({ partition: +partition!, baseOffset: +baseOffset!, lastOffset: +lastOffset!, seq: +seq! });
      }
      if (acks.length >= minAcks) {
        clearTimeout(deadline);
        child.kill('SIGKILL');
        resolveEnough();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(deadline);
      if (acks.length < minAcks) reject(new Error(`child exited with ${code} after ${acks.length} acks; stderr: ${stderr}`));
    });
  });
  await exited;
  return acks;
}

describe('log > crash (kill -9)', () => {
  for (const mode of ['group', 'sync', 'interval'] as const) {
    it(`${mode}: keeps every acknowledged append`, async () => {
      const { dir, remove } = await tempDir();
      try {
        const acks = await runAndKill(dir, mode, 200);
        const store = await openStore(dir, mode);
        try {
          for (const partition of [0, 1]) {
            const log = await store.openPartition('crash', partition, logConfig());
            const mine = acks.filter((a) => a.partition === partition);
            const acknowledgedEnd = Math.max(...mine.map((a) => a.lastOffset + 1));
            expect(log.logEndOffset).toBeGreaterThanOrEqual(acknowledgedEnd);
            const byOffset = new Map(decode((await log.read(0, 1 << 30)).records).map((r) => [r.offset, r.value]));
            for (const ack of mine) {
              for (let offset = ack.baseOffset; offset <= ack.lastOffset; offset++) {
                expect(byOffset.get(offset)?.startsWith(`${partition}:${ack.seq}:${offset - ack.baseOffset}:`)).toBe(true);
              }
            }
          }
        } finally {
          await store.close();
        }
      } finally {
        await remove();
      }
    });
  }
});
