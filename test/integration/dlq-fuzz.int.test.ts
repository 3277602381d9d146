import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import type { RequeueReport } from '../../src/dlq/index.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { censusDiff, settledCensus, type Census } from './helpers/broker-census.ts';
import { createDlqHarness, drain, peekIds, waitForCount, type DlqHarness } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { applyOn, shippedTopology } from './helpers/topology.ts';

/** Seeded, so a failure replays exactly: WARREN_FUZZ_SEED=<n> to try another run. */
const SEED = Number(process.env.WARREN_FUZZ_SEED ?? 0x5eed10);
const COUNT = 240;
const DLQ = 'llm.dead';
/** The shipped topology's work queues, written out here as the oracle (not computed by the code under test). */
const WORK = ['documents.images', 'documents.pdf', 'llm.batch', 'llm.realtime', 'llm.standard', 'tasks.default'];

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Crafted dead letters against the shipped topology: origins naming every
 * queue and exchange the broker has in the vhost (streams, quorum, classic,
 * retry wait queues, DLQs, internal exchanges, the DLX, amq.*, the default
 * exchange) and names that don't exist or don't round-trip, in odd header
 * types, with huge values and lying counters.
 */
describe(`dlq requeue fuzz: ${COUNT} crafted dead letters, seed ${SEED} (shipped topology, real broker)`, () => {
  let vh: TestVhost;
  let topology: Topology;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let h: DlqHarness;
  const seeded: string[] = [];
  let before: Census;
  let first: RequeueReport;
  let afterFirst: Census;

  function craft(rand: () => number, queues: string[], exchanges: string[], i: number): { headers: Record<string, unknown>; viaDlx: boolean; body: Buffer } {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const chance = (p: number) => rand() < p;
    const odd = ['does.not.exist', '..', '.', 'llm.standard/x', 'llm%2Estandard', ' llm.standard', 'llm.standard\n', 'LLM.STANDARD', '', 'q'.repeat(300), 'amq.gen-x1', '\u0000llm.standard', 'llm.standard\u200b', 'llm.standard.retry.5s'];
    const keys = ['llm.standard.chat', 'llm.realtime.chat', 'llm.batch.chat', 'llm.nothing.chat', 'llm.x', 'default', 'other', '', '#', 'llm.dead', 'tasks.dead', 'k'.repeat(300), ...queues];
    const queueName = () => (chance(0.75) ? pick(queues) : pick(odd));
    const exchangeName = () => (chance(0.75) ? pick(exchanges) : pick(odd));
    // Sometimes a name, sometimes the same idea in a type no name has.
    const typed = (name: string): unknown =>
      chance(0.78) ? name : pick<unknown>([Buffer.from(name), Buffer.from([0xff, 0xfe, 0x41]), 42, -1, [name], { name }, null, true, 'h'.repeat(20_000)]);
    const counter = () => pick<unknown>([-1000, -1, 0, 1, 4, 5, 6, 1e300, 2 ** 62, 2.5, '-7', 'abc', 'NaN', '3', [1], { a: 1 }, null, Buffer.from('3')]);
    const time = () => pick<unknown>([{ '!': 'timestamp', value: Math.floor(Date.now() / 1000) }, -5, 'yesterday', 1e15, null]);
    const reason = () => pick(['rejected', 'expired', 'maxlen', 'delivery_limit', 'x'.repeat(500)]);

    const headers: Record<string, unknown> = {};
    const warrenOrigin = () => {
      headers[HEADERS.originExchange] = typed(exchangeName());
      headers[HEADERS.originRoutingKey] = typed(pick(keys));
      if (chance(0.7)) headers[HEADERS.originQueue] = typed(queueName());
      headers[HEADERS.failedAt] = new Date(Date.now() - Math.floor(rand() * 1e7)).toISOString();
      headers[HEADERS.reason] = reason();
    };
    const xDeath = () => {
      headers['x-death'] = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
        const e: Record<string, unknown> = { queue: typed(queueName()), reason: reason(), count: counter(), time: time() };
        if (chance(0.85)) e['exchange'] = typed(exchangeName());
        e['routing-keys'] = chance(0.85) ? [typed(pick(keys))] : typed(pick(keys));
        return e;
      });
    };
    const deathQueues = () => {
      if (chance(0.6)) headers['x-first-death-queue'] = typed(queueName());
      if (chance(0.6)) headers['x-last-death-queue'] = typed(queueName());
      headers['x-first-death-reason'] = reason();
    };
    const shape = Math.floor(rand() * 6);
    if (shape === 0) warrenOrigin();
    else if (shape === 1) xDeath();
    else if (shape === 2) deathQueues();
    else if (shape === 3) headers[HEADERS.originQueue] = typed(queueName());
    else if (shape === 4) {
      warrenOrigin();
      xDeath();
      deathQueues();
    }
    if (chance(0.5)) headers[HEADERS.requeued] = counter();
    if (chance(0.3)) headers[HEADERS.attempt] = counter();
    if (chance(0.3)) headers[HEADERS.route] = typed(pick(['chat', 'task', 'admin', 'llm.jobs']));
    if (chance(0.3)) headers['format'] = pick<unknown>(['pdf', 'png', Buffer.from('pdf'), 1]);
    if (chance(0.15)) headers['kind'] = 'image';
    if (chance(0.05)) headers['x-pad'] = 'p'.repeat(20_000 + Math.floor(rand() * 45_000));
    // Through the DLX, CC / BCC keys route within llm.dlx only; a republish through the default exchange would
    // deliver a copy to every queue they name.
    const viaDlx = chance(0.7);
    if (viaDlx && chance(0.2)) headers['CC'] = [queueName(), pick(['warren.events.log', 'llm.jobs.log', 'tasks.dead'])];
    if (viaDlx && chance(0.05)) headers['BCC'] = [queueName()];
    const body = Buffer.from(JSON.stringify({ i, type: 'fuzz', priority: pick(['standard', 'realtime', 'x.y', '#']), messages: [{ role: 'user', content: 'x' }] }));
    return { headers, viaDlx, body };
  }

  beforeAll(async () => {
    vh = await createTestVhost('dlq-fuzz');
    topology = shippedTopology(vh);
    await applyOn(topology, vh.management);
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    const queues = (await vh.management.get<Array<{ name: string }>>(`/queues/${seg(vh.vhost)}?columns=name`)).map((q) => q.name).sort();
    const exchanges = (await vh.management.get<Array<{ name: string }>>(`/exchanges/${seg(vh.vhost)}?columns=name`)).map((e) => e.name).sort();
    // The broker's own kinds must be among the candidates, or the fuzz proves less than it says.
    expect(exchanges).toEqual(expect.arrayContaining(['', 'amq.direct', 'amq.topic', 'amq.headers', 'llm.audit', 'llm.dlx', 'warren.events']));
    expect(queues).toEqual(expect.arrayContaining(['warren.events.log', 'llm.jobs.log', 'llm.dead', 'llm.standard.retry.5s', 'tasks.unrouted', ...WORK]));

    const rand = prng(SEED);
    for (let i = 0; i < COUNT; i++) {
      const { headers, viaDlx, body } = craft(rand, queues, exchanges, i);
      const id = `fz-${i}`;
      try {
        if (viaDlx) ch.publish('llm.dlx', 'llm.dead', body, { messageId: id, headers });
        else ch.sendToQueue(DLQ, body, { messageId: id, headers });
        seeded.push(id);
      } catch {
        // amqplib refuses headers above its 64 KiB table at publish time: that one never reached the broker.
      }
    }
    await ch.waitForConfirms();
    await waitForCount(ch, DLQ, seeded.length);
    // CC copies that went into work queues at seed time are not the requeue's doing.
    for (const q of WORK) await ch.purgeQueue(q);
    h = await createDlqHarness(vh, topology);
    before = await settledCensus(vh, conn);
  });

  afterAll(async () => {
    await h?.close();
    await conn?.close();
    await vh?.cleanup();
  });

  it('seeded the DLQ with the crafted dead letters and left the work queues empty', () => {
    expect(seeded.length).toBeGreaterThan(COUNT * 0.9);
    expect(before.get(DLQ)?.messages).toBe(seeded.length);
    for (const q of WORK) expect(before.get(q)?.messages).toBe(0);
  });

  it('requeue publishes nothing outside the work queues: every other queue, streams included, keeps its count', async () => {
    first = await h.service.requeue(DLQ, { filter: {} });
    expect(first.error).toBeUndefined();
    afterFirst = await settledCensus(vh, conn);
    const changed = censusDiff(before, afterFirst);
    const outside = Object.fromEntries(Object.entries(changed).filter(([q]) => q !== DLQ && !WORK.includes(q)));
    expect(outside).toEqual({});
    const inWork = WORK.reduce((n, q) => n + (afterFirst.get(q)?.messages ?? 0), 0);
    expect(inWork).toBe(first.moved);
    expect(afterFirst.get(DLQ)?.messages).toBe(seeded.length - first.moved);
    // Every message is accounted for: moved, or left in place for a reason.
    expect(first.moved + first.skipped.unknownOrigin + first.skipped.capped + first.failed).toBe(seeded.length);
    // The run exercised both sides.
    expect(first.moved).toBeGreaterThan(10);
    expect(first.skipped.unknownOrigin).toBeGreaterThan(50);
  });

  it('nothing loops: a second requeue moves nothing and every count stays as it was', async () => {
    const second = await h.service.requeue(DLQ, { filter: {} });
    expect(second.error).toBeUndefined();
    expect(second.moved).toBe(0);
    expect(censusDiff(afterFirst, await settledCensus(vh, conn))).toEqual({});
  });

  it('nothing lost: each message is once in exactly one work queue (its origin, stamped sanely) or still in the DLQ, in order', async () => {
    const where = new Map<string, string[]>();
    const note = (id: string, q: string) => where.set(id, [...(where.get(id) ?? []), q]);
    for (const q of WORK) {
      for (const m of await drain(ch, q)) {
        const id = String(m.properties.messageId);
        note(id, q);
        const hdr = m.properties.headers ?? {};
        expect(hdr[HEADERS.originQueue], id).toBe(q);
        expect(hdr['CC'], id).toBeUndefined();
        expect(hdr['BCC'], id).toBeUndefined();
        const requeued = hdr[HEADERS.requeued];
        expect(Number.isInteger(requeued) && (requeued as number) >= 1 && (requeued as number) <= 5, `${id}: x-warren-requeued ${String(requeued)}`).toBe(true);
      }
    }
    const left = await peekIds(conn, DLQ);
    for (const id of left) note(id, DLQ);
    expect([...where.keys()].sort()).toEqual([...seeded].sort());
    expect([...where].filter(([, qs]) => qs.length !== 1)).toEqual([]);
    expect(left).toEqual(seeded.filter((id) => where.get(id)?.[0] === DLQ));
  });
});
