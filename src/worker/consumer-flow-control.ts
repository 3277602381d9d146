import type { RateLimiter } from '../llm/rate-limiter.ts';
import type { Delivery } from './delivery.ts';
import type { BudgetGrant } from './llm-context.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

/** Collaborators of {@link createFlowControl}. */
export interface FlowControlDeps {
  /** Consumer name, the `consumer` label of the rate-limit metrics. */
  consumer: string;
  /** Handlers run at once. */
  concurrency: number;
  /** Hands out the rpm / tpm budget a delivery needs before it starts. */
  limiter: RateLimiter;
  metrics: WorkerMetrics;
  /** Starts a delivery's handler; its slot is taken already and is given back with `release()`. */
  start(d: Delivery, grant: BudgetGrant | undefined): void;
}

/**
 * Which delivery runs when: a fixed number of handler slots, and the rate
 * limiter's budget. Deliveries that must wait are held in arrival order; they
 * stay unacked, so the broker's prefetch caps how many are held. When the
 * budget runs out the consumer pauses until it refills (counted in
 * `warren_rate_limit_waits_total` / `_wait_seconds_total`).
 */
export interface FlowControl {
  /** Starts `d` now if a slot is free and nothing waits before it; holds it otherwise. */
  admit(d: Delivery): void;
  /** Gives back the slot of a handler that returned, and starts what can start. */
  release(): void;
  /** Handlers running now. */
  running(): number;
  /** Deliveries held, waiting for a slot or the budget. */
  held(): number;
  /** Starts nothing more (shutdown). */
  stop(): void;
  /** After `stop`: the held deliveries, in order; they are no longer held. */
  takeHeld(): Delivery[];
}

/** Creates the flow control of one consumer. */
export function createFlowControl(deps: FlowControlDeps): FlowControl {
  const { consumer, concurrency, limiter, metrics } = deps;
  /** Held deliveries (FIFO; `head` is the next one). */
  let buffer: (Delivery | undefined)[] = [];
  let head = 0;
  let running = 0;
  let stopped = false;
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeAt = 0;
  let pausedSince: number | undefined;
  let pausedKey = '';

  function start(d: Delivery, grant: BudgetGrant | undefined): void {
    running++;
    deps.start(d, grant);
  }

  function pauseFor(waitMs: number, keys: readonly string[]): void {
    const now = Date.now();
    if (pausedSince === undefined) {
      pausedSince = now;
      pausedKey = keys[keys.length - 1] ?? '';
      metrics.rateLimitWaits.inc({ consumer, key: pausedKey });
    }
    const at = now + waitMs;
    if (wakeTimer && wakeAt <= at) return;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeAt = at;
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      pump();
    }, waitMs);
  }

  function resumed(): void {
    if (pausedSince === undefined) return;
    metrics.rateLimitWaitSeconds.inc({ consumer, key: pausedKey }, (Date.now() - pausedSince) / 1000);
    pausedSince = undefined;
  }

  /** Starts handlers while there are free slots and budget. */
  function pump(): void {
    while (running < concurrency && head < buffer.length && !stopped) {
      const d = buffer[head] as Delivery;
      if (d.settled || d.lost) {
        buffer[head++] = undefined;
        continue;
      }
      let grant: BudgetGrant | undefined;
      if (d.budgetKeys && limiter.governs(d.budgetKeys)) {
        const wait = limiter.tryAcquire(d.budgetKeys, d.tokens);
        if (wait > 0) {
          pauseFor(wait, d.budgetKeys);
          break;
        }
        resumed();
        grant = { keys: d.budgetKeys, tokens: d.tokens, used: false };
      }
      buffer[head++] = undefined;
      start(d, grant);
    }
    if (head === buffer.length) {
      // Drained (the usual case: each delivery starts at once): reuse the array.
      buffer.length = 0;
      head = 0;
    } else if (head > 4096) {
      buffer = buffer.slice(head);
      head = 0;
    }
  }

  return {
    admit(d) {
      if (d.budgetKeys === undefined && running < concurrency && head === buffer.length) {
        // Nothing waiting and no budget to take: start it now (what pump would do, without the queue).
        start(d, undefined);
        return;
      }
      buffer.push(d);
      pump();
    },
    release() {
      running--;
      pump();
    },
    running: () => running,
    held: () => buffer.length - head,
    stop() {
      stopped = true;
      if (wakeTimer) clearTimeout(wakeTimer);
    },
    takeHeld() {
      const held: Delivery[] = [];
      for (let i = head; i < buffer.length; i++) {
        const d = buffer[i];
        if (d) held.push(d);
      }
      buffer = [];
      head = 0;
      return held;
    },
  };
}
