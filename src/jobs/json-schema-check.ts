/**
 * A structural check of a JSON Schema (tool parameters, `response_format`
 * schemas): what a provider would refuse after the job waited in a queue is
 * refused at the door instead. It checks the shape of the keywords providers
 * use (draft 2020-12 / draft 7 vocabulary), not every rule of the
 * meta-schema; unknown keywords are allowed, as JSON Schema allows them.
 */

const TYPES: ReadonlySet<string> = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'] as const;
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const;
const SUBSCHEMAS = ['additionalProperties', 'not', 'contains', 'propertyNames', 'if', 'then', 'else', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'] as const;
const NUMBERS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'] as const;
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minContains', 'maxContains'] as const;
const MAX_DEPTH = 64;

/** One problem: where (a JSON path under the schema) and what. */
export interface SchemaProblem {
  path: (string | number)[];
  message: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The problems of `schema` as a JSON Schema (empty when it is one). At most `limit` are listed. */
export function jsonSchemaProblems(schema: unknown, limit = 10): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const add = (path: (string | number)[], message: string): void => {
    if (problems.length < limit) problems.push({ path, message });
  };

  function check(s: unknown, path: (string | number)[], depth: number): void {
    if (problems.length >= limit) return;
    if (typeof s === 'boolean') return;
    if (!isObject(s)) return add(path, 'a schema must be an object or a boolean');
    if (depth > MAX_DEPTH) return add(path, `schema nested deeper than ${MAX_DEPTH} levels`);
    if ('type' in s) {
      const t = s.type;
      const list = Array.isArray(t) ? t : [t];
      if (list.length === 0 || list.some((x) => typeof x !== 'string' || !TYPES.has(x))) add([...path, 'type'], `type must be one of ${[...TYPES].join(', ')} (or a list of them)`);
    }
    if ('required' in s && (!Array.isArray(s.required) || s.required.some((x) => typeof x !== 'string') || new Set(s.required).size !== s.required.length)) {
      add([...path, 'required'], 'required must be a list of distinct property names');
    }
    if ('enum' in s && !Array.isArray(s.enum)) add([...path, 'enum'], 'enum must be a list');
    if ('pattern' in s) {
      if (typeof s.pattern !== 'string') add([...path, 'pattern'], 'pattern must be a string');
      else {
        try {
          new RegExp(s.pattern, 'u');
        } catch {
          add([...path, 'pattern'], 'pattern is not a valid regular expression');
        }
      }
    }
    for (const k of NUMBERS) if (k in s && typeof s[k] !== 'number') add([...path, k], `${k} must be a number`);
    for (const k of COUNTS) if (k in s && !(Number.isInteger(s[k]) && (s[k] as number) >= 0)) add([...path, k], `${k} must be a whole number >= 0`);
    for (const k of SCHEMA_MAPS) {
      if (!(k in s)) continue;
      const m = s[k];
      if (!isObject(m)) add([...path, k], `${k} must be an object of schemas`);
      else for (const [name, sub] of Object.entries(m)) check(sub, [...path, k, name], depth + 1);
    }
    for (const k of SCHEMA_LISTS) {
      if (!(k in s)) continue;
      const l = s[k];
      if (!Array.isArray(l) || l.length === 0) add([...path, k], `${k} must be a non-empty list of schemas`);
      else l.forEach((sub, i) => check(sub, [...path, k, i], depth + 1));
    }
    for (const k of SUBSCHEMAS) if (k in s) check(s[k], [...path, k], depth + 1);
    if ('items' in s) {
      const items = s.items;
      if (Array.isArray(items)) items.forEach((sub, i) => check(sub, [...path, 'items', i], depth + 1));
      else check(items, [...path, 'items'], depth + 1);
    }
    if ('$ref' in s && typeof s.$ref !== 'string') add([...path, '$ref'], '$ref must be a string');
  }

  check(schema, [], 0);
  return problems;
}
