/**
 * Strict structural checks for JSON read back from disk or a peer (metadata commands, snapshots).
 * Each check names the path of the bad field, so a corrupt or foreign record is reported precisely
 * instead of turning into a TypeError somewhere in the state machine.
 */
import { type ErrorCode, StreamBusError } from '../../proto/errors.js';

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
    const maxLength = options.maxLength ?? 4096;
    if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) {
      this.fail(path, `a string of ${minLength}..${maxLength} characters`, value);
    }
    return value;
  }

  nullableString(value: unknown, path: string, maxLength = 4096): string | null {
    return value === null ? null : this.string(value, path, { maxLength });
  }

  integer(value: unknown, path: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(path, `an integer in ${min}..${max}`, value);
    }
    return value;
  }

  array<T>(value: unknown, path: string, maxLength: number, item: (value: unknown, path: string) => T): T[] {
    if (!Array.isArray(value) || value.length > maxLength) this.fail(path, `an array of at most ${maxLength} items`, value);
    return (value as unknown[]).map((v, i) => item(v, `${path}[${i}]`));
  }

  stringMap(value: unknown, path: string, maxEntries: number): Record<string, string> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'an object', value);
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > maxEntries) this.fail(path, `an object with at most ${maxEntries} entries`, entries.length);
    const out: Record<string, string> = {};
    // Sorted keys make the decoded object (and its re-encoding) independent of the writer's order.
    for (const [key, v] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      out[key] = this.string(v, `${path}.${key}`, { minLength: 0 });
    }
    return out;
  }
}

/** Freezes an object graph so records shared between listeners cannot be changed by one of them. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
