import type { ErrorClass } from '../config/topology-schema.ts';
import { PermanentJobError, TransientJobError, WarrenError } from '../errors/index.ts';
import { classifyLlmError } from '../llm/classify-llm-error.ts';

/** A handler failure, classified for the disposition table. */
export interface JobFailure {
  errorClass: ErrorClass;
  message: string;
  /** Minimum wait before the next attempt (Retry-After, TransientJobError.retryAfterMs). */
  retryAfterMs?: number | undefined;
  /** Provider HTTP status, when there was one. */
  status?: number | undefined;
}

/** The payload is not JSON or fails its route's schema. */
export class InvalidPayloadError extends WarrenError {
  override readonly name = 'InvalidPayloadError';
  constructor(message: string) {
    super('INVALID_PAYLOAD', message);
  }
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
}

/**
 * Classifies one failure: the job's own timeout first (whatever the handler
 * threw once its signal fired), then warren's job errors, then openai SDK and
 * network errors (looking through `cause` chains), else `unknown`.
 */
export function classifyJobError(err: unknown, options: { timedOutAfterMs?: number | undefined } = {}): JobFailure {
  if (options.timedOutAfterMs !== undefined) {
    return { errorClass: 'timeout', message: `job timed out after ${options.timedOutAfterMs}ms` };
  }
  const message = messageOf(err);
  if (err instanceof InvalidPayloadError) return { errorClass: 'invalid-payload', message };
  if (err instanceof TransientJobError) return { errorClass: 'transient', message, retryAfterMs: err.retryAfterMs };
  if (err instanceof PermanentJobError) return { errorClass: 'permanent', message };
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const llm = classifyLlmError(current);
    if (llm) return { errorClass: llm.errorClass, message, retryAfterMs: llm.retryAfterMs, status: llm.status };
    current = current instanceof Error ? current.cause : undefined;
  }
  return { errorClass: 'unknown', message };
}
