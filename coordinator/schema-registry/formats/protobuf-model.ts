/**
 * One .proto file as the registry sees it: a plain model built from protobufjs reflection (or from
 * a FileDescriptorProto, see protobuf-descriptor.ts), and the printer that turns it back into
 * .proto text.
 *
 * The model is what the rest of the Protobuf format works on: the canonical text is this printer's
 * output, the compatibility diff compares two models, and message indexes are computed on it. It
 * keeps what identity and compatibility need (package, syntax, imports, options, messages with
 * their fields, oneofs, reserved ranges, enums, services) and drops comments and layout.
 *
 * Printing order is fixed so that layout never changes identity: file options and message options
 * sorted by name, then per message its options, reserved ranges, fields in declaration order (a
 * oneof block where its first field was), then nested enums and messages in declaration order.
 */

export type ProtoSyntax = 'proto2' | 'proto3';
export type ProtoOptionValue = string | number | boolean;

export interface ProtoOption {
  readonly name: string;
  readonly value: ProtoOptionValue;
}

export type ProtoLabel = 'optional' | 'required' | 'repeated';
export type ProtoFieldKind = 'scalar' | 'enum' | 'message' | 'map';

export interface ProtoField {
  readonly name: string;
  readonly number: number;
  /** The label as written; undefined for proto3 implicit presence and for map fields. */
  readonly label: ProtoLabel | undefined;
  /** proto3 `optional`: explicit presence through a synthetic oneof. */
  readonly proto3Optional: boolean;
  readonly kind: ProtoFieldKind;
  /** The type as written (a scalar name, or a message/enum name relative to its scope); a map's value type. */
  readonly type: string;
  /** For enum and message types (and map values of those): the full name, without a leading dot. */
  readonly resolvedType: string | undefined;
  /** A map's key type (a scalar name). */
  readonly keyType: string | undefined;
  /** For map values: whether the value type is a message, an enum or a scalar. */
  readonly valueKind: 'scalar' | 'enum' | 'message' | undefined;
  /** The real (non-synthetic) oneof this field belongs to. */
  readonly oneof: string | undefined;
  readonly options: readonly ProtoOption[];
}

export interface ProtoOneof {
  readonly name: string;
  readonly options: readonly ProtoOption[];
}

export interface ProtoEnumValue {
  readonly name: string;
  readonly number: number;
  readonly options: readonly ProtoOption[];
}

export interface ProtoEnum {
  readonly name: string;
  readonly fullName: string;
  readonly values: readonly ProtoEnumValue[];
  readonly reservedRanges: readonly (readonly [number, number])[];
  readonly reservedNames: readonly string[];
  readonly options: readonly ProtoOption[];
}

export interface ProtoMessage {
  readonly name: string;
  /** Package-qualified name without a leading dot, e.g. 'acme.v1.Order.Line'. */
  readonly fullName: string;
  readonly fields: readonly ProtoField[];
  readonly oneofs: readonly ProtoOneof[];
  readonly messages: readonly ProtoMessage[];
  readonly enums: readonly ProtoEnum[];
  readonly reservedRanges: readonly (readonly [number, number])[];
  readonly reservedNames: readonly string[];
  readonly options: readonly ProtoOption[];
}

export interface ProtoMethod {
  readonly name: string;
  readonly inputType: string;
  readonly outputType: string;
  /** Full names (no leading dot) of the input and output messages. */
  readonly resolvedInputType: string;
  readonly resolvedOutputType: string;
  readonly clientStreaming: boolean;
  readonly serverStreaming: boolean;
  readonly options: readonly ProtoOption[];
}

export interface ProtoService {
  readonly name: string;
  readonly methods: readonly ProtoMethod[];
  readonly options: readonly ProtoOption[];
}

export interface ProtoFile {
  readonly syntax: ProtoSyntax;
  readonly package: string;
  readonly imports: readonly string[];
  readonly options: readonly ProtoOption[];
  readonly messages: readonly ProtoMessage[];
  readonly enums: readonly ProtoEnum[];
  readonly services: readonly ProtoService[];
}

/** The highest field number; `to max` in a field's reserved range. */
export const FIELD_NUMBER_MAX = 536_870_911;
/** The highest enum value; `to max` in an enum's reserved range. */
export const ENUM_NUMBER_MAX = 2_147_483_647;

export const SCALAR_TYPES: ReadonlySet<string> = new Set([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
]);

/** Options whose values are enum constants, printed bare rather than quoted. */
const ENUM_VALUED_OPTIONS: ReadonlySet<string> = new Set(['optimize_for', 'ctype', 'jstype', 'idempotency_level', 'retention', 'targets']);

// ---------------------------------------------------------------------------------------------
// Printing

/** The canonical .proto text of `file`. */
export function printProtoFile(file: ProtoFile): string {
  const out: string[] = [`syntax = "${file.syntax}";`];
  if (file.package !== '') out.push(`package ${file.package};`);
  if (file.imports.length > 0) out.push('', ...file.imports.map((path) => `import ${quote(path)};`));
  if (file.options.length > 0) out.push('', ...file.options.map((option) => `option ${printOption(option)};`));
  for (const message of file.messages) out.push('', ...printMessage(message, file.syntax, ''));
  for (const enumType of file.enums) out.push('', ...printEnum(enumType, ''));
  for (const service of file.services) out.push('', ...printService(service));
  return `${out.join('\n')}\n`;
}

function printMessage(message: ProtoMessage, syntax: ProtoSyntax, indent: string): string[] {
  const inner = `${indent}  `;
  const lines = [`${indent}message ${message.name} {`];
  for (const option of message.options) lines.push(`${inner}option ${printOption(option)};`);
  lines.push(...printReserved(message.reservedRanges, message.reservedNames, FIELD_NUMBER_MAX, inner));
  const printedOneofs = new Set<string>();
  for (const field of message.fields) {
    if (field.oneof === undefined) {
      lines.push(`${inner}${printField(field, syntax)}`);
      continue;
    }
    if (printedOneofs.has(field.oneof)) continue;
    printedOneofs.add(field.oneof);
    const oneofName = field.oneof;
    lines.push(`${inner}oneof ${oneofName} {`);
    const oneof = message.oneofs.find((candidate) => candidate.name === oneofName);
    for (const option of oneof?.options ?? []) lines.push(`${inner}  option ${printOption(option)};`);
    for (const member of message.fields.filter((candidate) => candidate.oneof === oneofName)) {
      lines.push(`${inner}  ${printField(member, syntax)}`);
    }
    lines.push(`${inner}}`);
  }
  for (const enumType of message.enums) lines.push(...printEnum(enumType, inner));
  for (const nested of message.messages) lines.push(...printMessage(nested, syntax, inner));
  lines.push(`${indent}}`);
  return lines;
}

function printField(field: ProtoField, syntax: ProtoSyntax): string {
  const options = field.options.length === 0 ? '' : ` [${field.options.map((option) => printFieldOption(option, field)).join(', ')}]`;
  if (field.kind === 'map') return `map<${field.keyType ?? 'string'}, ${field.type}> ${field.name} = ${field.number}${options};`;
  const label = field.oneof !== undefined ? '' : labelText(field, syntax);
  return `${label}${field.type} ${field.name} = ${field.number}${options};`;
}

function labelText(field: ProtoField, syntax: ProtoSyntax): string {
  if (field.label === undefined) return '';
  if (field.label === 'optional' && syntax === 'proto3' && !field.proto3Optional) return '';
  return `${field.label} `;
}

/** A field's `default` is a literal of the field's own type: quoted only for string and bytes. */
function printFieldOption(option: ProtoOption, field: ProtoField): string {
  if (option.name === 'default' && typeof option.value === 'string' && field.type !== 'string' && field.type !== 'bytes') {
    return `default = ${option.value}`;
  }
  return printOption(option);
}

function printEnum(enumType: ProtoEnum, indent: string): string[] {
  const inner = `${indent}  `;
  const lines = [`${indent}enum ${enumType.name} {`];
  for (const option of enumType.options) lines.push(`${inner}option ${printOption(option)};`);
  lines.push(...printReserved(enumType.reservedRanges, enumType.reservedNames, ENUM_NUMBER_MAX, inner));
  for (const value of enumType.values) {
    const options = value.options.length === 0 ? '' : ` [${value.options.map(printOption).join(', ')}]`;
    lines.push(`${inner}${value.name} = ${value.number}${options};`);
  }
  lines.push(`${indent}}`);
  return lines;
}

function printService(service: ProtoService): string[] {
  const lines = [`service ${service.name} {`];
  for (const option of service.options) lines.push(`  option ${printOption(option)};`);
  for (const method of service.methods) {
    const input = `${method.clientStreaming ? 'stream ' : ''}${method.inputType}`;
    const output = `${method.serverStreaming ? 'stream ' : ''}${method.outputType}`;
    if (method.options.length === 0) {
      lines.push(`  rpc ${method.name}(${input}) returns (${output});`);
    } else {
      lines.push(`  rpc ${method.name}(${input}) returns (${output}) {`);
      for (const option of method.options) lines.push(`    option ${printOption(option)};`);
      lines.push('  }');
    }
  }
  lines.push('}');
  return lines;
}

function printReserved(ranges: readonly (readonly [number, number])[], names: readonly string[], max: number, indent: string): string[] {
  const lines: string[] = [];
  if (ranges.length > 0) {
    const parts = ranges.map(([from, to]) => (from === to ? `${from}` : `${from} to ${to === max ? 'max' : to}`));
    lines.push(`${indent}reserved ${parts.join(', ')};`);
  }
  if (names.length > 0) lines.push(`${indent}reserved ${names.map(quote).join(', ')};`);
  return lines;
}

function printOption(option: ProtoOption): string {
  const value = option.value;
  if (typeof value !== 'string') return `${option.name} = ${String(value)}`;
  const bare = ENUM_VALUED_OPTIONS.has(option.name) && /^[A-Z_][A-Z0-9_]*$/.test(value);
  return `${option.name} = ${bare ? value : quote(value)}`;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

// ---------------------------------------------------------------------------------------------
// Walking

/** Every message in `file`, nested ones included, in declaration order (depth first). */
export function allMessages(file: ProtoFile): ProtoMessage[] {
  const found: ProtoMessage[] = [];
  const visit = (messages: readonly ProtoMessage[]): void => {
    for (const message of messages) {
      found.push(message);
      visit(message.messages);
    }
  };
  visit(file.messages);
  return found;
}

/** The name of `fullName` relative to `pkg` ('acme.v1.Order.Line' in acme.v1 is 'Order.Line'). */
export function relativeName(fullName: string, pkg: string): string {
  return pkg !== '' && fullName.startsWith(`${pkg}.`) ? fullName.slice(pkg.length + 1) : fullName;
}

/** Options as a sorted list, keeping only values .proto text can express. */
export function sortedOptions(options: Readonly<Record<string, unknown>> | undefined, skip: ReadonlySet<string> = new Set()): ProtoOption[] {
  if (options === undefined) return [];
  const list: ProtoOption[] = [];
  for (const name of Object.keys(options).sort()) {
    const value = options[name];
    if (skip.has(name)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') list.push({ name, value });
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// Type names

/**
 * `file` with every message and enum type written the same way, whatever the source wrote
 * (`Inner`, `Order.Inner`, `.acme.v1.Order.Inner`) or the descriptor carried: relative to the
 * package when the type is in it, else the full name. A relative name that a nested type of an
 * enclosing message would capture (protobuf resolves names innermost scope first) is written
 * fully qualified with a leading dot instead.
 */
export function withCanonicalTypeNames(file: ProtoFile): ProtoFile {
  const pkg = file.package;
  const rename = (message: ProtoMessage, scopes: readonly ProtoMessage[]): ProtoMessage => {
    const chain = [...scopes, message];
    return {
      ...message,
      fields: message.fields.map((field) =>
        field.resolvedType === undefined ? field : { ...field, type: typeNameFor(field.resolvedType, pkg, chain) },
      ),
      messages: message.messages.map((nested) => rename(nested, chain)),
    };
  };
  return {
    ...file,
    messages: file.messages.map((message) => rename(message, [])),
    services: file.services.map((service) => ({
      ...service,
      methods: service.methods.map((method) => ({
        ...method,
        inputType: typeNameFor(method.resolvedInputType, pkg, []),
        outputType: typeNameFor(method.resolvedOutputType, pkg, []),
      })),
    })),
  };
}

function typeNameFor(fullName: string, pkg: string, scopes: readonly ProtoMessage[]): string {
  const short = relativeName(fullName, pkg);
  const first = short.split('.')[0] ?? short;
  const captured = scopes.some((scope) => {
    const nested = [...scope.messages.map((child) => child.name), ...scope.enums.map((child) => child.name)];
    return nested.includes(first) && !fullName.startsWith(`${scope.fullName}.${first}`);
  });
  return captured ? `.${fullName}` : short;
}
