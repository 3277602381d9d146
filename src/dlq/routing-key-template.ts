/**
 * Fills a route's routing-key template (`llm.{priority}.chat`) from the job's
 * JSON payload, then the route's defaults. Returns the missing placeholder
 * names when some can't be filled.
 */
export function fillRoutingKey(template: string, payload: unknown, defaults: Record<string, string>): { key: string } | { missing: string[] } {
  const fields = payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
  const missing: string[] = [];
  const key = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const v = fields[name];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    const d = defaults[name];
    if (d !== undefined) return d;
    missing.push(name);
    return '';
  });
  return missing.length > 0 ? { missing } : { key };
}

/** Parses a message body as JSON, or undefined. */
export function parseJsonBody(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
