/**
 * Schema-id validation on produce (Confluent's "broker-side schema ID validation"): a topic with
 * `confluent.value.schema.validation=true` (or the key variant) accepts a batch only if every
 * record's value (key) is framed in the schema registry's wire format (magic byte 0, then a 4-byte
 * schema id) and that id is registered under the subject the topic's naming strategy gives:
 * `<topic>-value` by default, the record's full name with RecordNameStrategy, or
 * `<topic>-<full name>` with TopicRecordNameStrategy. Null values (tombstones) and null keys pass.
 *
 * One bad record refuses the whole batch with INVALID_RECORD (87) and a message naming the record
 * and why; nothing of the batch is written, as a Kafka broker does with a batch that fails a
 * record check. Only the framing and the id are checked, not the payload: decoding every record
 * against its schema would cost far more than the 10% the check is allowed (docs/schema-registry-clients.md).
 *
 * The broker learns the registry's state from the replicated metadata it follows (the schema store
 * is part of the metadata state); `SchemaIdLookup` is the narrow view this check needs, so it can
 * be tested and wired without the rest of the metadata. `storeSchemaIdLookup` builds one over the
 * store.
 *
 * Protobuf frames carry a message-index path after the id; only RecordNameStrategy needs it (to
 * name the message). A frame without the path (what @kafkajs/confluent-schema-registry writes) is
 * accepted under TopicNameStrategy, since the id alone is what is checked.
 */
import { ErrorCode, StreamBusError } from '../../proto/errors.js';
import { BATCH_HEADER_BYTES, Compression, Reader, decodeRecordBatches, readBatchHeader, type DecodedBatch } from '../../proto/record-batch/index.js';
import type { ResolvedReference, ResolvedTopicConfig, SchemaReference, SchemaStoreView } from '../../coordinator/index.js';
import { formatFor, protobufMessageName, type ParsedSchema } from '../../coordinator/schema-registry/formats/index.js';

export type SubjectNameStrategyName = ResolvedTopicConfig['valueSubjectNameStrategy'];

/** What the check needs to know about the registry. */
export interface SchemaIdLookup {
  /** Whether any schema has global id `id`. */
  exists(id: number): boolean;
  /** Whether `id` is the schema of a live (not soft-deleted) version of `subject`. */
  isRegistered(subject: string, id: number): boolean;
  /**
   * The full record name of schema `id` (Avro record full name, JSON Schema title, the Protobuf
   * message the message-index path at the start of `payload` names); undefined when it has none.
   * `payload` is the record's bytes after the 5-byte header.
   */
  recordName(id: number, payload: Buffer): string | undefined;
  /** Subjects naming `id` in a live version, for the rejection message. */
  subjectsOf(id: number): readonly string[];
}

/** Which parts of a topic's records are checked, and under which strategy; undefined when neither is. */
export interface SchemaValidation {
  readonly key: SubjectNameStrategyName | undefined;
  readonly value: SubjectNameStrategyName | undefined;
}

/** The validation a topic's resolved config asks for; undefined when it asks for none. */
export function schemaValidationOf(config: ResolvedTopicConfig): SchemaValidation | undefined {
  if (!config.keySchemaValidation && !config.valueSchemaValidation) return undefined;
  return {
    key: config.keySchemaValidation ? config.keySubjectNameStrategy : undefined,
    value: config.valueSchemaValidation ? config.valueSubjectNameStrategy : undefined,
  };
}

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;
/** A produced batch decompresses to at most this much for the check; a bigger one is refused rather than inflated. */
const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface SchemaCheck {
  readonly topic: string;
  readonly partition: number;
  readonly validation: SchemaValidation;
  /** Undefined when the broker has no view of the registry: every record is then refused. */
  readonly lookup: SchemaIdLookup | undefined;
}

/**
 * Checks every record of the produced `records` (validated RecordBatch v2 bytes, decompressed
 * here). Resolves when all pass; rejects with StreamBusError INVALID_RECORD naming the first
 * record that does not, and why.
 */
export async function checkSchemaIds(records: Buffer, check: SchemaCheck): Promise<void> {
  const state: CheckState = { check, passed: new Set(), lastGood: { key: -1, value: -1 }, batchCount: 0 };
  for (let position = 0; position + BATCH_HEADER_BYTES <= records.length; state.batchCount += 1) {
    const header = readBatchHeader(records, position);
    const end = position + header.sizeBytes;
    if (!header.isControl) {
      if (header.compression === Compression.none) {
        scanRecords(records, position + BATCH_HEADER_BYTES, end, header.recordCount, state);
      } else {
        for (const batch of await decompressed(records.subarray(position, end), check)) {
          for (const [r, record] of batch.records.entries()) {
            if (record.key !== null) checkPart(state, 'key', record.key, 0, record.key.length, r);
            if (record.value !== null) checkPart(state, 'value', record.value, 0, record.value.length, r);
          }
        }
      }
    }
    position = end;
  }
}

interface CheckState {
  readonly check: SchemaCheck;
  /** Subject and id pairs already found good in this request (RecordNameStrategy subjects vary per record). */
  readonly passed: Set<string>;
  /** The last id found good per part under a fixed subject: a batch usually carries one id throughout. */
  readonly lastGood: { key: number; value: number };
  batchCount: number;
}

async function decompressed(batch: Buffer, check: SchemaCheck): Promise<DecodedBatch[]> {
  try {
    return await decodeRecordBatches(batch, { verifyCrc: false, maxDecompressedBytes: MAX_DECOMPRESSED_BYTES });
  } catch (error) {
    throw new StreamBusError(ErrorCode.INVALID_RECORD, `schema validation could not read the batch: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      context: { topic: check.topic, partition: check.partition },
    });
  }
}

/**
 * Walks the records of an uncompressed batch (already framed and CRC-checked by validateBatches)
 * reading only where each key and value lies: no record objects, no copies, which keeps the check
 * within its throughput budget.
 */
function scanRecords(buf: Buffer, start: number, end: number, count: number, state: CheckState): void {
  const reader = new Reader(buf, start, end);
  for (let r = 0; r < count; r += 1) {
    const bodyBytes = reader.readVarint();
    const recordEnd = reader.position + bodyBytes;
    if (bodyBytes < 0 || recordEnd > end) throw new StreamBusError(ErrorCode.CORRUPT_MESSAGE, `record ${r} overruns its batch`);
    reader.readInt8();
    reader.readVarlong();
    reader.readVarint();
    const keyLength = reader.readVarint();
    const keyStart = reader.position;
    if (keyLength > 0) reader.position += keyLength;
    const valueLength = reader.readVarint();
    const valueStart = reader.position;
    if (keyLength >= 0) checkPart(state, 'key', buf, keyStart, keyLength, r);
    if (valueLength >= 0) checkPart(state, 'value', buf, valueStart, valueLength, r);
    reader.position = recordEnd;
  }
}

/** Checks one key or value (`length` bytes of `buf` at `start`); throws INVALID_RECORD when it fails. */
function checkPart(state: CheckState, part: 'key' | 'value', buf: Buffer, start: number, length: number, record: number): void {
  const { check } = state;
  const strategy = check.validation[part];
  if (strategy === undefined) return;
  const refuse = (why: string): never => {
    const where = state.batchCount === 0 ? `record ${record}` : `record ${record} of batch ${state.batchCount}`;
    throw new StreamBusError(ErrorCode.INVALID_RECORD, `${where} of ${check.topic}-${check.partition} refused: its ${part} ${why} (confluent.${part}.schema.validation=true)`, {
      context: { topic: check.topic, partition: check.partition },
    });
  };
  if (length < HEADER_BYTES || buf[start] !== MAGIC_BYTE) {
    const found = length === 0 ? 'is empty' : buf[start] !== MAGIC_BYTE ? `starts with 0x${buf[start]!.toString(16).padStart(2, '0')}` : `has only ${length} bytes`;
    return refuse(`${found}, not the schema registry wire format (magic byte 0 and a 4-byte schema id)`);
  }
  const id = buf.readInt32BE(start + 1);
  const fixedSubject = strategy === 'TopicNameStrategy';
  if (fixedSubject && state.lastGood[part] === id) return;
  const lookup = check.lookup;
  if (lookup === undefined) return refuse(`carries schema id ${id}, but this broker has no view of the schema registry to check it`);
  if (!lookup.exists(id)) return refuse(`carries schema id ${id}, which is not registered`);
  // RecordNameStrategy subjects depend on the payload (the Protobuf message); TopicNameStrategy's do not.
  const subject = subjectFor(strategy, check.topic, part, () => lookup.recordName(id, buf.subarray(start + HEADER_BYTES, start + length)));
  if (subject === undefined) return refuse(`carries schema id ${id}, whose schema has no record name for ${strategy}`);
  const key = `${part}\u0000${subject}\u0000${id}`;
  if (state.passed.has(key)) return;
  if (!lookup.isRegistered(subject, id)) {
    const elsewhere = lookup.subjectsOf(id);
    const hint = elsewhere.length === 0 ? '' : ` (it is registered under ${elsewhere.slice(0, 5).map((s) => `'${s}'`).join(', ')})`;
    return refuse(`carries schema id ${id}, which is not registered under subject '${subject}'${hint}`);
  }
  state.passed.add(key);
  if (fixedSubject) state.lastGood[part] = id;
}

function subjectFor(strategy: SubjectNameStrategyName, topic: string, part: 'key' | 'value', recordName: () => string | undefined): string | undefined {
  switch (strategy) {
    case 'TopicNameStrategy':
      return `${topic}-${part}`;
    case 'RecordNameStrategy':
      return recordName();
    case 'TopicRecordNameStrategy': {
      const name = recordName();
      return name === undefined ? undefined : `${topic}-${name}`;
    }
  }
}

// ---- The lookup over the schema store of the followed metadata

/** Parsed schemas kept for RecordNameStrategy; ids never change content, so entries never go stale. */
const PARSED_CACHE_CAPACITY = 1000;
const MAX_REFERENCE_DEPTH = 32;

/**
 * A SchemaIdLookup over the registry's store in the metadata the broker follows. `store` is
 * called on every use, so the lookup always sees the latest applied metadata.
 */
export function storeSchemaIdLookup(store: () => SchemaStoreView): SchemaIdLookup {
  const parsed = new Map<number, ParsedSchema | null>();
  const parse = (view: SchemaStoreView, id: number): ParsedSchema | undefined => {
    const known = parsed.get(id);
    if (known !== undefined) return known ?? undefined;
    const schema = view.schema(id);
    if (schema === undefined) return undefined;
    let result: ParsedSchema | null;
    try {
      result = formatFor(schema.schemaType).parse(schema.schema, schema.references.map((r) => resolve(view, r, 0)));
    } catch {
      // A stored schema parsed when it was registered; failing now means a reference went away. No name then.
      result = null;
    }
    if (parsed.size >= PARSED_CACHE_CAPACITY) {
      const oldest = parsed.keys().next();
      if (oldest.done !== true) parsed.delete(oldest.value);
    }
    parsed.set(id, result);
    return result ?? undefined;
  };
  return {
    exists: (id) => store().schema(id) !== undefined,
    isRegistered: (subject, id) => store().subject(subject)?.versions.some((v) => v.id === id && !v.deleted) === true,
    subjectsOf: (id) => [...new Set(store().usages(id).filter((u) => !u.deleted).map((u) => u.subject))],
    recordName: (id, payload) => {
      const view = store();
      const schema = parse(view, id);
      if (schema === undefined) return undefined;
      if (schema.schemaType !== 'PROTOBUF') return schema.recordName;
      const indexes = readMessageIndexes(payload);
      return indexes === undefined ? undefined : protobufMessageName(schema, indexes);
    },
  };
}

function resolve(view: SchemaStoreView, reference: SchemaReference, depth: number): ResolvedReference {
  const version = view.subject(reference.subject)?.versions.find((v) => v.version === reference.version);
  const schema = version === undefined ? undefined : view.schema(version.id);
  if (schema === undefined || depth > MAX_REFERENCE_DEPTH) throw new Error(`reference ${reference.subject} version ${reference.version} is gone`);
  return { ...reference, schema: schema.schema, schemaType: schema.schemaType, references: schema.references.map((r) => resolve(view, r, depth + 1)) };
}

/** The zig-zag varint message-index path at the start of a Protobuf payload ([0] for the 0x00 shortcut); undefined when malformed. */
export function readMessageIndexes(payload: Buffer): number[] | undefined {
  let position = 0;
  const next = (): number | undefined => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i += 1) {
      const byte = payload[position];
      if (byte === undefined) return undefined;
      position += 1;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 0x80;
    }
    return undefined;
  };
  const count = next();
  if (count === undefined || count < 0 || count > 64) return undefined;
  if (count === 0) return [0];
  const indexes: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const index = next();
    if (index === undefined || index < 0) return undefined;
    indexes.push(index);
  }
  return indexes;
}
