/**
 * kill -9 of a follower while it appends replicated batches and truncates diverged tails: after a
 * restart, every acknowledged step is there, and the log, its leader-epoch history and its high
 * watermark agree with each other (each batch's epoch is the history's epoch at its offset, no
 * epoch starts beyond the log end, the high watermark is within the log).
 *
 * The child runs our real TypeScript code, transpiled by test/support/ts-child.ts.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBatchHeader } from '../../proto/record-batch/index.js';
import { logConfig, openStore, tempDir } from './fixtures/log-fixtures.js';
import { transpileChild, type TranspiledChild } from '../../test/support/ts-child.js';

const here = dirname(fileURLToPath(import.meta.url));
let fixture: TranspiledChild;

beforeAll(async () => {
  fixture = await transpileChild(join(here, 'fixtures/replication-crash-child.ts'));
});

afterAll(async () => {
  await fixture.remove();
});

/** Runs the child until it acknowledged `minSteps` steps, kills it, and returns the last acknowledged log end. */
async function runAndKill(dir: string, minSteps: number): Promise<number> {
  const child = spawn(process.execPath, [fixture.script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let steps = 0;
  let lastEnd = 0;
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.on('exit', () => resolveExit()));
  await new Promise<void>((resolveEnough, reject) => {
    const deadline = setTimeout(() => reject(new Error(`only ${steps} steps within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [word, end] = line.split(' ');
        if (word !== 'ack' && word !== 'trunc') continue;
        steps++;
        lastEnd = Number(end);
      }
      if (steps >= minSteps) {
        clearTimeout(deadline);
        child.kill('SIGKILL');
        resolveEnough();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(deadline);
      if (steps < minSteps) reject(new Error(`child exited with ${code} after ${steps} steps; stderr: ${stderr}`));
    });
  });
  await exited;
  return lastEnd;
}

describe('log > replication > crash (kill -9)', () => {
  it('keeps every acknowledged replicated append and truncation, with the epoch history and high watermark consistent', async () => {
    const { dir, remove } = await tempDir();
    try {
      const lastEnd = await runAndKill(dir, 300);
      const store = await openStore(dir);
      try {
        const log = await store.openPartition('replica', 0, logConfig());
        // A step in flight when the process died may have landed (an append) or not; a truncation
        // in flight removes at most 2 offsets' batches below the last acknowledged end.
        expect(log.logEndOffset).toBeGreaterThanOrEqual(lastEnd - 5);
        expect(log.highWatermark).toBeLessThanOrEqual(log.logEndOffset);
        const epochs = log.leaderEpochs;
        expect(epochs.length).toBeGreaterThan(1);
        for (const entry of epochs) expect(entry.startOffset).toBeLessThanOrEqual(log.logEndOffset);
        const { records } = await log.read(0, 1 << 30, { maxOffset: log.logEndOffset });
        let expectedNext = 0;
        for (let position = 0; position < records.length; ) {
          const header = readBatchHeader(records, position);
          expect(header.baseOffset).toBe(expectedNext);
          const covering = epochs.filter((entry) => entry.startOffset <= header.baseOffset).at(-1);
          expect(covering?.epoch).toBe(header.partitionLeaderEpoch);
          expectedNext = header.lastOffset + 1;
          position += header.sizeBytes;
        }
        expect(expectedNext).toBe(log.logEndOffset);
      } finally {
        await store.close();
      }
    } finally {
      await remove();
    }
  }, 30_000);
});
