import { describe, expect, it } from 'vitest';
import { chatJob, createTestApp } from './api-test-kit.test-support.ts';

/** Small seeded PRNG (mulberry32) so a failure is reproducible from the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 20250101;
const COUNT = 4000;

describe('bad input fuzz', () => {
  it(`${COUNT} generated bad requests: zero 5xx, every error a JSON {error: {code, message, details}}`, async () => {
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const int = (n: number) => Math.floor(r() * n);
    const randStr = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(0x2fff))).join('');
    // Header values reach a server as bytes (decoded as Latin-1); fetch refuses anything wider, so generate those.
    const randHeader = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + int(224))).join('');

    const junkValues: unknown[] = [null, true, false, 0, -1, 1e308, -1e-308, '', 'x'.repeat(5000), [], {}, [null], { __proto__: { admin: true } }, 'ü\u0000\ud800', NaN, Infinity];
    const mutate = (base: Record<string, unknown>): unknown => {
      const o: Record<string, unknown> = structuredClone(base);
      const ops = 1 + int(4);
      for (let i = 0; i < ops; i++) {
        const keys = Object.keys(o);
        switch (int(6)) {
          case 0:
            delete o[pick(keys)];
            break;
          case 1:
            o[pick(keys)] = pick(junkValues);
            break;
          case 2:
            o[randStr(1 + int(8))] = pick(junkValues);
            break;
          case 3:
            o.messages = [{ role: pick(['user', 'bot', '', 7]), content: pick(junkValues) }];
            break;
          case 4:
            o.priority = pick(['realtime', 'a.b', '#', '*', '', 'x'.repeat(200), 5, null]);
            break;
          default:
            o['constructor'] = { prototype: { polluted: true } };
        }
      }
      return o;
    };
    const bodies = (): string => {
      switch (int(12)) {
        case 10: {
          // Valid JSON nested deep enough to overflow JSON.stringify's stack if it ever got that far.
          const d = 6_000 + int(10_000);
          return '{"payload":' + '['.repeat(d) + ']'.repeat(d) + '}';
        }
        case 11: {
          const d = 6_000 + int(4_000);
          return '{"type":"t","input":{"x":' + '{"a":'.repeat(d) + '1' + '}'.repeat(d) + '}}';
        }
        case 0:
          return JSON.stringify(chatJob()).slice(0, int(60));
        case 1:
          return randStr(int(200));
        case 2:
          return '['.repeat(1 + int(5000)) + ']'.repeat(int(5000));
        case 3:
          return '{"a":'.repeat(100 + int(2000)) + '1' + '}'.repeat(2100);
        case 4:
          return JSON.stringify(pick(junkValues));
        case 5:
          return JSON.stringify({ jobs: Array.from({ length: int(5) }, () => mutate(chatJob())), mode: pick(['best-effort', 'all-or-nothing', 'x', 1]) });
        case 6:
          return JSON.stringify({ routingKey: pick(junkValues), headers: pick([{ 'x-warren-route': 'x' }, { a: { b: 1 } }, { ok: 'yes' }, []]), payload: pick(junkValues), priority: pick([1, -1, 300, 'high']) });
        case 7:
          return '\ufeff' + JSON.stringify(chatJob());
        default:
          return JSON.stringify(mutate(chatJob()));
      }
    };
    const paths = [
      '/v1/jobs/chat',
      '/v1/jobs/task',
      '/v1/jobs/chat/batch',
      '/v1/jobs/nope',
      '/v1/jobs/%00',
      '/v1/jobs/..%2F..%2Fetc',
      '/v1/publish/documents',
      '/v1/publish/tasks',
      '/v1/publish/hidden',
      '/v1/publish/%E0%A4%A',
      '/v1/jobs/abc/events',
      '/v1/jobs/' + 'x'.repeat(500),
      '/v1/routes',
      '/v1/jobs',
      '/v1',
      '/metrics',
      '/openapi.json',
      '/readyz',
    ];
    const queries = ['', '?wait=50ms', '?wait=-1', '?wait=9999999999999s', '?wait=1e3', '?wait=%ZZ', '?mode=best-effort', '?mode=all-or-nothing&mode=x', '?wait=&wait=2s'];
    const auths = [undefined, 'Bearer all-key-0123456789', 'Bearer chat-key-0123456789', 'Bearer wrong', 'Bearer ', 'Basic abc', 'Bearer all-key-0123456789 extra', 'bearer\tall-key-0123456789', 'x'.repeat(10_000)];
    const types = [undefined, 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/problem+json', 'APPLICATION/JSON', ';;;'];
    const methods = ['POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

    const t = createTestApp({ limits: { maxBodyBytes: 128 * 1024, maxBatchBodyBytes: 128 * 1024 } });
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      // Half the requests get the envelope right (POST, JSON, a valid key) so the bodies reach validation and publishing.
      const wellFormed = r() < 0.5;
      const method = wellFormed ? 'POST' : pick(methods);
      const headers: Record<string, string> = {};
      const auth = wellFormed ? 'Bearer all-key-0123456789' : pick(auths);
      if (auth !== undefined) headers.authorization = auth;
      const type = wellFormed ? 'application/json' : pick(types);
      if (type !== undefined) headers['content-type'] = type;
      if (r() < 0.3) headers['idempotency-key'] = pick(['ok-key', '', ' ', 'x'.repeat(300), randHeader(5), 'k' + int(10)]);
      if (r() < 0.2) headers.traceparent = pick(['00-zz', randHeader(55), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']);
      if (r() < 0.1) headers['x-correlation-id'] = randHeader(int(300));
      const url = pick(paths) + pick(queries);
      const init: RequestInit = { method, headers };
      if (method !== 'GET' && method !== 'HEAD') init.body = r() < 0.02 ? 'x'.repeat(130 * 1024) : bodies();
      let res: Response;
      try {
        res = await t.app.request(url, init);
      } catch (err) {
        failures.push(`#${i} ${method} ${url} threw ${(err as Error).message}`);
        continue;
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500 && res.status !== 503) failures.push(`#${i} ${method} ${url} -> ${res.status} ${await res.text()}`);
      else if (res.status >= 400 && method !== 'HEAD') {
        const b = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
        if (typeof b.error?.code !== 'string' || typeof b.error.message !== 'string' || !('details' in b.error)) failures.push(`#${i} ${url} -> ${res.status} without the error shape`);
      } else {
        await res.arrayBuffer();
      }
    }
    // 503 would only come from the (fake, always-up) broker or a replaying index: neither happens here.
    expect(statuses.get(503) ?? 0).toBe(0);
    expect(failures).toEqual([]);
    // The generator must actually reach the interesting statuses, or the test proves nothing.
    for (const s of [400, 401, 403, 404, 413, 415]) expect(statuses.get(s) ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
