/**
 * kill -9 while appending: every append the child saw acknowledged must be in the log after a
 * restart, in every durability mode ('interval' included: its unsynced writes sit in the kernel's
 * page cache, which a killed process does not take down; only a power cut or kernel crash could
 * lose them, and that this test cannot simulate).
 *
 * The child runs our real TypeScript code: the test transpiles the child fixture and everything it
 * imports (type stripping only, with the compiler vitest already depends on) into a temp dir.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DurabilityMode } from './types.js';
import { decode, logConfig, openStore, tempDir } from './fixtures/log-fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
let buildDir: { dir: string; remove: () => Promise<void> };
let childScript: string;

/** Transpiles `entry` and its relative imports, recursively, to `outDir` (same layout, .js). */
async function transpileTree(entry: string, outDir: string): Promise<string> {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    for (const match of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(resolve(dirname(file), `${match[1]!}.ts`));
    }
    const output = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: file,
    });
    const target = join(outDir, relative(repoRoot, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, output.outputText);
  }
  return join(outDir, relative(repoRoot, entry)).replace(/\.ts$/, '.js');
}

beforeAll(async () => {
  buildDir = await tempDir();
  await writeFile(join(buildDir.dir, 'package.json'), '{"type":"module"}');
  await symlink(join(repoRoot, 'node_modules'), join(buildDir.dir, 'node_modules'), 'dir');
  childScript = await transpileTree(join(here, 'fixtures/crash-child.ts'), buildDir.dir);
});

afterAll(async () => {
  await buildDir.remove();
});

interface Ack {
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly seq: number;
}

/** Starts the child, lets it acknowledge at least `minAcks` appends, then kills it with SIGKILL. */
async function runAndKill(dir: string, mode: DurabilityMode, minAcks: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [childScript, dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
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
