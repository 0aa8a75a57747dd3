import { describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import {
  describeTopicConfigs,
  resolveTopicConfig,
  suggestTopicConfigName,
  topicConfigDefinitions,
  validateTopicConfigs,
} from './topic-config.js';

function configError(entries: Record<string, string>): StreamBusError {
  try {
    validateTopicConfigs(entries);
  } catch (error) {
    expect(error).toBeInstanceOf(StreamBusError);
    return error as StreamBusError;
  }
  throw new Error(`expected ${JSON.stringify(entries)} to be rejected`);
}

/** For every key: values that must pass (with their canonical form) and values that must fail. */
const cases: Record<string, { good: [string, string][]; bad: string[] }> = {
  'cleanup.policy': {
    good: [['delete', 'delete'], ['compact', 'compact'], ['compact,delete', 'compact,delete'], ['delete, compact', 'delete,compact']],
    bad: ['', 'remove', 'compact,compact', 'compact,', 'Delete'],
  },
  'retention.ms': { good: [['-1', '-1'], ['0', '0'], [' 3600000 ', '3600000'], ['9223372036854775807', '9223372036854775807']], bad: ['-2', '1.5', 'forever', '9223372036854775808'] },
  'retention.bytes': { good: [['-1', '-1'], ['1073741824', '1073741824']], bad: ['-5', '1GB'] },
  'delete.retention.ms': { good: [['0', '0'], ['86400000', '86400000']], bad: ['-1', 'x'] },
  'min.compaction.lag.ms': { good: [['0', '0'], ['1000', '1000']], bad: ['-1', ''] },
  'max.compaction.lag.ms': { good: [['1', '1'], ['60000', '60000']], bad: ['0', 'never'] },
  'min.cleanable.dirty.ratio': { good: [['0', '0'], ['0.75', '0.75'], ['1', '1']], bad: ['1.5', '-0.1', 'half'] },
  'max.message.bytes': { good: [['0', '0'], ['1048588', '1048588'], ['2147483647', '2147483647']], bad: ['-1', '2147483648', '1mb'] },
  'min.insync.replicas': { good: [['1', '1'], ['2', '2']], bad: ['0', '-1', 'two'] },
  'message.timestamp.type': { good: [['CreateTime', 'CreateTime'], ['LogAppendTime', 'LogAppendTime']], bad: ['createtime', 'Now', ''] },
  'compression.type': { good: [['producer', 'producer'], ['PRODUCER', 'producer']], bad: ['gzip', 'snappy', 'lz4', 'zstd', 'uncompressed'] },
  'unclean.leader.election.enable': { good: [['false', 'false'], ['TRUE', 'true']], bad: ['yes', '1', ''] },
  'segment.bytes': { good: [['14', '14'], ['1073741824', '1073741824']], bad: ['13', 'big'] },
  'segment.ms': { good: [['1', '1'], ['604800000', '604800000']], bad: ['0', 'weekly'] },
  'confluent.key.schema.validation': { good: [['true', 'true'], ['FALSE', 'false']], bad: ['yes', ''] },
  'confluent.value.schema.validation': { good: [['true', 'true'], [' false ', 'false']], bad: ['on', '1'] },
  'confluent.key.subject.name.strategy': {
    good: [['TopicNameStrategy', 'TopicNameStrategy'], ['io.confluent.kafka.serializers.subject.RecordNameStrategy', 'RecordNameStrategy']],
    bad: ['topicnamestrategy', 'SubjectStrategy', ''],
  },
  'confluent.value.subject.name.strategy': {
    good: [['RecordNameStrategy', 'RecordNameStrategy'], ['TopicRecordNameStrategy', 'TopicRecordNameStrategy']],
    bad: ['io.confluent.kafka.serializers.subject.Other', 'Record'],
  },
};

describe('topic-config > validateTopicConfigs', () => {
  it('has a test case for every defined key', () => {
    expect(Object.keys(cases).sort()).toEqual(topicConfigDefinitions.map((d) => d.name));
  });

  for (const [key, { good, bad }] of Object.entries(cases)) {
    for (const [value, canonical] of good) {
      it(`accepts ${key}=${JSON.stringify(value)} and stores ${JSON.stringify(canonical)}`, () => {
        expect(validateTopicConfigs({ [key]: value })).toEqual({ [key]: canonical });
      });
    }
    for (const value of bad) {
      it(`rejects ${key}=${JSON.stringify(value)} with INVALID_CONFIG naming the key and the value`, () => {
        const error = configError({ [key]: value });
        expect(error.code).toBe(ErrorCode.INVALID_CONFIG);
        expect(error.message).toContain(key);
        expect(error.message).toContain(`'${value}'`);
      });
    }
  }

  it('explains why compression codecs other than producer are refused', () => {
    const error = configError({ 'compression.type': 'gzip' });
    expect(error.message).toMatch(/never recompresses/);
    expect(error.message).toMatch(/only accepted value is 'producer'/);
  });

  it('suggests the right key for an unknown one', () => {
    const error = configError({ 'retention.msx': '1000' });
    expect(error.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(error.message).toBe("unknown topic config 'retention.msx' (value '1000'); did you mean 'retention.ms'?");
  });

  it('maps broker-level names to their topic-level key', () => {
    expect(configError({ 'message.max.bytes': '10' }).message).toContain("did you mean 'max.message.bytes'");
    expect(configError({ 'log.retention.hours': '10' }).message).toContain("did you mean 'retention.ms' (topic configs take milliseconds)");
    expect(suggestTopicConfigName('CLEANUP_POLICY')).toBe('cleanup.policy');
  });

  it('offers no suggestion when nothing is close', () => {
    const error = configError({ 'flux.capacitor': '1' });
    expect(error.message).toBe("unknown topic config 'flux.capacitor' (value '1')");
  });

  it('reports every bad entry at once', () => {
    const error = configError({ 'retention.ms': 'x', 'min.insync.replicas': '0', 'segment.ms': '5' });
    expect(error.message).toContain('retention.ms');
    expect(error.message).toContain('min.insync.replicas');
    expect(error.message).not.toContain('segment.ms');
  });

  it('rejects a value that is not a string', () => {
    const error = configError({ 'retention.ms': 5 as unknown as string });
    expect(error.message).toContain('must be a string');
  });
});

describe('topic-config > describeTopicConfigs', () => {
  it('shows defaults with source default and overrides with source topic', () => {
    const entries = describeTopicConfigs({ 'retention.ms': '1000' });
    const retention = entries.find((e) => e.name === 'retention.ms');
    const maxBytes = entries.find((e) => e.name === 'max.message.bytes');
    expect(retention).toMatchObject({ value: '1000', source: 'topic', readOnly: false, type: 'long' });
    expect(maxBytes).toMatchObject({ value: '1048588', source: 'default' });
    expect(entries.map((e) => e.name)).toEqual(topicConfigDefinitions.map((d) => d.name));
    expect(entries.every((e) => e.documentation.length > 20)).toBe(true);
  });

  it('shows a broker-wide default with source broker unless the topic overrides it', () => {
    const entries = describeTopicConfigs({ 'retention.ms': '1000' }, { 'retention.ms': '5000', 'retention.bytes': '1024' });
    expect(entries.find((e) => e.name === 'retention.ms')).toMatchObject({ value: '1000', source: 'topic' });
    expect(entries.find((e) => e.name === 'retention.bytes')).toMatchObject({ value: '1024', source: 'broker' });
    expect(resolveTopicConfig({ 'retention.ms': '1000' }, { 'retention.ms': '5000', 'retention.bytes': '1024' })).toMatchObject({
      retentionMs: 1000,
      retentionBytes: 1024,
    });
  });

  it('marks compression.type read-only and documents that segment settings have no effect', () => {
    const entries = describeTopicConfigs({});
    expect(entries.find((e) => e.name === 'compression.type')?.readOnly).toBe(true);
    expect(entries.find((e) => e.name === 'segment.bytes')?.documentation).toMatch(/has no effect/);
    expect(entries.find((e) => e.name === 'segment.ms')?.documentation).toMatch(/has no effect/);
  });
});

describe('topic-config > resolveTopicConfig', () => {
  it('gives Kafka defaults for a topic without overrides', () => {
    expect(resolveTopicConfig({})).toEqual({
      cleanupDelete: true,
      cleanupCompact: false,
      retentionMs: 604800000,
      retentionBytes: -1,
      deleteRetentionMs: 86400000,
      minCompactionLagMs: 0,
      maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
      minCleanableDirtyRatio: 0.5,
      maxMessageBytes: 1048588,
      minInsyncReplicas: 1,
      timestampType: 'CreateTime',
      compressionType: 'producer',
      uncleanLeaderElectionEnable: false,
      segmentBytes: 1073741824,
      segmentMs: 604800000,
      keySchemaValidation: false,
      valueSchemaValidation: false,
      keySubjectNameStrategy: 'TopicNameStrategy',
      valueSubjectNameStrategy: 'TopicNameStrategy',
    });
  });

  it('types the overrides', () => {
    const resolved = resolveTopicConfig({
      'cleanup.policy': 'delete,compact',
      'retention.ms': '-1',
      'message.timestamp.type': 'LogAppendTime',
      'unclean.leader.election.enable': 'true',
      'min.insync.replicas': '2',
    });
    expect(resolved).toMatchObject({
      cleanupDelete: true,
      cleanupCompact: true,
      retentionMs: -1,
      timestampType: 'LogAppendTime',
      uncleanLeaderElectionEnable: true,
      minInsyncReplicas: 2,
    });
  });

  it('clamps Long.MAX_VALUE to the largest safe integer', () => {
    expect(resolveTopicConfig({ 'retention.ms': '9223372036854775807' }).retentionMs).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses invalid overrides', () => {
    expect(() => resolveTopicConfig({ 'retention.ms': 'soon' })).toThrow(StreamBusError);
  });
});
