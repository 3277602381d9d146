import { ApiError } from '../api-error.ts';

/** A routing key template compiled once: `llm.{priority}.chat` -> literal and field parts. */
export interface RoutingKeyTemplate {
  readonly source: string;
  /** Placeholder names, in order. */
  readonly fields: readonly string[];
  /** Fills the placeholders from the payload's top-level fields, then `defaults`; 400 when one is missing or unsafe. */
  render(payload: unknown, defaults: Readonly<Record<string, string>>): string;
}

// A value fills exactly one word of the key: no dots, no wildcards, so a job can't pick another queue by writing `a.b.#`.
const SAFE_VALUE = /^[A-Za-z0-9_-]{1,100}$/;

/** Compiles a template; a template without placeholders renders to itself at no cost. */
export function compileRoutingKey(template: string): RoutingKeyTemplate {
  const parts: (string | { field: string })[] = [];
  const re = /\{([A-Za-z_][\w-]*)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push({ field: m[1] as string });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const fields = parts.flatMap((p) => (typeof p === 'string' ? [] : [p.field]));
  if (fields.length === 0) return { source: template, fields, render: () => template };

  return {
    source: template,
    fields,
    render(payload, defaults) {
      const obj = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
      let key = '';
      for (const part of parts) {
        if (typeof part === 'string') {
          key += part;
          continue;
        }
        const raw = obj[part.field];
        const value = typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : defaults[part.field];
        if (value === undefined) {
          throw new ApiError(400, 'ROUTING_FIELD_MISSING', `the routing key '${template}' needs '${part.field}': set it in the job (no default is configured)`, {
            details: [{ path: part.field, message: 'required to build the routing key' }],
          });
        }
        if (!SAFE_VALUE.test(value)) {
          throw new ApiError(400, 'ROUTING_FIELD_INVALID', `'${part.field}' fills one word of the routing key '${template}': use letters, digits, '_' or '-' (1-100 characters)`, {
            details: [{ path: part.field, message: 'must match [A-Za-z0-9_-]{1,100}' }],
          });
        }
        key += value;
      }
      return key;
    },
  };
}
