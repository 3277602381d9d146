import type { Channel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { eventually } from './helpers/api-fixture.ts';
import { createWorkerHarness, echoTaskTopology, type WorkerHarness } from './helpers/worker-harness.ts';

/**
 * Job status accepts only events warren wrote. A real API and a real worker
 * share a vhost; the attacker holds broker credentials (guest, like every
 * process here) and can read the job-events stream, but not warren's event
 * key. Whatever the attacker writes into the job-events exchange must not
 * change what GET /v1/jobs/{id} says.
 */
const KEYS = 'victim-key-0123456789:task::victim;attacker-key-0123456789:*::attacker;ops-key-0123456789:*:admin:ops';
const VICTIM = 'victim-key-0123456789';
const ATTACKER = 'attacker-key-0123456789';
const OPS = 'ops-key-0123456789';

async function call(api: RunningApi, path: string, key: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${api.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

/** Publishes to the job-events exchange with plain broker credentials, as an attacker would. */
async function forge(ch: Channel, body: unknown, properties: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    (ch as unknown as { publish: (...a: unknown[]) => boolean }).publish('warren.events', '', Buffer.from(JSON.stringify(body)), { contentType: 'application/json', ...properties }, (err: unknown) =>
      err ? reject(err as Error) : resolve(),
    );
  });
}

/**
 * Reads the first signed message of the stream, as anyone with read access to
 * it can: the attacker's best material. Undefined when the stream has none
 * within 3 s (warren before signed events).
 */
async function genuineMessage(h: WorkerHarness): Promise<{ type: string; signature: string; content: Buffer } | undefined> {
  const ch = await h.admin.createChannel();
  try {
    await ch.prefetch(100);
    return await new Promise((resolve) => {
      setTimeout(() => resolve(undefined), 3_000);
      void ch.consume(
        'warren.events.log',
        (m) => {
          if (m === null) return;
          ch.ack(m);
          const signature = m.properties.headers?.[HEADERS.eventSignature];
          if (typeof signature === 'string' && String(m.properties.type).startsWith('job.')) resolve({ type: m.properties.type as string, signature, content: m.content });
        },
        { arguments: { 'x-stream-offset': 'first' } },
      );
    });
  } finally {
    await ch.close().catch(() => undefined);
  }
}

function rejectedCount(metrics: string, reason: string): number {
  const m = new RegExp(`warren_api_job_events_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics);
  return m ? Number(m[1]) : 0;
}

describe('job status accepts only events warren signed (real broker, API and worker)', () => {
  let h: WorkerHarness;
  let api: RunningApi;
  let worker: Worker;
  let forger: Channel;
  let legacyJob: string;
  const logger = createSilentLogger();

  beforeAll(async () => {
    h = await createWorkerHarness('event-trust', echoTaskTopology());
    forger = await h.admin.createConfirmChannel();
    // History written by a warren from before signed events: one unsigned `succeeded`, at offset 0 of the stream.
    legacyJob = crypto.randomUUID();
    await forge(forger, { jobId: legacyJob, status: 'succeeded', attempt: 1, at: new Date().toISOString(), source: 'worker', result: { legacy: true } }, { type: 'job.succeeded' });
    api = await startApi({ topology: h.topology, port: 0, apiKeys: KEYS, logger, processMetrics: false });
    worker = await startWorker({ topology: h.loaded, logger });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 20_000);
  });

  afterAll(async () => {
    await worker?.close(1_000);
    await api?.close();
    await h?.close();
  });

  /** Submits a task as the victim and waits for the worker's real outcome. */
  async function victimJob(input: Record<string, unknown>): Promise<{ id: string; view: any }> {
    const r = await call(api, '/v1/jobs/task?wait=15s', VICTIM, { type: 'echo', input });
    expect(r.status).toBe(200);
    return { id: r.body.id, view: r.body };
  }

  /**
   * Every message written before this call has been read by the API's tail once
   * this returns: the stream is read in order, and a worker's event for a new
   * job comes after everything already confirmed.
   */
  async function tailPassed(): Promise<void> {
    await victimJob({ marker: true });
  }

  it('a real worker and API still produce statuses, on a fresh replica too (replayed and verified from the stream)', async () => {
    const { id, view } = await victimJob({ hello: 'world' });
    expect(view).toMatchObject({ id, status: 'succeeded', route: 'task', result: { type: 'echo', echo: { hello: 'world' }, attempt: 1 } });
    const replica = await startApi({ topology: h.topology, port: 0, apiKeys: KEYS, logger, processMetrics: false });
    try {
      await eventually(async () => (await fetch(`${replica.url}/readyz`)).status === 200, 20_000);
      const again = await call(replica, `/v1/jobs/${id}`, VICTIM);
      expect(again.status).toBe(200);
      expect(again.body).toEqual((await call(api, `/v1/jobs/${id}`, VICTIM)).body);
    } finally {
      await replica.close();
    }
  });

  it('(a) events published straight into the events exchange with broker credentials but no key are skipped and counted', async () => {
    const { id: victim, view: truth } = await victimJob({ n: 1 });
    const later = new Date(Date.now() + 60_000).toISOString();
    const before = rejectedCount((await call(api, '/metrics', OPS)).text, 'unsigned');
    // One object, one batch array; a new owner, a new result, a later attempt: everything the merge rules would take.
    await forge(forger, { jobId: victim, status: 'succeeded', attempt: 9, at: later, result: { forged: 'single' }, owner: 'attacker' }, { type: 'job.succeeded', appId: 'warren' });
    await forge(
      forger,
      [
        { jobId: victim, status: 'queued', attempt: 1, at: '2000-01-01T00:00:00.000Z', owner: 'attacker', source: 'api' },
        { jobId: victim, status: 'dead-lettered', attempt: 10, at: later, error: { class: 'forged', message: 'forged' } },
      ],
      { type: 'job.batch', appId: 'warren' },
    );
    await tailPassed();
    const now = await call(api, `/v1/jobs/${victim}`, VICTIM);
    expect(now.status).toBe(200);
    expect(now.body).toEqual(truth);
    // The forged `queued` did not hand the job to the attacker either.
    expect((await call(api, `/v1/jobs/${victim}`, ATTACKER)).status).toBe(404);
    expect(rejectedCount((await call(api, '/metrics', OPS)).text, 'unsigned')).toBe(before + 2);
  });

  it("(b) a valid-looking appId and signature header (this deployment's key id, a genuine MAC of another message) are skipped and counted", async () => {
    const { id: victim, view: truth } = await victimJob({ n: 2 });
    const found = await genuineMessage(h);
    const genuine = found ?? { type: 'job.succeeded', signature: `v1.000000000000.${Buffer.alloc(32).toString('base64url')}` };
    const [version, keyId] = genuine.signature.split('.');
    const before = rejectedCount((await call(api, '/metrics', OPS)).text, 'bad-signature');
    const forged = { jobId: victim, status: 'succeeded', attempt: 9, at: new Date(Date.now() + 60_000).toISOString(), result: { forged: 'signed' } };
    // A made-up MAC under the real key id.
    await forge(forger, forged, { type: 'job.succeeded', appId: 'warren', headers: { [HEADERS.eventSignature]: `${version}.${keyId}.${Buffer.alloc(32, 1).toString('base64url')}` } });
    // A genuine signature lifted from another message onto the forged body.
    await forge(forger, forged, { type: genuine.type, appId: 'warren', headers: { [HEADERS.eventSignature]: genuine.signature } });
    await tailPassed();
    const now = await call(api, `/v1/jobs/${victim}`, VICTIM);
    expect(now.status).toBe(200);
    expect(now.body).toEqual(truth);
    expect(rejectedCount((await call(api, '/metrics', OPS)).text, 'bad-signature')).toBe(before + 2);
    // The attack used real material from the stream, not a made-up key id.
    expect(found).toBeDefined();
  });

  it('upgrade: unsigned history is skipped by default, and read again below WARREN_EVENT_UNSIGNED_BEFORE only', async () => {
    // The default API skipped the legacy message at offset 0.
    expect((await call(api, `/v1/jobs/${legacyJob}`, OPS)).status).toBe(404);
    // An unsigned message written now lands above the cut-off, whatever it claims.
    await forge(forger, { jobId: legacyJob, status: 'failed', attempt: 2, at: new Date(Date.now() + 60_000).toISOString() }, { type: 'job.failed', appId: 'warren' });
    const replica = await startApi({ topology: h.topology, port: 0, apiKeys: KEYS, logger, processMetrics: false, config: loadConfig({ WARREN_EVENT_UNSIGNED_BEFORE: '1' }) });
    try {
      await eventually(async () => (await fetch(`${replica.url}/readyz`)).status === 200, 20_000);
      const legacy = await call(replica, `/v1/jobs/${legacyJob}`, OPS);
      expect(legacy.status).toBe(200);
      expect(legacy.body).toMatchObject({ status: 'succeeded', result: { legacy: true } });
      // It records no owner: only keys that read all see it.
      expect((await call(replica, `/v1/jobs/${legacyJob}`, VICTIM)).status).toBe(404);
      expect(rejectedCount((await call(replica, '/metrics', OPS)).text, 'unsigned')).toBeGreaterThanOrEqual(1);
    } finally {
      await replica.close();
    }
  });
});
