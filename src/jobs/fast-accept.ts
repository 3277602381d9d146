import type { z } from 'zod';

/**
 * A precompiled check that answers `true` only when zod would accept the value
 * AND return a value deep-equal to it (nothing stripped, defaulted or
 * transformed), so the caller may use the input as the parsed job. `false`
 * means "not sure": the caller runs zod, which also builds the 400 with every
 * failing field. It covers the zod subset payload schemas use (objects, arrays,
 * records, strings, numbers, enums, unions, optionals, ...); a schema with
 * anything else compiles to `undefined` and always goes through zod.
 */
export type FastAccept = (value: unknown) => boolean;

/** What JSON kinds a schema can accept at all; a union skips options that certainly reject. */
type Kind = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';

interface Compiled {
  accept: FastAccept;
  /** undefined: any kind may be accepted. */
  kinds: ReadonlySet<Kind> | undefined;
}

class Unsupported extends Error {}

interface CheckDef {
  check?: string;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
}

interface Def {
  type: string;
  coerce?: boolean;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  innerType?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  entries?: Record<string, unknown>;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

function kindOf(value: unknown): Kind | undefined {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object' ? t : undefined;
}

/** Length checks, conservative: strings are measured by zod in code points, so only unit counts that settle it are accepted. */
function lengthCheck(checks: Def['checks'], strings: boolean): (n: number) => boolean {
  let min = 0;
  let max = Infinity;
  for (const c of checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'min_length' && typeof d.minimum === 'number') min = Math.max(min, d.minimum);
    else if (d.check === 'max_length' && typeof d.maximum === 'number') max = Math.min(max, d.maximum);
    else throw new Unsupported();
  }
  // A code point is one or two UTF-16 units: n units hold at least ceil(n / 2) code points (so `n >= 2 * min - 1` settles
  // the minimum) and never more than n (so `n <= max` settles the maximum). Anything in between is left to zod.
  const floor = strings ? Math.max(min, 2 * min - 1) : min;
  return (n) => n >= floor && n <= max;
}

function numberCheck(checks: Def['checks']): (n: number) => boolean {
  const parts: ((n: number) => boolean)[] = [];
  for (const c of checks ?? []) {
    const d = c._zod.def;
    const v = d.value;
    if (d.check === 'greater_than' && typeof v === 'number') parts.push(d.inclusive === true ? (n) => n >= v : (n) => n > v);
    else if (d.check === 'less_than' && typeof v === 'number') parts.push(d.inclusive === true ? (n) => n <= v : (n) => n < v);
    else if (d.check === 'number_format' && d.format === 'safeint') parts.push(Number.isSafeInteger);
    else throw new Unsupported();
  }
  return (n) => Number.isFinite(n) && parts.every((p) => p(n));
}

const hasOwn = Object.prototype.hasOwnProperty;

function compile(schema: z.ZodType): Compiled {
  const def = defOf(schema);
  if (def.coerce === true) throw new Unsupported();
  const only = (k: Kind): ReadonlySet<Kind> => new Set([k]);
  switch (def.type) {
    case 'string': {
      const len = lengthCheck(def.checks, true);
      return { accept: (v) => typeof v === 'string' && len(v.length), kinds: only('string') };
    }
    case 'number': {
      const ok = numberCheck(def.checks);
      return { accept: (v) => typeof v === 'number' && ok(v), kinds: only('number') };
    }
    case 'boolean':
      if (def.checks?.length) throw new Unsupported();
      return { accept: (v) => typeof v === 'boolean', kinds: only('boolean') };
    case 'null':
      return { accept: (v) => v === null, kinds: only('null') };
    case 'unknown':
    case 'any':
      if (def.checks?.length) throw new Unsupported();
      return { accept: () => true, kinds: undefined };
    case 'enum': {
      if (def.checks?.length) throw new Unsupported();
      const values = new Set(Object.values(def.entries ?? {}));
      return { accept: (v) => values.has(v), kinds: new Set([...values].map(kindOf).filter((k): k is Kind => k !== undefined)) };
    }
    case 'optional': {
      if (def.innerType === undefined) throw new Unsupported();
      const inner = compile(def.innerType);
      return { accept: (v) => v === undefined || inner.accept(v), kinds: inner.kinds };
    }
    case 'array': {
      if (def.element === undefined) throw new Unsupported();
      const element = compile(def.element).accept;
      const len = lengthCheck(def.checks, false);
      return {
        accept: (v) => {
          if (!Array.isArray(v) || !len(v.length)) return false;
          for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
          return true;
        },
        kinds: only('array'),
      };
    }
    case 'record': {
      if (def.checks?.length || def.keyType === undefined || def.valueType === undefined) throw new Unsupported();
      const key = defOf(def.keyType);
      if (key.type !== 'string' || key.checks?.length || key.coerce === true) throw new Unsupported();
      const value = compile(def.valueType).accept;
      return {
        accept: (v) => {
          if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
          for (const k in v) {
            // zod builds a new object: a `__proto__` key would not survive as a plain property.
            if (k === '__proto__' || !hasOwn.call(v, k) || !value((v as Record<string, unknown>)[k])) return false;
          }
          return true;
        },
        kinds: only('object'),
      };
    }
    case 'object': {
      if (def.checks?.length || def.shape === undefined) throw new Unsupported();
      const catchall = def.catchall === undefined ? 'strip' : defOf(def.catchall).type;
      // strict (never): unknown keys fail; strip: zod would drop them (output differs); passthrough (unknown): kept.
      if (catchall !== 'never' && catchall !== 'strip' && catchall !== 'unknown') throw new Unsupported();
      const fields = Object.entries(def.shape).map(([k, s]) => {
        const d = defOf(s);
        return { key: k, accept: compile(s).accept, optional: d.type === 'optional' };
      });
      const known = new Set(fields.map((f) => f.key));
      const extrasAllowed = catchall === 'unknown';
      return {
        accept: (v) => {
          if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
          const o = v as Record<string, unknown>;
          for (const f of fields) {
            const x = o[f.key];
            if (x === undefined) {
              // An own key holding undefined is not JSON; leave such values to zod.
              if (!f.optional || hasOwn.call(o, f.key)) return false;
            } else if (!hasOwn.call(o, f.key) || !f.accept(x)) return false;
          }
          if (!extrasAllowed) {
            for (const k in o) if (!known.has(k)) return false;
          } else {
            for (const k in o) if (k === '__proto__') return false;
          }
          return true;
        },
        kinds: only('object'),
      };
    }
    case 'union': {
      if (def.checks?.length || def.options === undefined) throw new Unsupported();
      const options = def.options.map(compile);
      return {
        // zod returns the first option that succeeds: an earlier option that might also succeed (with another output) makes it unsure.
        accept: (v) => {
          const kind = kindOf(v);
          for (const o of options) {
            if (o.kinds !== undefined && (kind === undefined || !o.kinds.has(kind))) continue;
            return o.accept(v);
          }
          return false;
        },
        kinds: options.some((o) => o.kinds === undefined) ? undefined : new Set(options.flatMap((o) => [...(o.kinds ?? [])])),
      };
    }
    default:
      throw new Unsupported();
  }
}

/** Compiles the fast check of a payload schema, or undefined when the schema uses anything outside the supported subset. */
export function compileFastAccept(schema: z.ZodType): FastAccept | undefined {
  try {
    return compile(schema).accept;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
