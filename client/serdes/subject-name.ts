/**
 * Subject naming strategies (reference §3.1): which registry subject a topic's keys or values are
 * registered under.
 *
 * - TopicNameStrategy (the default): `<topic>-key` / `<topic>-value`: one schema lineage per topic.
 * - RecordNameStrategy: `<full record name>`: one lineage per record type, shared by every topic
 *   that carries it (a topic may then mix record types).
 * - TopicRecordNameStrategy: `<topic>-<full record name>`: several record types per topic, each
 *   with its own lineage in that topic.
 *
 * A function may stand in for any of them. The record name is the Avro record's full name, the
 * Protobuf message's full name, or the JSON Schema's `title`.
 */
import { SerdeError, SerdeErrorCode } from './serde-error.js';

export const SubjectNameStrategy = {
  TOPIC: 'TopicNameStrategy',
  RECORD: 'RecordNameStrategy',
  TOPIC_RECORD: 'TopicRecordNameStrategy',
} as const;
export type SubjectNameStrategyName = (typeof SubjectNameStrategy)[keyof typeof SubjectNameStrategy];
export type SubjectNameFn = (topic: string, isKey: boolean, recordName: string | undefined) => string;
export type SubjectNameStrategy = SubjectNameStrategyName | SubjectNameFn;

/** The subject `strategy` gives. Throws SerdeError INVALID_CONFIG when a record strategy meets a schema without a record name. */
export function subjectName(strategy: SubjectNameStrategy, topic: string, isKey: boolean, recordName: string | undefined): string {
  if (typeof strategy === 'function') return strategy(topic, isKey, recordName);
  switch (strategy) {
    case SubjectNameStrategy.TOPIC:
      return `${topic}-${isKey ? 'key' : 'value'}`;
    case SubjectNameStrategy.RECORD:
      return requireName(strategy, recordName);
    case SubjectNameStrategy.TOPIC_RECORD:
      return `${topic}-${requireName(strategy, recordName)}`;
    default:
      throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `unknown subject name strategy '${String(strategy)}' (TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy)`);
  }
}

function requireName(strategy: string, recordName: string | undefined): string {
  if (recordName === undefined || recordName === '') {
    throw new SerdeError(SerdeErrorCode.INVALID_CONFIG, `${strategy} needs a record name: an Avro record, a Protobuf message, or a JSON Schema with a title`);
  }
  return recordName;
}
