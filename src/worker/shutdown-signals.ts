import type { Logger } from '../observability/logger.ts';

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  logger: Logger;
  /** Time in-flight jobs get before they are requeued. @default 30000 */
  deadlineMs?: number;
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /** @default process.exit */
  exit?: (code: number) => void;
}

/**
 * Makes a process stop gracefully on SIGTERM / SIGINT: the first signal runs
 * `close(deadlineMs)` and exits 0 (1 if closing failed); a second signal
 * exits 1 at once (the broker redelivers whatever was unacked). Returns a
 * function that removes the handlers.
 */
export function closeOnSignals(close: (deadlineMs: number) => Promise<unknown>, options: CloseOnSignalsOptions): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const deadlineMs = options.deadlineMs ?? 30_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      options.logger.warn({ signal }, 'second signal: exiting now; unacked jobs will be redelivered');
      exit(1);
      return;
    }
    closing = true;
    options.logger.info({ signal, deadlineMs }, 'shutting down gracefully');
    close(deadlineMs).then(
      () => exit(0),
      (err: unknown) => {
        options.logger.error({ err: (err as Error).message }, 'graceful shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
