/**
 * kill -9 in the middle of a stream of persists: the store must load to exactly the state after
 * some prefix of the writes, and that prefix must include every write the child saw resolve.
 * A torn write (half a Ready: entries without the truncation, a vote without its term) would load
 * to a state no prefix produces, and fail the test.
 *
 * The child runs our real TypeScript, transpiled by test/support/ts-child.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transpileChild, type TranspiledChild } from '../../../test/support/ts-child.js';
import { LevelRaftStorage } from './level-raft-storage.js';
import { StoreModel, describeState, writeStream } from './fixtures/write-stream.js';

const here = dirname(fileURLToPath(import.meta.url));
let fixture: TranspiledChild;

beforeAll(async () => {
  fixture = await transpileChild(join(here, 'fixtures/persist-child.ts'));
});

afterAll(async () => {
  await fixture.remove();
});

/** Runs the child on `dir` until it has acknowledged `killAfter` writes, then SIGKILLs it; returns the acks seen. */
async function runAndKill(dir: string, seed: number, killAfter: number): Promise<number> {
  const child = spawn(process.execPath, [fixture.script, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let acked = 0;
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.on('exit', () => resolveExit()));
  await new Promise<void>((resolveEnough, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`only ${acked} acks within 10 s; stderr: ${stderr}`));
    }, 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ack ')) acked = Number(line.slice(4));
      if (acked >= killAfter && child.exitCode === null) {
        clearTimeout(deadline);
        child.kill('SIGKILL');
        resolveEnough();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      if (acked < killAfter) reject(new Error(`child exited (${code ?? signal}) after ${acked} acks; stderr: ${stderr}`));
    });
  });
  await exited;
  return acked;
}

describe('raft storage > crash (kill -9)', () => {
  for (const [seed, killAfter] of [
    [1, 60],
    [2, 250],
    [3, 500],
  ] as const) {
    it(`loads to a prefix of the writes that includes every acknowledged one (seed ${seed}, kill after ${killAfter} acks)`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'streambus-raft-crash-'));
      try {
        const acked = await runAndKill(dir, seed, killAfter);
        const storage = await LevelRaftStorage.open({ dir, nodeId: 1, clusterId: 'crash-test' });
        const restored = await storage.load();
        await storage.close();
        expect(restored).toBeDefined();
        const loaded = describeState(restored!.hardState, restored!.snapshot, restored!.entries);

        // Replay the same stream into the model; the loaded state must be the state after some
        // write number k ≥ acked (writes after the last ack seen may or may not have landed).
        const model = new StoreModel();
        const stream = writeStream(seed);
        let k = 0;
        const matches: number[] = [];
        for (const op of stream) {
          model.apply(op);
          k++;
          if (k >= acked && model.fingerprint() === loaded) matches.push(k);
          if (k > acked + 50) break;
        }
        expect(matches.length, `the loaded state matches no prefix of ≥ ${acked} writes:\n${loaded.slice(0, 400)}`).toBeGreaterThan(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
