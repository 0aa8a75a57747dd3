/**
 * The schema registry's public entry: a Confluent-compatible registry whose schemas live in the
 * coordinator's Raft metadata log (docs/schema-registry.md). The store and commands (applied by
 * every coordinator node), the operations, the REST router and HTTP listener, the service a
 * coordinator node runs, and the formats (Avro, Protobuf, JSON Schema).
 */
export {
  CompatibilityLevel,
  DEFAULT_COMPATIBILITY_LEVEL,
  DEFAULT_REGISTRY_MODE,
  RegistryMode,
  SchemaCommandType,
  isCompatibilityLevel,
  isRegistryMode,
  isSchemaType,
  type SchemaCommand,
} from './schema-commands.js';
export { SchemaStore, type RegistryEndpoint, type SchemaStoreView, type StoredSchema, type SubjectImage, type SubjectVersionImage } from './schema-store.js';
export { RegistryErrorCode, SchemaRegistryError, registryErrors } from './registry-errors.js';
export {
  SchemaRegistry,
  checkSubject,
  parseVersionSpec,
  readSchemaRequest,
  type CompatibilityAnswer,
  type FormatLookup,
  type SchemaRequest,
  type SubjectVersionAnswer,
  type VersionSpec,
} from './schema-registry.js';
export { compatibilityProblems, isTransitive, problemMessage, versionsToCheck, type EarlierVersion, type VersionProblem } from './compatibility-check.js';
export { RestApi, type RestAnswer, type RestRequest, type SerializedFormat } from './rest-api.js';
export { V1_JSON, startRegistryServer, type RegistryServer, type RegistryServerOptions } from './registry-server.js';
export { SchemaRegistryService, type SchemaRegistryServiceOptions } from './registry-service.js';
export { formatFor } from './formats/index.js';
export { type CompatibilityProblem, type ParsedSchema, type ResolvedReference, type SchemaFormat, type SchemaReference, InvalidSchemaError, SchemaType } from './formats/types.js';
