/**
 * The Raft core and its simulator must stay pure (DESIGN.md decisions 5 and 9): no Node I/O, no
 * clock, no ambient randomness, no timers. The repository's ESLint layering rule does not list
 * coordinator/raft yet, so this test enforces it meanwhile.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('.', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
}

const forbidden: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /from\s+['"]node:/, why: 'imports Node I/O' },
  { pattern: /\brequire\(/, why: 'requires a module' },
  { pattern: /\bDate\.now\b|\bnew Date\b/, why: 'reads the wall clock' },
  { pattern: /\bperformance\.now\b|\bprocess\./, why: 'reads the process or its clock' },
  { pattern: /\bMath\.random\b/, why: 'uses ambient randomness' },
  { pattern: /\bset(Timeout|Interval|Immediate)\b|\bqueueMicrotask\b/, why: 'uses timers' },
];

describe('raft > purity', () => {
  const files = [...sources('.'), ...sources('sim')];

  it('finds the core and simulator sources', () => {
    expect(files).toEqual(expect.arrayContaining(['raft-node.ts', 'raft-log.ts', 'progress.ts', join('sim', 'simulator.ts')]));
  });

  it('keeps the core and the simulator free of I/O, clocks, timers and ambient randomness', () => {
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const { pattern, why } of forbidden) if (pattern.test(text)) problems.push(`${file} ${why}`);
    }
    expect(problems).toEqual([]);
  });
});
