import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlmServer, type FakeLlmServer } from '../../fake-llm/index.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker } from '../../src/worker/start-worker.ts';
import { body, createWorkerHarness, type Collector, type WorkerHarness } from './helpers/worker-harness.ts';

// Rate limits against a fake LLM that enforces its own RPM with a sliding
// window. The window is scaled down to five seconds on both sides (the
// topology's budgets are "per window"; the worker's window is an option) so
// the test takes seconds, not minutes. A short window leaves little room for
// the skew between when warren grants a call and when the provider counts it,
// so the rate asserted here is looser than the benchmark's (60 s window).
const WINDOW_MS = 5_000;
const RPM = 100;
// The 429 scenario: the provider answers 429 (Retry-After 1 s) for 1.5 s; the burst consumer's prefetch.
const OUTAGE_MS = 1_500;
const RETRY_AFTER_MS = 1_000;
const BURST_PREFETCH = 20;

function topology(pacedUrl: string, burstUrl: string) {
  const dlq = { exchange: 'dlx', routingKey: 'dead' };
  return () => ({
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' }, results: { type: 'fanout' } },
    queues: {
      paced: { type: 'classic', deadLetter: dlq, retry: 'quick' },
      burst: { type: 'classic', deadLetter: dlq, retry: 'quick' },
      dead: { type: 'classic' },
      'results.q': { type: 'classic' },
    },
    bindings: [
      { source: 'jobs', queue: 'paced', routingKey: 'paced' },
      { source: 'jobs', queue: 'burst', routingKey: 'burst' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
      { source: 'results', queue: 'results.q' },
    ],
    retryPolicies: { quick: { attempts: 6, backoff: ['200ms', '500ms'], jitter: 0 } },
    routes: {
      paced: { exchange: 'jobs', routingKey: 'paced', schema: 'chat-completion' },
      burst: { exchange: 'jobs', routingKey: 'burst', schema: 'chat-completion' },
    },
    providers: {
      paced: { baseURL: pacedUrl, timeout: '5s', models: { 'gpt-4o-mini': { limits: { rpm: RPM } } } },
      burst: { baseURL: burstUrl, timeout: '5s' },
    },
    consumers: {
      paced: { queue: 'paced', handler: 'chat-completion', route: 'paced', provider: 'paced', prefetch: 100, results: { exchange: 'results' } },
      burst: { queue: 'burst', handler: 'chat-completion', route: 'burst', provider: 'burst', prefetch: BURST_PREFETCH, results: { exchange: 'results' } },
    },
  });
}

const chat = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

describe('worker rate limits', () => {
  let paced: FakeLlmServer;
  let burst: FakeLlmServer;
  let h: WorkerHarness;
  let results: Collector;

  beforeAll(async () => {
    paced = await createFakeLlmServer({ rpm: RPM, rpmWindowMs: WINDOW_MS, latencyMs: 20 });
    burst = await createFakeLlmServer({ latencyMs: 20 });
    h = await createWorkerHarness('worker-rate', topology(paced.url, burst.url));
    results = await h.collect('results.q');
  });
  afterAll(async () => {
    await h?.close();
    await paced?.close();
    await burst?.close();
  });

  it('paces calls to the model budget: no 429 from a provider enforcing the same budget, and close to the budget', async () => {
    const worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), consumers: ['paced'], rateLimitWindowMs: WINDOW_MS });
    try {
      const n = 120;
      const t0 = Date.now();
      const ids = await Promise.all(Array.from({ length: n }, (_, i) => h.publish('paced', chat(`paced ${i}`))));
      const done = await results.waitFor(n, 20_000, (m) => ids.includes(String(m.properties.correlationId)));
      const seconds = (Date.now() - t0) / 1000;
      const perWindow = n / seconds / (1000 / WINDOW_MS);
      expect(done).toHaveLength(n);
      console.info(`paced: ${perWindow.toFixed(1)} calls per ${WINDOW_MS} ms window (budget ${RPM}), ${paced.stats().rpmRejected} rejected`);
      expect(paced.stats().rpmRejected).toBe(0);
      expect(paced.stats().byStatus['429'] ?? 0).toBe(0);
      // Every job succeeded on its first attempt, at 80-100% of the budget (about 94% is the most 100 per window allows).
      for (const m of done) expect(body<{ attempt: number }>(m).attempt).toBe(1);
      expect(perWindow).toBeLessThanOrEqual(RPM);
      expect(perWindow).toBeGreaterThanOrEqual(RPM * 0.8);
      const waits = (await worker.metrics.rateLimitWaits.get()).values.reduce((a, v) => a + v.value, 0);
      expect(waits).toBeGreaterThan(0);
    } finally {
      await worker.close(2_000);
    }
  });

  it('on 429 the consumer holds its deliveries until Retry-After, probes once per window, then resumes (no spinning)', async () => {
    const worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), consumers: ['burst'] });
    try {
      burst.resetStats();
      burst.setConfig({ outage: { status: 429, untilMs: Date.now() + OUTAGE_MS, retryAfterMs: RETRY_AFTER_MS } });
      const n = 20;
      const ids = await Promise.all(Array.from({ length: n }, (_, i) => h.publish('burst', chat(`burst ${i}`))));
      const done = await results.waitFor(n, 20_000, (m) => ids.includes(String(m.properties.correlationId)));
      expect(done).toHaveLength(n);
      const s = burst.stats();
      expect(s.completed).toBe(n);
      // The bound follows from the configuration: the first wave (at most `prefetch` jobs are in flight
      // before the first 429 comes back), then one probe per Retry-After window while the outage lasts;
      // the held jobs only run once a probe got through. A consumer that kept calling (each job on its own
      // 200 ms / 500 ms backoff, or probing faster than Retry-After) exceeds it.
      const maxRateLimited = Math.min(n, BURST_PREFETCH) + Math.ceil(OUTAGE_MS / RETRY_AFTER_MS);
      console.info(`burst: ${s.rateLimited} answers 429 (bound ${maxRateLimited}), ${s.requests} requests for ${n} jobs`);
      expect(s.rateLimited).toBeGreaterThanOrEqual(1);
      expect(s.rateLimited).toBeLessThanOrEqual(maxRateLimited);
      expect(s.requests).toBe(n + s.rateLimited);
      // Every extra attempt answers a real 429: a consumer that cycled held jobs through the retry tiers
      // without calling the provider (burning attempts while it waits) shows more attempts than 429s.
      const extraAttempts = done.reduce((sum, m) => sum + body<{ attempt: number }>(m).attempt - 1, 0);
      expect(extraAttempts).toBe(s.rateLimited);
      const retried = h.events.events.filter((e) => ids.includes(e.jobId) && e.status === 'retrying');
      expect(retried.every((e) => e.error?.class === 'rate-limited')).toBe(true);
      const waits = (await worker.metrics.rateLimitWaits.get()).values.reduce((a, v) => a + v.value, 0);
      expect(waits).toBeGreaterThan(0);
    } finally {
      await worker.close(2_000);
    }
  });
});
