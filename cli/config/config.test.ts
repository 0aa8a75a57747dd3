import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../proto/errors.js';
import {
  InvalidConfigError,
  REDACTED,
  advertisedHost,
  describeConfig,
  envNameOf,
  loadConfig,
  parseConfigFile,
  parseProperties,
  resolveConfig,
  settingKeys,
  specOf,
  suggest,
  topicConfigDefaults,
  type ConfigProblem,
} from './index.js';

function problemsOf(run: () => unknown): readonly ConfigProblem[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    const typed = error as InvalidConfigError;
    expect(typed.code).toBe(ErrorCode.INVALID_CONFIG);
    return typed.problems;
  }
  throw new Error('expected InvalidConfigError');
}

describe('config > schema', () => {
  it('declares the server settings the brief names with their defaults', () => {
    const config = resolveConfig({});
    expect(config.values['node.id']).toBe(1);
    expect(config.values['data.dir']).toBe('./data');
    expect(config.values['cluster.id']).toBeNull();
    expect(config.values['native.host']).toBe('127.0.0.1');
    expect(config.values['native.port']).toBe(9093);
    expect(config.values['kafka.port']).toBe(9092);
    expect(config.values['admin.host']).toBe('127.0.0.1');
    expect(config.values['admin.port']).toBe(9644);
    expect(config.values['log.level']).toBe('info');
    expect(config.values.durability).toBe('group');
    expect(config.values['num.partitions']).toBe(1);
    expect(config.values['default.replication.factor']).toBe(1);
    expect(config.values['auto.create.topics.enable']).toBe(true);
    expect(config.values['log.retention.ms']).toBe(604_800_000);
    expect(config.values.brokers).toEqual(['127.0.0.1:9093']);
  });

  it('declares broker session settings under Kafka\'s names and defaults', () => {
    const config = resolveConfig({});
    expect(config.values['broker.session.timeout.ms']).toBe(9000);
    expect(config.values['broker.heartbeat.interval.ms']).toBe(2000);
    const set = resolveConfig({ env: { STREAMBUS_BROKER_SESSION_TIMEOUT_MS: '3000', STREAMBUS_BROKER_HEARTBEAT_INTERVAL_MS: '500' } });
    expect([set.values['broker.session.timeout.ms'], set.values['broker.heartbeat.interval.ms']]).toEqual([3000, 500]);
    expect(problemsOf(() => resolveConfig({ flags: [{ key: 'broker.heartbeat.interval.ms', value: '0', origin: '--set' }] }))[0]).toMatchObject({
      key: 'broker.heartbeat.interval.ms',
    });
  });

  it('declares the Kafka listener settings as in use, on localhost:9092 by default', () => {
    expect(specOf('kafka.port').unused).toBeUndefined();
    expect(resolveConfig({}).values['kafka.host']).toBe('localhost');
  });

  it('gives every key a distinct environment name, with no underscores or dashes in keys', () => {
    const names = settingKeys.map(envNameOf);
    expect(new Set(names).size).toBe(names.length);
    for (const key of settingKeys) expect(key).toMatch(/^[a-z0-9.]+$/);
    expect(envNameOf('node.id')).toBe('STREAMBUS_NODE_ID');
    expect(envNameOf('data.dir')).toBe('STREAMBUS_DATA_DIR');
  });

  it('maps broker-wide topic defaults to topic config names', () => {
    const defaults = topicConfigDefaults(resolveConfig({ flags: [{ key: 'log.retention.ms', value: '1000', origin: '--set' }] }).values);
    expect(defaults['retention.ms']).toBe('1000');
    expect(defaults['max.message.bytes']).toBe('1048588');
    expect(defaults['cleanup.policy']).toBe('delete');
  });

  it('advertises the bind host, or the host name for a wildcard bind', () => {
    const plain = resolveConfig({}).values;
    expect(advertisedHost(plain, 'native', 'box')).toBe('127.0.0.1');
    const wildcard = resolveConfig({ flags: [{ key: 'native.host', value: '0.0.0.0', origin: '--set' }] }).values;
    expect(advertisedHost(wildcard, 'native', 'box')).toBe('box');
    const explicit = resolveConfig({ env: { STREAMBUS_NATIVE_ADVERTISED_HOST: 'broker-0.local' } }).values;
    expect(advertisedHost(explicit, 'native', 'box')).toBe('broker-0.local');
  });
});

describe('config > precedence', () => {
  const file = { path: 'server.properties', settings: parseConfigFile('node.id=2\nlog.level=debug\nnum.partitions=3\n', 'server.properties') };

  it('takes a file value over the default and records the file position', () => {
    const config = resolveConfig({ file });
    expect(config.values['node.id']).toBe(2);
    expect(config.origins['node.id']).toEqual({ source: 'file', origin: 'server.properties:1' });
    expect(config.origins['data.dir']).toEqual({ source: 'default' });
  });

  it('takes the environment over the file', () => {
    const config = resolveConfig({ file, env: { STREAMBUS_NODE_ID: '5' } });
    expect(config.values['node.id']).toBe(5);
    expect(config.origins['node.id']).toEqual({ source: 'env', origin: 'STREAMBUS_NODE_ID' });
    expect(config.values['log.level']).toBe('debug');
  });

  it('takes flags over the environment, the last flag winning', () => {
    const config = resolveConfig({
      file,
      env: { STREAMBUS_NODE_ID: '5' },
      flags: [
        { key: 'node.id', value: '7', origin: '--set' },
        { key: 'node.id', value: '8', origin: '--node-id' },
      ],
    });
    expect(config.values['node.id']).toBe(8);
    expect(config.origins['node.id']).toEqual({ source: 'flag', origin: '--node-id' });
    expect(config.values['num.partitions']).toBe(3);
  });

  it('treats empty environment variables as unset', () => {
    const config = resolveConfig({ env: { STREAMBUS_NODE_ID: '', STREAMBUS_DATA_DIR: '/var/lib/streambus' } });
    expect(config.values['node.id']).toBe(1);
    expect(config.values['data.dir']).toBe('/var/lib/streambus');
  });

  it('accepts Kafka names as aliases (broker.id, log.dirs, bootstrap.servers)', () => {
    const settings = parseConfigFile('broker.id=4\nlog.dirs=/kafka/data\nbootstrap.servers=a:1,b:2\n', 'server.properties');
    const config = resolveConfig({ file: { path: 'server.properties', settings } });
    expect(config.values['node.id']).toBe(4);
    expect(config.values['data.dir']).toBe('/kafka/data');
    expect(config.values.brokers).toEqual(['a:1', 'b:2']);
  });
});

describe('config > files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a nested JSON file with typed values', async () => {
    const path = join(dir, 'streambus.json');
    await writeFile(path, JSON.stringify({ node: { id: 3 }, native: { port: 19093 }, 'auto.create.topics.enable': false, brokers: ['h:1'] }));
    const config = await loadConfig({ configPath: path, env: {} });
    expect(config.values['node.id']).toBe(3);
    expect(config.values['native.port']).toBe(19093);
    expect(config.values['auto.create.topics.enable']).toBe(false);
    expect(config.values.brokers).toEqual(['h:1']);
    expect(config.origins['node.id']).toEqual({ source: 'file', origin: path });
  });

  it('reads a Java properties file with comments, separators, continuations and escapes', async () => {
    const path = join(dir, 'server.properties');
    await writeFile(path, ['# a comment', '! another', 'node.id : 6', 'data.dir /srv/stream\\', '    bus', 'cluster.id=caf\\u00e9', ''].join('\n'));
    const config = await loadConfig({ configPath: path, env: {} });
    expect(config.values['node.id']).toBe(6);
    expect(config.values['data.dir']).toBe('/srv/streambus');
    expect(config.values['cluster.id']).toBe('café');
    expect(config.origins['data.dir']).toEqual({ source: 'file', origin: `${path}:4` });
  });

  it('applies --set over the file and the environment', async () => {
    const path = join(dir, 'sets.properties');
    await writeFile(path, 'log.level=warn\n');
    const config = await loadConfig({ configPath: path, env: { STREAMBUS_LOG_LEVEL: 'error' }, sets: ['log.level=debug'] });
    expect(config.values['log.level']).toBe('debug');
    expect(config.origins['log.level']).toEqual({ source: 'flag', origin: '--set' });
  });

  it('fails with INVALID_CONFIG naming a file that cannot be read', async () => {
    await expect(loadConfig({ configPath: join(dir, 'missing.json'), env: {} })).rejects.toThrow(/cannot read config file .*missing\.json \(ENOENT\)/);
  });

  it('fails with INVALID_CONFIG for malformed JSON', () => {
    const problems = problemsOf(() => parseConfigFile('{"node.id": ', 'x.json'));
    expect(problems[0]!.message).toMatch(/x\.json is not valid JSON/);
  });

  it('fails for a --set without =', async () => {
    await expect(loadConfig({ env: {}, sets: ['node.id'] })).rejects.toThrow(/--set expects key=value, got "node.id"/);
  });
});

describe('config > properties parser', () => {
  it('splits at the first unescaped separator and keeps escaped ones in the key', () => {
    expect(parseProperties('a\\=b=c=d\nkey   value with spaces\n')).toEqual([
      { key: 'a=b', value: 'c=d', line: 1 },
      { key: 'key', value: 'value with spaces', line: 2 },
    ]);
  });

  it('handles CRLF line ends and an empty value', () => {
    expect(parseProperties('x=\r\ny=1\r\n')).toEqual([
      { key: 'x', value: '', line: 1 },
      { key: 'y', value: '1', line: 2 },
    ]);
  });
});

describe('config > validation', () => {
  it('names the key, the value and the source of a bad value', () => {
    const problems = problemsOf(() => resolveConfig({ env: { STREAMBUS_NODE_ID: 'abc' } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ key: 'node.id', value: '"abc"', source: 'env', origin: 'STREAMBUS_NODE_ID' });
    expect(problems[0]!.message).toBe('invalid value "abc" for node.id (from env STREAMBUS_NODE_ID): expected an integer');
  });

  it('rejects out-of-range ports, unknown enum values, bad booleans and bad broker lists', () => {
    const problems = problemsOf(() =>
      resolveConfig({
        flags: [
          { key: 'native.port', value: '70000', origin: '--set' },
          { key: 'durability', value: 'sometimes', origin: '--set' },
          { key: 'auto.create.topics.enable', value: 'yes', origin: '--set' },
          { key: 'brokers', value: 'localhost', origin: '--brokers' },
          { key: 'data.dir', value: '', origin: '--data-dir' },
        ],
      }),
    );
    expect(problems.map((p) => p.key)).toEqual(['native.port', 'durability', 'auto.create.topics.enable', 'brokers', 'data.dir']);
    expect(problems[1]!.message).toMatch(/expected one of group, sync, interval/);
    expect(problems[2]!.message).toMatch(/expected true or false/);
    expect(problems[3]!.message).toMatch(/"localhost" is not host:port/);
    expect(problems[4]!.message).toMatch(/must not be empty/);
  });

  it('takes the tail cache size and the producer id expiration, and refuses a negative cache or a zero expiration', () => {
    const defaults = resolveConfig({});
    expect(defaults.values['log.tail.cache.bytes']).toBe(64 * 1024 * 1024);
    expect(defaults.values['producer.id.expiration.ms']).toBe(86_400_000);
    const off = resolveConfig({ env: { STREAMBUS_LOG_TAIL_CACHE_BYTES: '0', STREAMBUS_PRODUCER_ID_EXPIRATION_MS: '60000' } });
    expect([off.values['log.tail.cache.bytes'], off.values['producer.id.expiration.ms']]).toEqual([0, 60_000]);
    const problems = problemsOf(() =>
      resolveConfig({
        flags: [
          { key: 'log.tail.cache.bytes', value: '-1', origin: '--set' },
          { key: 'producer.id.expiration.ms', value: '0', origin: '--set' },
        ],
      }),
    );
    expect(problems.map((p) => p.key)).toEqual(['log.tail.cache.bytes', 'producer.id.expiration.ms']);
  });

  it('reports every problem at once in the error message', () => {
    const settings = parseConfigFile('node.id=x\nnum.partitions=0\n', 'a.properties');
    const error = (() => {
      try {
        resolveConfig({ file: { path: 'a.properties', settings } });
      } catch (e) {
        return e as InvalidConfigError;
      }
      throw new Error('expected a failure');
    })();
    expect(error.message).toMatch(/^2 configuration problems:\n {2}- invalid value "x" for node\.id \(from file a\.properties:1\)/);
    expect(error.message).toMatch(/num\.partitions \(from file a\.properties:2\): expected an integer from 1 to 10000/);
  });

  it('suggests the closest key for an unknown one', () => {
    const problems = problemsOf(() => resolveConfig({ flags: [{ key: 'node.idd', value: '1', origin: '--set' }] }));
    expect(problems[0]).toMatchObject({ key: 'node.idd', suggestion: 'node.id', source: 'flag' });
    expect(problems[0]!.message).toBe('unknown config key "node.idd" (from flag --set); did you mean "node.id"?');
  });

  it('suggests the broker-wide name for a topic-level config name', () => {
    const problems = problemsOf(() => resolveConfig({ flags: [{ key: 'max.message.bytes', value: '1', origin: '--set' }] }));
    expect(problems[0]!.suggestion).toBe('message.max.bytes');
    const retention = problemsOf(() => resolveConfig({ flags: [{ key: 'retention.ms', value: '1', origin: '--set' }] }));
    expect(retention[0]!.suggestion).toBe('log.retention.ms');
  });

  it('gives no suggestion when nothing is close', () => {
    const problems = problemsOf(() => resolveConfig({ flags: [{ key: 'zzzzzzzz', value: '1', origin: '--set' }] }));
    expect(problems[0]!.suggestion).toBeUndefined();
  });

  it('refuses two listeners on the same host and port', () => {
    const problems = problemsOf(() => resolveConfig({ flags: [{ key: 'admin.port', value: '9093', origin: '--set' }] }));
    expect(problems[0]!.message).toMatch(/native\.port and admin\.port are both 9093/);
  });

  it('redacts secret values in error messages', () => {
    // Every string is a valid token, so force a failure through a type mismatch from JSON.
    const settings = parseConfigFile('{"admin.auth.token": 12345}', 'x.json');
    const problems = problemsOf(() => resolveConfig({ file: { path: 'x.json', settings } }));
    expect(problems[0]!.value).toBe(REDACTED);
    expect(problems[0]!.message).not.toMatch(/12345/);
  });

  it('warns about near-miss STREAMBUS_ variables and ignores unrelated ones', () => {
    const config = resolveConfig({ env: { STREAMBUS_NODEID: '2', STREAMBUS_SOAK: '1' } });
    expect(config.warnings).toEqual(['environment variable STREAMBUS_NODEID is not a StreamBus setting; did you mean STREAMBUS_NODE_ID?']);
  });

  it('does not warn when a Kafka listener setting is set', () => {
    const config = resolveConfig({ flags: [{ key: 'kafka.port', value: '19092', origin: '--set' }] });
    expect(config.warnings).toEqual([]);
  });
});

describe('config > print', () => {
  it('lists each value with its source and redacts secrets', () => {
    const config = resolveConfig({
      env: { STREAMBUS_NODE_ID: '9' },
      flags: [{ key: 'admin.auth.token', value: 'hunter2', origin: '--set' }],
    });
    const entries = describeConfig(config, 'server');
    const token = entries.find((e) => e.key === 'admin.auth.token')!;
    expect(token).toMatchObject({ value: REDACTED, source: 'flag', origin: '--set', secret: true });
    expect(JSON.stringify(entries)).not.toMatch(/hunter2/);
    expect(entries.find((e) => e.key === 'node.id')).toMatchObject({ value: 9, source: 'env', origin: 'STREAMBUS_NODE_ID', default: 1 });
    expect(entries.some((e) => e.key === 'brokers')).toBe(false);
  });

  it('shows an unset secret as null rather than redacted', () => {
    const token = describeConfig(resolveConfig({})).find((e) => e.key === 'admin.auth.token')!;
    expect(token.value).toBeNull();
  });
});

describe('config > suggest', () => {
  it('finds transpositions and small typos but not distant words', () => {
    expect(suggest('ndoe.id', ['node.id', 'data.dir'])).toBe('node.id');
    expect(suggest('lgo.level', ['log.level'])).toBe('log.level');
    expect(suggest('banana', ['node.id'])).toBeUndefined();
  });
});
