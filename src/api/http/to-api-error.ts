import { HTTPException } from 'hono/http-exception';
import {
  BrokerUnavailableError,
  PublishBackpressureError,
  PublishRejectedError,
  PublishTimeoutError,
  UnroutableError,
  WarrenError,
} from '../../errors/index.ts';
import { ApiError, type ApiErrorStatus } from '../api-error.ts';
import { JobHistoryError } from '../status/history-errors.ts';

/** Where a publish was going, so an error can name it. */
export interface PublishTarget {
  route?: string;
  exchange: string;
  routingKey: string;
}

/** Seconds a client should wait after a nack (a full queue drains at the consumers' pace). */
export const RETRY_AFTER_REJECTED_S = 5;
/** Seconds a client should wait after a timeout or a disconnect (reconnects happen within about a second). */
export const RETRY_AFTER_UNAVAILABLE_S = 2;

/**
 * The table that turns warren's typed errors into HTTP answers, read top to
 * bottom. Anything not listed becomes a 500 that says nothing about internals.
 */
export function toApiError(err: unknown, target?: PublishTarget): ApiError {
  if (err instanceof ApiError) return err;
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
