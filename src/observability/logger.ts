import { pino, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';

/** The logger every part receives (pino's interface). */
export type Logger = PinoLogger;

/** Keys whose values never reach a log line. */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.headers.authorization',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level; `warren start` passes WARREN_LOG_LEVEL (src/config/env-settings.ts). @default 'info' */
  level?: string;
  /** Component name, e.g. `api` or `worker`. */
  name?: string;
  /** Write to this stream instead of stdout (tests). */
  destination?: NodeJS.WritableStream;
  /**
   * `json`: one JSON object per line (machines); `pretty`: coloured lines for people
   * (pino-pretty); `auto`: pretty when the output is a terminal. `warren start` passes
   * WARREN_LOG_FORMAT. @default 'auto'
   */
  format?: LogFormat;
  /** Colour the pretty lines (the CLI passes false under NO_COLOR). @default true when the output is a terminal */
  color?: boolean;
}

/** How log lines are written. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** True when `format` means pretty lines on this output. */
export function isPrettyLogFormat(format: LogFormat | undefined, output: { isTTY?: boolean } = process.stdout): boolean {
  return format === 'pretty' || ((format ?? 'auto') === 'auto' && output.isTTY === true);
}

/**
 * pino-pretty, synchronous on the given output: `14:02:11 INFO [api] API listening url=...`.
 * The component (api / worker) labels each line; pid and hostname are left out.
 */
function prettyStream(destination: NodeJS.WritableStream, color: boolean): NodeJS.WritableStream {
  return pretty({
    destination,
    sync: true,
    colorize: color,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: '{if component}[{component}] {end}{msg}',
  });
}

/** Creates a JSON logger with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  const out = options.destination ?? process.stdout;
  if (isPrettyLogFormat(options.format, out as { isTTY?: boolean })) {
    const color = options.color ?? (out as { isTTY?: boolean }).isTTY === true;
    return pino(opts, prettyStream(out, color));
  }
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything (tests, CLI without --verbose). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
