import { WarrenError } from '../errors/index.ts';

/** HTTP statuses warren's API answers with on purpose. */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

/** Options of {@link ApiError}. */
export interface ApiErrorOptions {
  /** Machine-readable detail shown to the caller (never secrets). */
  details?: unknown;
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error that already knows its HTTP status; the one onError handler renders it as `{error: {code, message, details}}`. */
export class ApiError extends WarrenError {
  override readonly name = 'ApiError';
  readonly status: ApiErrorStatus;
  readonly headers: Record<string, string>;

  constructor(status: ApiErrorStatus, code: string, message: string, options: ApiErrorOptions = {}) {
    super(code, message, { cause: options.cause, details: options.details });
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

/** Body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string; details: unknown };
}

/** Renders an ApiError's body. */
export function errorBody(err: ApiError): ErrorBody {
  return { error: { code: err.code, message: err.message, details: err.details ?? null } };
}
