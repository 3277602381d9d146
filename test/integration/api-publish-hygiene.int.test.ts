import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { seg } from '../../src/broker/management-client.ts';
import { topologySchema, type Topology } from '../../src/config/topology-schema.ts';
import { chatBody, eventually, testLogger } from './helpers/api-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

const VICTIM = 'victim-key-0123456789';
const ATTACKER = 'attacker-key-0123456789';

/** Every header name the broker (or a plugin, or warren) reads, as a client would try it. */
const RESERVED_HEADERS: Record<string, string | number | boolean> = {
  CC: 'tasks.q',
  BCC: 'tasks.q',
  cc: 'tasks.q',
  'x-death': 'forged',
  'x-first-death-queue': 'warren.events.log',
  'x-delay': 1000,
  'x-match': 'any',
  'x-deduplication-header': 'k',
  'x-delivery-count': 9,
  'x-stream-filter-value': 'f',
  'x-warren-origin-exchange': 'warren.events',
  'x-warren-requeued': -5,
  timestamp_in_ms: 1,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

/** Other malformed publishes that used to reach amqplib (which threw: 503) or the broker. */
const MALFORMED: { name: string; body: unknown; code: string; path: string }[] = [
  { name: 'headers over the byte cap', body: { headers: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`h${i}`, 'y'.repeat(4096)])), payload: {} }, code: 'HEADERS_TOO_LARGE', path: 'headers' },
  { name: 'a number amqplib cannot encode', body: { headers: { n: -1e20 }, payload: {} }, code: 'VALIDATION_FAILED', path: 'headers.n' },
  { name: 'a routing key over 255 bytes', body: { routingKey: 'é'.repeat(200), payload: {} }, code: 'VALIDATION_FAILED', path: 'routingKey' },
  { name: 'a header name over 255 bytes', body: { headers: { ['é'.repeat(200)]: 1 }, payload: {} }, code: 'VALIDATION_FAILED', path: `headers.${'é'.repeat(200)}` },
];

function hygieneTopology(vh: TestVhost): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [vh.amqpUrl], vhost: vh.vhost, heartbeat: 5 },
    exchanges: { 'llm.jobs': { type: 'topic' }, tasks: { type: 'direct' }, documents: { type: 'headers' }, doomed: { type: 'direct' }, 'llm.dlx': { type: 'direct' } },
    queues: { 'llm.standard': { type: 'quorum', deadLetter: { exchange: 'llm.dlx' } } },
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' }, publishTimeout: '5s' } },
    jobEvents: { exchange: 'warren.events', stream: 'warren.events.log', indexSize: 10_000 },
  });
}

async function declare(vh: TestVhost): Promise<void> {
  const conn = await amqplib.connect(vh.amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange('llm.jobs', 'topic');
    await ch.assertExchange('llm.dlx', 'direct');
    await ch.assertQueue('llm.standard', { arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'llm.dlx' } });
    await ch.bindQueue('llm.standard', 'llm.jobs', 'llm.standard.#');
    await ch.assertQueue('llm.realtime', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue('llm.realtime', 'llm.jobs', 'llm.realtime.#');
    await ch.assertExchange('tasks', 'direct');
    await ch.assertQueue('tasks.q');
    await ch.bindQueue('tasks.q', 'tasks', 'tasks.q');
    await ch.assertExchange('documents', 'headers');
    await ch.assertQueue('documents.pdf');
    await ch.bindQueue('documents.pdf', 'documents', '', { 'x-match': 'all', format: 'pdf' });
    await ch.assertExchange('doomed', 'direct');
    await ch.assertExchange('warren.events', 'fanout');
    await ch.assertQueue('warren.events.log', { arguments: { 'x-queue-type': 'stream', 'x-max-age': '1h' } });
    await ch.bindQueue('warren.events.log', 'warren.events', '');
    await ch.close();
  } finally {
    await conn.close();
  }
}

interface Answer {
  status: number;
  code?: string;
  details?: unknown;
}

async function post(url: string, key: string, body: unknown): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const text = await res.text();
  const parsed = text === '' ? undefined : (JSON.parse(text) as { error?: { code: string; details: unknown } });
  return { status: res.status, ...(parsed?.error ? { code: parsed.error.code, details: parsed.error.details } : {}) };
}

/** Route jobs from `concurrency` clients back to back until `stop` resolves; every answer is kept. */
async function routeJobLoad(api: RunningApi, concurrency: number, stop: Promise<void>): Promise<Answer[]> {
  const answers: Answer[] = [];
  let stopped = false;
  void stop.then(() => (stopped = true));
  const body = chatBody(300);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stopped) answers.push(await post(`${api.url}/v1/jobs/chat`, VICTIM, body));
    }),
  );
  return answers;
}

const tally = (answers: readonly Answer[]) => answers.reduce<Record<string, number>>((t, a) => ({ ...t, [`${a.status}${a.code ? `:${a.code}` : ''}`]: (t[`${a.status}${a.code ? `:${a.code}` : ''}`] ?? 0) + 1 }), {});

describe('POST /v1/publish cannot break anyone else\'s publishes (real broker)', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;

  beforeAll(async () => {
    vh = await createTestVhost('publish-hygiene');
    await declare(vh);
    admin = await amqplib.connect(vh.amqpUrl);
    ch = await admin.createChannel();
    api = await startApi({
      topology: hygieneTopology(vh),
      port: 0,
      apiKeys: `${VICTIM}:chat;${ATTACKER}:*`,
      logger: testLogger(),
      processMetrics: false,
      limits: { maxStreamsPerKey: 3 },
    });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.close();
    await vh?.cleanup();
  });

  it('under route-job load, every reserved header and malformed publish gets its 400 and no other request fails', async () => {
    await ch.purgeQueue('llm.standard');
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (stop = r));
    const load = routeJobLoad(api, 16, stopped);
    const attacks: { name: string; answer: Answer; code: string; paths: string[] }[] = [];
    // Three rounds, each header on its own request, all of a round at once: the victim's jobs are in flight throughout.
    for (let round = 0; round < 3; round++) {
      const sent = [
        ...Object.entries(RESERVED_HEADERS).map(async ([h, v]) => ({ name: h, answer: await post(`${api.url}/v1/publish/tasks`, ATTACKER, { routingKey: 'tasks.q', headers: { [h]: v }, payload: { forged: true } }), code: 'VALIDATION_FAILED', paths: [`headers.${h}`] })),
        ...MALFORMED.map(async (m) => ({ name: m.name, answer: await post(`${api.url}/v1/publish/tasks`, ATTACKER, m.body), code: m.code, paths: [m.path] })),
      ];
      attacks.push(...(await Promise.all(sent)));
      await new Promise((r) => setTimeout(r, 300));
    }
    // All of them in one request: every field is named.
    const all = await post(`${api.url}/v1/publish/tasks`, ATTACKER, { routingKey: 'tasks.q', headers: RESERVED_HEADERS, payload: {} });
    stop();
    const victims = await load;

    for (const a of attacks) {
      expect({ name: a.name, status: a.answer.status, code: a.answer.code, paths: (a.answer.details as { path: string }[] | undefined)?.map((d) => d.path) }).toEqual({ name: a.name, status: 400, code: a.code, paths: a.paths });
    }
    expect(all.status).toBe(400);
    expect((all.details as { path: string }[]).map((d) => d.path)).toEqual(Object.keys(RESERVED_HEADERS).map((h) => `headers.${h}`));
    console.log(`[publish-hygiene] ${attacks.length + 1} refused publishes during ${victims.length} route jobs: ${JSON.stringify(tally(victims))}`);
    expect(victims.length).toBeGreaterThan(100);
    expect(tally(victims)).toEqual({ '202': victims.length });
    // Every 202 is in the queue; nothing of the attacker's reached any.
    await eventually(async () => (await ch.checkQueue('llm.standard')).messageCount === victims.length, 10_000);
    expect((await ch.checkQueue('tasks.q')).messageCount).toBe(0);
  });

  it('when the broker still closes a channel over one /v1/publish message, only that request fails', async () => {
    await ch.purgeQueue('llm.standard');
    await ch.purgeQueue('documents.pdf');
    // The API believes 'doomed' exists (it is in its topology); a publish to it makes the broker close the channel (404).
    await ch.deleteExchange('doomed');
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (stop = r));
    const load = routeJobLoad(api, 16, stopped);
    const bystanders: Answer[] = [];
    let bystanding = true;
    const bystander = (async () => {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (bystanding) bystanders.push(await post(`${api.url}/v1/publish/documents`, ATTACKER, { headers: { format: 'pdf' }, payload: { ok: true } }));
        }),
      );
    })();
    const doomed: Answer[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 150));
      doomed.push(await post(`${api.url}/v1/publish/doomed`, ATTACKER, { routingKey: 'x', payload: {} }));
    }
    bystanding = false;
    stop();
    const [victims] = await Promise.all([load, bystander]);
    console.log(`[publish-hygiene] 10 channel-closing publishes: ${JSON.stringify(tally(doomed))}; route jobs ${JSON.stringify(tally(victims))}; other /v1/publish ${JSON.stringify(tally(bystanders))}`);
    // The fault happened: the broker closed the channel of each (NOT_FOUND), and the API said so.
    expect(tally(doomed)).toEqual({ '503:EXCHANGE_NOT_FOUND': 10 });
    expect(victims.length).toBeGreaterThan(100);
    expect(tally(victims)).toEqual({ '202': victims.length });
    expect(bystanders.length).toBeGreaterThan(20);
    expect(tally(bystanders)).toEqual({ '202': bystanders.length });
    await eventually(async () => (await ch.checkQueue('llm.standard')).messageCount === victims.length, 10_000);
    expect((await ch.checkQueue('documents.pdf')).messageCount).toBe(bystanders.length);
  });

  it('client-built publishes travel on a broker connection of their own, apart from route jobs (per-connection frame order and flow control)', async () => {
    expect((await post(`${api.url}/v1/publish/documents`, ATTACKER, { headers: { format: 'pdf' }, payload: { ok: true } })).status).toBe(202);
    expect((await post(`${api.url}/v1/jobs/chat`, VICTIM, chatBody())).status).toBe(202);
    type Conn = { name: string; channels?: number; client_properties?: { connection_name?: string } };
    const byName = async () => {
      const list = await vh.management.get<Conn[]>(`/vhosts/${seg(vh.vhost)}/connections`);
      return new Map(list.map((c) => [c.client_properties?.connection_name ?? '', c]));
    };
    // The API's two connections, each with its own channels (the management API fills in counts within its stats interval).
    await eventually(async () => {
      const conns = await byName();
      const main = conns.get(`warren-api-${process.pid}`);
      const bulk = conns.get(`warren-api-bulk-${process.pid}`);
      return main !== undefined && bulk !== undefined && (main.channels ?? 0) >= 1 && (bulk.channels ?? 0) >= 1;
    }, 15_000);
  });

  it('dead-letter and job-events exchanges are refused to a * key', async () => {
    expect(await post(`${api.url}/v1/publish/llm.dlx`, ATTACKER, { routingKey: 'llm.dead', headers: { 'x-first-death-queue': 'warren.events.log' }, payload: {} })).toMatchObject({ status: 403, code: 'EXCHANGE_RESERVED' });
    expect(await post(`${api.url}/v1/publish/llm.dlx`, ATTACKER, { routingKey: 'llm.dead', payload: {} })).toMatchObject({ status: 403, code: 'EXCHANGE_RESERVED' });
    expect(await post(`${api.url}/v1/publish/warren.events`, ATTACKER, { payload: { jobId: 'x', status: 'succeeded' } })).toMatchObject({ status: 404, code: 'EXCHANGE_UNKNOWN' });
  });

  it('SSE streams per key: 429 with Retry-After beyond the limit; a client that hangs up frees its slot', async () => {
    const { id } = (await (await fetch(`${api.url}/v1/jobs/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${VICTIM}` }, body: JSON.stringify(chatBody(100)) })).json()) as { id: string };
    const open = async (key: string, signal?: AbortSignal, jobId = id) => fetch(`${api.url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${key}` }, ...(signal ? { signal } : {}) });
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const streams = await Promise.all(controllers.map((c) => open(VICTIM, c.signal)));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    const refused = await open(VICTIM);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(5);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(15);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    // Another key is not affected (it follows a job of its own: a key reads only its own jobs).
    const { id: own } = (await (await fetch(`${api.url}/v1/jobs/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ATTACKER}` }, body: JSON.stringify(chatBody(100)) })).json()) as { id: string };
    const other = new AbortController();
    expect((await open(ATTACKER, other.signal, own)).status).toBe(200);
    controllers[0]?.abort();
    const again = await eventually(async () => {
      const c = new AbortController();
      const res = await open(VICTIM, c.signal);
      if (res.status === 200) return c;
      await res.body?.cancel();
      return undefined;
    }, 5_000, 100);
    for (const c of [...controllers, other, again]) c.abort();
  });

  it('five concurrent 16 MiB batches from one key: one is read, the others get 429 before their body is read', async () => {
    const job = chatBody(16_500, { priority: 'realtime' });
    const batch = JSON.stringify({ mode: 'best-effort', jobs: Array.from({ length: 1000 }, () => job) });
    expect(batch.length).toBeGreaterThan(15.5 * 1024 * 1024);
    expect(batch.length).toBeLessThan(16 * 1024 * 1024);
    let healthMax = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t0 = performance.now();
        await fetch(`${api.url}/healthz`);
        healthMax = Math.max(healthMax, performance.now() - t0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const rssBefore = process.memoryUsage().rss;
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await fetch(`${api.url}/v1/jobs/chat/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ATTACKER}` }, body: batch });
        const text = await res.text();
        return { status: res.status, retryAfter: res.headers.get('retry-after'), code: res.status === 429 ? (JSON.parse(text) as { error: { code: string } }).error.code : undefined };
      }),
    );
    probing = false;
    await probe;
    const rssAfter = process.memoryUsage().rss;
    console.log(`[publish-hygiene] 5 concurrent 16 MiB batches: ${JSON.stringify(answers.map((a) => a.code ?? a.status))}; /healthz max ${healthMax.toFixed(0)} ms; test+API process RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MB`);
    // Every job of an admitted batch goes to the always-full queue: 207 with each job refused, nothing stored.
    const admitted = answers.filter((a) => a.status === 207);
    const refused = answers.filter((a) => a.status === 429);
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(admitted.length + refused.length).toBe(5);
    // The key's share of the body budget (24 MiB) holds one 16 MiB batch at a time; once it is done, the key's
    // batch byte rate (2 MiB/s, bursts of one full batch) refuses the next ones for a few seconds.
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expect(['BODY_BUDGET_EXCEEDED', 'BATCH_RATE_EXCEEDED']).toContain(r.code);
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  });
});
