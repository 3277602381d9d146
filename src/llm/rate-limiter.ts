import type { ProviderConfig } from '../config/topology-schema.ts';

/** A requests-per-window and tokens-per-window budget. */
export interface RateBudget {
  /** Requests per window (per minute with the default window). */
  rpm?: number | undefined;
  /** Tokens (prompt + completion) per window. */
  tpm?: number | undefined;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Length of the budget window; budgets in topology.yaml are per minute. Tests and benchmarks shrink it. @default 60000 */
  windowMs?: number;
  /**
   * Extra spacing that absorbs the difference between when warren grants a
   * request and when the provider counts it (event-loop and network jitter),
   * so a provider counting the same budget over any window never sees one too many.
   * @default min(250, max(50, windowMs / 20)): 250 ms for the one-minute window
   */
  safetyMs?: number;
  /** Clock (tests). @default Date.now */
  now?: () => number;
}

/**
 * Paces LLM calls to rpm/tpm budgets, one budget per key (a provider, or a
 * provider's model). The algorithm is GCRA (a virtual-scheduling leaky bucket):
 * requests are spread evenly, `window / (rpm - 1)` apart, with a small tolerance
 * for timer lateness, so in ANY window at most `rpm` requests start — a
 * provider enforcing the same budget with a sliding or fixed window never
 * answers 429 because of warren. Nothing is granted in bursts after idling,
 * which is the price for that guarantee.
 */
export interface RateLimiter {
  /** Sets (or replaces) the budget of a key; a key without budget is never paced, only blocked. */
  configure(key: string, budget: RateBudget): void;
  /**
   * Takes one request and `tokens` (estimated) tokens from every key's budget,
   * all or nothing. Returns 0 when granted, otherwise the ms to wait before
   * asking again (nothing was taken).
   */
  tryAcquire(keys: readonly string[], tokens: number): number;
  /** Corrects the token accounting once the real usage is known (`delta` may be negative). */
  adjustTokens(keys: readonly string[], delta: number): void;
  /** Gives back a grant that was not used (the job never called the LLM). */
  release(keys: readonly string[], tokens: number): void;
  /**
   * Grants nothing for these keys for `ms` (a 429 said so); afterwards one
   * probe request goes first, and the rest wait until {@link settle} reports
   * how it went, so a burst of held jobs never meets a still-closed window at once.
   */
  block(keys: readonly string[], ms: number): void;
  /** Reports the outcome of a granted call: `true` when it was not rate-limited (ends a probe). */
  settle(keys: readonly string[], ok: boolean): void;
  /** True when at least one of the keys has a budget or a block (the caller may skip pacing otherwise). */
  governs(keys: readonly string[]): boolean;
}

interface KeyState {
  /** ms between requests, or 0 when the key has no rpm. */
  requestInterval: number;
  /** ms per token, or 0 when the key has no tpm. */
  tokenInterval: number;
  /** Tolerance for timer lateness, ms. */
  tolerance: number;
  /** Theoretical arrival time of the next request (GCRA). */
  requestTat: number;
  /** Theoretical arrival time for the token budget. */
  tokenTat: number;
  blockedUntil: number;
  /** After a block: only one request at a time until one gets through. */
  probing: boolean;
  probeOutstanding: boolean;
}

/** Largest tolerance for timer lateness, ms. */
const MAX_TOLERANCE_MS = 50;

/** How often a consumer waiting behind a probe looks again. */
const PROBE_POLL_MS = 100;

/** Budget key of a whole provider. */
export function providerKey(provider: string): string {
  return provider;
}

/** Budget key of one model of a provider. */
export function modelKey(provider: string, model: string): string {
  return `${provider}/${model}`;
}

/** Creates an empty limiter; call {@link configureProviderBudgets} or `configure` to add budgets. */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const windowMs = options.windowMs ?? 60_000;
  const safetyMs = options.safetyMs ?? Math.min(250, Math.max(50, windowMs / 20));
  const now = options.now ?? Date.now;
  const keys = new Map<string, KeyState>();

  function state(key: string): KeyState {
    let s = keys.get(key);
    if (!s) {
      s = { requestInterval: 0, tokenInterval: 0, tolerance: 0, requestTat: 0, tokenTat: 0, blockedUntil: 0, probing: false, probeOutstanding: false };
      keys.set(key, s);
    }
    return s;
  }

  return {
    configure(key, budget) {
      const s = state(key);
      // At most floor((L + tolerance) / T) + 1 grants fit in any span L; with
      // L = window + safety that is <= rpm when T = (window + safety + tolerance) / (rpm - 1).
      // The tolerance lets a late timer catch up instead of losing its lateness for good
      // (a loaded event loop fires timers tens of ms late); it costs at most 2% of the window.
      const rpm = budget.rpm;
      if (rpm !== undefined && rpm > 0) {
        s.tolerance = rpm === 1 ? 0 : Math.min(MAX_TOLERANCE_MS, windowMs / 50);
        s.requestInterval = rpm === 1 ? windowMs + safetyMs : (windowMs + safetyMs + s.tolerance) / (rpm - 1);
      } else {
        s.requestInterval = 0;
      }
      s.tokenInterval = budget.tpm !== undefined && budget.tpm > 0 ? (windowMs + safetyMs) / budget.tpm : 0;
    },
    governs(list) {
      const t = now();
      for (const k of list) {
        const s = keys.get(k);
        if (s && (s.requestInterval > 0 || s.tokenInterval > 0 || s.blockedUntil > t || s.probing)) return true;
      }
      return false;
    },
    tryAcquire(list, tokens) {
      const t = now();
      let wait = 0;
      for (const k of list) {
        const s = keys.get(k);
        if (!s) continue;
        wait = Math.max(wait, s.blockedUntil - t);
        if (s.probing && s.probeOutstanding) wait = Math.max(wait, PROBE_POLL_MS);
        if (s.requestInterval > 0) wait = Math.max(wait, s.requestTat - s.tolerance - t);
        if (s.tokenInterval > 0) wait = Math.max(wait, s.tokenTat - s.tolerance - t);
      }
      if (wait > 0) return Math.ceil(wait);
      for (const k of list) {
        const s = keys.get(k);
        if (!s) continue;
        if (s.probing) s.probeOutstanding = true;
        if (s.requestInterval > 0) s.requestTat = Math.max(s.requestTat, t) + s.requestInterval;
        if (s.tokenInterval > 0) s.tokenTat = Math.max(s.tokenTat, t) + Math.max(0, tokens) * s.tokenInterval;
      }
      return 0;
    },
    adjustTokens(list, delta) {
      for (const k of list) {
        const s = keys.get(k);
        if (s && s.tokenInterval > 0) s.tokenTat += delta * s.tokenInterval;
      }
    },
    release(list, tokens) {
      for (const k of list) {
        const s = keys.get(k);
        if (!s) continue;
        s.probeOutstanding = false;
        if (s.requestInterval > 0) s.requestTat -= s.requestInterval;
        if (s.tokenInterval > 0) s.tokenTat -= Math.max(0, tokens) * s.tokenInterval;
      }
    },
    block(list, ms) {
      const until = now() + ms;
      for (const k of list) {
        const s = state(k);
        s.blockedUntil = Math.max(s.blockedUntil, until);
        s.probing = true;
        s.probeOutstanding = false;
      }
    },
    settle(list, ok) {
      for (const k of list) {
        const s = keys.get(k);
        if (!s || !s.probing) continue;
        s.probeOutstanding = false;
        if (ok) s.probing = false;
      }
    },
  };
}

/** Registers every provider and per-model budget of the topology's `providers`. */
export function configureProviderBudgets(limiter: RateLimiter, providers: Readonly<Record<string, ProviderConfig>>): void {
  for (const [name, p] of Object.entries(providers)) {
    if (p.limits) limiter.configure(providerKey(name), p.limits);
    for (const [model, m] of Object.entries(p.models)) {
      if (m.limits) limiter.configure(modelKey(name, model), m.limits);
    }
  }
}

/** The budget keys one call of `model` on `provider` draws from (provider first, then the model). */
export function budgetKeys(provider: string, model: string | undefined): string[] {
  return model === undefined ? [providerKey(provider)] : [providerKey(provider), modelKey(provider, model)];
}
