/**
 * The process logger: pino, one JSON object per line on stdout, so log shippers (Loki, Elastic,
 * CloudWatch) need no parsing rules. When a person is watching (stdout is a terminal and
 * log.format is auto, or log.format is compact) each entry is instead written as one short
 * readable line, formatted here rather than through pino-pretty to keep the dependency list short.
 *
 * Writes to stdout are synchronous: the last lines before a crash are the ones that explain it, and
 * a broker logs little at info level. Components take a child logger: `logger.child({ component })`.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LogFormat = { AUTO: 'auto', JSON: 'json', COMPACT: 'compact' } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

export interface LoggerOptions {
  /** Default 'info'. */
  readonly level?: LevelWithSilent;
  /** Default 'auto': compact on a terminal, JSON otherwise. */
  readonly format?: LogFormat;
  /** Where lines go. Default: stdout. */
  readonly destination?: DestinationStream;
  /** Whether the destination is a terminal, for format 'auto'. Default: process.stdout.isTTY. */
  readonly isTTY?: boolean;
  /** Fields on every entry, e.g. { node: 1 }. */
  readonly base?: Readonly<Record<string, unknown>>;
}

/** Creates the root logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? LogFormat.AUTO;
  const compact = format === LogFormat.COMPACT || (format === LogFormat.AUTO && (options.isTTY ?? process.stdout.isTTY === true));
  const target = options.destination ?? pino.destination({ dest: 1, sync: true });
  const destination: DestinationStream = compact ? compactStream(target) : target;
  return pino(
    {
      level: options.level ?? 'info',
      // pid and hostname on every line add bytes and no information to a one-process-per-node
      // deployment; the node id (in base) says which node wrote the line.
      base: { ...(options.base ?? {}) },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

function compactStream(target: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        target.write(line);
        return;
      }
      target.write(`${formatCompactLine(entry as Record<string, unknown>)}\n`);
    },
  };
}

const levelNames: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * One pino entry as `HH:MM:SS.mmm LEVEL [component] message key=value ...`, in UTC, with an
 * error's stack on the following lines. Pure.
 */
export function formatCompactLine(entry: Readonly<Record<string, unknown>>): string {
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '--:--:--.---';
  const level = (typeof entry.level === 'number' ? levelNames[entry.level] : undefined) ?? String(entry.level);
  const component = typeof entry.component === 'string' ? ` [${entry.component}]` : '';
  const message = typeof entry.msg === 'string' ? ` ${entry.msg}` : '';
  const fields: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'time' || key === 'level' || key === 'msg' || key === 'component') continue;
    if (key === 'err' && typeof value === 'object' && value !== null) {
      const err = value as { message?: unknown; stack?: unknown; type?: unknown };
      const text = typeof err.message === 'string' ? err.message : typeof err.type === 'string' ? err.type : 'error';
      fields.push(`err=${quote(text)}`);
      if (typeof err.stack === 'string') stack = `\n${err.stack.replace(/^/gm, '    ')}`;
      continue;
    }
    fields.push(`${key}=${quote(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value))}`);
  }
  return `${time} ${level.padEnd(5)}${component}${message}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}${stack}`;
}

function quote(text: string): string {
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}
