import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, GetMessage, Options } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { createDlqHarness, type DlqHarness } from './helpers/dlq-fixture.ts';
import { waitForCount } from './helpers/queue-depth.ts';
import { createWorkerHarness, type WorkerHarness } from './helpers/worker-harness.ts';

/**
 * Messages written by the code before the job contract moved to src/jobs/
 * (still in queues and dead-letter queues when warren is upgraded) are read,
 * retried, dead-lettered and requeued by the new code, which writes them back
 * in the new contract's shape: AMQP timestamps in seconds (the old ones in
 * milliseconds converted), persistent unless explicitly transient, no user-id,
 * no broker-owned headers.
 *
 * The old shapes are spelled out below with literal header names, copied from
 * the pre-change code (`git show bc7b72e:<file>`): they are a frozen wire
 * format, not the current contract.
 */

const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A fixed past moment, so "kept" and "converted" timestamps are told apart from "stamped now". */
const THEN_MS = Date.parse('2026-01-15T10:20:30.456Z');
const THEN_S = Math.floor(THEN_MS / 1000);

function topology() {
  return () => ({
    exchanges: { jobs: { type: 'topic' }, dlx: { type: 'direct' } },
    queues: {
      work: { type: 'classic', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, retry: 'quick' },
      dead: { type: 'quorum' },
    },
    bindings: [
      { source: 'jobs', queue: 'work', routingKey: 'tasks.#' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    retryPolicies: { quick: { attempts: 2, backoff: ['200ms'], jitter: 0 } },
    routes: { task: { exchange: 'jobs', routingKey: 'tasks.{type}', schema: 'task' } },
    consumers: { work: { queue: 'work', handler: 'echo-task', route: 'task', prefetch: 10 } },
  });
}

/** A task that fails for now on every attempt (echo-task's own switch): retried, then dead-lettered as attempts-exhausted. */
const failing = (type: string) => ({ type, input: { fail: 'transient' } });

/** What an old writer put on the wire. */
interface OldMessage {
  name: string;
  id: string;
  type: string;
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  /** The timestamp the new code must write back: the job's own time, in seconds. */
  seconds: number;
  /** x-warren-requeued before the requeue. */
  requeued: number;
}

function publish(ch: ConfirmChannel, m: OldMessage): Promise<void> {
  return new Promise((resolve, reject) => ch.publish(m.exchange, m.routingKey, m.content, m.options, (err: unknown) => (err ? reject(err as Error) : resolve())));
}

/** main's src/api/jobs/job-submitter.ts, prepareRouteJob + message(): a job as the API published it. */
function oldApiJob(type: string, timestamp: number): Pick<OldMessage, 'id' | 'options' | 'content'> {
  const id = randomUUID();
  return {
    id,
    content: Buffer.from(JSON.stringify(failing(type))),
    options: {
      persistent: true,
      mandatory: true,
      messageId: id,
      correlationId: id,
      timestamp,
      contentType: 'application/json',
      appId: 'warren-api',
      headers: { 'x-warren-route': 'task', traceparent: TRACE },
    },
  };
}

describe('messages written before the job contract moved are read, retried, dead-lettered and requeued (real broker)', () => {
  let h: WorkerHarness;
  let dlq: DlqHarness;
  let pub: ConfirmChannel;
  let worker: Worker | undefined;
  const old: OldMessage[] = [];

  beforeAll(async () => {
    h = await createWorkerHarness('contract-compat', topology());
    dlq = await createDlqHarness(h.vh, h.topology);
    pub = await h.admin.createConfirmChannel();
  });
  afterAll(async () => {
    await worker?.close(1_000);
    await dlq?.close();
    await h?.close();
  });

  it('old jobs in the work and wait queues are retried and dead-lettered in the new shape', async () => {
    // 1. A job as the API published it (AMQP timestamp in seconds).
    const api = oldApiJob('api', THEN_S);
    old.push({ name: 'api job', type: 'api', exchange: 'jobs', routingKey: 'tasks.api', ...api, seconds: THEN_S, requeued: 0 });

    // 2. The same, stamped in milliseconds (as the old job-event writers stamped theirs, and as any client passing Date.now() does).
    const ms = oldApiJob('ms', THEN_MS);
    old.push({ name: 'ms-stamped job', type: 'ms', exchange: 'jobs', routingKey: 'tasks.ms', ...ms, seconds: THEN_S, requeued: 0 });

    // 3. main's src/worker/route-publisher.ts publishJob: a handler's follow-up (attempt and origin headers, no
    //    persistent flag: main's confirm publisher defaulted persistent and mandatory).
    const followId = randomUUID();
    old.push({
      name: 'follow-up job',
      id: followId,
      type: 'follow',
      exchange: 'jobs',
      routingKey: 'tasks.follow',
      content: Buffer.from(JSON.stringify(failing('follow'))),
      options: {
        persistent: true,
        mandatory: true,
        messageId: followId,
        contentType: 'application/json',
        timestamp: THEN_S,
        headers: { 'x-warren-route': 'task', 'x-warren-attempt': 1, 'x-warren-origin-exchange': 'jobs', 'x-warren-origin-routing-key': 'tasks.follow', traceparent: TRACE },
      },
      seconds: THEN_S,
      requeued: 0,
    });

    // 4. main's src/worker/job-settler.ts retry + republish.ts: a job waiting in its retry queue for attempt 2,
    //    its millisecond timestamp copied as it was.
    const waiting = oldApiJob('waiting', THEN_MS);
    old.push({
      name: 'job in a wait queue',
      type: 'waiting',
      exchange: '',
      routingKey: 'work.retry.200ms',
      id: waiting.id,
      content: waiting.content,
      options: {
        headers: { 'x-warren-route': 'task', traceparent: TRACE, 'x-warren-attempt': 2, 'x-warren-origin-exchange': 'jobs', 'x-warren-origin-routing-key': 'tasks.waiting', 'x-warren-retry-delay-ms': 200 },
        persistent: true,
        contentType: 'application/json',
        correlationId: waiting.id,
        messageId: waiting.id,
        timestamp: THEN_MS,
        appId: 'warren-api',
        mandatory: true,
      },
      seconds: THEN_S,
      requeued: 0,
    });

    for (const m of old) await publish(pub, m);
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    for (const m of old) await h.events.waitFor((e) => e.jobId === m.id && e.status === 'dead-lettered', 15_000);
    await waitForCount(h.ch, 'dead', old.length, 10_000);
    await worker.close(1_000);
    worker = undefined;

    // Retried by the new code where an attempt was left (the wait queue's job was on its last one).
    for (const m of old) {
      const retried = h.events.forJob(m.id).filter((e) => e.status === 'retrying');
      expect(retried.map((e) => e.attempt), m.name).toEqual(m.name === 'job in a wait queue' ? [] : [1]);
      expect(h.events.forJob(m.id).find((e) => e.status === 'dead-lettered'), m.name).toMatchObject({ attempt: 2, route: 'task', error: { class: 'transient' } });
    }

    const dead = await getAll(h, 'dead');
    expect(dead).toHaveLength(old.length);
    for (const m of old) {
      const d = dead.find((x) => x.properties.messageId === m.id);
      expect(d, m.name).toBeDefined();
      if (!d) continue;
      expect(m.id).toMatch(V4);
      expect(d.content.equals(m.content), m.name).toBe(true);
      // Seconds, as AMQP defines them: an old millisecond stamp is converted, not copied.
      expect(d.properties.timestamp, m.name).toBe(m.seconds);
      expect(d.properties.deliveryMode, m.name).toBe(2);
      expect(d.properties.userId, m.name).toBeUndefined();
      const hd = d.properties.headers as Record<string, unknown>;
      expect(hd, m.name).toMatchObject({
        [HEADERS.route]: 'task',
        [HEADERS.traceparent]: TRACE,
        [HEADERS.attempts]: 2,
        [HEADERS.reason]: 'attempts-exhausted',
        [HEADERS.errorClass]: 'transient',
        [HEADERS.originExchange]: 'jobs',
        [HEADERS.originRoutingKey]: `tasks.${m.type}`,
        [HEADERS.originQueue]: 'work',
        // Written by the retry (the new worker's, or the old one's for the job that was waiting).
        [HEADERS.retryDelay]: 200,
      });
      expect(Number.isNaN(Date.parse(String(hd[HEADERS.failedAt]))), m.name).toBe(false);
      // The wait queue's expiry added x-death on the way back; warren's own dead letter carries none.
      expect(hd, m.name).not.toHaveProperty('x-death');
    }
    // Left in the DLQ for the next test.
    for (const d of dead) h.ch.nack(d, false, true);
    await waitForCount(h.ch, 'dead', old.length, 10_000);
  });

  it('old dead letters are listed with their times read right, requeued in the new shape, and run again by the new worker', async () => {
    // 5. main's src/worker/dead-letter.ts deadLetterRequest + republish.ts: a dead letter with a millisecond timestamp.
    const e = oldApiJob('old-dead', THEN_MS);
    const failedAt = new Date(THEN_MS + 5_000).toISOString();
    old.push({
      name: 'old dead letter',
      type: 'old-dead',
      exchange: 'dlx',
      routingKey: 'dead',
      id: e.id,
      content: e.content,
      options: {
        headers: {
          'x-warren-route': 'task',
          traceparent: TRACE,
          'x-warren-attempt': 3,
          'x-warren-origin-exchange': 'jobs',
          'x-warren-origin-routing-key': 'tasks.old-dead',
          'x-warren-retry-delay-ms': 200,
          'x-warren-error-class': 'server-error',
          'x-warren-error-message': '503 upstream unavailable',
          'x-warren-attempts': 3,
          'x-warren-origin-queue': 'work',
          'x-warren-failed-at': failedAt,
          'x-warren-reason': 'attempts-exhausted',
        },
        persistent: true,
        contentType: 'application/json',
        correlationId: e.id,
        messageId: e.id,
        timestamp: THEN_MS,
        appId: 'warren-api',
        mandatory: true,
      },
      seconds: THEN_S,
      requeued: 0,
    });

    // 6. main's src/dlq/requeue-message.ts requeueProperties wrote a message back without a delivery mode when its
    //    original had none; that job then died again. The new rule reads a missing delivery mode as persistent.
    const e2Id = randomUUID();
    old.push({
      name: 'requeued once, dead again',
      type: 'again',
      exchange: 'dlx',
      routingKey: 'dead',
      id: e2Id,
      content: Buffer.from(JSON.stringify(failing('again'))),
      options: {
        headers: {
          'x-warren-route': 'task',
          'x-warren-attempt': 1,
          'x-warren-requeued': 1,
          'x-warren-requeued-at': new Date(THEN_MS).toISOString(),
          'x-warren-requeued-from': 'dead',
          'x-warren-origin-exchange': 'jobs',
          'x-warren-origin-routing-key': 'tasks.again',
          'x-warren-origin-queue': 'work',
          'x-warren-error-class': 'permanent',
          'x-warren-error-message': 'no such customer',
          'x-warren-attempts': 1,
          'x-warren-failed-at': new Date(THEN_MS + 60_000).toISOString(),
          'x-warren-reason': 'permanent',
          'x-delivery-count': 2,
        },
        messageId: e2Id,
        contentType: 'application/json',
        timestamp: THEN_S,
      },
      seconds: THEN_S,
      requeued: 1,
    });
    for (const m of old.slice(-2)) await publish(pub, m);
    await waitForCount(h.ch, 'dead', old.length, 10_000);

    const { messages } = await dlq.service.list('dead', { filter: {} });
    expect(messages).toHaveLength(old.length);
    const listed = (name: string) => messages.find((v) => v.messageId === old.find((m) => m.name === name)?.id);
    expect(listed('old dead letter')).toMatchObject({ kind: 'warren', reason: 'attempts-exhausted', failedAt, attempts: 3, requeued: 0, route: 'task', origin: { exchange: 'jobs', routingKey: 'tasks.old-dead', queue: 'work' } });
    expect(listed('requeued once, dead again')).toMatchObject({ kind: 'warren', reason: 'permanent', requeued: 1, origin: { queue: 'work' } });

    const report = await dlq.service.requeue('dead', { filter: {} });
    expect(report).toMatchObject({ moved: old.length, failed: 0, skipped: { unknownOrigin: 0, capped: 0 } });
    await waitForCount(h.ch, 'work', old.length, 10_000);

    const back = await getAll(h, 'work');
    const before = Date.now();
    for (const m of old) {
      const r = back.find((x) => x.properties.messageId === m.id);
      expect(r, m.name).toBeDefined();
      if (!r) continue;
      expect(r.fields.exchange, m.name).toBe('jobs');
      expect(r.fields.routingKey, m.name).toBe(`tasks.${m.type}`);
      expect(r.content.equals(m.content), m.name).toBe(true);
      expect(r.properties.timestamp, m.name).toBe(m.seconds);
      expect(r.properties.deliveryMode, m.name).toBe(2);
      expect(r.properties.userId, m.name).toBeUndefined();
      expect(r.properties.expiration, m.name).toBeUndefined();
      const hd = r.properties.headers as Record<string, unknown>;
      expect(hd, m.name).toMatchObject({
        [HEADERS.route]: 'task',
        [HEADERS.attempt]: 1,
        [HEADERS.requeued]: m.requeued + 1,
        [HEADERS.requeuedFrom]: 'dead',
        [HEADERS.originExchange]: 'jobs',
        [HEADERS.originRoutingKey]: `tasks.${m.type}`,
        [HEADERS.originQueue]: 'work',
      });
      expect(Date.parse(String(hd[HEADERS.requeuedAt])), m.name).toBeGreaterThan(before - 60_000);
      for (const gone of [HEADERS.errorClass, HEADERS.errorMessage, HEADERS.failedAt, HEADERS.reason, HEADERS.attempts, 'x-death', 'x-delivery-count']) expect(hd, `${m.name} ${gone}`).not.toHaveProperty(gone);
    }
    for (const r of back) h.ch.nack(r, false, true);
    await waitForCount(h.ch, 'work', old.length, 10_000);

    // The new worker reads them as attempt 1 of route 'task' and runs them (a handler that succeeds now).
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers: { 'echo-task': async (job) => ({ attempt: job.attempt, route: job.route }) } });
    for (const m of old) {
      const [done] = await h.events.waitFor((ev) => ev.jobId === m.id && ev.status === 'succeeded', 15_000);
      expect(done, m.name).toMatchObject({ attempt: 1, route: 'task', result: { attempt: 1, route: 'task' } });
    }
  });
});

describe('a header on a job never chooses where warren republishes it (real broker)', () => {
  let h: WorkerHarness;
  let worker: Worker | undefined;
  beforeAll(async () => {
    h = await createWorkerHarness('contract-cc', topology());
  });
  afterAll(async () => {
    await worker?.close(1_000);
    await h?.close();
  });

  it('CC / BCC on a job are dropped by its retry and its dead letter: no copy lands in the queue they name', async () => {
    await h.ch.assertQueue('probe');
    const job = oldApiJob('cc', THEN_S);
    // Sender-selected routing: the broker also delivers to the queues CC names, through the exchange published to.
    // The job's own publish (exchange 'jobs', no binding for 'probe') copies nothing; a retry through the
    // default exchange would copy it into 'probe' if the header went along.
    const options = { ...job.options, headers: { ...job.options.headers, CC: ['probe'], BCC: ['probe'] } };
    await publish(await h.admin.createConfirmChannel(), { name: 'cc', id: job.id, type: 'cc', exchange: 'jobs', routingKey: 'tasks.cc', content: job.content, options, seconds: THEN_S, requeued: 0 });
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    await h.events.waitFor((e) => e.jobId === job.id && e.status === 'dead-lettered', 15_000);
    expect(h.events.forJob(job.id).filter((e) => e.status === 'retrying')).toHaveLength(1);
    await waitForCount(h.ch, 'dead', 1, 10_000);
    expect((await h.ch.checkQueue('probe')).messageCount).toBe(0);
    const [d] = await getAll(h, 'dead');
    expect(d?.properties.headers).not.toHaveProperty('CC');
    expect(d?.properties.headers).not.toHaveProperty('BCC');
  });
});

/** Every ready message of a queue, unacked on the harness channel (the caller acks or nacks them). */
async function getAll(h: WorkerHarness, queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await h.ch.get(queue, { noAck: false });
    if (m === false) return out;
    out.push(m);
  }
}
