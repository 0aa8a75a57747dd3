import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AdminError } from '../../client/index.js';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { Output, printError, toJson } from './output.js';
import { displayWidth, renderPairs, renderTable, sanitize } from './table.js';

describe('output > table', () => {
  it('aligns columns, upper-cases headers and right-aligns numbers', () => {
    const text = renderTable(
      [{ key: 'name' }, { key: 'partitions' }, { key: 'leaderEpoch' }],
      [
        { name: 'orders', partitions: 12, leaderEpoch: 3 },
        { name: 'a', partitions: 1, leaderEpoch: 10 },
      ],
    );
    expect(text).toBe(['NAME    PARTITIONS  LEADER-EPOCH', 'orders          12             3', 'a                1            10', ''].join('\n'));
  });

  it('leaves no trailing spaces and writes missing cells as a dash', () => {
    const text = renderTable([{ key: 'a' }, { key: 'b' }], [{ a: 'long value', b: null }, { a: 'x', b: 'y' }]);
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd());
    expect(text.split('\n')[1]).toBe('long value  -');
  });

  it('joins arrays with commas (replicas, ISR)', () => {
    expect(renderTable([{ key: 'replicas' }], [{ replicas: [1, 2, 3] }])).toBe('REPLICAS\n1,2,3\n');
  });

  it('prints only the header for an empty table', () => {
    expect(renderTable([{ key: 'name', header: 'TOPIC' }], [])).toBe('TOPIC\n');
  });

  it('adds no escape codes without colour and a bold header with it', () => {
    const plain = renderTable([{ key: 'a' }], [{ a: 1 }]);
    expect(plain).not.toContain('\u001b');
    const colored = renderTable([{ key: 'a' }], [{ a: 1 }], { color: true });
    expect(colored.startsWith('\u001b[1mA\u001b[22m\n')).toBe(true);
  });

  it('escapes control characters so data cannot move the cursor or break rows', () => {
    const text = renderTable([{ key: 'name' }], [{ name: 'evil\n\u001b[2Jname' }]);
    expect(text).toBe('NAME\nevil\\n\\x1b[2Jname\n');
    expect(sanitize('a\tb')).toBe('a\\tb');
  });

  it('counts wide characters as two columns', () => {
    expect(displayWidth('日本')).toBe(4);
    const text = renderTable([{ key: 'a' }, { key: 'b' }], [{ a: '日本', b: 'x' }, { a: 'abcd', b: 'y' }]);
    expect(text.split('\n').slice(1, 3)).toEqual(['日本  x', 'abcd  y']);
  });

  it('aligns label/value pairs', () => {
    expect(renderPairs([['Topic', 'orders'], ['Partitions', 3]])).toBe('Topic:      orders\nPartitions: 3\n');
  });
});

describe('output > json and errors', () => {
  function capture(): { stream: PassThrough; text: () => string } {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
  }

  it('writes bigints as numbers when exact and as strings otherwise', () => {
    expect(toJson({ a: 5n, b: 2n ** 60n })).toBe('{"a":5,"b":"1152921504606846976"}');
  });

  it('prints a typed error as {"error": {...}} on stdout in JSON mode', () => {
    const stdout = capture();
    const stderr = capture();
    const out = new Output({ stdout: stdout.stream, stderr: stderr.stream, json: true, color: false });
    printError(out, new StreamBusError(ErrorCode.TOPIC_ALREADY_EXISTS, 'topic orders already exists', { context: { topic: 'orders' } }));
    expect(JSON.parse(stdout.text())).toEqual({
      error: { code: 36, name: 'TOPIC_ALREADY_EXISTS', message: 'topic orders already exists', retriable: false, topic: 'orders' },
    });
    expect(stderr.text()).toBe('');
  });

  it('lists each failed item of a multi-topic admin error in JSON', () => {
    const stdout = capture();
    const out = new Output({ stdout: stdout.stream, stderr: capture().stream, json: true, color: false });
    const error = new AdminError(
      'deleteTopics',
      [
        { topic: 'a', error: new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic a does not exist', { context: { topic: 'a' } }) },
        { topic: 'b', error: new StreamBusError(ErrorCode.NOT_CONTROLLER, 'try again', { context: { topic: 'b' } }) },
      ],
      3,
    );
    printError(out, error);
    const report = (JSON.parse(stdout.text()) as { error: { name: string; failures: { name: string; topic: string }[] } }).error;
    expect(report.name).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(report.failures.map((f) => [f.topic, f.name])).toEqual([
      ['a', 'UNKNOWN_TOPIC_OR_PARTITION'],
      ['b', 'NOT_CONTROLLER'],
    ]);
  });

  it('prints a typed error with its code name on stderr for people', () => {
    const stdout = capture();
    const stderr = capture();
    const out = new Output({ stdout: stdout.stream, stderr: stderr.stream, json: false, color: false });
    printError(out, new StreamBusError(ErrorCode.NOT_CONTROLLER));
    expect(stderr.text()).toBe('error: NOT_CONTROLLER (41): this node is not the controller\n');
    expect(stdout.text()).toBe('');
  });
});
