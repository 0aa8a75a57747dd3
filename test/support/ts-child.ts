/**
 * Runs a TypeScript fixture as a real child process, for kill -9 tests of code that the build
 * leaves out (fixtures are not compiled to dist/). The fixture and every module it imports by a
 * relative path are transpiled (type stripping only, with the compiler vitest already depends on)
 * into a temp dir that mirrors the repo's layout and links its node_modules.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface TranspiledChild {
  /** The transpiled entry: run it with `node <script>`. */
  readonly script: string;
  /** Deletes the temp dir. */
  remove(): Promise<void>;
}

/** Transpiles `entry` (an absolute .ts path) and its relative imports, recursively. */
export async function transpileChild(entry: string): Promise<TranspiledChild> {
  const outDir = await mkdtemp(join(tmpdir(), 'streambus-ts-child-'));
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}');
  await symlink(join(repoRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
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
  return {
    script: join(outDir, relative(repoRoot, entry)).replace(/\.ts$/, '.js'),
    remove: () => rm(outDir, { recursive: true, force: true }),
  };
}
