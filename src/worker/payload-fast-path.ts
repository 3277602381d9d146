import { z } from 'zod';
import { compileFastAccept, type FastAccept } from '../jobs/fast-accept.ts';

/**
 * The payload check the API compiles for its routes (a plain predicate that
 * answers `true` only when zod would accept the value and return it
 * unchanged), made to cover schemas with `.default()` fields such as the task
 * schema's `input`. A default only matters when its field is missing, so the
 * check runs on a copy of the schema in which each defaulted object field is
 * required instead: a payload that has the field is judged exactly as zod
 * judges it, and one without it fails the check and goes through zod, which
 * fills the default. Only object shapes are rewritten (recursively); a default
 * anywhere else leaves the schema to zod alone. undefined: no fast path.
 */
export function compilePayloadFastPath(schema: z.ZodType): FastAccept | undefined {
  const direct = compileFastAccept(schema);
  if (direct) return direct;
  const required = withRequiredDefaults(schema);
  return required === schema ? undefined : compileFastAccept(required);
}

interface ObjectDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  checks?: unknown[];
}

function defOf(schema: z.ZodType): ObjectDef {
  return (schema as unknown as { _zod: { def: ObjectDef } })._zod.def;
}

/** The schema with each defaulted object field made required (its inner type); the same schema when there is nothing to rewrite. */
function withRequiredDefaults(schema: z.ZodType): z.ZodType {
  const def = defOf(schema);
  if (def.type !== 'object' || def.shape === undefined || (def.checks?.length ?? 0) > 0) return schema;
  let changed = false;
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(def.shape)) {
    const fieldDef = defOf(field);
    let next = fieldDef.type === 'default' && fieldDef.innerType !== undefined ? fieldDef.innerType : field;
    next = withRequiredDefaults(next);
    if (next !== field) changed = true;
    shape[key] = next;
  }
  if (!changed) return schema;
  // Same unknown-key policy as the original: strict (never), passthrough (unknown) or strip (none).
  const catchall = def.catchall === undefined ? undefined : defOf(def.catchall).type;
  if (catchall === undefined) return z.object(shape);
  if (catchall === 'never') return z.strictObject(shape);
  if (catchall === 'unknown') return z.looseObject(shape);
  return schema;
}
