/**
 * Strict structural checks for JSON read back from disk or a peer (metadata commands, snapshots).
 * Each check names the path of the bad field, so a corrupt or foreign record is reported precisely
 * instead of turning into a TypeError somewhere in the state machine.
 */
import { type ErrorCode, StreamBusError } from '../../proto/errors.js';

/** The longest string a reader accepts where the caller names no limit. */
const DEFAULT_MAX_STRING_LENGTH = 4096;

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

export class ShapeReader {
  constructor(
    private readonly code: ErrorCode,
    private readonly what: string,
  ) {}

  fail(path: string, expected: string, got: unknown): never {
    const json = got === undefined ? undefined : JSON.stringify(got);
    const shown = json === undefined ? 'nothing' : json.slice(0, 80);
    throw new StreamBusError(this.code, `${this.what}: ${path} must be ${expected}, got ${shown}`);
  }

  object(value: unknown, path: string, allowedKeys: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'an object', value);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      // Unknown fields are refused rather than dropped: a node that ignored a field a newer node
      // wrote would apply a different command than the writer did.
      if (!allowedKeys.includes(key)) {
        this.fail(`${path}.${key}`, `absent (known fields: ${allowedKeys.join(', ')})`, record[key]);
      }
    }
    return record;
  }

  string(value: unknown, path: string, options: { readonly minLength?: number; readonly maxLength?: number } = {}): string {
    const minLength = options.minLength ?? 1;
    const maxLength = options.maxLength ?? DEFAULT_MAX_STRING_LENGTH;
    if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) {
      this.fail(path, `a string of ${minLength}..${maxLength} characters`, value);
    }
    return value;
  }

  nullableString(value: unknown, path: string, maxLength = DEFAULT_MAX_STRING_LENGTH): string | null {
    return value === null ? null : this.string(value, path, { maxLength });
  }

  integer(value: unknown, path: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(path, `an integer in ${min}..${max}`, value);
    }
    // -0 reads as 0: JSON writes it as 0, and a command must read the same before and after.
    return value === 0 ? 0 : value;
  }

  array<T>(value: unknown, path: string, maxLength: number, item: (value: unknown, path: string) => T): T[] {
    if (!Array.isArray(value) || value.length > maxLength) this.fail(path, `an array of at most ${maxLength} items`, value);
    return (value as unknown[]).map((v, i) => item(v, `${path}[${i}]`));
  }

  stringMap(value: unknown, path: string, maxEntries: number): Record<string, string> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'an object', value);
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length > maxEntries) this.fail(path, `an object with at most ${maxEntries} entries`, keys.length);
    // Sorted keys make the decoded object (and its re-encoding) independent of the writer's order.
    // Maps read back from the log are sorted already, so the sort is skipped when it would not move.
    if (!isSorted(keys)) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: Record<string, string> = {};
    for (const key of keys) {
      const v = record[key];
      // The path is built only for a failure: this runs for every command on every node.
      out[key] = typeof v === 'string' && v.length <= DEFAULT_MAX_STRING_LENGTH ? v : this.string(v, `${path}.${key}`, { minLength: 0 });
    }
    return out;
  }
}

/**
 * Freezes an object graph so records shared between listeners cannot be changed by one of them.
 * A frozen part is taken as frozen throughout (images share frozen parts). Runs for every command
 * and image on every node, so it walks arrays by index and steps into objects only.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const child of value as unknown[]) if (typeof child === 'object' && child !== null) deepFreeze(child);
  } else {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (typeof child === 'object' && child !== null) deepFreeze(child);
    }
  }
  return value;
}
