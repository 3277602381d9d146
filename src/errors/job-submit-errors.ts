import type { z } from 'zod';
import { WarrenError, type WarrenErrorOptions } from './warren-error.ts';

/** Codes of {@link RoutingKeyError}. */
export type RoutingKeyErrorCode = 'ROUTING_FIELD_MISSING' | 'ROUTING_FIELD_INVALID' | 'ROUTING_KEY_TOO_LONG';

/**
 * A job can't fill its route's routing-key template: a placeholder has no
 * value (`ROUTING_FIELD_MISSING`) or one that is not a single safe word
 * (`ROUTING_FIELD_INVALID`). `details` names the field, for callers that
 * point at it (the API answers 400 with it).
 */
export class RoutingKeyError extends WarrenError {
  override readonly name = 'RoutingKeyError';
  override readonly code: RoutingKeyErrorCode;
  /** The placeholder that could not be filled. */
  readonly field: string;
  /** The route's routing-key template. */
  readonly template: string;
  constructor(code: RoutingKeyErrorCode, field: string, template: string) {
    const missing = code === 'ROUTING_FIELD_MISSING';
    const tooLong = code === 'ROUTING_KEY_TOO_LONG';
    super(
      code,
      missing
        ? `the routing key '${template}' needs '${field}': set it in the job (no default is configured)`
        : tooLong
          ? `the routing key '${template}' filled with this job's values is longer than AMQP's 255 bytes: shorten '${field}' or the other values it holds`
          : `'${field}' fills one word of the routing key '${template}': use letters, digits, '_' or '-' (1-100 characters)`,
      { details: [{ path: field, message: missing ? 'required to build the routing key' : tooLong ? 'the rendered routing key must be at most 255 bytes' : 'must match [A-Za-z0-9_-]{1,100}' }] },
    );
    this.code = code;
    this.field = field;
    this.template = template;
  }
}

/** A job's payload does not match its route's schema. `issues` are zod's, for callers that list them field by field. */
export class JobValidationError extends WarrenError {
  override readonly name = 'JobValidationError';
  readonly route: string;
  readonly schemaName: string;
  readonly issues: readonly z.core.$ZodIssue[];
  /** The zod error itself (`z.prettifyError` renders it for a log line). */
  readonly zodError: z.ZodError;
  constructor(route: string, schemaName: string, zodError: z.ZodError) {
    super('VALIDATION_FAILED', `the job does not match the '${schemaName}' schema of route '${route}'`);
    this.route = route;
    this.schemaName = schemaName;
    this.zodError = zodError;
    this.issues = zodError.issues;
  }
}

/** A job names a route the topology does not have. */
export class UnknownRouteError extends WarrenError {
  override readonly name = 'UnknownRouteError';
  readonly route: string;
  constructor(route: string) {
    super('ROUTE_NOT_FOUND', `unknown route '${route.slice(0, 100)}'`);
    this.route = route;
  }
}

/** Where a job was being published when the broker did not take it. */
export interface PublishTarget {
  /** The route, absent for a plain message to an exchange. */
  route?: string;
  exchange: string;
  routingKey: string;
}

/**
 * The broker did not confirm a job (or did not take it at all). `code` is the
 * publisher's (UNROUTABLE, PUBLISH_REJECTED, PUBLISH_TIMEOUT, PUBLISH_BACKPRESSURE,
 * EXCHANGE_NOT_FOUND, ...), `cause` its typed error, `target` where it was going.
 */
export class JobPublishError extends WarrenError {
  override readonly name = 'JobPublishError';
  readonly target: PublishTarget;
  constructor(target: PublishTarget, cause: unknown, options: Omit<WarrenErrorOptions, 'cause'> = {}) {
    const code = cause instanceof WarrenError ? cause.code : 'PUBLISH_FAILED';
    const where = target.route !== undefined ? `route '${target.route}'` : `exchange '${target.exchange}'`;
    super(code, `${cause instanceof Error ? cause.message : String(cause)} (${where})`, { ...options, cause });
    this.target = target;
  }
}
