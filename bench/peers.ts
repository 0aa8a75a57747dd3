/**
 * StreamBus side by side with NATS JetStream and Redis Streams on this machine: publish and
 * consume throughput (100 B and 1 KiB messages) and publish-to-ack / end-to-end latency at fixed
 * rates, with the CPU of each side, repeated, with medians, spreads and StreamBus/peer ratios.
 * Installs nats-server and redis-server (Debian packages) when missing, starts every system on
 * 127.0.0.1 in its own temp directory, stops them all at the end (also on Ctrl-C or an error),
 * and writes bench/results/peers-<date>.md, .json and two SVG plots.
 *
 * Run: npm run bench:peers -- [--quick | --smoke] [--systems streambus,streambus-interval,streambus-kafkajs,nats,redis]
 *                             [--only publish,consume,latency] [--repeats N] [--out DIR]
 * See bench/README.md.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from './native.js';
import { PeerWorkload, summaryTable } from './peers/report.js';
import { runPeersBench, type PeersOptions } from './peers/runner.js';
import { systemIds, type SystemId } from './peers/system.js';
import { runWhenInvoked } from './harness/cli.js';

const USAGE =
  'usage: node dist/bench/peers.js [--quick | --smoke] [--systems ' +
  systemIds.join(',') +
  ']\n' +
  '                                [--only publish,consume,latency] [--repeats N] [--out DIR]\n' +
  '  --smoke runs StreamBus only unless --systems says otherwise.\n';

function parseList<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`${flag} takes ${allowed.join(', ')}; got "${item}"`);
  if (items.length === 0) throw new Error(`${flag} needs at least one of ${allowed.join(', ')}`);
  return [...new Set(items as T[])];
}

export function parseCommandLine(argv: readonly string[]): PeersOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      systems: { type: 'string' },
      only: { type: 'string' },
      repeats: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const systems = parseList<SystemId>(values.systems ?? (mode === 'smoke' ? 'streambus' : systemIds.join(',')), systemIds, '--systems');
  const workloads = new Set(parseList(values.only ?? Object.values(PeerWorkload).join(','), Object.values(PeerWorkload), '--only'));
  let repeats: number | undefined;
  if (values.repeats !== undefined) {
    repeats = Number(values.repeats);
    if (!Number.isInteger(repeats) || repeats < 1 || repeats > 20) throw new Error(`--repeats must be an integer 1..20, got ${values.repeats}`);
  }
  const rootDir = packageRoot();
  return {
    mode,
    systems,
    workloads,
    repeats,
    rootDir,
    outDir: values.out ?? path.join(rootDir, 'bench/results'),
    command: ['npm run bench:peers --', ...argv].join(' ').replace(/ --$/, ''),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  if (options === undefined) return;
  const { report } = await runPeersBench(options);
  process.stdout.write('\n### Summary (medians, min–max; ratios StreamBus ÷ peer within each repeat)\n\n' + summaryTable(report) + '\n');
}

runWhenInvoked(import.meta.url, main, 'bench:peers');
