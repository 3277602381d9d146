import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/api/console/console-session.ts';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { topologySchema, type Topology } from '../../src/config/topology-schema.ts';
import { createBrokerConnection } from '../../src/broker/broker-connection.ts';
import { createConfirmPublisher } from '../../src/broker/confirm-publisher.ts';
import { eventPayload } from '../../src/jobs/job-event-payload.ts';
import { createJobEventPublisher } from '../../src/jobs/job-event-publisher.ts';
import { newJobId } from '../../src/jobs/job-id.ts';
import { brokerEventKeys, declareApiTestTopology, eventually, testLogger } from './helpers/api-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

const OWNER = 'payload-owner-key-0123456789';
const OTHER = 'payload-other-key-0123456789';
const ADMIN = 'payload-admin-key-0123456789';
const KEYS = `${OWNER}:chat::tenant-a;${OTHER}:chat::tenant-b;${ADMIN}:*:admin:ops`;
/** jobEvents.payloadBytes as the shipped topology.yaml sets it (the schema's default is 0: off). */
const CAP = 64 * 1024;

function topology(vh: TestVhost, payloadBytes: number = CAP): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [vh.amqpUrl], vhost: vh.vhost },
    exchanges: { 'llm.jobs': { type: 'topic' } },
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
    jobEvents: { exchange: 'warren.events', stream: 'warren.events.log', payloadBytes },
  });
}

async function submit(api: RunningApi, key: string, body: unknown): Promise<string> {
  const res = await fetch(`${api.url}/v1/jobs/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** GET with a bearer key (the JSON API) or a console session cookie. */
function get(api: RunningApi, path: string, auth: { key: string } | { session: string }): Promise<Response> {
  const headers = 'key' in auth ? { authorization: `Bearer ${auth.key}` } : { cookie: `${SESSION_COOKIE}=${auth.session}` };
  return fetch(`${api.url}${path}`, { headers });
}

/**
 * The payload of a job the key just submitted, once its queued event is in the stream: until then the
 * replica that accepted it answers 503 PAYLOAD_PENDING, and another replica may not know the job yet (404).
 */
async function payloadOf(api: RunningApi, id: string, key = OWNER): Promise<Response> {
  return eventually(async () => {
    const res = await get(api, `/v1/jobs/${id}/payload`, { key });
    if (res.status !== 503 && res.status !== 404) return res;
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(res.status === 503 ? 'PAYLOAD_PENDING' : 'JOB_NOT_FOUND');
    return undefined;
  });
}

/**
 * A job's payload rides on its `queued` event into the job-events stream and is
 * read back from there: by GET /v1/jobs/{id}/payload and the console's job
 * page, on the replica that accepted the job and on any other. Real API
 * processes over a real broker, in a vhost of their own.
 */
describe('job payloads in the job history (real API, real broker)', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let other: RunningApi;

  beforeAll(async () => {
    vh = await createTestVhost('job-payload');
    await declareApiTestTopology(vh);
    api = await startApi({ topology: topology(vh), port: 0, apiKeys: KEYS, logger: testLogger(), processMetrics: false });
    // A second replica: it never saw the jobs submitted to the first but through the stream.
    other = await startApi({ topology: topology(vh), port: 0, apiKeys: KEYS, logger: testLogger(), processMetrics: false });
    for (const a of [api, other]) await eventually(async () => (await fetch(`${a.url}/readyz`)).status === 200, 20_000);
  });

  afterAll(async () => {
    await other?.close();
    await api?.close();
    await vh?.cleanup();
  });

  it('GET /v1/jobs/{id}/payload gives the owner the payload as submitted, on every replica; the status index holds none of it', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'payload marker 7f3a: summarise the queue ✓' }], temperature: 0.2 };
    const id = await submit(api, OWNER, body);
    for (const replica of [api, other]) {
      const res = await payloadOf(replica, id);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.headers.get('x-warren-payload-truncated')).toBe('false');
      const text = await res.text();
      expect(JSON.parse(text)).toEqual(body);
      expect(res.headers.get('x-warren-payload-bytes')).toBe(String(Buffer.byteLength(text)));
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}.payload.json"`);
    }
    // The job is in both caches; its payload in neither (it is read from the stream on each request).
    for (const replica of [api, other]) {
      expect(replica.index.get(id)).toBeDefined();
      expect(JSON.stringify([...replica.index.records()])).not.toContain('7f3a');
    }
    // GET /v1/jobs/{id} is unchanged: status only.
    const status = (await (await get(api, `/v1/jobs/${id}`, { key: OWNER })).json()) as Record<string, unknown>;
    expect(status.id).toBe(id);
    expect(JSON.stringify(status)).not.toContain('7f3a');
  });

  it("another tenant's key gets the 404 of an unknown job for the payload; an admin key reads it", async () => {
    const id = await submit(api, OWNER, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tenant-a only' }] });
    for (const replica of [api, other]) {
      // Both replicas know the job and serve its owner first: the 404 below is the tenant rule, not a replica lagging.
      expect((await payloadOf(replica, id)).status).toBe(200);
      const theirs = await get(replica, `/v1/jobs/${id}/payload`, { key: OTHER });
      expect(theirs.status).toBe(404);
      const text = await theirs.text();
      expect(JSON.parse(text).error.code).toBe('JOB_NOT_FOUND');
      expect(text).not.toContain('tenant-a only');
      // The console, with that key's session, shows the same not-found and no payload.
      const page = await get(replica, `/console/jobs/${id}`, { session: OTHER });
      expect(page.status).toBe(404);
      expect(await page.text()).not.toContain('tenant-a only');
      expect((await get(replica, `/console/jobs/${id}/payload`, { session: OTHER })).status).toBe(404);
    }
    const admin = await get(other, `/v1/jobs/${id}/payload`, { key: ADMIN });
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('tenant-a only');
  });

  it("the console's job page shows the payload pretty-printed, a <script> in it as escaped text", async () => {
    const content = '<script>window.__pwned = 1</script><img src=x onerror="alert(2)"> & done';
    const id = await submit(api, OWNER, { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
    await payloadOf(api, id);
    const page = await get(other, `/console/jobs/${id}`, { session: OWNER });
    expect(page.status).toBe(200);
    const html = await page.text();
    const card = html.slice(html.indexOf('<div class="card" id="job-payload">'));
    expect(card).toContain('<h2>Payload</h2>');
    // Pretty-printed (two-space indent), every character of the markup escaped.
    expect(card).toContain('&quot;messages&quot;: [');
    expect(card).toContain('&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror=\\&quot;alert(2)\\&quot;&gt; &amp; done');
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    expect(card).toContain(`href="/console/jobs/${encodeURIComponent(id)}/payload"`);
    expect(card).not.toContain('id="payload-truncated"');
  });

  it('a 1 MB string payload: the history keeps its first 64 KiB and says so, the page shows a part, and the download gives the stored part', async () => {
    const big = 'x'.repeat(1_000_000);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `start ${big} end` }] };
    const id = await submit(api, OWNER, body);
    const res = await payloadOf(other, id);
    expect(res.status).toBe(200);
    const stored = await res.text();
    const whole = Buffer.byteLength(JSON.stringify(body));
    expect(res.headers.get('x-warren-payload-truncated')).toBe('true');
    expect(res.headers.get('x-warren-payload-bytes')).toBe(String(whole));
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(Buffer.byteLength(stored)).toBe(CAP);
    expect(JSON.stringify(body).startsWith(stored)).toBe(true);

    const page = await get(api, `/console/jobs/${id}`, { session: OWNER });
    const html = await page.text();
    expect(html).toContain('id="payload-shown">Showing the first 16,384 of 65,536 characters.');
    expect(html).toContain(`submitted with a payload of ${whole.toLocaleString('en')} bytes; the job history keeps its first 65,536 bytes`);
    // The page carries the displayed part only, not the megabyte.
    expect(html.length).toBeLessThan(40_000);
    const href = /id="payload-download" href="([^"]+)"/.exec(html)?.[1];
    expect(href).toBe(`/console/jobs/${encodeURIComponent(id)}/payload`);
    const download = await get(api, href as string, { session: OWNER });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${id}.payload.part.json"`);
    expect(await download.text()).toBe(stored);
  });

  it("a handler's follow-up job, whose queued event carries its payload itself (as a worker writes it), has its payload read too", async () => {
    const conn = createBrokerConnection({ urls: [vh.amqpUrl] });
    await conn.waitForConnection(10_000);
    const publisher = createConfirmPublisher({ connection: conn });
    try {
      const worker = createJobEventPublisher(publisher, { exchange: 'warren.events' }, 'worker', await brokerEventKeys(vh));
      const id = newJobId();
      const body = Buffer.from(JSON.stringify({ type: 'follow-up', input: { from: 'a handler' } }));
      await worker.emit({ jobId: id, status: 'queued', route: 'chat', attempt: 1, ...eventPayload(body, CAP) });
      // No owner (a handler's job): read-all / admin keys read it.
      const res = await eventually(async () => {
        const r = await get(other, `/v1/jobs/${id}/payload`, { key: ADMIN });
        return r.status === 200 ? r : undefined;
      });
      expect(await res.text()).toBe(body.toString());
      expect((await get(other, `/v1/jobs/${id}/payload`, { key: OWNER })).status).toBe(404);
    } finally {
      await publisher.close();
      await conn.close();
    }
  });

  it('with jobEvents.payloadBytes: 0 no payload is stored, and the API and the page say why', async () => {
    const off = await startApi({ topology: topology(vh, 0), port: 0, apiKeys: KEYS, logger: testLogger(), processMetrics: false });
    try {
      await eventually(async () => (await fetch(`${off.url}/readyz`)).status === 200, 20_000);
      const id = await submit(off, OWNER, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'not kept' }] });
      const res = await get(off, `/v1/jobs/${id}/payload`, { key: OWNER });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'PAYLOAD_NOT_STORED', message: expect.stringContaining('jobEvents.payloadBytes: 0') });
      const html = await (await get(off, `/console/jobs/${id}`, { session: OWNER })).text();
      expect(html).toContain('(PAYLOAD_NOT_STORED)');
      expect(html).not.toContain('not kept');
    } finally {
      await off.close();
    }
  });
});
