import { join } from 'node:path';
import { findConsumerModule, importConsumerModule } from '../consumer-modules/index.ts';
import { WarrenError } from '../errors/index.ts';
import type { HandlerModule, JobHandler } from './handler-contract.ts';

/** Imports `consumers/<name>.ts` (or .mts/.js/.mjs) and returns its default export (or `handler`). */
export async function loadHandler(consumersDir: string, name: string): Promise<JobHandler> {
  const file = findConsumerModule(consumersDir, name);
  if (!file) throw new WarrenError('HANDLER_NOT_FOUND', `handler '${name}' not found: expected ${join(consumersDir, name)}.ts (or .js)`);
  let mod: HandlerModule;
  try {
    mod = (await importConsumerModule(file)) as HandlerModule;
  } catch (err) {
    throw new WarrenError('HANDLER_LOAD_FAILED', `handler '${name}' (${file}) failed to load: ${(err as Error).message}`, { cause: err });
  }
  const fn = mod.default ?? mod.handler;
  if (typeof fn !== 'function') {
    throw new WarrenError('HANDLER_INVALID', `handler '${name}' (${file}) must export a function as default: export default async function (job, ctx) { ... }`);
  }
  return fn;
}
