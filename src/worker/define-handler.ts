import type { z } from 'zod';
import type { JobHandler } from './handler-contract.ts';

/**
 * Types a handler module's default export without writing the generic twice:
 * `export default defineHandler<MyPayload, MyResult>(async (job, ctx) => ...)`.
 * Returns the function unchanged (no wrapper, nothing at run time).
 */
export function defineHandler<P = unknown, R = unknown>(handler: JobHandler<P, R>): JobHandler<P, R> {
  return handler;
}

/**
 * Marks a zod schema as a route's payload schema (`consumers/schemas/<name>.ts`
 * exports it as default). Returns it unchanged; `z.infer<typeof schema>` gives the
 * handler's payload type.
 */
export function defineSchema<S extends z.ZodType>(schema: S): S {
  return schema;
}
