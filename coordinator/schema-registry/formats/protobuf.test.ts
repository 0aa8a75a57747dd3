import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';
import { describe, expect, it } from 'vitest';
import { ProtobufRule } from './protobuf-diff.js';
import {
  parseProtobuf, protobufCompatibility, protobufMessageIndexes, protobufMessageName, protobufSerializedToText, protobufToSerialized,
} from './protobuf.js';
import { InvalidSchemaError, SchemaType } from './types.js';
import type { ResolvedReference } from './types.js';

const proto3 = (body: string, pkg = 'acme.v1'): string => `syntax = "proto3";\npackage ${pkg};\n${body}\n`;
const parse = (text: string, references: readonly ResolvedReference[] = []) => parseProtobuf(text, references);

/** Problems of the update reading data written with the original (BACKWARD: update is newer). */
function problemsOf(original: string, update: string): { rule: string; location: string }[] {
  return protobufCompatibility(parse(update), parse(original)).map(({ rule, location }) => ({ rule, location }));
}

interface Case {
  readonly name: string;
  readonly original: string;
  readonly update: string;
  readonly problems: { rule: string; location: string }[];
}

const order = proto3('message Order { int32 id = 1; string name = 2; repeated int64 amounts = 3; }');

const cases: Case[] = [
  { name: 'the same file is compatible', original: order, update: order, problems: [] },
  {
    name: 'a field added is compatible',
    original: order,
    update: proto3('message Order { int32 id = 1; string name = 2; repeated int64 amounts = 3; string note = 4; }'),
    problems: [],
  },
  {
    name: 'a field removed is compatible',
    original: order,
    update: proto3('message Order { int32 id = 1; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'a field renamed (same number) is compatible',
    original: order,
    update: proto3('message Order { int32 order_id = 1; string name = 2; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'a field renumbered is compatible (removed + added, as in Confluent; Karapace differs)',
    original: order,
    update: proto3('message Order { int32 id = 1; string name = 5; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'int32 to int64 is compatible (same varint group)',
    original: order,
    update: proto3('message Order { int64 id = 1; string name = 2; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'int32 to bool is compatible (same varint group)',
    original: order,
    update: proto3('message Order { bool id = 1; string name = 2; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'string to bytes is compatible',
    original: order,
    update: proto3('message Order { int32 id = 1; bytes name = 2; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'fixed32 to sfixed32 is compatible',
    original: proto3('message M { fixed32 a = 1; }'),
    update: proto3('message M { sfixed32 a = 1; }'),
    problems: [],
  },
  {
    name: 'string to int32 is FIELD_SCALAR_KIND_CHANGED at the field',
    original: order,
    update: proto3('message Order { int32 id = 1; int32 name = 2; repeated int64 amounts = 3; }'),
    problems: [{ rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'Order.name' }],
  },
  {
    name: 'int32 to sint32 is FIELD_SCALAR_KIND_CHANGED (zig-zag encoding differs)',
    original: order,
    update: proto3('message Order { sint32 id = 1; string name = 2; repeated int64 amounts = 3; }'),
    problems: [{ rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'Order.id' }],
  },
  {
    name: 'float to double is FIELD_SCALAR_KIND_CHANGED',
    original: proto3('message M { float a = 1; }'),
    update: proto3('message M { double a = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'M.a' }],
  },
  {
    name: 'an enum field read as int32 is compatible (enums are varints)',
    original: proto3('enum Status { NEW = 0; DONE = 1; } message M { Status s = 1; }'),
    update: proto3('enum Status { NEW = 0; DONE = 1; } message M { int32 s = 1; }'),
    problems: [],
  },
  {
    name: 'a scalar field turned into a message is FIELD_KIND_CHANGED',
    original: proto3('message Money { int64 cents = 1; } message M { int64 price = 1; }'),
    update: proto3('message Money { int64 cents = 1; } message M { Money price = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_KIND_CHANGED, location: 'M.price' }],
  },
  {
    name: 'a message field turned into a map is FIELD_KIND_CHANGED',
    original: proto3('message V { string s = 1; } message M { V attrs = 1; }'),
    update: proto3('message V { string s = 1; } message M { map<string, string> attrs = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_KIND_CHANGED, location: 'M.attrs' }],
  },
  {
    name: 'a message field of another message type is FIELD_NAMED_TYPE_CHANGED',
    original: proto3('message A { int32 x = 1; } message B { int32 x = 1; } message M { A v = 1; }'),
    update: proto3('message A { int32 x = 1; } message B { int32 x = 1; } message M { B v = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_NAMED_TYPE_CHANGED, location: 'M.v' }],
  },
  {
    name: 'a map value type outside its group is FIELD_SCALAR_KIND_CHANGED',
    original: proto3('message M { map<string, int32> counts = 1; }'),
    update: proto3('message M { map<string, string> counts = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'M.counts' }],
  },
  {
    name: 'a repeated numeric field made singular is FIELD_NUMERIC_LABEL_CHANGED',
    original: order,
    update: proto3('message Order { int32 id = 1; string name = 2; int64 amounts = 3; }'),
    problems: [{ rule: ProtobufRule.FIELD_NUMERIC_LABEL_CHANGED, location: 'Order.amounts' }],
  },
  {
    name: 'a singular string made repeated is compatible',
    original: order,
    update: proto3('message Order { int32 id = 1; repeated string name = 2; repeated int64 amounts = 3; }'),
    problems: [],
  },
  {
    name: 'a message removed is MESSAGE_REMOVED',
    original: proto3('message Order { int32 id = 1; } message Line { int32 qty = 1; }'),
    update: proto3('message Order { int32 id = 1; }'),
    problems: [{ rule: ProtobufRule.MESSAGE_REMOVED, location: 'Line' }],
  },
  {
    name: 'a nested message removed is MESSAGE_REMOVED at its nested name',
    original: proto3('message Order { message Line { int32 qty = 1; } Line line = 1; }'),
    update: proto3('message Order { int32 other = 2; }'),
    problems: [{ rule: ProtobufRule.MESSAGE_REMOVED, location: 'Order.Line' }],
  },
  {
    name: 'a message added is compatible',
    original: order,
    update: `${order}message Extra { int32 x = 1; }\n`,
    problems: [],
  },
  {
    name: 'messages reordered are compatible (indexes are per schema id)',
    original: proto3('message A { int32 x = 1; } message B { int32 y = 1; }'),
    update: proto3('message B { int32 y = 1; } message A { int32 x = 1; }'),
    problems: [],
  },
  {
    name: 'a package change is PACKAGE_CHANGED (Confluent; Karapace differs)',
    original: order,
    update: order.replace('acme.v1', 'acme.v2'),
    problems: [{ rule: ProtobufRule.PACKAGE_CHANGED, location: 'package' }],
  },
  {
    name: 'a syntax change is SYNTAX_CHANGED',
    original: 'syntax = "proto2";\npackage acme.v1;\nmessage M { optional int32 a = 1; }',
    update: proto3('message M { int32 a = 1; }'),
    problems: [{ rule: ProtobufRule.SYNTAX_CHANGED, location: 'syntax' }],
  },
  {
    name: 'enum constants added, renamed or removed are compatible',
    original: proto3('enum Status { NEW = 0; DONE = 1; CANCELLED = 2; } message M { Status s = 1; }'),
    update: proto3('enum Status { NEW = 0; FINISHED = 1; SHIPPED = 3; } message M { Status s = 1; }'),
    problems: [],
  },
  {
    name: 'an enum field of another enum type is FIELD_NAMED_TYPE_CHANGED',
    original: proto3('enum A { A0 = 0; } enum B { B0 = 0; } message M { A e = 1; }'),
    update: proto3('enum A { A0 = 0; } enum B { B0 = 0; } message M { B e = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_NAMED_TYPE_CHANGED, location: 'M.e' }],
  },
  {
    name: 'a required field added (proto2) is REQUIRED_FIELD_ADDED',
    original: 'syntax = "proto2";\nmessage M { optional int32 a = 1; }',
    update: 'syntax = "proto2";\nmessage M { optional int32 a = 1; required int32 b = 2; }',
    problems: [{ rule: ProtobufRule.REQUIRED_FIELD_ADDED, location: 'M.b' }],
  },
  {
    name: 'a required field removed (proto2) is REQUIRED_FIELD_REMOVED',
    original: 'syntax = "proto2";\nmessage M { required int32 a = 1; optional int32 b = 2; }',
    update: 'syntax = "proto2";\nmessage M { optional int32 b = 2; }',
    problems: [{ rule: ProtobufRule.REQUIRED_FIELD_REMOVED, location: 'M.a' }],
  },
  {
    name: 'a oneof added around one existing field is compatible',
    original: proto3('message M { string a = 1; int32 b = 2; }'),
    update: proto3('message M { oneof choice { string a = 1; } int32 b = 2; }'),
    problems: [],
  },
  {
    name: 'two existing fields moved into a new oneof is MULTIPLE_FIELDS_MOVED_TO_ONEOF',
    original: proto3('message M { string a = 1; int32 b = 2; }'),
    update: proto3('message M { oneof choice { string a = 1; int32 b = 2; } }'),
    problems: [{ rule: ProtobufRule.MULTIPLE_FIELDS_MOVED_TO_ONEOF, location: 'M.choice' }],
  },
  {
    name: 'an existing field moved into an existing oneof is FIELD_MOVED_TO_EXISTING_ONEOF',
    original: proto3('message M { oneof choice { string a = 1; } int32 b = 2; }'),
    update: proto3('message M { oneof choice { string a = 1; int32 b = 2; } }'),
    problems: [{ rule: ProtobufRule.FIELD_MOVED_TO_EXISTING_ONEOF, location: 'M.b' }],
  },
  {
    name: 'a new field added to an existing oneof is compatible',
    original: proto3('message M { oneof choice { string a = 1; } }'),
    update: proto3('message M { oneof choice { string a = 1; int32 c = 3; } }'),
    problems: [],
  },
  {
    name: 'a field removed from a oneof is ONEOF_FIELD_REMOVED',
    original: proto3('message M { oneof choice { string a = 1; int32 b = 2; } }'),
    update: proto3('message M { oneof choice { string a = 1; } }'),
    problems: [{ rule: ProtobufRule.ONEOF_FIELD_REMOVED, location: 'M.b' }],
  },
  {
    name: 'a oneof field moved to the top level is compatible',
    original: proto3('message M { oneof choice { string a = 1; } }'),
    update: proto3('message M { string a = 1; }'),
    problems: [],
  },
  {
    name: 'proto3 optional (a synthetic oneof) is not a oneof change',
    original: proto3('message M { int32 a = 1; }'),
    update: proto3('message M { optional int32 a = 1; }'),
    problems: [],
  },
  {
    name: 'a change inside a nested message is reported at the nested field',
    original: proto3('message Order { message Line { string sku = 1; } repeated Line lines = 1; }'),
    update: proto3('message Order { message Line { int32 sku = 1; } repeated Line lines = 1; }'),
    problems: [{ rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'Order.Line.sku' }],
  },
  {
    name: 'several problems are all reported',
    original: proto3('message A { string s = 1; repeated int32 r = 2; } message B { int32 x = 1; }'),
    update: proto3('message A { int32 s = 1; int32 r = 2; }'),
    problems: [
      { rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'A.s' },
      { rule: ProtobufRule.FIELD_NUMERIC_LABEL_CHANGED, location: 'A.r' },
      { rule: ProtobufRule.MESSAGE_REMOVED, location: 'B' },
    ],
  },
];

describe('schema registry > protobuf > compatibility (update reads data written with original)', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      expect(problemsOf(testCase.original, testCase.update)).toEqual(testCase.problems);
    });
  }

  it('explains a type change with the field, its number and both types', () => {
    const [problem] = protobufCompatibility(parse(proto3('message M { int32 price = 3; }')), parse(proto3('message M { string price = 3; }')));
    expect(problem?.message).toBe("field 'price' (number 3) changed type from string to int32, which do not share a wire encoding at M.price");
  });

  it('compares a referenced message that changed between the two versions of its subject', () => {
    const money = (body: string, version: number): ResolvedReference => ({
      name: 'acme/money.proto', subject: 'money', version, schemaType: SchemaType.PROTOBUF, references: [],
      schema: proto3(`message Money { ${body} }`, 'acme.common'),
    });
    const text = proto3('import "acme/money.proto";\nmessage Order { acme.common.Money total = 1; }');
    const v1 = parse(text, [money('int64 cents = 1;', 1)]);
    const v2 = parse(text, [money('string cents = 1;', 2)]);
    expect(protobufCompatibility(v2, v1).map(({ rule, location }) => ({ rule, location }))).toEqual([
      { rule: ProtobufRule.FIELD_SCALAR_KIND_CHANGED, location: 'acme.common.Money.cents' },
    ]);
  });
});

describe('schema registry > protobuf > parse', () => {
  it('gives the same canonical text whatever the whitespace, comments and option order', () => {
    const a = parse('syntax="proto3";package acme.v1;option java_package="x";option go_package="y";message Order{int32 id=1;string name=2;}');
    const b = parse(`// orders
syntax = "proto3";
package acme.v1;

option go_package = "y";
option java_package = "x";

/* the order */
message Order {
  int32   id   = 1;   // key
  string  name = 2;
}
`);
    expect(b.canonical).toBe(a.canonical);
    expect(a.canonical).toBe('syntax = "proto3";\npackage acme.v1;\n\noption go_package = "y";\noption java_package = "x";\n\nmessage Order {\n  int32 id = 1;\n  string name = 2;\n}\n');
  });

  it('writes type names the same way however the source qualified them', () => {
    const short = parse(proto3('message Order { message Line { int32 q = 1; } Line line = 1; }'));
    const qualified = parse(proto3('message Order { message Line { int32 q = 1; } .acme.v1.Order.Line line = 1; }'));
    expect(qualified.canonical).toBe(short.canonical);
  });

  it('prints a canonical text that parses back to itself', () => {
    const text = proto3(`import "google/protobuf/timestamp.proto";
option optimize_for = SPEED;
message Order {
  reserved 10, 12 to 15, 100 to max;
  reserved "legacy";
  int32 id = 1 [deprecated = true];
  optional string name = 2;
  google.protobuf.Timestamp at = 3;
  map<string, int64> totals = 4;
  oneof payment { string card = 5; int32 voucher = 6; }
  repeated Line lines = 7;
  message Line { Kind kind = 1; }
  enum Kind { option allow_alias = true; UNKNOWN = 0; ITEM = 1; GOODS = 1; }
}
service Orders { rpc Get(Order) returns (stream Order); }`);
    const once = parse(text);
    expect(parse(once.canonical).canonical).toBe(once.canonical);
    expect(once.recordName).toBe('acme.v1.Order');
    expect(once.schemaType).toBe(SchemaType.PROTOBUF);
  });

  it('round-trips through the serialized FileDescriptorProto form to the same canonical text', () => {
    const text = proto3(`import "google/protobuf/timestamp.proto";
message Order {
  int32 id = 1;
  optional string name = 2;
  google.protobuf.Timestamp at = 3;
  map<string, int64> totals = 4;
  oneof payment { string card = 5; int32 voucher = 6; }
  repeated Line lines = 7;
  reserved 9, 20 to max;
  message Line { Kind kind = 1; }
  enum Kind { UNKNOWN = 0; ITEM = 1; }
}
message Empty {}`);
    const parsed = parse(text);
    const serialized = protobufToSerialized(parsed);
    expect(serialized).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const fromSerialized = parse(serialized);
    expect(fromSerialized.canonical).toBe(parsed.canonical);
    expect(protobufSerializedToText(serialized)).toContain('map<string, int64> totals = 4;');
    expect(protobufToSerialized(fromSerialized)).toBe(serialized);
  });

  it('writes a descriptor another decoder builds working types from (map entries, oneofs, proto3 optional)', () => {
    const parsed = parse(proto3(`message Order {
  int32 id = 1;
  optional string name = 2;
  map<string, Line> lines = 4;
  oneof pay { string card = 5; int32 voucher = 6; }
  message Line { Kind kind = 1; }
  enum Kind { K0 = 0; K1 = 1; }
}`));
    const descriptorTypes = (protobuf as unknown as { descriptor: protobuf.Namespace }).descriptor;
    const fileType = descriptorTypes.lookupType('FileDescriptorProto');
    const file = fileType.decode(Buffer.from(protobufToSerialized(parsed), 'base64'));
    const root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): protobuf.Root }).fromDescriptor({ file: [file] });
    const orderType = root.lookupType('acme.v1.Order');
    const value = { id: 3, name: 'n', lines: { first: { kind: 1 } }, voucher: 4 };
    expect(orderType.toObject(orderType.decode(orderType.encode(orderType.fromObject(value)).finish()))).toEqual(value);
  });

  it('round-trips proto2 labels and defaults through the serialized form', () => {
    const parsed = parse('syntax = "proto2";\npackage p;\nmessage M {\n  required int32 a = 1 [default = 7];\n  optional string s = 2 [default = "x"];\n  repeated bool b = 3;\n}\n');
    expect(parse(protobufToSerialized(parsed)).canonical).toBe(parsed.canonical);
  });

  it('resolves imports from references by import path, and references of references', () => {
    const money: ResolvedReference = {
      name: 'acme/money.proto', subject: 'money', version: 1, schemaType: SchemaType.PROTOBUF, references: [],
      schema: proto3('message Money { int64 cents = 1; }', 'acme.common'),
    };
    const line: ResolvedReference = {
      name: 'acme/line.proto', subject: 'line', version: 1, schemaType: SchemaType.PROTOBUF, references: [money],
      schema: proto3('import "acme/money.proto";\nmessage Line { acme.common.Money price = 1; }', 'acme.common'),
    };
    const order = parse(proto3('import "acme/line.proto";\nimport "acme/money.proto";\nmessage Order { repeated acme.common.Line lines = 1; acme.common.Money total = 2; }'), [line, money]);
    expect(order.recordName).toBe('acme.v1.Order');
    expect(order.canonical).toContain('repeated acme.common.Line lines = 1;');
  });

  it('resolves the well-known, google/type and confluent imports without references', () => {
    const parsed = parse(proto3(`import "google/protobuf/any.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/descriptor.proto";
import "google/type/money.proto";
import "google/type/date.proto";
import "confluent/meta.proto";
import "confluent/type/decimal.proto";
message M {
  google.protobuf.Any any = 1;
  google.protobuf.StringValue s = 2;
  google.type.Money price = 3;
  google.type.Date day = 4;
  confluent.type.Decimal amount = 5 [(confluent.field_meta).doc = "money"];
}`));
    expect(parsed.recordName).toBe('acme.v1.M');
  });

  it('gives the message-index path of every message, counting map entries as descriptors do, and back', () => {
    const parsed = parse(proto3(`message A { map<string, int32> m = 1; message B { message C {} } message D {} }
message E {}`));
    expect(protobufMessageIndexes(parsed, 'acme.v1.A')).toEqual([0]);
    expect(protobufMessageIndexes(parsed, 'acme.v1.E')).toEqual([1]);
    expect(protobufMessageIndexes(parsed, 'acme.v1.A.B')).toEqual([0, 1]);
    expect(protobufMessageIndexes(parsed, '.acme.v1.A.B.C')).toEqual([0, 1, 0]);
    expect(protobufMessageIndexes(parsed, 'acme.v1.A.D')).toEqual([0, 2]);
    expect(protobufMessageIndexes(parsed, 'acme.v1.Missing')).toBeUndefined();
    expect(protobufMessageName(parsed, [0, 1, 0])).toBe('acme.v1.A.B.C');
    expect(protobufMessageName(parsed, [1])).toBe('acme.v1.E');
    expect(protobufMessageName(parsed, [])).toBe('acme.v1.A');
    expect(protobufMessageName(parsed, [2])).toBeUndefined();
    expect(protobufMessageName(parsed, [0, 9])).toBeUndefined();
  });

  const invalid: [string, string, RegExp][] = [
    ['a syntax error', 'syntax = "proto3"; message M { int32 a = 1 }', /illegal/],
    ['a field reusing a reserved number declared before it', proto3('message M { reserved 2; int32 a = 2; }'), /reserved/],
    ['a field reusing a reserved number declared after it', proto3('message M { int32 a = 2; reserved 1 to 3; }'), /uses a reserved number/],
    ['a field reusing a reserved name declared after it', proto3('message M { int32 a = 1; reserved "a"; }'), /uses a reserved name/],
    ['an enum value reusing a reserved number', proto3('enum E { reserved 1; A = 0; B = 1; }'), /reserved/],
    ['two fields with one number', proto3('message M { int32 a = 1; int32 b = 1; }'), /duplicate/],
    ['an unresolvable type', proto3('message M { Missing m = 1; }'), /Missing/],
    ['an import that is neither a reference nor built in', proto3('import "acme/other.proto";\nmessage M { int32 a = 1; }'), /acme\/other\.proto/],
    ['base64 that is not a FileDescriptorProto', '////', /FileDescriptorProto/],
  ];
  for (const [what, schema, message] of invalid) {
    it(`refuses ${what} with an InvalidSchemaError`, () => {
      expect(() => parse(schema)).toThrow(InvalidSchemaError);
      expect(() => parse(schema)).toThrow(message);
    });
  }

  it('refuses a reference that is not a Protobuf schema', () => {
    const avro: ResolvedReference = { name: 'a.proto', subject: 'a', version: 1, schemaType: SchemaType.AVRO, references: [], schema: '"string"' };
    expect(() => parse(proto3('import "a.proto";'), [avro])).toThrow(/not Protobuf/);
  });
});
