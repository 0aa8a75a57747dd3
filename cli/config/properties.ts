/**
 * A reader for Java `.properties` files, the format of Kafka's server.properties, so Kafka users can
 * point `--config` at a file they already have. Pure.
 *
 * Supported grammar (java.util.Properties#load): `#` and `!` comment lines; `key=value`,
 * `key: value` and `key value`; whitespace around the separator is dropped; a line ending in an
 * odd number of backslashes continues on the next line (leading whitespace of that line dropped);
 * escapes \t \n \r \f \\ \uXXXX, and a backslash before any other character keeps that character
 * (so `\=` and `\:` put separators inside keys).
 */

export interface PropertiesEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line where the entry starts, for error messages. */
  readonly line: number;
}

export function parseProperties(text: string): PropertiesEntry[] {
  const entries: PropertiesEntry[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const startLine = index + 1;
    let logical = stripLeadingWhitespace(lines[index]!);
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    while (endsWithContinuation(logical) && index + 1 < lines.length) {
      index += 1;
      logical = logical.slice(0, -1) + stripLeadingWhitespace(lines[index]!);
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const { key, rest } = splitKey(logical);
    entries.push({ key: unescape(key), value: unescape(rest), line: startLine });
  }
  return entries;
}

function stripLeadingWhitespace(s: string): string {
  return s.replace(/^[ \t\f]+/, '');
}

function endsWithContinuation(s: string): boolean {
  let backslashes = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i -= 1) backslashes += 1;
  return backslashes % 2 === 1;
}

/** Splits at the first unescaped '=', ':' or whitespace; the separator and its padding are dropped. */
function splitKey(line: string): { key: string; rest: string } {
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    i += 1;
  }
  const key = line.slice(0, i);
  let j = i;
  while (j < line.length && (line[j] === ' ' || line[j] === '\t' || line[j] === '\f')) j += 1;
  if (j < line.length && (line[j] === '=' || line[j] === ':')) {
    j += 1;
    while (j < line.length && (line[j] === ' ' || line[j] === '\t' || line[j] === '\f')) j += 1;
  }
  return { key, rest: line.slice(j) };
}

const simpleEscapes: Readonly<Record<string, string>> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i += 1) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const next = s[i + 1]!;
    if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      out += simpleEscapes[next] ?? next;
      i += 1;
    }
  }
  return out;
}
