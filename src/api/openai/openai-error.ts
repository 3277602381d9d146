import { WarrenError } from '../../errors/index.ts';
import type { ApiError } from '../api-error.ts';
import type { FieldProblem } from '../http/validation-details.ts';

/** HTTP statuses the front door answers with on purpose. */
export type OpenAiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

/** OpenAI's error body: `{error: {message, type, param, code}}` (the SDKs read `message` and map the status to a class). */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null; job_id?: string; details?: unknown };
}

/** An error of the front door, in OpenAI's shape. */
export class OpenAiError extends WarrenError {
  override readonly name = 'OpenAiError';
  readonly status: OpenAiErrorStatus;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly jobId: string | undefined;

  constructor(status: OpenAiErrorStatus, code: string, message: string, options: { type?: string; param?: string | null; headers?: Record<string, string>; jobId?: string; details?: unknown; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, details: options.details });
    this.status = status;
    this.type = options.type ?? typeOf(status);
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.jobId = options.jobId;
  }

  /** The response body. */
  body(): OpenAiErrorBody {
    const error: OpenAiErrorBody['error'] = { message: this.message, type: this.type, param: this.param, code: this.code };
    if (this.jobId !== undefined) error.job_id = this.jobId;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

/** OpenAI's error `type` for a status. */
export function typeOf(status: number): string {
  if (status === 400 || status === 404 || status === 409 || status === 413 || status === 415 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  return 'api_error';
}

/** A warren API error in OpenAI's shape; a validation error names every field in its message and the first as `param`. */
export function fromApiError(err: ApiError): OpenAiError {
  const problems = Array.isArray(err.details) ? (err.details as FieldProblem[]).filter((p) => typeof p?.path === 'string') : [];
  const message = problems.length > 0 ? `${err.message}: ${problems.slice(0, 10).map((p) => `${p.path}: ${p.message}`).join('; ')}` : err.message;
  return new OpenAiError(err.status, err.code.toLowerCase(), message, {
    param: problems[0]?.path ?? null,
    headers: err.headers,
    ...(err.details === undefined || err.details === null ? {} : { details: err.details }),
    cause: err,
  });
}

/**
 * The provider's final error of a job that failed for good, by warren's error
 * class (src/worker/dispositions.ts): the status the provider answered with,
 * so the SDK raises the class it would have raised calling the provider.
 */
const CLASS_STATUS: Readonly<Record<string, { status: OpenAiErrorStatus; code: string }>> = {
  'bad-request': { status: 400, code: 'invalid_request' },
  'context-length': { status: 400, code: 'context_length_exceeded' },
  'content-filter': { status: 400, code: 'content_filter' },
  'invalid-payload': { status: 400, code: 'invalid_payload' },
  auth: { status: 401, code: 'provider_auth' },
  'not-found': { status: 404, code: 'model_not_found' },
  unprocessable: { status: 422, code: 'unprocessable' },
  'rate-limited': { status: 429, code: 'provider_rate_limited' },
  'server-error': { status: 502, code: 'provider_error' },
  timeout: { status: 504, code: 'provider_timeout' },
  connection: { status: 502, code: 'provider_unreachable' },
};

/** The error of a dead-lettered or failed job. */
export function fromJobFailure(jobId: string, status: string, error: { class: string; message: string } | undefined): OpenAiError {
  const mapped = error === undefined ? undefined : CLASS_STATUS[error.class];
  const what = status === 'dead-lettered' ? 'dead-lettered' : 'failed';
  const message = error === undefined ? `job ${jobId} ${what}` : `${error.message} (job ${jobId} ${what}, error class ${error.class})`;
  return new OpenAiError(mapped?.status ?? 500, mapped?.code ?? (error?.class ?? 'job_failed').replace(/-/g, '_'), message, { jobId });
}
