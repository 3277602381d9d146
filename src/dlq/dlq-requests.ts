import { z } from 'zod';
import { DlqError } from '../errors/index.ts';
import type { RequeueReport } from './dlq-requeue.ts';
import type { DlqGroups } from './dlq-groups.ts';
import { groupsFromRecords, type DeadLetterPlacer, type DeadLetterRecords } from './event-groups.ts';
import { createGroupsCache } from './groups-cache.ts';
import type { DlqListing, DlqService, ExportedDeadLetter, PurgeReport } from './dlq-service.ts';
import { dlqFilterInputSchema, toDlqFilter, type DlqFilter } from './message-filter.ts';
import { parseRate } from './rate-limiter.ts';

/** Turns filter input (flags, a query string or a JSON body) into a {@link DlqFilter}; bad input raises DLQ_INVALID_FILTER. */
export function parseDlqFilter(input: unknown, now: number): DlqFilter {
  const parsed = dlqFilterInputSchema.safeParse(input);
  if (!parsed.success) throw new DlqError('DLQ_INVALID_FILTER', z.prettifyError(parsed.error));
  const r = toDlqFilter(parsed.data, now);
  if ('error' in r) throw new DlqError('DLQ_INVALID_FILTER', r.error);
  return r.filter;
}

/** Query of a listing: the filters plus paging; every value may arrive as text. */
const listRequestSchema = dlqFilterInputSchema.extend({
  limit: z.coerce.number().int().positive().optional(),
  offset: z.coerce.number().int().nonnegative().default(0),
  pageSize: z.coerce.number().int().min(1).max(1000).default(50),
  maxRequeues: z.coerce.number().int().nonnegative().optional(),
});

/** Query of a grouping or an export: the filters, a scan limit, the cap. */
const scanRequestSchema = dlqFilterInputSchema.extend({
  limit: z.coerce.number().int().positive().optional(),
  maxRequeues: z.coerce.number().int().nonnegative().optional(),
});

/** Query of a grouping: a scan's, plus `fresh` (count again even if a recent count is still valid) or `stale` (any earlier count will do). */
const groupsRequestSchema = scanRequestSchema.extend({
  fresh: z.enum(['true', 'false', '1', '0']).optional(),
  stale: z.enum(['true', 'false', '1', '0']).optional(),
});

/** Body of a purge: the filters (none: the whole queue), a limit, a dry run. */
const purgeRequestSchema = dlqFilterInputSchema.extend({
  limit: z.number().int().positive().optional(),
  dryRun: z.boolean().default(false),
  force: z.boolean().default(false),
});

/** Body of a requeue: the filters plus how to requeue. */
const requeueRequestSchema = dlqFilterInputSchema.extend({
  limit: z.number().int().positive().optional(),
  toRoute: z.string().min(1).optional(),
  via: z.enum(['auto', 'exchange', 'queue']).optional(),
  dryRun: z.boolean().default(false),
  /** Publishes per second: a number or `500/s`. */
  rate: z.union([z.number().positive(), z.string()]).optional(),
  maxRequeues: z.number().int().nonnegative().optional(),
  keepAttempts: z.boolean().default(false),
  force: z.boolean().default(false),
});

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new DlqError('DLQ_INVALID_FILTER', z.prettifyError(parsed.error));
  return parsed.data;
}

/** A listing with the page it shows. */
export type DlqListingPage = DlqListing & { queue: string; offset: number; pageSize: number };

/** Options of {@link createDlqRequests}. */
export interface DlqRequestsOptions {
  /** Requeue cap when a request names none (WARREN_DLQ_MAX_REQUEUES, from src/config). */
  maxRequeues: number;
  /** How long a failure-group count is reused while the queue's depth is unchanged (see groups-cache.ts). @default 60000 */
  groupsMaxAgeMs?: number;
  /** @default Date.now */
  now?: () => number;
  /**
   * Failure groups from the job events (an API replica's dead-letter store and
   * the placer over the topology): answered without reading the queue while
   * its count agrees with the queue's depth. Without it every count reads the queue.
   */
  events?: { records: DeadLetterRecords; placer: DeadLetterPlacer };
  /** How long a count waits for the events' restore at API start before it reads the queue instead. @default 5000 */
  readyWaitMs?: number;
  /** How long a count from the events waits for the job-events tail when it holds more dead letters than the queue (a requeue's events on their way). @default 500 */
  convergeMs?: number;
}

/** Where a failure-group count came from. */
export interface GroupsSource {
  /** `events`: the job events (no read of the queue); `scan`: a read of the whole queue (see groups-cache.ts). */
  source: 'events' | 'scan';
  /** `events` only: messages the queue holds beyond those the events account for (broker-made dead letters, raw publishes, events past retention). */
  unaccounted?: number;
}

/**
 * List and requeue from plain, untrusted input, as a remote caller sends it (the
 * HTTP API passes its query and JSON body through). Validated here with zod;
 * bad input raises DlqError('DLQ_INVALID_FILTER'), so no transport is involved.
 */
export interface DlqRequests {
  /** Summary and one page of matching messages; `query` holds filters, `offset`, `pageSize`, `limit`, `maxRequeues`. */
  list(queue: string, query: unknown): Promise<DlqListingPage>;
  /** Requeues what `body` selects (undefined: every message under the cap). A report with `error` says the run stopped early. */
  requeue(queue: string, body: unknown, signal?: AbortSignal): Promise<RequeueReport>;
  /** The matching messages in failure groups; `query` holds filters, `limit`, `maxRequeues`. */
  groups(queue: string, query: unknown): Promise<DlqGroups & GroupsSource & { warnings: string[]; scannedAt: string; cached: boolean }>;
  /** Deletes what `body` selects (no filter: the whole queue); `dryRun` counts. */
  purge(queue: string, body: unknown, signal?: AbortSignal): Promise<PurgeReport>;
  /** Calls `write` for each matching message without removing anything (the lines of `warren dlq export`). */
  export(queue: string, query: unknown, write: (line: ExportedDeadLetter) => void | Promise<void>): Promise<{ exported: number }>;
}

/** Creates {@link DlqRequests} over a DLQ service. */
export function createDlqRequests(service: Pick<DlqService, 'list' | 'requeue' | 'groups' | 'purge' | 'export'> & Partial<Pick<DlqService, 'depth'>>, options: DlqRequestsOptions): DlqRequests {
  const now = options.now ?? Date.now;
  const depth = service.depth;
  // Without a depth probe nothing is reused (maxAge 0): a count is only trusted while the depth is the same.
  const groupsCache = createGroupsCache<DlqGroups & { warnings: string[] }>({
    // A failed probe (an unknown queue) is no depth at all: NaN equals nothing, so nothing is reused, and the scan's preflight names the problem.
    depth: (queue) => (depth === undefined ? Promise.resolve(-1) : depth(queue).catch(() => Number.NaN)),
    maxAgeMs: depth === undefined ? 0 : (options.groupsMaxAgeMs ?? 60_000),
    now,
  });
  const events = options.events;
  if (events !== undefined) {
    // Once restored, every record is placed in the background: the first request after a start pays only for its count.
    void events.records.waitUntilReady(10 * 60_000).then((ready) => {
      if (ready) for (const r of events.records.records()) events.placer.place(r);
    });
  }
  /** Counts from the events by queue and filters, kept while the events' version is the same (a request then costs the depth probe). */
  const eventCounts = new Map<string, { version: number; g: ReturnType<typeof groupsFromRecords> }>();
  /** A run that changes the queue forgets its counts when it ends too (a count taken meanwhile would be of a moving queue). */
  const afterwards = <T>(queue: string, changes: boolean, run: Promise<T>): Promise<T> => (changes ? run.finally(() => groupsCache.invalidate(queue)) : run);

  return {
    async list(queue, query) {
      const { limit, offset, pageSize, maxRequeues, ...filterInput } = parse(listRequestSchema, query);
      const filter = parseDlqFilter(filterInput, now());
      const listing = await service.list(queue, {
        filter,
        offset,
        pageSize,
        maxRequeues: maxRequeues ?? options.maxRequeues,
        ...(limit === undefined ? {} : { limit }),
      });
      return { queue, ...listing, offset, pageSize };
    },

    async requeue(queue, body, signal) {
      const { limit, toRoute, via, dryRun, rate, maxRequeues, keepAttempts, force, ...filterInput } = parse(requeueRequestSchema, body ?? {});
      const filter = parseDlqFilter(filterInput, now());
      const ratePerSec = rate === undefined ? undefined : typeof rate === 'number' ? rate : parseRate(rate);
      if (rate !== undefined && ratePerSec === undefined) throw new DlqError('DLQ_INVALID_FILTER', `rate '${String(rate)}' is not a rate (use e.g. 500/s or 30/m)`);
      if (!dryRun) groupsCache.invalidate(queue);
      return afterwards(queue, !dryRun, service.requeue(queue, {
        filter,
        dryRun,
        keepAttempts,
        force,
        maxRequeues: maxRequeues ?? options.maxRequeues,
        ...(signal === undefined ? {} : { signal }),
        ...(limit === undefined ? {} : { limit }),
        ...(toRoute === undefined ? {} : { toRoute }),
        ...(via === undefined ? {} : { via }),
        ...(ratePerSec === undefined ? {} : { ratePerSec }),
      }));
    },

    async groups(queue, query) {
      const { limit, maxRequeues, fresh, stale, ...filterInput } = parse(groupsRequestSchema, query);
      const yes = (v: string | undefined) => v === 'true' || v === '1';
      if (yes(fresh) && yes(stale)) throw new DlqError('DLQ_INVALID_FILTER', 'fresh and stale exclude each other');
      const filter = parseDlqFilter(filterInput, now());
      const max = maxRequeues ?? options.maxRequeues;
      const scan = () => service.groups(queue, { filter, maxRequeues: max, ...(limit === undefined ? {} : { limit }) });
      const viaScan = async (note?: string) => {
        // Times (since=1h) make a count stale by themselves: such counts are never kept.
        const r =
          filterInput.since !== undefined || filterInput.before !== undefined
            ? { ...(await scan()), scannedAt: new Date(now()).toISOString(), cached: false }
            : await groupsCache.get(queue, JSON.stringify([filterInput, limit, maxRequeues]), yes(fresh) ? 'fresh' : yes(stale) ? 'stale' : 'valid', scan);
        return { ...r, source: 'scan' as const, warnings: note === undefined ? r.warnings : [note, ...r.warnings] };
      };
      // `fresh` asks for a read of the queue; `limit` bounds one; ordering keys are on the messages only, not on the events.
      if (events === undefined || depth === undefined || yes(fresh) || limit !== undefined || filter.key !== undefined) return viaScan();
      // A restore (API start) takes a fraction of what a read of the queue takes: worth waiting for.
      if (!(await events.records.waitUntilReady(options.readyWaitMs ?? 5_000))) return viaScan('the failure groups from the job events are still being restored (API start): counted by reading the queue');
      const timeBound = filterInput.since !== undefined || filterInput.before !== undefined;
      const cacheKey = `${queue}\0${JSON.stringify([filterInput, max])}`;
      const count = async () => {
        // Depth first: every event applied by now is of a dead letter published before the probe.
        const d = await depth(queue);
        const version = events.records.version();
        const kept = timeBound ? undefined : eventCounts.get(cacheKey);
        if (kept !== undefined && kept.version === version) return { d, g: kept.g };
        const g = groupsFromRecords(events.placer, events.records.records(), queue, filter, max);
        if (!timeBound) {
          eventCounts.delete(cacheKey);
          eventCounts.set(cacheKey, { version, g });
          for (const k of eventCounts.keys()) {
            if (eventCounts.size <= 64) break;
            eventCounts.delete(k);
          }
        }
        return { d, g };
      };
      let c: Awaited<ReturnType<typeof count>>;
      try {
        c = await count();
      } catch {
        // An unknown queue or a broker problem: the scan's preflight names it.
        return viaScan();
      }
      // The tail may not have read the events of a requeue that just ended: a moment before reading the queue instead.
      const deadline = now() + (options.convergeMs ?? 500);
      while (c.d < c.g.total && now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        c = await count();
      }
      if (c.d < c.g.total) {
        return viaScan(`the job events count ${c.g.total} dead letters in '${queue}' but it holds ${c.d} (purged, expired or taken out without a job event): counted by reading the queue`);
      }
      const unaccounted = c.d - c.g.total;
      return {
        queue,
        total: c.d,
        scanned: 0,
        matched: c.g.matched,
        truncated: false,
        groups: c.g.groups,
        warnings:
          unaccounted === 0
            ? []
            : [`${unaccounted} of the ${c.d} messages in '${queue}' are not accounted for by job events (dead-lettered by the broker: TTL, max-length, delivery limit; published by hand; or older than the job-events stream): count again by reading the queue (fresh=1) to see their groups`],
        scannedAt: new Date(now()).toISOString(),
        cached: false,
        source: 'events' as const,
        unaccounted,
      };
    },

    async purge(queue, body, signal) {
      const { limit, dryRun, force, ...filterInput } = parse(purgeRequestSchema, body ?? {});
      if (!dryRun) groupsCache.invalidate(queue);
      return afterwards(queue, !dryRun, service.purge(queue, {
        filter: parseDlqFilter(filterInput, now()),
        dryRun,
        force,
        ...(signal === undefined ? {} : { signal }),
        ...(limit === undefined ? {} : { limit }),
      }));
    },

    async export(queue, query, write) {
      const { limit, maxRequeues, ...filterInput } = parse(scanRequestSchema, query);
      const r = await service.export(queue, { filter: parseDlqFilter(filterInput, now()), maxRequeues: maxRequeues ?? options.maxRequeues, ...(limit === undefined ? {} : { limit }) }, write);
      return { exported: r.exported };
    },
  };
}
