/**
 * Schema-registry serdes: serializers and deserializers for Avro, Protobuf and JSON Schema in
 * Confluent's wire format, over a caching registry client (docs/schema-registry-clients.md).
 *
 * ```ts
 * const registry = new SchemaRegistryClient({ url: 'http://127.0.0.1:8081' });
 * const serializer = new AvroSerializer(registry, { schema: orderSchema });
 * await producer.send({ topic: 'orders', value: await serializer.serialize('orders', order) });
 * const order = await new AvroDeserializer(registry).deserialize(message.value);
 * ```
 */
export { SerdeError, SerdeErrorCode, type SerdeErrorContext } from './serde-error.js';
export {
  CONTENT_TYPE,
  SchemaFormat,
  SchemaRegistryClient,
  type RegisteredSchema,
  type RegistryCallOptions,
  type SchemaInput,
  type SchemaReference,
  type SchemaRegistryClientOptions,
  type SubjectVersion,
} from './registry-client.js';
export { SubjectNameStrategy, subjectName, type SubjectNameFn, type SubjectNameStrategyName } from './subject-name.js';
export { SchemaDeserializer, SchemaSerializer, type SerializerOptions } from './schema-serde.js';
export { AvroDeserializer, AvroSerializer, type AvroDeserializerOptions, type AvroSerializerOptions } from './avro.js';
export { ProtobufDeserializer, ProtobufSerializer, type ProtobufDeserializerOptions, type ProtobufSerializerOptions } from './protobuf.js';
export { JsonSchemaDeserializer, JsonSchemaSerializer, type JsonSchemaDeserializerOptions, type JsonSchemaSerializerOptions } from './json-schema.js';
export { HEADER_BYTES, MAGIC_BYTE, decodeFrame, decodeMessageIndexes, encodeFrame, encodeMessageIndexes, type Frame, type MessageIndexes } from './wire-format.js';
