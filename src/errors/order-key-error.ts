import { WarrenError } from './warren-error.ts';

/** Codes of {@link OrderKeyError}. */
export type OrderKeyErrorCode = 'ORDER_KEY_MISSING' | 'ORDER_KEY_INVALID';

/**
 * A job for an ordered route has no ordering key (`ORDER_KEY_MISSING`) or
 * one that is not a string or number of 1 to 200 characters
 * (`ORDER_KEY_INVALID`). `field` is the payload field or request header the
 * route's `ordering.key` names; the API answers 400 with it as the path.
 */
export class OrderKeyError extends WarrenError {
  override readonly name = 'OrderKeyError';
  override readonly code: OrderKeyErrorCode;
  /** The payload field (or `header:<name>`) that holds the key. */
  readonly field: string;
  constructor(code: OrderKeyErrorCode, field: string, route: string) {
    const missing = code === 'ORDER_KEY_MISSING';
    super(
      code,
      missing
        ? `route '${route}' is ordered by '${field}': the job must carry it (a string or a number)`
        : `'${field}' orders route '${route}': it must be a string or a number (1-200 characters), not an object, array, boolean or null`,
      { details: [{ path: field, message: missing ? 'required: the ordering key of this route' : 'must be a string or number of 1-200 characters' }] },
    );
    this.code = code;
    this.field = field;
  }
}
