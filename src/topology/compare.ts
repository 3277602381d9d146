/**
 * Value comparison for plan: broker JSON and desired state must compare equal
 * whatever the key order, and a few arguments have several spellings.
 */

/** JSON with object keys sorted at every level, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** Deep equality that ignores object key order. */
export function sameValue(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

const AGE_UNIT_SECONDS: Record<string, number> = { Y: 31_536_000, M: 2_592_000, D: 86_400, h: 3_600, m: 60, s: 1 };

/** Stream `x-max-age` in seconds (`3D` and `259200s` are the same retention), or undefined when unparseable. */
export function maxAgeSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)(Y|M|D|h|m|s)$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * (AGE_UNIT_SECONDS[m[2] as string] as number);
}

/** Compares one queue/exchange argument, knowing the spellings the broker accepts for it. */
export function sameArgument(name: string, a: unknown, b: unknown): boolean {
  if (name === 'x-max-age') {
    const sa = maxAgeSeconds(a);
    const sb = maxAgeSeconds(b);
    if (sa !== undefined && sb !== undefined) return sa === sb;
  }
  return sameValue(a, b);
}

/** A named difference between what the broker has and what the file wants; `undefined` means absent. */
export interface FieldChange {
  field: string;
  actual: unknown;
  desired: unknown;
}

/**
 * Differences between two argument tables, skipping `ignore` (e.g. the
 * x-warren-managed marker, or x-queue-type which is compared as the queue type).
 */
export function argumentChanges(actual: Record<string, unknown>, desired: Record<string, unknown>, ignore: ReadonlySet<string>): FieldChange[] {
  const changes: FieldChange[] = [];
  const keys = [...new Set([...Object.keys(actual), ...Object.keys(desired)])].sort();
  for (const key of keys) {
    if (ignore.has(key)) continue;
    const a = actual[key];
    const d = desired[key];
    if (!sameArgument(key, a, d)) changes.push({ field: key, actual: a, desired: d });
  }
  return changes;
}

/** Differences between two policy definitions (every key is changeable in place). */
export function definitionChanges(actual: Record<string, unknown>, desired: Record<string, unknown>): FieldChange[] {
  return argumentChanges(actual, desired, new Set());
}
