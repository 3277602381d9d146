import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { dlqForApi } from '../../src/cli/start-command.ts';
import { defaultConfig } from '../../src/config/load-config.ts';
import { topologySchema, type Topology } from '../../src/config/topology-schema.ts';
import { signedEventProperties } from '../../src/jobs/job-event-publisher.ts';
import { ensureTopology } from '../../src/topology/ensure-topology.ts';
import { brokerEventKeys, chatBody, eventually, testLogger } from './helpers/api-fixture.ts';
import { TEST_AMQP_BASE, TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { waitForCount } from './helpers/queue-depth.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * Every route the API registers (read from the app, so a new one can't be
 * missed) against every kind of caller, on a real API over a real broker:
 * the expected status of each cell is written down below.
 */
const KEYS = [
  'owner-key-0123456789:chat::tenant-a',
  'tenant-b-key-0123456789:chat::tenant-b',
  'task-key-0123456789:task::task-only',
  'ingest-key-0123456789:exchange/documents::ingest',
  'ops-key-0123456789:*:admin:ops',
].join(';');

/** The callers: the brief's six, plus the owner of the jobs read below. */
const WHO = {
  none: undefined,
  wrongKey: 'not-a-configured-key-0123456789',
  otherRoute: 'task-key-0123456789',
  exchangeOnly: 'ingest-key-0123456789',
  otherTenant: 'tenant-b-key-0123456789',
  admin: 'ops-key-0123456789',
  owner: 'owner-key-0123456789',
} as const;
type Who = keyof typeof WHO;

interface Subjects {
  /** A chat job the owner submitted, finished (so its SSE stream ends). */
  ownerJob: string;
  /** A message the exchange-only key published raw to `documents`. */
  rawJob: string;
}

interface Cell {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

interface Row {
  /** The registered route, as `METHOD template`. */
  route: string;
  what: string;
  request: (s: Subjects, who: Who) => Cell;
  expect: Record<Who, number>;
}

const AUTHN = { none: 401, wrongKey: 401 } as const;
/** Open to every key; 401 without one. */
const ANY_KEY = { ...AUTHN, otherRoute: 200, exchangeOnly: 200, otherTenant: 200, admin: 200, owner: 200 };
/** Only the admin scope. */
const ADMIN_ONLY = { ...AUTHN, otherRoute: 403, exchangeOnly: 403, otherTenant: 403, admin: 200, owner: 403 };
/** Keys granted the chat route. */
const CHAT_PUBLISHERS = { ...AUTHN, otherRoute: 403, exchangeOnly: 403, otherTenant: 202, admin: 202, owner: 202 };
/** The owner's job: another key gets the 404 of an unknown job. */
const OWNER_ONLY = { ...AUTHN, otherRoute: 404, exchangeOnly: 404, otherTenant: 404, admin: 200, owner: 200 };

const ROWS: Row[] = [
  { route: 'GET /healthz', what: 'liveness', request: () => ({ method: 'GET', path: '/healthz' }), expect: { none: 200, wrongKey: 200, otherRoute: 200, exchangeOnly: 200, otherTenant: 200, admin: 200, owner: 200 } },
  { route: 'GET /readyz', what: 'readiness', request: () => ({ method: 'GET', path: '/readyz' }), expect: { none: 200, wrongKey: 200, otherRoute: 200, exchangeOnly: 200, otherTenant: 200, admin: 200, owner: 200 } },
  { route: 'POST /v1/jobs/:route', what: 'submit a chat job', request: () => ({ method: 'POST', path: '/v1/jobs/chat', body: chatBody(100) }), expect: CHAT_PUBLISHERS },
  { route: 'POST /v1/jobs/:route', what: 'submit with ?wait', request: () => ({ method: 'POST', path: '/v1/jobs/chat?wait=50ms', body: chatBody(100) }), expect: CHAT_PUBLISHERS },
  { route: 'POST /v1/jobs/:route/batch', what: 'submit a batch', request: () => ({ method: 'POST', path: '/v1/jobs/chat/batch', body: [chatBody(100), chatBody(100)] }), expect: CHAT_PUBLISHERS },
  { route: 'GET /v1/jobs', what: 'list jobs (each key sees its own)', request: () => ({ method: 'GET', path: '/v1/jobs?limit=5' }), expect: ANY_KEY },
  { route: 'GET /v1/jobs/:id', what: "the owner's job", request: (s) => ({ method: 'GET', path: `/v1/jobs/${s.ownerJob}` }), expect: OWNER_ONLY },
  {
    route: 'GET /v1/jobs/:id',
    what: 'a raw publish (no route)',
    request: (s) => ({ method: 'GET', path: `/v1/jobs/${s.rawJob}` }),
    expect: { ...AUTHN, otherRoute: 404, exchangeOnly: 200, otherTenant: 404, admin: 200, owner: 404 },
  },
  { route: 'GET /v1/jobs/:id/payload', what: "the owner's job's payload", request: (s) => ({ method: 'GET', path: `/v1/jobs/${s.ownerJob}/payload` }), expect: OWNER_ONLY },
  {
    route: 'GET /v1/jobs/:id/payload',
    what: "a raw publish's payload",
    request: (s) => ({ method: 'GET', path: `/v1/jobs/${s.rawJob}/payload` }),
    expect: { ...AUTHN, otherRoute: 404, exchangeOnly: 200, otherTenant: 404, admin: 200, owner: 404 },
  },
  { route: 'GET /v1/jobs/:id/events', what: "SSE of the owner's job", request: (s) => ({ method: 'GET', path: `/v1/jobs/${s.ownerJob}/events` }), expect: OWNER_ONLY },
  {
    route: 'POST /v1/publish/:exchange',
    what: 'raw publish to documents',
    request: () => ({ method: 'POST', path: '/v1/publish/documents', body: { headers: { format: 'pdf' }, payload: { url: 's3://b/a.pdf' } } }),
    expect: { ...AUTHN, otherRoute: 403, exchangeOnly: 202, otherTenant: 403, admin: 202, owner: 403 },
  },
  { route: 'GET /v1/routes', what: 'routes of the key', request: () => ({ method: 'GET', path: '/v1/routes' }), expect: ANY_KEY },
  { route: 'GET /metrics', what: 'Prometheus metrics', request: () => ({ method: 'GET', path: '/metrics' }), expect: ADMIN_ONLY },
  { route: 'GET /openapi.json', what: 'OpenAPI document', request: () => ({ method: 'GET', path: '/openapi.json' }), expect: ANY_KEY },
  { route: 'GET /docs', what: 'Swagger UI', request: () => ({ method: 'GET', path: '/docs' }), expect: ANY_KEY },
  { route: 'GET /v1/dlq/:queue', what: 'read the DLQ', request: () => ({ method: 'GET', path: '/v1/dlq/dead' }), expect: ADMIN_ONLY },
  {
    route: 'POST /v1/dlq/:queue/requeue',
    what: 'requeue the DLQ (a real requeue for every key but the admin, whose is a dry run)',
    request: (_s, who) => ({ method: 'POST', path: '/v1/dlq/dead/requeue', body: who === 'admin' ? { dryRun: true } : {} }),
    expect: ADMIN_ONLY,
  },
  { route: 'GET /v1/dlq/:queue/groups', what: 'failure groups of the DLQ', request: () => ({ method: 'GET', path: '/v1/dlq/dead/groups' }), expect: ADMIN_ONLY },
  { route: 'GET /v1/dlq/:queue/export', what: 'export the DLQ as NDJSON', request: () => ({ method: 'GET', path: '/v1/dlq/dead/export' }), expect: ADMIN_ONLY },
  {
    route: 'POST /v1/dlq/:queue/purge',
    what: 'purge the DLQ (a real purge for every key but the admin, whose is a dry run)',
    request: (_s, who) => ({ method: 'POST', path: '/v1/dlq/dead/purge', body: who === 'admin' ? { dryRun: true } : {} }),
    expect: ADMIN_ONLY,
  },
];

function matrixTopology(vh: TestVhost): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [TEST_AMQP_BASE], management: TEST_MANAGEMENT_URL, vhost: vh.vhost },
    // Payloads kept (off by default), so the payload route answers its owner.
    jobEvents: { payloadBytes: 64 * 1024 },
    exchanges: { 'llm.jobs': { type: 'topic' }, documents: { type: 'headers' }, dlx: { type: 'direct' } },
    queues: {
      'llm.standard': { type: 'quorum', deadLetter: { exchange: 'dlx', routingKey: 'dead' } },
      dead: { type: 'quorum' },
      'documents.pdf': { type: 'classic' },
    },
    bindings: [
      { source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.standard.#' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
      { source: 'documents', queue: 'documents.pdf', headers: { match: 'all', values: { format: 'pdf' } } },
    ],
    routes: {
      chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } },
      task: { exchange: 'llm.jobs', routingKey: 'llm.standard.task', schema: 'task' },
    },
  });
}

async function send(api: RunningApi, cell: Cell, key: string | undefined): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (cell.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${api.url}${cell.path}`, { method: cell.method, headers, ...(cell.body === undefined ? {} : { body: JSON.stringify(cell.body) }) });
  // Every stream here ends by itself (the SSE job is finished).
  return { status: res.status, text: await res.text() };
}

/** The `error.code` of an error body, or what the body was. */
function errorCodeOf(text: string): string {
  try {
    return String((JSON.parse(text) as { error?: { code?: unknown } }).error?.code);
  } catch {
    return `(not JSON: ${text.slice(0, 80)})`;
  }
}

async function as(api: RunningApi, who: Who, cell: Cell): Promise<{ status: number; body: any }> {
  const r = await send(api, cell, WHO[who]);
  return { status: r.status, body: r.text === '' ? undefined : JSON.parse(r.text) };
}

describe('authorisation matrix: every registered route x every kind of caller (real API, real broker)', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let admin: ChannelModel;
  let ch: ConfirmChannel;
  const subjects: Subjects = { ownerJob: '', rawJob: '' };

  /** Ids of the messages in the DLQ, as the admin reads them. */
  async function deadIds(): Promise<string[]> {
    const r = await as(api, 'admin', { method: 'GET', path: '/v1/dlq/dead?pageSize=100' });
    expect(r.status).toBe(200);
    return (r.body.messages as { jobId: string }[]).map((m) => m.jobId).sort();
  }

  beforeAll(async () => {
    vh = await createTestVhost('authz-matrix');
    const topology = matrixTopology(vh);
    await ensureTopology(topology, vh.management, testLogger());
    admin = await amqplib.connect(vh.amqpUrl);
    ch = await admin.createConfirmChannel();
    // Two real dead letters: rejected by a consumer of llm.standard, dead-lettered by the broker into `dead`.
    for (const id of ['dead-1', 'dead-2']) ch.publish('llm.jobs', 'llm.standard.task', Buffer.from('{"type":"t","input":{}}'), { messageId: id, persistent: true });
    await ch.waitForConfirms();
    for (let i = 0; i < 2; i++) {
      const m = await eventually(async () => (await ch.get('llm.standard')) || undefined);
      ch.nack(m, false, false);
    }
    await waitForCount(ch, 'dead', 2, 10_000);

    api = await startApi({ topology, port: 0, apiKeys: KEYS, logger: testLogger(), processMetrics: false, dlq: dlqForApi(defaultConfig()) });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 20_000);

    const submitted = await as(api, 'owner', { method: 'POST', path: '/v1/jobs/chat', body: chatBody(100) });
    expect(submitted.status).toBe(202);
    subjects.ownerJob = submitted.body.id;
    // Its outcome, written as a worker writes it (signed with the deployment's key), so its SSE stream ends.
    const event = Buffer.from(JSON.stringify({ jobId: subjects.ownerJob, status: 'succeeded', attempt: 1, at: new Date().toISOString(), source: 'worker', result: { ok: true } }));
    ch.publish('warren.events', '', event, { contentType: 'application/json', ...signedEventProperties(await brokerEventKeys(vh), 'job.succeeded', event) });
    await ch.waitForConfirms();
    await eventually(async () => (await as(api, 'owner', { method: 'GET', path: `/v1/jobs/${subjects.ownerJob}` })).body?.status === 'succeeded');
    const raw = await as(api, 'exchangeOnly', { method: 'POST', path: '/v1/publish/documents', body: { headers: { format: 'pdf' }, payload: { n: 1 } } });
    expect(raw.status).toBe(202);
    subjects.rawJob = raw.body.id;
    // Both payloads are in the stream (their queued events are batched for up to 100 ms): a cell's 404 is then the rule, not a race.
    await eventually(async () => (await as(api, 'owner', { method: 'GET', path: `/v1/jobs/${subjects.ownerJob}/payload` })).status === 200);
    await eventually(async () => (await as(api, 'exchangeOnly', { method: 'GET', path: `/v1/jobs/${subjects.rawJob}/payload` })).status === 200);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.close().catch(() => undefined);
    await vh?.cleanup();
  });

  it('the matrix names every registered route, and only registered ones', () => {
    // The console's pages (/console) use a session cookie, not a bearer key: src/api/console/console.test.ts and test/e2e/console.e2e.test.ts cover their access rules.
    const registered = new Set(api.app.routes.filter((r) => r.method !== 'ALL' && r.path !== '/console' && !r.path.startsWith('/console/')).map((r) => `${r.method} ${r.path}`));
    const covered = new Set(ROWS.map((r) => r.route));
    expect([...registered].filter((r) => !covered.has(r)), 'routes without a row in the matrix').toEqual([]);
    expect([...covered].filter((r) => !registered.has(r)), 'rows for routes the app does not register').toEqual([]);
  });

  it('answers each cell with its expected status, and no refused requeue moves a dead letter', async () => {
    const before = await deadIds();
    expect(before).toEqual(['dead-1', 'dead-2']);
    const got: string[] = [];
    const want: string[] = [];
    for (const row of ROWS) {
      for (const who of Object.keys(WHO) as Who[]) {
        const r = await send(api, row.request(subjects, who), WHO[who]);
        // A cell that differs names the error code it got, so a failure says why (a 503's code tells a replaying index from a failed read).
        got.push(`${row.route} (${row.what}) as ${who}: ${r.status}${r.status === row.expect[who] ? '' : ` ${errorCodeOf(r.text)}`}`);
        want.push(`${row.route} (${row.what}) as ${who}: ${row.expect[who]}`);
      }
    }
    // One comparison: a failure lists every cell that differs.
    expect(got).toEqual(want);
    expect(await deadIds()).toEqual(before);
    expect((await ch.checkQueue('dead')).messageCount).toBe(2);
  });

  it('listing shows a key its own jobs only; admin sees every job', async () => {
    const ids = async (who: Who) => ((await as(api, who, { method: 'GET', path: '/v1/jobs?limit=200' })).body.jobs as { id: string }[]).map((j) => j.id);
    expect(await ids('owner')).toContain(subjects.ownerJob);
    expect(await ids('owner')).not.toContain(subjects.rawJob);
    expect(await ids('otherTenant')).not.toContain(subjects.ownerJob);
    expect(await ids('exchangeOnly')).not.toContain(subjects.ownerJob);
    expect(await ids('admin')).toEqual(expect.arrayContaining([subjects.ownerJob, subjects.rawJob]));
  });

  it('SSE answers the owner with its job and nobody else with anything', async () => {
    const mine = await send(api, { method: 'GET', path: `/v1/jobs/${subjects.ownerJob}/events` }, WHO.owner);
    expect(mine.text).toContain('event: succeeded');
    const theirs = await as(api, 'otherTenant', { method: 'GET', path: `/v1/jobs/${subjects.ownerJob}/events` });
    expect(theirs.body.error.code).toBe('JOB_NOT_FOUND');
  });

  it('Idempotency-Keys are per key: the same key string from another tenant is a new job of its own, not a replay of the first', async () => {
    const headers = { 'idempotency-key': 'order-4711' };
    const post = async (who: Who, path: string, body: unknown) => {
      const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${WHO[who]}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as any };
    };
    const a = await post('owner', '/v1/jobs/chat', chatBody(100));
    const b = await post('otherTenant', '/v1/jobs/chat', chatBody(100));
    const aAgain = await post('owner', '/v1/jobs/chat', chatBody(100));
    expect([a.status, b.status, aAgain.status]).toEqual([202, 202, 202]);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.replayed).toBeNull();
    expect(aAgain).toMatchObject({ replayed: 'true', body: { id: a.body.id } });
    expect((await as(api, 'otherTenant', { method: 'GET', path: `/v1/jobs/${a.body.id}` })).status).toBe(404);
    // Batches: per-item ids from the same key string differ per tenant, and each tenant reads only its own.
    const batchA = await post('owner', '/v1/jobs/chat/batch', [chatBody(100)]);
    const batchB = await post('otherTenant', '/v1/jobs/chat/batch', [chatBody(100)]);
    const [idA, idB] = [batchA.body.jobs[0].id as string, batchB.body.jobs[0].id as string];
    expect(idA).not.toBe(idB);
    expect((await as(api, 'owner', { method: 'GET', path: `/v1/jobs/${idB}` })).status).toBe(404);
    expect((await as(api, 'otherTenant', { method: 'GET', path: `/v1/jobs/${idA}` })).status).toBe(404);
    expect((await as(api, 'otherTenant', { method: 'GET', path: `/v1/jobs/${idB}` })).status).toBe(200);
  });
});
