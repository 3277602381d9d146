import { WarrenError, type WarrenErrorOptions } from './warren-error.ts';

/** Stable codes of {@link DlqError}; the API's one error table maps each to an HTTP status. */
export type DlqErrorCode =
  | 'DLQ_QUEUE_NOT_FOUND'
  | 'DLQ_NOT_A_DEAD_LETTER_QUEUE'
  | 'DLQ_UNKNOWN_ROUTE'
  | 'DLQ_QUEUE_BUSY'
  | 'DLQ_UNSUPPORTED_QUEUE'
  | 'DLQ_CONNECTION_LOST'
  | 'DLQ_CONFIRMATION_REQUIRED'
  | 'DLQ_INVALID_FILTER';

/** A dead-letter operation refused or stopped, with a message that says what to do. */
export class DlqError extends WarrenError {
  override readonly name = 'DlqError';
  override readonly code: DlqErrorCode;
  constructor(code: DlqErrorCode, message: string, options: WarrenErrorOptions = {}) {
    super(code, message, options);
    this.code = code;
  }
}
