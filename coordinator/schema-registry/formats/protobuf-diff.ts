/**
 * Protobuf compatibility: the difference between two .proto files, judged by the wire format.
 *
 * The rules are Confluent's (its protobuf diff): the whole file is compared, messages by name
 * (relative to the package), fields by number. A change is a problem when data written with the
 * original file can no longer be read with the updated one: a removed message, a changed package,
 * a field whose wire type changes (its kind, or its scalar type outside the groups that share an
 * encoding), a numeric field turning repeated or back (packed encoding), required fields coming or
 * going, and oneof changes that let one message carry two members of a oneof. Adding or removing
 * fields, enums and enum constants, renaming fields, or moving messages are not problems: fields
 * travel by number and message indexes are per schema id.
 *
 * Where Confluent and Karapace disagree (a package change, a moved message, a renumbered field),
 * we follow Confluent. One rule is ours: a syntax change (proto2 ↔ proto3) changes the meaning of
 * field presence and defaults, so it is reported as SYNTAX_CHANGED.
 *
 * Named types in other files (references) are compared too when both sides use the same name:
 * a referenced message that changed incompatibly makes the referring schema incompatible.
 */
import { allMessages, relativeName } from './protobuf-model.js';
import type { ProtoField, ProtoFile, ProtoMessage } from './protobuf-model.js';
import type { CompatibilityProblem } from './types.js';

export const ProtobufRule = {
  PACKAGE_CHANGED: 'PACKAGE_CHANGED',
  SYNTAX_CHANGED: 'SYNTAX_CHANGED',
  MESSAGE_REMOVED: 'MESSAGE_REMOVED',
  FIELD_KIND_CHANGED: 'FIELD_KIND_CHANGED',
  FIELD_SCALAR_KIND_CHANGED: 'FIELD_SCALAR_KIND_CHANGED',
  FIELD_NAMED_TYPE_CHANGED: 'FIELD_NAMED_TYPE_CHANGED',
  FIELD_NUMERIC_LABEL_CHANGED: 'FIELD_NUMERIC_LABEL_CHANGED',
  REQUIRED_FIELD_ADDED: 'REQUIRED_FIELD_ADDED',
  REQUIRED_FIELD_REMOVED: 'REQUIRED_FIELD_REMOVED',
  ONEOF_FIELD_REMOVED: 'ONEOF_FIELD_REMOVED',
  MULTIPLE_FIELDS_MOVED_TO_ONEOF: 'MULTIPLE_FIELDS_MOVED_TO_ONEOF',
  FIELD_MOVED_TO_EXISTING_ONEOF: 'FIELD_MOVED_TO_EXISTING_ONEOF',
} as const;
export type ProtobufRule = (typeof ProtobufRule)[keyof typeof ProtobufRule];

/** A file with the files it depends on, so referenced types can be looked up by full name. */
export interface ProtoUniverse {
  readonly file: ProtoFile;
  readonly dependencies: ReadonlyMap<string, ProtoFile>;
}

/**
 * Scalar types that share a wire encoding closely enough that a reader of one reads the other.
 * Enums are varints, so they sit with the varint group.
 */
const SCALAR_GROUPS: readonly (readonly string[])[] = [
  ['int32', 'int64', 'uint32', 'uint64', 'bool', 'enum'],
  ['sint32', 'sint64'],
  ['string', 'bytes'],
  ['fixed32', 'sfixed32'],
  ['fixed64', 'sfixed64'],
  ['float'],
  ['double'],
];

const NUMERIC = new Set(['int32', 'int64', 'uint32', 'uint64', 'bool', 'enum', 'sint32', 'sint64', 'fixed32', 'sfixed32', 'fixed64', 'sfixed64', 'float', 'double']);

/** Every problem with reading data written with `original` through `update` (writer → reader). */
export function diffProtobuf(original: ProtoUniverse, update: ProtoUniverse): CompatibilityProblem[] {
  return new ProtoDiff(original, update).run();
}

class ProtoDiff {
  private readonly problems: CompatibilityProblem[] = [];
  private readonly compared = new Set<string>();
  private readonly originalMessages: ReadonlyMap<string, ProtoMessage>;
  private readonly updateMessages: ReadonlyMap<string, ProtoMessage>;

  constructor(
    private readonly original: ProtoUniverse,
    private readonly update: ProtoUniverse,
  ) {
    this.originalMessages = messagesByFullName(original);
    this.updateMessages = messagesByFullName(update);
  }

  run(): CompatibilityProblem[] {
    const before = this.original.file;
    const after = this.update.file;
    if (before.package !== after.package) {
      this.add(ProtobufRule.PACKAGE_CHANGED, 'package', `package changed from '${before.package}' to '${after.package}'`);
    }
    if (before.syntax !== after.syntax) {
      this.add(ProtobufRule.SYNTAX_CHANGED, 'syntax', `syntax changed from ${before.syntax} to ${after.syntax}`);
    }
    const updated = new Map(allMessages(after).map((message) => [relativeName(message.fullName, after.package), message]));
    for (const message of allMessages(before)) {
      const name = relativeName(message.fullName, before.package);
      const counterpart = updated.get(name);
      if (counterpart === undefined) {
        this.add(ProtobufRule.MESSAGE_REMOVED, name, `message ${name} was removed`);
        continue;
      }
      this.compareMessages(message, counterpart, name);
    }
    return this.problems;
  }

  private compareMessages(before: ProtoMessage, after: ProtoMessage, location: string): void {
    const key = `${before.fullName}\u0000${after.fullName}`;
    if (this.compared.has(key)) return;
    this.compared.add(key);
    const afterByNumber = new Map(after.fields.map((field) => [field.number, field]));
    const beforeByNumber = new Map(before.fields.map((field) => [field.number, field]));
    for (const field of before.fields) {
      const counterpart = afterByNumber.get(field.number);
      if (counterpart === undefined) this.fieldRemoved(field, location);
      else this.compareFields(field, counterpart, before, `${location}.${counterpart.name}`);
    }
    for (const field of after.fields) {
      if (beforeByNumber.has(field.number)) continue;
      if (field.label === 'required') {
        this.add(ProtobufRule.REQUIRED_FIELD_ADDED, `${location}.${field.name}`, `required field '${field.name}' = ${field.number} was added to ${location}`);
      }
    }
    this.checkMovesIntoOneofs(before, after, location);
  }

  private fieldRemoved(field: ProtoField, location: string): void {
    const where = `${location}.${field.name}`;
    if (field.label === 'required') {
      this.add(ProtobufRule.REQUIRED_FIELD_REMOVED, where, `required field '${field.name}' = ${field.number} was removed from ${location}`);
    } else if (field.oneof !== undefined) {
      this.add(ProtobufRule.ONEOF_FIELD_REMOVED, where, `field '${field.name}' = ${field.number} was removed from oneof '${field.oneof}' in ${location}`);
    }
  }

  private compareFields(before: ProtoField, after: ProtoField, beforeMessage: ProtoMessage, where: string): void {
    const number = `(number ${after.number})`;
    const beforeKind = wireKind(before);
    const afterKind = wireKind(after);
    if (beforeKind !== afterKind) {
      this.add(ProtobufRule.FIELD_KIND_CHANGED, where, `field '${after.name}' ${number} changed kind from ${beforeKind} to ${afterKind} (writer ${describe(before)}, reader ${describe(after)})`);
      return;
    }
    if (beforeKind === 'map') {
      if (groupOf(before.keyType ?? '') !== groupOf(after.keyType ?? '')) {
        this.add(ProtobufRule.FIELD_SCALAR_KIND_CHANGED, where, `map field '${after.name}' ${number} changed key type from ${before.keyType ?? ''} to ${after.keyType ?? ''}`);
      }
      this.compareTypes(valueView(before), valueView(after), where, number);
    } else {
      this.compareTypes(before, after, where, number);
    }
    this.compareLabels(before, after, where, number);
    this.compareOneofMembership(before, after, beforeMessage, where, number);
  }

  /** Scalar groups, and the names of message and enum types. */
  private compareTypes(before: TypeView, after: TypeView, where: string, number: string): void {
    const beforeScalar = scalarName(before);
    const afterScalar = scalarName(after);
    if (beforeScalar !== undefined && afterScalar !== undefined) {
      if (groupOf(beforeScalar) !== groupOf(afterScalar)) {
        this.add(ProtobufRule.FIELD_SCALAR_KIND_CHANGED, where, `field '${after.name}' ${number} changed type from ${describeView(before)} to ${describeView(after)}, which do not share a wire encoding`);
        return;
      }
      if (before.kind === 'enum' && after.kind === 'enum' && this.typeName(before, this.original) !== this.typeName(after, this.update)) {
        this.add(ProtobufRule.FIELD_NAMED_TYPE_CHANGED, where, `field '${after.name}' ${number} changed enum type from ${describeView(before)} to ${describeView(after)}`);
      }
      return;
    }
    if (before.kind === 'message' && after.kind === 'message') {
      const beforeName = this.typeName(before, this.original);
      const afterName = this.typeName(after, this.update);
      if (beforeName !== afterName) {
        this.add(ProtobufRule.FIELD_NAMED_TYPE_CHANGED, where, `field '${after.name}' ${number} changed message type from ${beforeName} to ${afterName}`);
        return;
      }
      this.compareReferenced(before.resolvedType, after.resolvedType, afterName);
    }
  }

  /** A message type defined in another file is compared where the main files do not already. */
  private compareReferenced(beforeFullName: string | undefined, afterFullName: string | undefined, name: string): void {
    if (beforeFullName === undefined || afterFullName === undefined) return;
    const inMainBefore = allMessages(this.original.file).some((message) => message.fullName === beforeFullName);
    if (inMainBefore) return;
    const before = this.originalMessages.get(beforeFullName);
    const after = this.updateMessages.get(afterFullName);
    if (before !== undefined && after !== undefined) this.compareMessages(before, after, name);
  }

  private compareLabels(before: ProtoField, after: ProtoField, where: string, number: string): void {
    const beforeRepeated = before.label === 'repeated';
    const afterRepeated = after.label === 'repeated';
    if (beforeRepeated !== afterRepeated && before.kind !== 'map' && NUMERIC.has(scalarName(before) ?? '') && NUMERIC.has(scalarName(after) ?? '')) {
      this.add(
        ProtobufRule.FIELD_NUMERIC_LABEL_CHANGED,
        where,
        `numeric field '${after.name}' ${number} changed from ${beforeRepeated ? 'repeated' : 'singular'} to ${afterRepeated ? 'repeated' : 'singular'} (packed and unpacked encodings differ)`,
      );
    }
    if ((before.label === 'required') !== (after.label === 'required')) {
      const rule = after.label === 'required' ? ProtobufRule.REQUIRED_FIELD_ADDED : ProtobufRule.REQUIRED_FIELD_REMOVED;
      this.add(rule, where, `field '${after.name}' ${number} ${after.label === 'required' ? 'became required' : 'is no longer required'}`);
    }
  }

  private compareOneofMembership(before: ProtoField, after: ProtoField, beforeMessage: ProtoMessage, where: string, number: string): void {
    if (after.oneof === undefined || before.oneof === after.oneof) return;
    const oneofExisted = beforeMessage.oneofs.some((oneof) => oneof.name === after.oneof);
    if (oneofExisted) {
      this.add(
        ProtobufRule.FIELD_MOVED_TO_EXISTING_ONEOF,
        where,
        `field '${after.name}' ${number} moved into oneof '${after.oneof}', which already existed: old data may set it together with another member`,
      );
    }
  }

  /** Several existing fields moved into one new oneof: old data may set more than one of them. */
  private checkMovesIntoOneofs(before: ProtoMessage, after: ProtoMessage, location: string): void {
    const existingOneofs = new Set(before.oneofs.map((oneof) => oneof.name));
    const beforeByNumber = new Map(before.fields.map((field) => [field.number, field]));
    const moved = new Map<string, string[]>();
    for (const field of after.fields) {
      if (field.oneof === undefined || existingOneofs.has(field.oneof)) continue;
      const previous = beforeByNumber.get(field.number);
      if (previous === undefined || previous.oneof !== undefined) continue;
      moved.set(field.oneof, [...(moved.get(field.oneof) ?? []), field.name]);
    }
    for (const [oneof, names] of moved) {
      if (names.length < 2) continue;
      this.add(
        ProtobufRule.MULTIPLE_FIELDS_MOVED_TO_ONEOF,
        `${location}.${oneof}`,
        `fields ${names.map((name) => `'${name}'`).join(', ')} moved into the new oneof '${oneof}' in ${location}: old data may set more than one of them`,
      );
    }
  }

  private typeName(view: TypeView, universe: ProtoUniverse): string {
    return relativeName(view.resolvedType ?? view.type, universe.file.package);
  }

  private add(rule: ProtobufRule, location: string, message: string): void {
    this.problems.push({ rule, location, message: `${message} at ${location}` });
  }
}

/** The part of a field that says what its values are (for a map: its value type). */
interface TypeView {
  readonly name: string;
  readonly kind: ProtoField['kind'];
  readonly type: string;
  readonly resolvedType: string | undefined;
}

function valueView(field: ProtoField): TypeView {
  return { name: `${field.name} (map value)`, kind: field.valueKind ?? 'scalar', type: field.type, resolvedType: field.resolvedType };
}

/** Scalar and enum fields are one kind (enums are varints); messages and maps are the others. */
function wireKind(field: ProtoField): 'scalar' | 'message' | 'map' {
  if (field.kind === 'map') return 'map';
  return field.kind === 'message' ? 'message' : 'scalar';
}

function scalarName(view: { readonly kind: string; readonly type: string }): string | undefined {
  if (view.kind === 'enum') return 'enum';
  if (view.kind === 'scalar') return view.type;
  return undefined;
}

function groupOf(scalar: string): number {
  return SCALAR_GROUPS.findIndex((group) => group.includes(scalar));
}

function describe(field: ProtoField): string {
  if (field.kind === 'map') return `map<${field.keyType ?? ''}, ${field.type}>`;
  return field.type;
}

function describeView(view: TypeView): string {
  return view.kind === 'enum' ? `enum ${view.type}` : view.type;
}

function messagesByFullName(universe: ProtoUniverse): ReadonlyMap<string, ProtoMessage> {
  const byName = new Map<string, ProtoMessage>();
  for (const file of [universe.file, ...universe.dependencies.values()]) {
    for (const message of allMessages(file)) byName.set(message.fullName, message);
  }
  return byName;
}
