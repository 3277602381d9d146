const hasOwn = Object.prototype.hasOwnProperty;

/**
 * True when `output` (what zod's `safeParse` returned for `input`, a value
 * from `JSON.parse`) is the same JSON value as `input`: same primitives, same
 * array elements, same own keys with the same values; nothing stripped,
 * defaulted, coerced or trimmed. The API then publishes the request's own text
 * instead of serialising the payload again (a 1 KB job: ~0.6 µs for this walk
 * against ~4.7 µs for `JSON.stringify`). Anything on the output side that is
 * not a plain object, an array or a primitive (a Date, a Map, a class
 * instance) answers false, and so does a key holding `undefined` that the
 * input lacks: the caller then serialises what zod made.
 */
export function sameJsonValue(input: unknown, output: unknown): boolean {
  // The same reference (zod passes `z.unknown()` values through) is the input itself: JSON by construction.
  if (input === output) return true;
  if (typeof input !== 'object' || typeof output !== 'object' || input === null || output === null) return false;
  if (Array.isArray(input)) {
    if (!Array.isArray(output) || input.length !== output.length) return false;
    for (let i = 0; i < input.length; i++) if (!sameJsonValue(input[i], output[i])) return false;
    return true;
  }
  if (Array.isArray(output) || Object.getPrototypeOf(output) !== Object.prototype) return false;
  const a = input as Record<string, unknown>;
  const b = output as Record<string, unknown>;
  let keys = 0;
  for (const k in a) {
    keys++;
    if (!hasOwn.call(b, k) || !sameJsonValue(a[k], b[k])) return false;
  }
  for (const k in b) if (hasOwn.call(b, k)) keys--;
  return keys === 0;
}
