import { BrokerUnavailableError, PublishBackpressureError, PublishRejectedError, PublishTimeoutError, UnroutableError, WarrenError } from '../../errors/index.ts';
import type { EventPayloadFields } from '../../jobs/job-event-payload.ts';
import { ApiError, type ApiErrorStatus } from '../api-error.ts';
import type { BatchMode } from '../jobs/batch-mode.ts';
import type { BatchRequest } from '../jobs/batch-preparation.ts';

/**
 * The messages between the API's request thread and its batch thread
 * (batch-thread.ts, batch-thread-worker.ts). Everything is plain data:
 * errors cross as their code, message and details and are rebuilt as the
 * same classes on the other side, so the API maps them exactly as if the
 * batch had been handled in the request's thread.
 */

/** An ApiError as data. */
export interface ApiErrorData {
  status: ApiErrorStatus;
  code: string;
  message: string;
  details: unknown;
  headers: Record<string, string>;
}

/** Any error of a publish as data: a warren error's code and details, or only a message. */
export interface ErrorData {
  code: string | undefined;
  message: string;
  details: unknown;
}

/** A job the batch thread built, as the request thread needs it (its message stays in the batch thread). */
export interface BuiltJobData {
  id: string;
  routingKey: string;
  /** Size of the message body. */
  bytes: number;
  /** The `queued` event's payload fields, when the topology keeps payloads. */
  eventPayload?: EventPayloadFields;
}

/** Request thread to batch thread. */
export type ToBatchThread =
  | { t: 'batch'; batch: number; route: string; request: BatchRequest }
  /** Body bytes; the chunk's buffer is transferred. */
  | { t: 'chunk'; batch: number; chunk: Uint8Array }
  | { t: 'end'; batch: number }
  /** The body could not be read (or the request gave up): forget the batch. */
  | { t: 'abort'; batch: number }
  | { t: 'publish'; batch: number; indexes: number[] }
  /** The request is answered: drop the batch's messages. */
  | { t: 'release'; batch: number }
  | { t: 'close' };

/** Batch thread to request thread. */
export type FromBatchThread =
  | { t: 'state'; connected: boolean }
  | {
      t: 'prepared';
      batch: number;
      /** Jobs that failed validation (counted in the API's publish metrics as `invalid`). */
      invalid: number;
      result: { ok: true; mode: BatchMode; bytes: number; items: (BuiltJobData | { error: ApiErrorData })[] } | { ok: false; error: ApiErrorData };
    }
  /** Outcomes of publishes: the job's index and null for a confirmed one, or its error. */
  | { t: 'published'; batch: number; outcomes: [number, ErrorData | null][] }
  | { t: 'closed' };

export function apiErrorData(err: ApiError): ApiErrorData {
  return { status: err.status, code: err.code, message: err.message, details: err.details ?? null, headers: err.headers };
}

export function apiErrorFromData(data: ApiErrorData): ApiError {
  return new ApiError(data.status, data.code, data.message, { details: data.details, headers: data.headers });
}

export function errorData(err: unknown): ErrorData {
  if (err instanceof WarrenError) return { code: err.code, message: err.message, details: err.details ?? null };
  return { code: undefined, message: err instanceof Error ? err.message : String(err), details: null };
}

/** The error a publish failed with, rebuilt as its own class (the API's error table maps by class). */
export function errorFromData(data: ErrorData): Error {
  const details = (data.details ?? {}) as { exchange?: unknown; routingKey?: unknown };
  switch (data.code) {
    case 'UNROUTABLE':
      return new UnroutableError(String(details.exchange), String(details.routingKey));
    case 'PUBLISH_REJECTED':
      return new PublishRejectedError(data.message);
    case 'PUBLISH_TIMEOUT':
      return new PublishTimeoutError(data.message);
    case 'PUBLISH_BACKPRESSURE':
      return new PublishBackpressureError(data.message);
    case 'BROKER_UNAVAILABLE':
      return new BrokerUnavailableError(data.message);
    case undefined:
      return new Error(data.message);
    default:
      return new WarrenError(data.code, data.message, { details: data.details });
  }
}
