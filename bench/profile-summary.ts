/**
 * Prints the functions and files with the most self time in a .cpuprofile (from the benchmark's
 * --profile, or from `node --cpu-prof`).
 * Run: node dist/bench/profile-summary.js <file.cpuprofile> [top=20]
 */
import { readFileSync } from 'node:fs';
import { formatProfileSummary, summarizeProfile, type CpuProfile } from './harness/profile.js';

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top=20]\n');
  process.exit(2);
}
const top = Number(topArg ?? '20');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
process.stdout.write(formatProfileSummary(file, summarizeProfile(profile, Number.isInteger(top) && top > 0 ? top : 20)) + '\n');
