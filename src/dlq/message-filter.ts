import { z } from 'zod';
import { parseDuration } from '../config/duration.ts';
import type { DeadLetterInfo } from './dead-letter-info.ts';

/** Stands for an absent origin queue or error class: `--origin '(none)'` / `--error-class '(none)'` select the messages without one (a failure group's key, see dlq-groups.ts). */
export const NO_VALUE = '(none)';

/** Filters shared by `warren dlq list|requeue|purge|export` and the HTTP API. Every given filter must match. */
export interface DlqFilter {
  /** Route names (x-warren-route, or the route whose exchange/key template matches the origin). */
  route?: string[];
  /** Dead-letter reason or error class (e.g. `rate-limited`, `expired`, `delivery_limit`). */
  reason?: string[];
  /** Error class only (x-warren-error-class). */
  errorClass?: string[];
  /** Origin queue. */
  origin?: string[];
  /** Message ids or job (correlation) ids. */
  id?: string[];
  /** Failure groups (see dlq-groups.ts), as their ids: origin, reason and error class all equal. */
  group?: string[];
  /** Died at or after this time (ms since the epoch). */
  since?: number;
  /** Died before this time (ms since the epoch). */
  before?: number;
  /** Ordered routes: ordering keys (`customer-42`, or `<api key name>/customer-42`). */
  key?: string[];
}

/** Parses `1h` (that long ago) or an ISO date into ms since the epoch. */
export function parseTimeBound(value: string, now: number): number | undefined {
  const d = parseDuration(value);
  if (d !== undefined) return now - d;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''))
  .optional();

/** The filter as it arrives from HTTP query strings or JSON bodies: lists as arrays or comma-separated strings; times as `1h` or ISO. */
export const dlqFilterInputSchema = z
  .object({
    route: list,
    reason: list,
    errorClass: list,
    origin: list,
    id: list,
    key: list,
    group: list,
    since: z.string().optional(),
    before: z.string().optional(),
  })
  .strict();
export type DlqFilterInput = z.input<typeof dlqFilterInputSchema>;

/** Turns validated filter input into a {@link DlqFilter}; returns an error message for a bad time. */
export function toDlqFilter(input: z.output<typeof dlqFilterInputSchema>, now: number): { filter: DlqFilter } | { error: string } {
  const filter: DlqFilter = {};
  for (const key of ['route', 'reason', 'errorClass', 'origin', 'id', 'key', 'group'] as const) {
    const v = input[key];
    if (v !== undefined && v.length > 0) filter[key] = v;
  }
  for (const key of ['since', 'before'] as const) {
    const v = input[key];
    if (v === undefined) continue;
    const t = parseTimeBound(v, now);
    if (t === undefined) return { error: `--${key} '${v}' is neither a duration (30m, 2h, 7d) nor a date (2024-05-01T10:00:00Z)` };
    filter[key] = t;
  }
  return { filter };
}

/** True when no filter is set (purge then empties the whole queue). */
export function isEmptyFilter(filter: DlqFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

/** The failure group of a dead letter: origin queue, reason and error class, {@link NO_VALUE} for an absent one. */
export function groupKeyOf(info: Pick<DeadLetterInfo, 'origin' | 'reason' | 'errorClass'>): { origin: string; reason: string; errorClass: string } {
  return { origin: info.origin?.queue ?? NO_VALUE, reason: info.reason, errorClass: info.errorClass ?? NO_VALUE };
}

/** The id of a failure group (URL- and shell-safe): base64url of its three fields. */
export function groupIdOf(key: { origin: string; reason: string; errorClass: string }): string {
  return Buffer.from(`${key.origin}\0${key.reason}\0${key.errorClass}`, 'utf8').toString('base64url');
}

/** True when the dead letter passes every filter that is set. A message with no known time fails a time filter. */
export function matchesFilter(info: DeadLetterInfo, filter: DlqFilter): boolean {
  const inList = (values: string[] | undefined, ...candidates: (string | undefined)[]) =>
    values === undefined || candidates.some((c) => c !== undefined && values.includes(c));
  if (!inList(filter.route, info.route)) return false;
  if (!inList(filter.reason, info.reason, info.errorClass)) return false;
  if (!inList(filter.errorClass, info.errorClass ?? NO_VALUE)) return false;
  if (!inList(filter.origin, info.origin?.queue ?? NO_VALUE)) return false;
  if (!inList(filter.id, info.messageId, info.jobId)) return false;
  if (!inList(filter.key, info.orderKey, info.orderKey?.slice(info.orderKey.indexOf('/') + 1))) return false;
  if (filter.group !== undefined && !filter.group.includes(groupIdOf(groupKeyOf(info)))) return false;
  if (filter.since !== undefined && (info.failedAt === undefined || info.failedAt < filter.since)) return false;
  if (filter.before !== undefined && (info.failedAt === undefined || info.failedAt >= filter.before)) return false;
  return true;
}
