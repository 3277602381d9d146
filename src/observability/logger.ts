import { pino, type Logger as PinoLogger } from 'pino';

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
}

/** Creates a JSON logger with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything (tests, CLI without --verbose). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
