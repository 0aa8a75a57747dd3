/**
 * JSON helpers shared by the Avro and JSON Schema formats: parsing a schema text into a JSON value
 * with a clear InvalidSchemaError, and the key-sorted compact form that decides identity.
 *
 * Identity must not depend on whitespace or on the order of an object's keys (a client that
 * re-serialises a schema gets the same id back), but it must depend on everything else, docs and
 * defaults included: two schemas that differ only in a default are different schemas, because
 * readers fill missing fields from it. Array order is kept: record fields, enum symbols and union
 * branches are ordered in both formats.
 */
import { InvalidSchemaError } from './types.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Parses `text` as JSON; a syntax error becomes an InvalidSchemaError naming the format. */
export function parseJsonSchemaText(text: string, formatName: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InvalidSchemaError(`the ${formatName} schema is not valid JSON: ${detail}`);
  }
}

/** The compact JSON text of `value` with every object's keys sorted (UTF-16 code-unit order). */
export function canonicalJson(value: JsonValue): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: JsonObject = {};
  for (const key of Object.keys(value).sort()) {
    const child = value[key];
    if (child !== undefined) sorted[key] = sortKeys(child);
  }
  return sorted;
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
