import { HTTPException } from 'hono/http-exception';
import {
  BrokerUnavailableError,
  JobPublishError,
  JobValidationError,
  type DlqErrorCode,
  PublishBackpressureError,
  PublishRejectedError,
  PublishTimeoutError,
  RoutingKeyError,
  OrderKeyError,
  UnknownRouteError,
  UnroutableError,
  WarrenError,
  type PublishTarget,
} from '../../errors/index.ts';
import { ApiError, type ApiErrorStatus } from '../api-error.ts';
import { zodProblems } from './validation-details.ts';
import { JobHistoryError } from '../status/history-errors.ts';

/** Seconds a client should wait after a nack (a full queue drains at the consumers' pace). */
export const RETRY_AFTER_REJECTED_S = 5;
/** Seconds a client should wait after a timeout or a disconnect (reconnects happen within about a second). */
export const RETRY_AFTER_UNAVAILABLE_S = 2;

/** HTTP status of each dead-letter error (src/errors/dlq-error.ts), raised by the DLQ tooling behind /v1/dlq. */
const DLQ_STATUS: Readonly<Record<DlqErrorCode, ApiErrorStatus>> = {
  DLQ_INVALID_FILTER: 400,
  DLQ_CONFIRMATION_REQUIRED: 400,
  DLQ_QUEUE_NOT_FOUND: 404,
  DLQ_QUEUE_BUSY: 409,
  DLQ_NOT_A_DEAD_LETTER_QUEUE: 422,
  DLQ_UNKNOWN_ROUTE: 422,
  DLQ_UNSUPPORTED_QUEUE: 422,
  DLQ_CONNECTION_LOST: 503,
};

function isDlqCode(code: string): code is DlqErrorCode {
  return Object.hasOwn(DLQ_STATUS, code);
}

/** Options of {@link toApiError}. */
export interface ToApiErrorOptions {
  /** Prefix of the field paths in a 400 (e.g. `['jobs', 3]` for a job of a batch). */
  pathPrefix?: readonly PropertyKey[];
}

/**
 * The table that turns warren's typed errors into HTTP answers, read top to
 * bottom. Anything not listed becomes a 500 that says nothing about internals.
 */
export function toApiError(err: unknown, options: ToApiErrorOptions = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof WarrenError && isDlqCode(err.code)) {
    return new ApiError(DLQ_STATUS[err.code], err.code, err.message, { details: err.details ?? null, cause: err });
  }
  const prefix = options.pathPrefix ?? [];
  if (err instanceof JobValidationError) {
    return new ApiError(400, 'VALIDATION_FAILED', err.message, { details: zodProblems(err.zodError, prefix), cause: err });
  }
  if (err instanceof RoutingKeyError) {
    const path = prefix.length > 0 ? `${prefix.map(String).join('.')}.${err.field}` : err.field;
    const details = (err.details as { message: string }[]).map((d) => ({ ...d, path }));
    return new ApiError(400, err.code, err.message, { details, cause: err });
  }
  if (err instanceof OrderKeyError) {
    const path = prefix.length > 0 ? `${prefix.map(String).join('.')}.${err.field}` : err.field;
    const details = (err.details as { message: string }[]).map((d) => ({ ...d, path }));
    return new ApiError(400, err.code, err.message, { details, cause: err });
  }
  if (err instanceof UnknownRouteError) {
    return new ApiError(404, 'ROUTE_NOT_FOUND', `${err.message}; GET /v1/routes lists the routes you may publish to`, { cause: err });
  }
  // The submit use case names where the job was going; the broker's own error says what happened.
  if (err instanceof JobPublishError) return fromBrokerOrHttp(err.cause, err.target);
  return fromBrokerOrHttp(err, undefined);
}

/** The broker, HTTP and catch-all rows of the table; `target` names the job's route or exchange. */
function fromBrokerOrHttp(err: unknown, target: PublishTarget | undefined): ApiError {
  const where = target?.route !== undefined ? `route '${target.route}'` : target ? `exchange '${target.exchange}'` : 'the job';
  if (err instanceof UnroutableError) {
    return new ApiError(
      422,
      'UNROUTABLE',
      target?.route !== undefined
        ? `route '${target.route}' published to exchange '${err.exchange}' with routing key '${err.routingKey}', but no queue is bound for that key; nothing was queued`
        : `no queue is bound to exchange '${err.exchange}' for routing key '${err.routingKey}'; nothing was queued`,
      { details: { ...(target?.route !== undefined ? { route: target.route } : {}), exchange: err.exchange, routingKey: err.routingKey }, cause: err },
    );
  }
  if (err instanceof PublishRejectedError) {
    return new ApiError(503, 'PUBLISH_REJECTED', `the broker refused the job for ${where} (a queue is full); nothing was queued, try again later`, {
      headers: { 'retry-after': String(RETRY_AFTER_REJECTED_S) },
      details: target ? { ...target } : null,
      cause: err,
    });
  }
  if (err instanceof PublishTimeoutError || err instanceof PublishBackpressureError || err instanceof BrokerUnavailableError) {
    return new ApiError(503, err.code, `${err.message} (${where})`, {
      headers: { 'retry-after': String(RETRY_AFTER_UNAVAILABLE_S) },
      details: target ? { ...target } : null,
      cause: err,
    });
  }
  if (err instanceof WarrenError && err.code === 'EXCHANGE_NOT_FOUND') {
    return new ApiError(503, 'EXCHANGE_NOT_FOUND', `${err.message}; nothing was queued`, {
      headers: { 'retry-after': String(RETRY_AFTER_UNAVAILABLE_S) },
      details: target ? { ...target } : null,
      cause: err,
    });
  }
  if (err instanceof JobHistoryError) {
    return new ApiError(503, err.code, err.message, { headers: { 'retry-after': String(err.retryAfterS) }, cause: err });
  }
  if (err instanceof HTTPException) {
    const status = err.status as ApiErrorStatus;
    if (status === 413) return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'request body is too large', { cause: err });
    if (status >= 400 && status < 500) return new ApiError(status, `HTTP_${status}`, err.message || 'bad request', { cause: err });
  }
  return new ApiError(500, 'INTERNAL_ERROR', 'internal error; the server logged the details', { cause: err });
}
