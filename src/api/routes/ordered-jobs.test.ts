import { describe, expect, it } from 'vitest';
import { topologySchema } from '../../config/topology-schema.ts';
import { ORDER_HEADERS } from '../../jobs/headers.ts';
import { createTestApp, post } from '../api-test-kit.test-support.ts';

// POST /v1/jobs/{route} on an ordered route (docs/ordered-routes.md): the key is read from the job
// (or a request header), scoped by the API key's name, and a job without a usable key is a 400.
function orderedApp(key: string) {
  const topology = topologySchema.parse({
    version: 1,
    exchanges: { tasks: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: { orders: { type: 'quorum', deadLetter: { exchange: 'dlx' }, ordering: { key, partitions: 4 } } },
    bindings: [{ source: 'tasks', queue: 'orders', routingKey: 'orders' }],
    routes: { orders: { exchange: 'tasks', routingKey: 'orders', schema: 'task' } },
  });
  return createTestApp({ topology });
}

const json = async (res: Response) => (await res.json()) as { error: { code: string; details: { path: string }[] } };

describe('ordered routes at the API', () => {
  it('writes the owner-scoped order key on the message', async () => {
    const t = orderedApp('{input.customerId}');
    const res = await t.app.request('/v1/jobs/orders', post({ type: 'order', input: { customerId: 'c-7' } }));
    expect(res.status).toBe(202);
    expect(t.publisher.published[0]?.properties?.headers?.[ORDER_HEADERS.key]).toBe('env#2/c-7');
  });

  it('answers 400 naming the missing field, and publishes nothing', async () => {
    const t = orderedApp('{input.customerId}');
    const res = await t.app.request('/v1/jobs/orders', post({ type: 'order', input: {} }));
    expect(res.status).toBe(400);
    const b = await json(res);
    expect(b.error.code).toBe('ORDER_KEY_MISSING');
    expect(b.error.details.map((d) => d.path)).toEqual(['input.customerId']);
    expect(t.publisher.published).toEqual([]);
  });

  it('refuses a key that is not a string or number', async () => {
    const t = orderedApp('{input.customerId}');
    const res = await t.app.request('/v1/jobs/orders', post({ type: 'order', input: { customerId: { id: 1 } } }));
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('ORDER_KEY_INVALID');
  });

  it('reads a header key from the request', async () => {
    const t = orderedApp('X-Customer-Id');
    const ok = await t.app.request('/v1/jobs/orders', post({ type: 'order' }, undefined, { 'x-customer-id': '42' }));
    expect(ok.status).toBe(202);
    expect(t.publisher.published[0]?.properties?.headers?.[ORDER_HEADERS.key]).toBe('env#2/42');
    const missing = await t.app.request('/v1/jobs/orders', post({ type: 'order' }));
    expect(missing.status).toBe(400);
    expect((await json(missing)).error.details.map((d) => d.path)).toEqual(['header:x-customer-id']);
  });
});
