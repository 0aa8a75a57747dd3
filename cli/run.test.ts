import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../proto/errors.js';
import { defineCommand } from './command.js';
import type { ClientOptions, StreamBusClient } from './client.js';
import { globalOptions } from './options.js';
import { commands, type CommandEntry } from './registry.js';
import { ExitCode, runCli } from './run.js';
import { packageVersion } from './version.js';

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

interface RunOptions {
  readonly env?: Record<string, string>;
  readonly entries?: readonly CommandEntry[];
  readonly onClient?: (options: ClientOptions) => void;
}

let closedClients = 0;

async function cli(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = collector();
  const stderr = collector();
  const code = await runCli(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin: Readable.from([]),
    env: options.env ?? {},
    ...(options.entries === undefined ? {} : { commands: options.entries }),
    createClient: (clientOptions) => {
      options.onClient?.(clientOptions);
      return Promise.resolve({
        admin: () => {
          throw new Error('not used');
        },
        producer: () => {
          throw new Error('not used');
        },
        consumer: () => {
          throw new Error('not used');
        },
        close: () => {
          closedClients += 1;
          return Promise.resolve();
        },
      } as StreamBusClient);
    },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** A small registry for runner behaviour, independent of the real commands. */
const seen: { options?: unknown; args?: unknown; brokers?: readonly string[]; dataDir?: string } = {};
const testEntries: CommandEntry[] = [
  {
    name: 'thing make',
    summary: 'Make a thing',
    load: () =>
      Promise.resolve(
        defineCommand({
          name: 'thing make',
          summary: 'Make a thing',
          positionals: [{ name: 'name', description: 'The thing' }],
          options: {
            count: { type: 'integer', short: 'n', min: 1, default: 1, description: 'How many' },
            tag: { type: 'string', multiple: true, description: 'A tag' },
            loud: { type: 'boolean', description: 'Shout' },
          },
          async run(ctx) {
            seen.options = ctx.options;
            seen.args = ctx.args;
            if (ctx.args.name === 'fail') throw new StreamBusError(ErrorCode.TOPIC_ALREADY_EXISTS, 'thing fail already exists');
            if (ctx.args.name === 'crash') throw new TypeError('boom');
            if (ctx.args.name === 'connect') await ctx.client();
            if (ctx.out.json) ctx.out.writeJson({ made: ctx.args.name });
            else ctx.out.line(`made ${ctx.args.name}`);
          },
        }),
      ),
  },
  {
    name: 'thing serve',
    summary: 'Serve things',
    load: () =>
      Promise.resolve(
        defineCommand({
          name: 'thing serve',
          summary: 'Serve things',
          scope: 'server',
          positionals: [],
          options: {},
          run(ctx) {
            seen.dataDir = ctx.config.values['data.dir'];
            return Promise.resolve();
          },
        }),
      ),
  },
];

describe('cli > help and version', () => {
  it('lists every command and the global options with defaults at the top level', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(ExitCode.OK);
    for (const entry of commands) expect(result.stdout).toContain(`  ${entry.name} `);
    expect(result.stdout).toMatch(/-b, --brokers <host:port,\.\.\.>\s+.*default 127\.0\.0\.1:9093; env STREAMBUS_BROKERS/);
    expect(result.stdout).toContain('--print-config');
    expect(result.stdout).toContain('--json');
  });

  it('prints the top-level help when no command is given', async () => {
    const result = await cli([]);
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stdout).toMatch(/^streambus \S+: the StreamBus command line/);
  });

  it('lists a group\'s commands for `topic --help`', async () => {
    const result = await cli(['topic', '--help']);
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stdout).toContain('Usage: streambus topic <command> [options]');
    expect(result.stdout).toContain('topic create');
    expect(result.stdout).not.toContain('produce');
  });

  it('shows a command\'s arguments, options and defaults for `<command> --help` and `help <command>`', async () => {
    const result = await cli(['consume', '--help']);
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stdout).toContain('Usage: streambus consume <topic> [options]');
    expect(result.stdout).toMatch(/-o, --from <position>\s+Where to start in each partition: .* \(default: beginning\)/);
    expect(result.stdout).toMatch(/-n, --count <n>/);
    const viaHelp = await cli(['help', 'consume']);
    expect(viaHelp.stdout).toBe(result.stdout);
  });

  it('prints the package version', async () => {
    const result = await cli(['--version']);
    expect(result.stdout).toBe(`streambus ${packageVersion()}\n`);
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    const json = await cli(['--version', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ version: packageVersion() });
  });
});

describe('cli > usage errors exit 2', () => {
  it('suggests the closest command for an unknown one', async () => {
    const result = await cli(['topik', 'list']);
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toBe("error: unknown command 'topik'; did you mean 'topic'?\nRun 'streambus --help' for usage.\n");
    const sub = await cli(['topic', 'creat', 'x']);
    expect(sub.code).toBe(ExitCode.USAGE);
    expect(sub.stderr).toContain("unknown command 'topic creat'; did you mean 'topic create'?");
  });

  it('suggests the closest option for an unknown one', async () => {
    const result = await cli(['thing', 'make', 'x', '--cuont', '2'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toBe("error: unknown option '--cuont'; did you mean '--count'?\nRun 'streambus thing make --help' for usage.\n");
  });

  it('names a missing argument', async () => {
    const result = await cli(['thing', 'make'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('error: missing <name>');
  });

  it('refuses an extra argument', async () => {
    const result = await cli(['thing', 'make', 'a', 'b'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain("error: unexpected argument 'b'");
  });

  it('refuses a non-integer or out-of-range integer option', async () => {
    const bad = await cli(['thing', 'make', 'a', '-n', 'abc'], { entries: testEntries });
    expect(bad.code).toBe(ExitCode.USAGE);
    expect(bad.stderr).toContain("--count expects an integer, got 'abc'");
    const low = await cli(['thing', 'make', 'a', '-n', '0'], { entries: testEntries });
    expect(low.stderr).toContain('--count must be at least 1, got 0');
  });

  it('reports a missing option value', async () => {
    const result = await cli(['thing', 'make', 'a', '--count'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toMatch(/--count/);
  });

  it('prints usage errors as JSON on stdout with --json', async () => {
    const result = await cli(['thing', 'make', '--json'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 42, name: 'INVALID_REQUEST', message: 'missing <name>', retriable: false } });
    expect(result.stderr).toBe('');
  });

  it('refuses server flags on client commands', async () => {
    const result = await cli(['thing', 'make', 'a', '--data-dir', '/tmp/x'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain("unknown option '--data-dir'");
  });
});

describe('cli > running commands', () => {
  it('passes typed options, defaults and positionals to run()', async () => {
    const result = await cli(['thing', 'make', 'box', '--tag', 'a', '--tag', 'b', '--loud'], { entries: testEntries });
    expect(result).toEqual({ code: ExitCode.OK, stdout: 'made box\n', stderr: '' });
    expect(seen.options).toEqual({ count: 1, tag: ['a', 'b'], loud: true });
    expect(seen.args).toEqual({ name: 'box' });
  });

  it('accepts global options before the command words', async () => {
    const result = await cli(['--json', 'thing', 'make', 'box'], { entries: testEntries });
    expect(JSON.parse(result.stdout)).toEqual({ made: 'box' });
  });

  it('exits 1 with the code name and message for a typed error', async () => {
    const result = await cli(['thing', 'make', 'fail'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toBe('error: TOPIC_ALREADY_EXISTS (36): thing fail already exists\n');
  });

  it('prints a typed error as JSON on stdout with --json', async () => {
    const result = await cli(['thing', 'make', 'fail', '--json'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.FAILED);
    expect(JSON.parse(result.stdout)).toEqual({
      error: { code: 36, name: 'TOPIC_ALREADY_EXISTS', message: 'thing fail already exists', retriable: false },
    });
  });

  it('exits 1 for an unexpected error and shows its stack', async () => {
    const result = await cli(['thing', 'make', 'crash'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toMatch(/^error: UNKNOWN_SERVER_ERROR \(-1\): unexpected error: boom\nTypeError: boom/);
  });

  it('connects to the brokers from --brokers, else the environment, and closes the client after run', async () => {
    const brokers: (readonly string[])[] = [];
    const before = closedClients;
    await cli(['thing', 'make', 'connect', '-b', 'h1:1,h2:2'], { entries: testEntries, onClient: (o) => brokers.push(o.brokers) });
    await cli(['thing', 'make', 'connect'], { entries: testEntries, env: { STREAMBUS_BROKERS: 'env:9' }, onClient: (o) => brokers.push(o.brokers) });
    await cli(['thing', 'make', 'connect'], { entries: testEntries, onClient: (o) => brokers.push(o.brokers) });
    expect(brokers).toEqual([['h1:1', 'h2:2'], ['env:9'], ['127.0.0.1:9093']]);
    expect(closedClients - before).toBe(3);
  });

  it('gives server commands the server flags, which win over --set and the environment', async () => {
    const result = await cli(['thing', 'serve', '--set', 'data.dir=/from/set', '--data-dir', '/from/flag'], {
      entries: testEntries,
      env: { STREAMBUS_DATA_DIR: '/from/env' },
    });
    expect(result.code).toBe(ExitCode.OK);
    expect(seen.dataDir).toBe('/from/flag');
  });
});

describe('cli > configuration errors and --print-config', () => {
  it('exits 2 for a bad setting given on the command line', async () => {
    const result = await cli(['thing', 'make', 'a', '--brokers', 'nohostport'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stderr).toContain('error: INVALID_CONFIG (40): invalid value "nohostport" for brokers (from flag --brokers)');
  });

  it('exits 1 for a bad setting in the environment, naming the variable', async () => {
    const result = await cli(['thing', 'make', 'a'], { entries: testEntries, env: { STREAMBUS_REQUEST_TIMEOUT_MS: 'soon' } });
    expect(result.code).toBe(ExitCode.FAILED);
    expect(result.stderr).toContain('for request.timeout.ms (from env STREAMBUS_REQUEST_TIMEOUT_MS): expected an integer');
  });

  it('suggests a key for an unknown --set', async () => {
    const result = await cli(['thing', 'serve', '--set', 'node.idd=2'], { entries: testEntries });
    expect(result.stderr).toContain('unknown config key "node.idd" (from flag --set); did you mean "node.id"?');
  });

  it('prints server settings with their sources and redacts secrets, without running the command', async () => {
    seen.dataDir = undefined as unknown as string;
    const result = await cli(['thing', 'serve', '--print-config', '--data-dir', '/d', '--set', 'admin.auth.token=hunter2'], {
      entries: testEntries,
      env: { STREAMBUS_NODE_ID: '4' },
    });
    expect(result.code).toBe(ExitCode.OK);
    expect(seen.dataDir).toBeUndefined();
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^KEY\s+VALUE\s+SOURCE\s+NOTE$/);
    expect(lines.find((l) => l.startsWith('node.id '))).toMatch(/^node\.id\s+4\s+env STREAMBUS_NODE_ID$/);
    expect(lines.find((l) => l.startsWith('data.dir '))).toMatch(/^data\.dir\s+\/d\s+flag --data-dir$/);
    expect(lines.find((l) => l.startsWith('admin.auth.token '))).toMatch(/^admin\.auth\.token\s+\[redacted\]\s+flag --set$/);
    expect(lines.find((l) => l.startsWith('kafka.port '))).toMatch(/^kafka\.port\s+9092\s+default$/);
    expect(result.stdout).not.toContain('hunter2');
    expect(result.stdout).not.toContain('brokers');
  });

  it('prints a client command\'s settings without needing its arguments', async () => {
    const result = await cli(['thing', 'make', '--print-config', '--brokers', 'a:1'], { entries: testEntries });
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stdout).toMatch(/^brokers\s+a:1\s+flag --brokers$/m);
    expect(result.stdout).not.toContain('node.id');
  });

  it('prints every setting as JSON with --json at the top level', async () => {
    const global = await cli(['--print-config', '--json', '--brokers', 'a:1']);
    const parsed = JSON.parse(global.stdout) as { config: { key: string; value: unknown; source: string; origin: string | null }[] };
    expect(parsed.config.find((e) => e.key === 'brokers')).toMatchObject({ value: ['a:1'], source: 'flag', origin: '--brokers' });
    expect(parsed.config.find((e) => e.key === 'node.id')).toMatchObject({ value: 1, source: 'default', origin: null });
  });

  it('reads the config file named by --config or, failing that, STREAMBUS_CONFIG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streambus-cli-'));
    try {
      const path = join(dir, 'server.properties');
      await writeFile(path, 'data.dir=/from/file\n');
      await cli(['thing', 'serve', '--config', path], { entries: testEntries });
      expect(seen.dataDir).toBe('/from/file');
      seen.dataDir = undefined as unknown as string;
      const result = await cli(['thing', 'serve'], { entries: testEntries, env: { STREAMBUS_CONFIG: path } });
      expect(result).toEqual({ code: ExitCode.OK, stdout: '', stderr: '' });
      expect(seen.dataDir).toBe('/from/file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints config warnings on stderr', async () => {
    const result = await cli(['thing', 'make', 'a'], { entries: testEntries, env: { STREAMBUS_BROKER: 'x:1' } });
    expect(result.code).toBe(ExitCode.OK);
    expect(result.stderr).toBe('warning: environment variable STREAMBUS_BROKER is not a StreamBus setting; did you mean STREAMBUS_BROKERS?\n');
  });
});

describe('cli > registry', () => {
  const ownModules = commands.filter((e) => e.name !== 'dev');

  it('loads every command module and each matches its registry entry', async () => {
    for (const entry of ownModules) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.summary).toBe(entry.summary);
    }
  });

  it('keeps option names and short flags unambiguous within each command', async () => {
    const globalShorts = new Set(['b', ...Object.values(globalOptions).flatMap((o) => ('short' in o ? [o.short] : []))]);
    for (const entry of ownModules) {
      const command = await entry.load();
      const shorts = Object.entries(command.options).flatMap(([, o]) => (o.short === undefined ? [] : [o.short]));
      expect(new Set(shorts).size, entry.name).toBe(shorts.length);
      for (const short of shorts) {
        // -X belongs to --set, which alter-config shadows with its own --set on purpose.
        if (!(entry.name === 'topic alter-config' && short === 's')) expect(globalShorts.has(short), `${entry.name} -${short}`).toBe(false);
      }
      // Shadowing on purpose, as Kafka's tools spell these: topic create --config k=v, alter-config --set k=v,
      // partitions reassign --generate --brokers 1,2,3 (broker ids; the command talks to the coordinators).
      const shadowed = Object.keys(command.options).filter((name) => Object.hasOwn(globalOptions, name) || name === 'brokers');
      const intended: Record<string, string[]> = { 'topic create': ['config'], 'topic alter-config': ['set'], 'partitions reassign': ['brokers'] };
      expect(shadowed, entry.name).toEqual(intended[entry.name] ?? []);
    }
  });
});
