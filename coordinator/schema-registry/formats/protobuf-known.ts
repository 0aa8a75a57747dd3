/**
 * The .proto files a Protobuf schema may import without registering them as references.
 *
 * Confluent's registry resolves these itself, so schemas written for it import them bare:
 * Google's well-known types (google/protobuf/*), the common API types (google/type/*), and
 * Confluent's own metadata and decimal types. protobufjs ships most of google/protobuf/* as JSON
 * and descriptor.proto through its descriptor extension; the rest are written here as .proto text.
 * They are the public definitions (field names, numbers and types), without their comments and
 * language options, which is all that resolving and comparing types needs.
 */
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';

/** A built-in file: .proto text to parse, or protobufjs JSON to add to a root. */
export type KnownProto = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'json'; readonly json: protobuf.INamespace };

const p3 = (pkg: string, body: string, imports: readonly string[] = []): string =>
  `syntax = "proto3";\npackage ${pkg};\n${imports.map((path) => `import "${path}";\n`).join('')}${body}\n`;

const KNOWN_TEXT: Readonly<Record<string, string>> = {
  'google/protobuf/source_context.proto': p3('google.protobuf', 'message SourceContext { string file_name = 1; }'),
  'google/protobuf/type.proto': p3(
    'google.protobuf',
    `message Type { string name = 1; repeated Field fields = 2; repeated string oneofs = 3; repeated Option options = 4; SourceContext source_context = 5; Syntax syntax = 6; string edition = 7; }
message Field {
  enum Kind { TYPE_UNKNOWN = 0; TYPE_DOUBLE = 1; TYPE_FLOAT = 2; TYPE_INT64 = 3; TYPE_UINT64 = 4; TYPE_INT32 = 5; TYPE_FIXED64 = 6; TYPE_FIXED32 = 7; TYPE_BOOL = 8; TYPE_STRING = 9; TYPE_GROUP = 10; TYPE_MESSAGE = 11; TYPE_BYTES = 12; TYPE_UINT32 = 13; TYPE_ENUM = 14; TYPE_SFIXED32 = 15; TYPE_SFIXED64 = 16; TYPE_SINT32 = 17; TYPE_SINT64 = 18; }
  enum Cardinality { CARDINALITY_UNKNOWN = 0; CARDINALITY_OPTIONAL = 1; CARDINALITY_REQUIRED = 2; CARDINALITY_REPEATED = 3; }
  Kind kind = 1; Cardinality cardinality = 2; int32 number = 3; string name = 4; string type_url = 6; int32 oneof_index = 7; bool packed = 8; repeated Option options = 9; string json_name = 10; string default_value = 11;
}
message Enum { string name = 1; repeated EnumValue enumvalue = 2; repeated Option options = 3; SourceContext source_context = 4; Syntax syntax = 5; string edition = 6; }
message EnumValue { string name = 1; int32 number = 2; repeated Option options = 3; }
message Option { string name = 1; Any value = 2; }
enum Syntax { SYNTAX_PROTO2 = 0; SYNTAX_PROTO3 = 1; SYNTAX_EDITIONS = 2; }`,
    ['google/protobuf/any.proto', 'google/protobuf/source_context.proto'],
  ),
  'google/protobuf/api.proto': p3(
    'google.protobuf',
    `message Api { string name = 1; repeated Method methods = 2; repeated Option options = 3; string version = 4; SourceContext source_context = 5; repeated Mixin mixins = 6; Syntax syntax = 7; }
message Method { string name = 1; string request_type_url = 2; bool request_streaming = 3; string response_type_url = 4; bool response_streaming = 5; repeated Option options = 6; Syntax syntax = 7; }
message Mixin { string name = 1; string root = 2; }`,
    ['google/protobuf/source_context.proto', 'google/protobuf/type.proto'],
  ),
  'google/type/calendar_period.proto': p3('google.type', 'enum CalendarPeriod { CALENDAR_PERIOD_UNSPECIFIED = 0; DAY = 1; WEEK = 2; FORTNIGHT = 3; MONTH = 4; QUARTER = 5; HALF = 6; YEAR = 7; }'),
  'google/type/color.proto': p3('google.type', 'message Color { float red = 1; float green = 2; float blue = 3; google.protobuf.FloatValue alpha = 4; }', ['google/protobuf/wrappers.proto']),
  'google/type/date.proto': p3('google.type', 'message Date { int32 year = 1; int32 month = 2; int32 day = 3; }'),
  'google/type/datetime.proto': p3(
    'google.type',
    `message DateTime { int32 year = 1; int32 month = 2; int32 day = 3; int32 hours = 4; int32 minutes = 5; int32 seconds = 6; int32 nanos = 7; oneof time_offset { google.protobuf.Duration utc_offset = 8; TimeZone time_zone = 9; } }
message TimeZone { string id = 1; string version = 2; }`,
    ['google/protobuf/duration.proto'],
  ),
  'google/type/dayofweek.proto': p3('google.type', 'enum DayOfWeek { DAY_OF_WEEK_UNSPECIFIED = 0; MONDAY = 1; TUESDAY = 2; WEDNESDAY = 3; THURSDAY = 4; FRIDAY = 5; SATURDAY = 6; SUNDAY = 7; }'),
  'google/type/decimal.proto': p3('google.type', 'message Decimal { string value = 1; }'),
  'google/type/expr.proto': p3('google.type', 'message Expr { string expression = 1; string title = 2; string description = 3; string location = 4; }'),
  'google/type/fraction.proto': p3('google.type', 'message Fraction { int64 numerator = 1; int64 denominator = 2; }'),
  'google/type/interval.proto': p3('google.type', 'message Interval { google.protobuf.Timestamp start_time = 1; google.protobuf.Timestamp end_time = 2; }', ['google/protobuf/timestamp.proto']),
  'google/type/latlng.proto': p3('google.type', 'message LatLng { double latitude = 1; double longitude = 2; }'),
  'google/type/localized_text.proto': p3('google.type', 'message LocalizedText { string text = 1; string language_code = 2; }'),
  'google/type/money.proto': p3('google.type', 'message Money { string currency_code = 1; int64 units = 2; int32 nanos = 3; }'),
  'google/type/month.proto': p3('google.type', 'enum Month { MONTH_UNSPECIFIED = 0; JANUARY = 1; FEBRUARY = 2; MARCH = 3; APRIL = 4; MAY = 5; JUNE = 6; JULY = 7; AUGUST = 8; SEPTEMBER = 9; OCTOBER = 10; NOVEMBER = 11; DECEMBER = 12; }'),
  'google/type/phone_number.proto': p3(
    'google.type',
    'message PhoneNumber { message ShortCode { string region_code = 1; string number = 2; } oneof kind { string e164_number = 1; ShortCode short_code = 2; } string extension = 3; }',
  ),
  'google/type/postal_address.proto': p3(
    'google.type',
    'message PostalAddress { int32 revision = 1; string region_code = 2; string language_code = 3; string postal_code = 4; string sorting_code = 5; string administrative_area = 6; string locality = 7; string sublocality = 8; repeated string address_lines = 9; repeated string recipients = 10; string organization = 11; }',
  ),
  'google/type/quaternion.proto': p3('google.type', 'message Quaternion { double x = 1; double y = 2; double z = 3; double w = 4; }'),
  'google/type/timeofday.proto': p3('google.type', 'message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; int32 nanos = 4; }'),
  'confluent/meta.proto': p3(
    'confluent',
    `message Meta { string doc = 1; map<string, string> params = 2; repeated string tags = 3; }
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }`,
    ['google/protobuf/descriptor.proto'],
  ),
  'confluent/type/decimal.proto': p3('confluent.type', 'message Decimal { bytes value = 1; uint32 precision = 2; int32 scale = 3; }'),
};

/** The descriptor extension registers google.protobuf's descriptor types on the protobuf module. */
export function descriptorNamespace(): protobuf.Namespace {
  const registered = (protobuf as unknown as { readonly descriptor?: protobuf.Namespace }).descriptor;
  if (registered === undefined) throw new Error('protobufjs/ext/descriptor did not register google.protobuf');
  return registered;
}

/** The built-in definition of `path`, or undefined when the registry does not provide it. */
export function knownProto(path: string): KnownProto | undefined {
  const text = KNOWN_TEXT[path];
  if (text !== undefined) return { kind: 'text', text };
  if (path === 'google/protobuf/descriptor.proto') {
    const json = descriptorNamespace().toJSON();
    return { kind: 'json', json: { nested: { google: { nested: { protobuf: json } } } } };
  }
  if (path.startsWith('google/protobuf/')) {
    const json = protobuf.common.get(path);
    if (json !== null && json !== undefined) return { kind: 'json', json };
  }
  return undefined;
}

/** The imports of a built-in file, so its own imports load first. */
export function knownProtoImports(path: string): readonly string[] {
  const text = KNOWN_TEXT[path];
  if (text === undefined) return [];
  return [...text.matchAll(/^import "([^"]+)";$/gm)].map((match) => match[1] ?? '');
}
