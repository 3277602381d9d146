import { RoutingKeyError } from '../errors/index.ts';

/**
 * The one routing-key renderer. A route's template (`llm.{priority}.chat`) is
 * compiled once; each job fills its placeholders from its payload's top-level
 * fields, then the route's defaults. A value fills exactly one word of the
 * key: letters, digits, `_` and `-`, 1 to 100 of them. No dots and no
 * wildcards, so a job can't pick another queue by writing `a.b.#`. The API,
 * a handler's `ctx.publish`, a forward to a fallback route and the DLQ's
 * `--to-route` all render with this.
 */
export interface RoutingKeyTemplate {
  readonly source: string;
  /** Placeholder names, in order. */
  readonly fields: readonly string[];
  /** Fills the placeholders; RoutingKeyError when one is missing or unsafe. */
  render(payload: unknown, defaults: Readonly<Record<string, string>>): string;
  /** True when `key` is one this template can render (for reading a key back to its route). */
  matches(key: string): boolean;
}

/** AMQP's limit for a routing key (a short string). */
export const MAX_ROUTING_KEY_BYTES = 255;
/** What one placeholder value may be. */
export const ROUTING_VALUE = /^[A-Za-z0-9_-]{1,100}$/;
/** A placeholder: `{name}`, the name as topology validation accepts it. */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a template; one without placeholders renders to itself at no cost. */
export function compileRoutingKey(template: string): RoutingKeyTemplate {
  const parts: (string | { field: string })[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push({ field: m[1] as string });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const fields = parts.flatMap((p) => (typeof p === 'string' ? [] : [p.field]));
  const matcher = new RegExp(`^${parts.map((p) => (typeof p === 'string' ? escapeRegExp(p) : '[A-Za-z0-9_-]{1,100}')).join('')}$`);
  const matches = (key: string): boolean => matcher.test(key);
  if (fields.length === 0) return { source: template, fields, render: () => template, matches };

  return {
    source: template,
    fields,
    matches,
    render(payload, defaults) {
      const obj = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
      let key = '';
      for (const part of parts) {
        if (typeof part === 'string') {
          key += part;
          continue;
        }
        // Inherited members are functions or objects: only own strings, numbers and booleans fill a key.
        const raw = obj[part.field];
        const value = typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : Object.hasOwn(defaults, part.field) ? defaults[part.field] : undefined;
        if (value === undefined) throw new RoutingKeyError('ROUTING_FIELD_MISSING', part.field, template);
        if (!ROUTING_VALUE.test(value)) throw new RoutingKeyError('ROUTING_FIELD_INVALID', part.field, template);
        key += value;
      }
      // AMQP short strings: a longer key would be refused by the broker as a channel error, not as bad input.
      if (Buffer.byteLength(key) > MAX_ROUTING_KEY_BYTES) throw new RoutingKeyError('ROUTING_KEY_TOO_LONG', fields[fields.length - 1] as string, template);
      return key;
    },
  };
}
