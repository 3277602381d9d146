import { isWarrenError } from '../errors/index.ts';
import { EXIT, type CliIo } from './cli-context.ts';

/** Exit code for an error: drift that can't be applied is 3, everything else 1. */
export function exitCodeFor(err: unknown): number {
  return isWarrenError(err) && err.code === 'TOPOLOGY_DRIFT' ? EXIT.drift : EXIT.error;
}

function causeChain(err: unknown): string[] {
  const out: string[] = [];
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    out.push(cause instanceof Error ? (cause.stack ?? `${cause.name}: ${cause.message}`) : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

/**
 * Prints an error the way users should see it: a warren error as its message
 * (what and where), anything else as an unexpected error; stack traces and
 * causes only with --verbose. With --json the error is a JSON document on stdout.
 */
export function renderError(io: CliIo, err: unknown, options: { json: boolean; verbose: boolean }): number {
  const code = exitCodeFor(err);
  if (options.json) {
    const body = isWarrenError(err)
      ? { code: err.code, message: err.message, details: err.details ?? null }
      : { code: 'UNEXPECTED', message: err instanceof Error ? err.message : String(err), details: null };
    io.stdout.write(`${JSON.stringify({ error: body })}\n`);
    if (options.verbose && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return code;
  }
  if (isWarrenError(err)) {
    io.stderr.write(`error: ${err.message}\n`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`error: unexpected failure: ${message}${options.verbose ? '' : ' (run with --verbose for the stack trace)'}\n`);
  }
  if (options.verbose) {
    if (err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    for (const c of causeChain(err)) io.stderr.write(`caused by: ${c}\n`);
  }
  return code;
}
