import { defaultConfig } from '../../src/config/load-config.ts';
import { randomUUID } from 'node:crypto';
import amqplib, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../src/api/status/checkpoint-codec.ts';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { topologySchema, type Topology } from '../../src/config/topology-schema.ts';
import { newJobId } from '../../src/jobs/job-id.ts';
import { signedEventProperties } from '../../src/jobs/job-event-publisher.ts';
import type { JobEventKeyring } from '../../src/jobs/job-event-signature.ts';
import { ensureTopology } from '../../src/topology/ensure-topology.ts';
import { brokerEventKeys, eventually, testLogger } from './helpers/api-fixture.ts';
import { TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { prefillEvents, publishRaw } from './helpers/job-history-prefill.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * Job status at volume on a real broker: a stream far longer than the status
 * cache and the boot window, written the way warren's writers write it, with
 * history from before signed events at its start. The first API indexes it
 * in the background and writes checkpoints; every later one boots from them.
 */
const KEYS = 'hist-a-0123456789:chat::tenant-a;hist-b-0123456789:chat::tenant-b;hist-ops-0123456789:*:admin:ops';
const WHO = { a: 'hist-a-0123456789', b: 'hist-b-0123456789', ops: 'hist-ops-0123456789' } as const;
/** 150,000 jobs x 2 events in messages of 1,000: 300 messages, beyond the 256-message boot window. */
const JOBS = 150_000;
/** Unsigned messages below this offset are history from before signing (WARREN_EVENT_UNSIGNED_BEFORE). */
const UNSIGNED_BEFORE = 2;

function topologyOf(vh: TestVhost): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [vh.amqpUrl], management: TEST_MANAGEMENT_URL, vhost: vh.vhost },
    exchanges: { 'llm.jobs': { type: 'topic' } },
    queues: { 'llm.standard': { type: 'quorum' } },
    bindings: [{ source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.standard.#' }],
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
    // A cache far smaller than the history: old jobs must come from the stream.
    jobEvents: { indexSize: 1_000 },
  });
}

async function get(api: RunningApi, who: keyof typeof WHO, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${WHO[who]}` } });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** Follows `next` until `n` jobs were listed (a page reads a bounded part of the history and may come back short). */
async function collect(api: RunningApi, who: keyof typeof WHO, params: Record<string, string>, n: number): Promise<string[]> {
  const got: string[] = [];
  const query = new URLSearchParams(params);
  for (let page = 0; page < 100 && got.length < n; page++) {
    const r = await get(api, who, `/v1/jobs?${query}`);
    expect(r.status).toBe(200);
    got.push(...r.body.jobs.map((j: { id: string }) => j.id));
    if (r.body.next === undefined) break;
    query.set('before', r.body.next);
  }
  return got.slice(0, n);
}

describe('job status over the whole stream retention (real broker)', () => {
  let vh: TestVhost;
  let topology: Topology;
  let conn: ChannelModel;
  let keys: JobEventKeyring;
  const ids: string[] = [];
  const oldest = newJobId();
  const legacySingle = randomUUID();
  const legacyBatch = [randomUUID(), randomUUID()];
  /** The oldest job's document as the first replica answered it. */
  let oldestDoc: any;
  const apis: RunningApi[] = [];
  let t0 = 0;

  async function start(): Promise<{ api: RunningApi; readyMs: number }> {
    const started = performance.now();
    const api = await startApi({ topology, port: 0, apiKeys: KEYS, logger: testLogger(), processMetrics: false, config: { ...defaultConfig(), eventUnsignedBefore: UNSIGNED_BEFORE } });
    apis.push(api);
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 30_000);
    return { api, readyMs: performance.now() - started };
  }

  beforeAll(async () => {
    vh = await createTestVhost('job-history');
    topology = topologyOf(vh);
    await ensureTopology(topology, vh.management, testLogger());
    conn = await amqplib.connect(vh.amqpUrl);
    keys = await brokerEventKeys(vh);
    t0 = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    // Offsets 0 and 1: written by warren before events were signed (v4 ids, a lone event and a job.batch, ms timestamps).
    await publishRaw(conn, 'warren.events', JSON.stringify({ jobId: legacySingle, status: 'queued', attempt: 1, at: iso(t0), source: 'api', route: 'chat' }), {
      contentType: 'application/json',
      type: 'job.queued',
      correlationId: legacySingle,
      timestamp: t0,
    });
    const legacy = [
      { jobId: legacyBatch[0], status: 'queued', attempt: 1, at: iso(t0), source: 'api', route: 'chat' },
      { jobId: legacyBatch[1], status: 'queued', attempt: 1, at: iso(t0), source: 'api', route: 'chat' },
      { source: 'worker', at: iso(t0 + 1), jobId: legacyBatch[0], status: 'succeeded', route: 'chat', attempt: 1, durationMs: 5, result: { legacy: true } },
    ];
    await publishRaw(conn, 'warren.events', JSON.stringify(legacy), { contentType: 'application/json', type: 'job.batch', timestamp: t0 });
    // Offset 2: unsigned, above the cut-off: a forged outcome for the oldest job. Offsets 3 and 4: signed, but not job events.
    await publishRaw(conn, 'warren.events', JSON.stringify({ jobId: oldest, status: 'succeeded', attempt: 1, at: iso(t0 + 5), result: { forged: true } }), { type: 'job.succeeded', timestamp: t0 });
    for (const garbage of ['not json', '[{"foo":1}]']) {
      const content = Buffer.from(garbage);
      await publishRaw(conn, 'warren.events', content, { timestamp: t0, ...signedEventProperties(keys, 'job.batch', content) });
    }
    // The oldest job of the stream: queued now, its outcome half a stream later.
    const queued = Buffer.from(JSON.stringify([{ jobId: oldest, status: 'queued', attempt: 1, at: iso(t0 + 2), source: 'api', route: 'chat', owner: 'tenant-a' }]));
    await publishRaw(conn, 'warren.events', queued, { timestamp: t0, ...signedEventProperties(keys, 'job.batch', queued) });
    for (let i = 0; i < JOBS; i++) ids.push(newJobId(t0 + 10 + i));
    // Event k: the queued event of job k/2 (even k), the outcome of the job 300 before (odd k): outcomes trail, across messages and segments.
    const event = (k: number) => {
      const i = k >> 1;
      const at = iso(t0 + 10 + i);
      if (k % 2 === 0) return { jobId: ids[i]!, status: 'queued', attempt: 1, at, source: 'api', route: 'chat', owner: i % 2 === 0 ? 'tenant-a' : 'tenant-b' };
      const j = Math.max(0, i - 300);
      return { source: 'worker', at, jobId: ids[j]!, status: j % 7 === 0 ? 'failed' : 'succeeded', route: 'chat', attempt: 1, durationMs: 12, result: { n: j } };
    };
    // Message timestamps follow the events' times, as they do when warren writes them.
    await prefillEvents(conn, { exchange: 'warren.events', signer: keys, total: JOBS, perMessage: 1_000, event, timestamp: (k) => t0 + 10 + (k >> 1) });
    const outcome = Buffer.from(JSON.stringify([{ source: 'worker', at: iso(t0 + 3), jobId: oldest, status: 'succeeded', route: 'chat', attempt: 1, durationMs: 40, result: { text: 'the oldest' } }]));
    await publishRaw(conn, 'warren.events', outcome, { timestamp: Date.now(), ...signedEventProperties(keys, 'job.batch', outcome) });
    await prefillEvents(conn, { exchange: 'warren.events', signer: keys, total: JOBS, perMessage: 1_000, event: (k) => event(k + JOBS), timestamp: (k) => t0 + 10 + ((k + JOBS) >> 1) });
  }, 120_000);

  afterAll(async () => {
    for (const api of apis) await api.close().catch(() => undefined);
    await conn?.close().catch(() => undefined);
    await vh?.cleanup();
  });

  it('a first start without checkpoints is ready at once, indexes the history in the background, and counts what it skipped', async () => {
    const { api } = await start();
    expect(await api.history.waitUntilIndexed(45_000)).toBe(true);
    const r = await get(api, 'a', `/v1/jobs/${oldest}`);
    expect(r.status).toBe(200);
    // The forged, unsigned outcome above the cut-off is not taken: the worker's signed one is.
    expect(r.body).toMatchObject({ id: oldest, route: 'chat', status: 'succeeded', result: { text: 'the oldest' }, attempts: [{ attempt: 1, status: 'succeeded', durationMs: 40 }] });
    oldestDoc = r.body;
    const metrics = (await get(api, 'ops', '/metrics')).body as string;
    expect(Number(/^warren_api_job_events_rejected_total\{reason="unsigned"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^warren_api_job_events_malformed_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/^warren_api_job_events_oldest_age_seconds (\S+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(0);
    await api.close();
    // What it wrote: checkpoints covering the stream from its first offset, without gaps.
    const ch = await conn.createChannel();
    await ch.prefetch(1000);
    const segments: { start: number; end: number }[] = [];
    await new Promise<void>((resolve) => {
      let idle = setTimeout(resolve, 2_000);
      void ch.consume(
        'warren.events.checkpoints',
        (msg) => {
          if (!msg) return;
          ch.ack(msg);
          const rec = decodeCheckpoint(keys, msg.properties.type, msg.properties.headers, msg.content);
          if ('kind' in rec && rec.kind === 'segment') segments.push({ start: rec.segment.start, end: rec.segment.end });
          clearTimeout(idle);
          idle = setTimeout(resolve, 1_000);
        },
        { arguments: { 'x-stream-offset': 'first' } },
      );
    });
    await ch.close();
    expect(segments.length).toBeGreaterThan(10);
    const unique = [...new Map(segments.map((s) => [`${s.start}-${s.end}`, s])).values()].sort((x, y) => x.start - y.start);
    expect(unique[0]!.start).toBe(0);
    for (let i = 1; i < unique.length; i++) expect(unique[i]!.start).toBe(unique[i - 1]!.end + 1);
  });

  it('after a restart the oldest job of the long stream is found, from the checkpoints (no re-indexing), with the owner rules of the tail', async () => {
    const { api, readyMs } = await start();
    // Indexed at readiness without reading the history: the replica booted from the checkpoints.
    expect(api.history.state()).toMatchObject({ indexed: true, checkpoints: true, backfilled: 0 });
    expect(api.history.state().segments).toBeGreaterThan(10);
    testLogger().info({ readyMs: Math.round(readyMs) }, 'replica ready from checkpoints');
    expect((await get(api, 'a', `/v1/jobs/${oldest}`)).body).toEqual(oldestDoc);
    // Another tenant gets the answer of an unknown id.
    expect(await get(api, 'b', `/v1/jobs/${oldest}`)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
    // History written before signing, below the cut-off, still decodes (no owner: read-all keys only).
    expect(await get(api, 'ops', `/v1/jobs/${legacySingle}`)).toMatchObject({ status: 200, body: { status: 'queued', route: 'chat' } });
    expect(await get(api, 'ops', `/v1/jobs/${legacyBatch[0]}`)).toMatchObject({ status: 200, body: { status: 'succeeded', result: { legacy: true } } });
    expect(await get(api, 'ops', `/v1/jobs/${legacyBatch[1]}`)).toMatchObject({ status: 200, body: { status: 'queued' } });
    expect((await get(api, 'a', `/v1/jobs/${legacySingle}`)).status).toBe(404);
    // Old prefilled jobs, each only in the stream (the cache holds 1,000 jobs).
    for (const i of [0, 1, 7, 4_242, 77_777, JOBS - 400]) {
      const who = i % 2 === 0 ? 'a' : 'b';
      const r = await get(api, who, `/v1/jobs/${ids[i]}`);
      expect(r, `job ${i}`).toMatchObject({ status: 200, body: i % 7 === 0 ? { id: ids[i], status: 'failed' } : { id: ids[i], status: 'succeeded', result: { n: i } } });
      if (i % 7 === 0) expect(r.body.result).toBeUndefined();
    }
    // SSE of an old finished job: one message, then the stream ends.
    const sse = await (await fetch(`${api.url}/v1/jobs/${oldest}/events`, { headers: { authorization: `Bearer ${WHO.a}` } })).text();
    expect(sse).toContain('event: succeeded');
    // Expired (a time-ordered id older than the oldest event held) and never-existed are told apart.
    const expired = await get(api, 'a', `/v1/jobs/${newJobId(Date.now() - 86_400_000)}`);
    expect(expired).toMatchObject({ status: 404, body: { error: { code: 'JOB_EXPIRED', details: { expired: true } } } });
    expect(Date.parse(expired.body.error.details.oldestAt)).toBeGreaterThan(Date.now() - 600_000);
    expect(await get(api, 'a', `/v1/jobs/${newJobId()}`)).toMatchObject({ status: 404, body: { error: { code: 'JOB_NOT_FOUND', details: { expired: false } } } });
    expect(await get(api, 'a', '/v1/jobs/not%20a%20job%20id')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JOB_ID' } } });
    expect(api.history.state().lookups).toBeGreaterThan(5);
  });

  it('two replicas agree on old jobs and on listings over the history', async () => {
    const [b, c] = [apis[apis.length - 1]!, (await start()).api];
    const sample = [oldest, legacySingle, legacyBatch[0]!, ...Array.from({ length: 12 }, (_, n) => ids[(n * 12_347) % JOBS]!)];
    for (const id of sample) {
      const [x, y] = [await get(b, 'ops', `/v1/jobs/${id}`), await get(c, 'ops', `/v1/jobs/${id}`)];
      expect(x.status, id).toBe(200);
      expect(y, id).toEqual(x);
    }
    // Listings: the key's own jobs only, newest first, paged without overlap, the same on both replicas.
    const first = await get(b, 'a', '/v1/jobs?limit=50');
    expect(first.status).toBe(200);
    expect(await get(c, 'a', '/v1/jobs?limit=50')).toEqual(first);
    expect(first.body.jobs).toHaveLength(50);
    expect(first.body.jobs[0].id).toBe(ids[JOBS - 2]);
    const mine = new Set(ids.filter((_, i) => i % 2 === 0));
    for (const j of first.body.jobs) expect(mine.has(j.id)).toBe(true);
    const second = await get(b, 'a', `/v1/jobs?limit=50&before=${first.body.next}`);
    expect(second.body.jobs[0].id).toBe(ids[JOBS - 102]);
    expect(await get(c, 'a', `/v1/jobs?limit=50&before=${first.body.next}`)).toEqual(second);
    // By status, deep in history: failed jobs of tenant-b created before job 1,000 (following `next` over short pages).
    const params = { status: 'failed', limit: '3', before: new Date(t0 + 10 + 1_000).toISOString() };
    const want = [...Array(1_000).keys()].filter((i) => i % 2 === 1 && i % 7 === 0).reverse().slice(0, 3).map((i) => ids[i]);
    expect(await collect(b, 'b', params, 3)).toEqual(want);
    expect(await collect(c, 'b', params, 3)).toEqual(want);
    expect(await get(b, 'a', '/v1/jobs?status=exploded')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_QUERY' } } });
  });
});
