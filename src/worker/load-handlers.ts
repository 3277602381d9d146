import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import type { Topology } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import type { HandlerModule, JobHandler } from './handler-contract.ts';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

function findModule(dir: string, name: string): string | undefined {
  for (const ext of EXTENSIONS) {
    const file = join(dir, name + ext);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Imports `consumers/<name>.ts` (or .mts/.js/.mjs) and returns its default export (or `handler`). */
export async function loadHandler(consumersDir: string, name: string): Promise<JobHandler> {
  const file = findModule(consumersDir, name);
  if (!file) throw new WarrenError('HANDLER_NOT_FOUND', `handler '${name}' not found: expected ${join(consumersDir, name)}.ts (or .js)`);
  let mod: HandlerModule;
  try {
    mod = (await import(pathToFileURL(file).href)) as HandlerModule;
  } catch (err) {
    throw new WarrenError('HANDLER_LOAD_FAILED', `handler '${name}' (${file}) failed to load: ${(err as Error).message}`, { cause: err });
  }
  const fn = mod.default ?? mod.handler;
  if (typeof fn !== 'function') {
    throw new WarrenError('HANDLER_INVALID', `handler '${name}' (${file}) must export a function as default: export default async function (job, ctx) { ... }`);
  }
  return fn;
}

/**
 * The payload schemas every route of the topology names: the built-in ones,
 * else `consumers/schemas/<name>.ts` exporting a zod schema as default. A
 * missing schema stops the worker at start, not at the first job.
 */
export async function loadPayloadSchemas(topology: Topology, consumersDir: string): Promise<Record<string, z.ZodType>> {
  const schemas: Record<string, z.ZodType> = { ...BUILTIN_PAYLOAD_SCHEMAS };
  const wanted = new Set(Object.values(topology.routes).map((r) => r.schema));
  for (const name of wanted) {
    if (name in schemas) continue;
    const file = findModule(join(consumersDir, 'schemas'), name);
    if (!file) throw new WarrenError('SCHEMA_NOT_FOUND', `payload schema '${name}' is neither built in (${Object.keys(BUILTIN_PAYLOAD_SCHEMAS).join(', ')}) nor in ${join(consumersDir, 'schemas', name)}.ts`);
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown; schema?: unknown };
    const schema = (mod.default ?? mod.schema) as z.ZodType | undefined;
    if (!schema || typeof (schema as { safeParse?: unknown }).safeParse !== 'function') {
      throw new WarrenError('SCHEMA_INVALID', `${file} must export a zod schema as default`);
    }
    schemas[name] = schema;
  }
  return schemas;
}
