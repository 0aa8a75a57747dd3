/**
 * Topic-name rules, the same as Kafka's so that every name a Kafka client can create works here
 * and the other way round.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';

/** Kafka's limit: a topic name becomes part of file and metric names, which have length limits. */
export const TOPIC_NAME_MAX_LENGTH = 249;

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Returns why `name` is not a legal topic name, or undefined when it is. */
export function topicNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `topic name must be a string, got ${typeof name}`;
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "." or ".."`;
  if (name.length > TOPIC_NAME_MAX_LENGTH) {
    return `topic name is ${name.length} characters long; the limit is ${TOPIC_NAME_MAX_LENGTH}`;
  }
  if (!LEGAL_TOPIC_NAME.test(name)) {
    return `topic name ${JSON.stringify(name)} contains a character other than ASCII letters, digits, '.', '_' and '-'`;
  }
  return undefined;
}

/**
 * Throws StreamBusError INVALID_TOPIC unless `name` is 1..249 characters of [a-zA-Z0-9._-] and is
 * neither "." nor "..".
 */
export function validateTopicName(name: unknown): asserts name is string {
  const problem = topicNameProblem(name);
  if (problem !== undefined) {
    throw new StreamBusError(ErrorCode.INVALID_TOPIC, problem, typeof name === 'string' ? { context: { topic: name } } : undefined);
  }
}

/**
 * Kafka turns '.' into '_' in metric names, so "a.b" and "a_b" would share metrics; like Kafka we
 * refuse to create a topic whose key collides with an existing topic's. Two names collide exactly
 * when their keys are equal.
 */
export function topicCollisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
