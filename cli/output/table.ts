/**
 * Aligned text tables for people: a header row in capitals, columns separated by two spaces,
 * numbers right-aligned, no trailing spaces. Colour (a bold header) only when asked, which the
 * runner does only for a terminal without NO_COLOR. Pure.
 *
 * Cell text comes from the network (topic names, config values): control characters are shown
 * escaped so a crafted name cannot move the cursor or break the layout.
 */

export type Cell = string | number | bigint | boolean | null | undefined | readonly (string | number)[];

export interface Column<K extends string = string> {
  readonly key: K;
  /** Default: the key upper-cased with '-' between words (leaderEpoch → LEADER-EPOCH). */
  readonly header?: string;
  /** Default: right for columns whose every value is a number, left otherwise. */
  readonly align?: 'left' | 'right';
}

export interface TableOptions {
  readonly color?: boolean;
}

const ESC = '\u001b';
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/g;

/** A cell as display text. */
export function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  if (Array.isArray(cell)) return cell.length === 0 ? '-' : cell.map(String).join(',');
  return sanitize(String(cell));
}

/** Escapes control characters (\n, ESC...) as \n or \x1b so they print as text. */
export function sanitize(text: string): string {
  return text.replace(controlCharacters, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * Columns the width of a terminal cell. Code points, with East Asian wide and emoji ranges counted
 * as two: good enough for names and values without pulling in a width table.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code >= 0x300 && code <= 0x36f) continue; // combining marks
    width += isWide(code) ? 2 : 1;
  }
  return width;
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

function defaultHeader(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toUpperCase();
}

function isNumeric(cell: Cell): boolean {
  return typeof cell === 'number' || typeof cell === 'bigint';
}

/** Renders rows as an aligned table; the result ends with a newline. */
export function renderTable<K extends string>(
  columns: readonly Column<K>[],
  rows: readonly Readonly<Partial<Record<K, Cell>>>[],
  options: TableOptions = {},
): string {
  const headers = columns.map((c) => c.header ?? defaultHeader(c.key));
  const texts = rows.map((row) => columns.map((c) => cellText(row[c.key])));
  const aligns = columns.map((c) => {
    if (c.align !== undefined) return c.align;
    const present = rows.map((row) => row[c.key]).filter((cell) => cell !== null && cell !== undefined);
    return present.length > 0 && present.every(isNumeric) ? 'right' : 'left';
  });
  const widths = columns.map((_, i) =>
    Math.max(displayWidth(headers[i]!), ...texts.map((cells) => displayWidth(cells[i]!))),
  );
  const pad = (text: string, i: number): string => {
    const fill = ' '.repeat(widths[i]! - displayWidth(text));
    return aligns[i] === 'right' ? fill + text : text + fill;
  };
  const line = (cells: readonly string[]): string => cells.map(pad).join('  ').trimEnd();
  const header = line(headers);
  const out = [options.color === true ? `${ESC}[1m${header}${ESC}[22m` : header, ...texts.map(line)];
  return `${out.join('\n')}\n`;
}

/** Renders `label: value` pairs with the values aligned, for a summary above a table. */
export function renderPairs(pairs: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...pairs.map(([label]) => displayWidth(label)));
  return pairs.map(([label, value]) => `${label}:${' '.repeat(width - displayWidth(label) + 1)}${cellText(value)}`.trimEnd()).join('\n') + '\n';
}
