import type { KeyBudget } from '../../config/openai-schema.ts';
import type { JobEvent } from '../../jobs/job-event.ts';

/** Which limit refused a request, and when to try again. */
export interface BudgetRefusal {
  limit: 'requestsPerMinute' | 'tokensPerDay' | 'costPerMonth';
  retryAfterS: number;
  message: string;
}

/** One key's usage right now (tests, diagnostics). */
export interface KeyUsage {
  requestsLastMinute: number;
  /** Tokens reported today (UTC) plus the estimates of jobs still running. */
  tokensToday: number;
  costThisMonth: number;
}

/**
 * Per-key usage of the front door, derived from the job-events stream that
 * every API replica already reads, so several replicas enforce one budget
 * without another database: the front door's `queued` events (with the
 * owner and a token estimate) count requests and reserve tokens; `succeeded`
 * events of any job replace the estimate with the reported tokens and add
 * the cost.
 * This replica's own admissions count at once (its tail skips its own events).
 *
 * Windows: requests per sliding minute, tokens per UTC day, cost per UTC
 * calendar month. Only what the replica has read counts: events older than
 * the job-events retention, or before the checkpoint a restarted replica
 * boots from, are not in these sums (docs/openai-front-door.md).
 */
export interface UsageLedger {
  /** Feeds one job event (tail or local); `owner` for events that don't carry it (from the status index). */
  observe(event: JobEvent, owner: string | undefined, now?: number): void;
  /** Counts a request this replica admits (before its `queued` event is published). */
  admit(owner: string, jobId: string, reservedTokens: number, now?: number): void;
  /** Undoes an admission whose publish failed. */
  cancel(jobId: string): void;
  /** A refusal when `owner` is over one of `limits` (checked before publishing), else undefined. */
  check(owner: string, limits: KeyBudget | undefined, reservedTokens: number, now?: number): BudgetRefusal | undefined;
  usage(owner: string, now?: number): KeyUsage;
}

interface KeyState {
  /** Request times of the last minute, oldest first. */
  requests: number[];
  dayKey: string;
  dayTokens: number;
  monthKey: string;
  monthCost: number;
  /** Estimates of this key's jobs still running. */
  reserved: number;
}

interface Pending {
  owner: string;
  reserved: number;
  at: number;
}

const MINUTE = 60_000;
/** A job that never reports an end stops reserving tokens after this long. */
const PENDING_MAX_MS = 60 * 60_000;

const DAY = 86_400_000;
// The last day looked up, so most calls build no Date (the ledger is asked on every event and request).
let cachedDay = { start: 0, end: 0, day: '', month: '' };
function calendar(now: number): { day: string; month: string } {
  if (now < cachedDay.start || now >= cachedDay.end) {
    const start = now - (now % DAY);
    const iso = new Date(start).toISOString();
    cachedDay = { start, end: start + DAY, day: iso.slice(0, 10), month: iso.slice(0, 7) };
  }
  return cachedDay;
}
function dayKey(now: number): string {
  return calendar(now).day;
}
function monthKey(now: number): string {
  return calendar(now).month;
}
function secondsToNextDay(now: number): number {
  const d = new Date(now);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now) / 1000));
}
function secondsToNextMonth(now: number): number {
  const d = new Date(now);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - now) / 1000));
}

/** Creates an empty ledger. */
export function createUsageLedger(): UsageLedger {
  const keys = new Map<string, KeyState>();
  const pending = new Map<string, Pending>();
  let lastPrune = 0;

  function state(owner: string, now: number): KeyState {
    let s = keys.get(owner);
    if (s === undefined) {
      s = { requests: [], dayKey: dayKey(now), dayTokens: 0, monthKey: monthKey(now), monthCost: 0, reserved: 0 };
      keys.set(owner, s);
    }
    const dk = dayKey(now);
    if (s.dayKey !== dk) {
      s.dayKey = dk;
      s.dayTokens = 0;
    }
    const mk = monthKey(now);
    if (s.monthKey !== mk) {
      s.monthKey = mk;
      s.monthCost = 0;
    }
    const cut = now - MINUTE;
    let i = 0;
    while (i < s.requests.length && (s.requests[i] as number) <= cut) i++;
    if (i > 0) s.requests.splice(0, i);
    return s;
  }

  function prune(now: number): void {
    if (now - lastPrune < MINUTE) return;
    lastPrune = now;
    for (const [id, p] of pending) {
      if (now - p.at > PENDING_MAX_MS) {
        pending.delete(id);
        const s = keys.get(p.owner);
        if (s) s.reserved = Math.max(0, s.reserved - p.reserved);
      }
    }
  }

  function release(jobId: string): Pending | undefined {
    const p = pending.get(jobId);
    if (p === undefined) return undefined;
    pending.delete(jobId);
    const s = keys.get(p.owner);
    if (s) s.reserved = Math.max(0, s.reserved - p.reserved);
    return p;
  }

  function request(owner: string, jobId: string, reserved: number, at: number, now: number): void {
    if (pending.has(jobId)) return;
    const s = state(owner, now);
    if (at > now - MINUTE) {
      // Kept sorted: events of several replicas interleave slightly out of order.
      let i = s.requests.length;
      while (i > 0 && (s.requests[i - 1] as number) > at) i--;
      s.requests.splice(i, 0, at);
    }
    if (reserved > 0 && now - at < PENDING_MAX_MS) {
      pending.set(jobId, { owner, reserved, at });
      s.reserved += reserved;
    }
  }

  return {
    observe(event, owner, now = Date.now()) {
      prune(now);
      const at = Date.parse(event.at);
      if (event.status === 'queued') {
        // Only the front door's jobs carry a reservation: they are the requests these limits count.
        const who = event.owner ?? owner;
        if (who !== undefined && event.reservedTokens !== undefined && Number.isFinite(at)) request(who, event.jobId, event.reservedTokens, at, now);
        return;
      }
      if (event.status === 'succeeded') {
        const p = release(event.jobId);
        const who = p?.owner ?? owner;
        if (who === undefined || event.usage === undefined) return;
        // Usage counts in the window it was reported in.
        const when = Number.isFinite(at) ? at : now;
        const s = state(who, now);
        if (dayKey(when) === s.dayKey) s.dayTokens += event.usage.totalTokens;
        if (event.usage.cost !== undefined && monthKey(when) === s.monthKey) s.monthCost += event.usage.cost;
        return;
      }
      if (event.status === 'dead-lettered' || event.status === 'failed') release(event.jobId);
    },
    admit(owner, jobId, reservedTokens, now = Date.now()) {
      request(owner, jobId, reservedTokens, now, now);
    },
    cancel(jobId) {
      const p = release(jobId);
      if (p === undefined) return;
      const s = keys.get(p.owner);
      const i = s?.requests.lastIndexOf(p.at) ?? -1;
      if (s && i >= 0) s.requests.splice(i, 1);
    },
    check(owner, limits, reservedTokens, now = Date.now()) {
      if (limits === undefined) return undefined;
      const s = state(owner, now);
      if (limits.requestsPerMinute !== undefined && s.requests.length >= limits.requestsPerMinute) {
        const oldest = s.requests[s.requests.length - limits.requestsPerMinute] ?? now;
        return { limit: 'requestsPerMinute', retryAfterS: Math.max(1, Math.ceil((oldest + MINUTE - now) / 1000)), message: `this API key made ${s.requests.length} requests in the last minute; its limit is ${limits.requestsPerMinute}` };
      }
      if (limits.tokensPerDay !== undefined && s.dayTokens + s.reserved + reservedTokens > limits.tokensPerDay) {
        return { limit: 'tokensPerDay', retryAfterS: secondsToNextDay(now), message: `this API key used ${s.dayTokens} tokens today (UTC) with ${s.reserved} more reserved by running requests; this one needs about ${reservedTokens} and the limit is ${limits.tokensPerDay} a day` };
      }
      if (limits.costPerMonth !== undefined && s.monthCost >= limits.costPerMonth) {
        return { limit: 'costPerMonth', retryAfterS: secondsToNextMonth(now), message: `this API key spent ${s.monthCost.toFixed(6)} this month (UTC); its limit is ${limits.costPerMonth}` };
      }
      return undefined;
    },
    usage(owner, now = Date.now()) {
      const s = state(owner, now);
      return { requestsLastMinute: s.requests.length, tokensToday: s.dayTokens + s.reserved, costThisMonth: s.monthCost };
    },
  };
}
