import { join } from 'node:path';
import type { z } from 'zod';
import type { Topology } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { findConsumerModule } from './find-consumer-module.ts';
import { importConsumerModule } from './import-consumer-module.ts';

/**
 * The payload schemas every route of the topology names: the built-in ones,
 * else `consumers/schemas/<name>.ts` exporting a zod schema as default. The API
 * and the worker both call this at start, so a missing schema stops either
 * process then, not at the first job.
 */
export async function loadPayloadSchemas(topology: Pick<Topology, 'routes'>, consumersDir: string): Promise<Record<string, z.ZodType>> {
  const schemas: Record<string, z.ZodType> = { ...BUILTIN_PAYLOAD_SCHEMAS };
  const wanted = new Set(Object.values(topology.routes).map((r) => r.schema));
  for (const name of wanted) {
    if (name in schemas) continue;
    const file = findConsumerModule(join(consumersDir, 'schemas'), name);
    if (!file) throw new WarrenError('SCHEMA_NOT_FOUND', `payload schema '${name}' is neither built in (${Object.keys(BUILTIN_PAYLOAD_SCHEMAS).join(', ')}) nor in ${join(consumersDir, 'schemas', name)}.ts`);
    const mod = (await importConsumerModule(file)) as { default?: unknown; schema?: unknown };
    const schema = (mod.default ?? mod.schema) as z.ZodType | undefined;
    if (!schema || typeof (schema as { safeParse?: unknown }).safeParse !== 'function') {
      throw new WarrenError('SCHEMA_INVALID', `${file} must export a zod schema as default`);
    }
    schemas[name] = schema;
  }
  return schemas;
}
