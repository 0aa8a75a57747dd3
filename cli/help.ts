/**
 * Help text at every level: the whole tool, a group of commands (`streambus topic`), one command.
 * Pure string building; option lists show value placeholders and defaults.
 */
import type { OptionSpec, OptionSpecs, PositionalSpecs } from './command.js';
import type { AnyCommand, CommandEntry } from './registry.js';
import { displayWidth } from './output/table.js';

export const PROGRAM = 'streambus';

function optionLabel(name: string, spec: OptionSpec): string {
  const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
  const value = spec.type === 'boolean' ? '' : ` <${spec.valueName ?? (spec.type === 'integer' ? 'n' : 'value')}>`;
  return `${short}--${name}${value}`;
}

function optionText(spec: OptionSpec): string {
  const parts = [spec.description];
  if (spec.default !== undefined) parts.push(`(default: ${String(spec.default)})`);
  if (spec.multiple === true) parts.push('(repeatable)');
  return parts.join(' ');
}

/** Two columns: labels padded to the widest, then text. */
function columns(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.min(34, Math.max(0, ...rows.map(([label]) => displayWidth(label))));
  return rows.map(([label, text]) => {
    const gap = displayWidth(label) > width ? `\n  ${' '.repeat(width + 2)}` : ' '.repeat(width - displayWidth(label) + 2);
    return `  ${label}${gap}${text}`;
  });
}

function optionRows(options: OptionSpecs): [string, string][] {
  return Object.entries(options).map(([name, spec]) => [optionLabel(name, spec), optionText(spec)]);
}

function commandUsage(name: string, positionals: PositionalSpecs): string {
  const args = positionals.map((p) => {
    const inner = `<${p.name}>${p.variadic === true ? '...' : ''}`;
    return p.optional === true ? `[${inner}]` : inner;
  });
  return [PROGRAM, name, ...args, '[options]'].join(' ');
}

/** `streambus --help`. */
export function topHelp(entries: readonly CommandEntry[], globals: OptionSpecs, version: string): string {
  const lines = [
    `${PROGRAM} ${version}: the StreamBus command line`,
    '',
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...columns(entries.map((e) => [e.name, e.summary])),
    '',
    'Global options:',
    ...columns(optionRows(globals)),
    '',
    'Settings come from flags > environment (STREAMBUS_<KEY>, e.g. STREAMBUS_BROKERS) > --config file > defaults.',
    `Run '${PROGRAM} <command> --help' for a command's options.`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `streambus topic --help`: the commands that start with the group's words. */
export function groupHelp(group: string, entries: readonly CommandEntry[]): string {
  const members = entries.filter((e) => e.name.startsWith(`${group} `));
  const lines = [
    `Usage: ${PROGRAM} ${group} <command> [options]`,
    '',
    'Commands:',
    ...columns(members.map((e) => [e.name, e.summary])),
    '',
    `Run '${PROGRAM} ${group} <command> --help' for a command's options.`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `streambus topic create --help`. */
export function commandHelp(command: AnyCommand, globals: OptionSpecs, scopeOptions: OptionSpecs): string {
  const lines = [`Usage: ${commandUsage(command.name, command.positionals)}`, '', command.summary];
  if (command.description !== undefined) lines.push('', command.description);
  if (command.positionals.length > 0) {
    lines.push('', 'Arguments:', ...columns(command.positionals.map((p) => [`<${p.name}>`, p.description])));
  }
  const own = optionRows(command.options);
  const scoped = optionRows(scopeOptions);
  if (own.length > 0 || scoped.length > 0) lines.push('', 'Options:', ...columns([...own, ...scoped]));
  lines.push('', 'Global options:', ...columns(optionRows(globals)));
  if (command.examples !== undefined && command.examples.length > 0) {
    lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  }
  return `${lines.join('\n')}\n`;
}
