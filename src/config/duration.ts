import { z } from 'zod';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  D: 86_400_000,
};

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|D)$/;

/** Parses `500ms`, `10s`, `1m`, `2h`, `7d` (or a bare number of milliseconds). Returns undefined when invalid. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  const m = DURATION_RE.exec(input.trim());
  if (!m) return undefined;
  const unit = UNIT_MS[m[2] as string] as number;
  return Math.round(Number(m[1]) * unit);
}

/** Formats milliseconds compactly for names and messages: 1000 -> `1s`, 60000 -> `1m`, 1500 -> `1500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** zod schema for a duration written as `10s` / `1m` / a number of ms; yields milliseconds. */
export const durationSchema = z
  .union([z.number(), z.string()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration '${String(value)}' (use e.g. 500ms, 10s, 1m, 2h, 7d)` });
      return z.NEVER;
    }
    return ms;
  });

const SIZE_RE = /^(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/;
const SIZE_UNIT: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** zod schema for a byte size written as `1048576`, `10MB` or `1GiB`; yields bytes. */
export const byteSizeSchema = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const m = SIZE_RE.exec(value.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `invalid size '${value}' (use e.g. 1048576, 10MB, 1GiB)` });
    return z.NEVER;
  }
  return Number(m[1]) * (SIZE_UNIT[m[2] ?? 'B'] as number);
});
