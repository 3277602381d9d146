import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfirmPublisher, type ConfirmPublisher } from '../../src/broker/confirm-publisher.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import { createJobEventPublisher } from '../../src/jobs/job-event-publisher.ts';
import { createJobEventKeyring } from '../../src/jobs/job-event-signature.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createDlqHarness, declareDlqWorld, drain, peekIds, waitForCount, warrenDeadLetterHeaders, writeDlqTopology, type DlqHarness } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * Every kind of dead letter, produced for real on the broker, listed and
 * requeued to its own origin; filters, dry run, the requeue cap, fan-out.
 */
describe('warren dlq: origins, filters, dry run, cap (real broker)', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let topology: Topology;
  let h: DlqHarness;
  let eventsPublisher: ConfirmPublisher;
  const ORIGINAL = ['rej-1', 'exp-1', 'max-1', 'lim-1', 'warren-1', 'warren-old', 'retry-1', 'retry-w', 'fan-1', 'orphan-1'];

  async function publishAndWait(run: () => Promise<void>, expected: number): Promise<void> {
    await run();
    await ch.waitForConfirms();
    await waitForCount(ch, 'dead', expected);
  }

  beforeAll(async () => {
    vh = await createTestVhost('dlq-requeue');
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    await declareDlqWorld(ch);
    await ch.assertExchange('warren.events', 'fanout');
    await ch.assertQueue('events');
    await ch.bindQueue('events', 'warren.events', '');
    topology = writeDlqTopology(vh).topology;
    const props = { contentType: 'application/json', correlationId: 'corr', priority: 3, type: 'task', appId: 'test', timestamp: 1_700_000_000 };
    let n = 0;
    // rejected (nack requeue=false) from work.a
    await publishAndWait(async () => {
      ch.publish('jobs', 'a.chat', Buffer.from('{"type":"t","n":1}'), { ...props, messageId: 'rej-1', persistent: true, headers: { 'x-custom': 'kept' } });
      await ch.waitForConfirms();
      const m = await ch.get('work.a');
      if (m) ch.nack(m, false, false);
    }, ++n);
    // expired (queue TTL)
    await publishAndWait(async () => void ch.publish('jobs', 'ttl.x', Buffer.from('{"type":"t"}'), { messageId: 'exp-1' }), ++n);
    // maxlen (drop-head): the first of two is pushed out
    await publishAndWait(async () => {
      ch.publish('jobs', 'max.x', Buffer.from('{"type":"t"}'), { messageId: 'max-1' });
      ch.publish('jobs', 'max.x', Buffer.from('{"type":"t"}'), { messageId: 'max-2' });
    }, ++n);
    await drain(ch, 'work.max');
    // delivery_limit: quorum queue with x-delivery-limit 1, nack-requeue until the broker gives up
    await publishAndWait(async () => {
      ch.publish('jobs', 'q.x', Buffer.from('{"type":"t"}'), { messageId: 'lim-1' });
      await ch.waitForConfirms();
      for (let i = 0; i < 10 && (await ch.checkQueue('dead')).messageCount < n; i++) {
        const m = await ch.get('work.q');
        if (m) ch.nack(m, false, true);
        await new Promise((r) => setTimeout(r, 100));
      }
    }, ++n);
    // warren dead letters: the worker publishes to the DLX itself with x-warren-* headers
    await publishAndWait(async () => {
      ch.publish('dlx', 'dead', Buffer.from('{"type":"t"}'), {
        messageId: 'warren-1',
        headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'rate-limited', reason: 'attempts-exhausted', route: 'a' }),
      });
    }, ++n);
    await publishAndWait(async () => {
      ch.publish('dlx', 'dead', Buffer.from('{"type":"t"}'), {
        messageId: 'warren-old',
        headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'server-error', failedAt: new Date(Date.now() - 3 * 3_600_000), route: 'a' }),
      });
    }, ++n);
    // through the retry wait queue (expired back into work.a), then rejected by the broker
    await publishAndWait(async () => {
      ch.sendToQueue('work.a.retry.50ms', Buffer.from('{"type":"t"}'), { messageId: 'retry-1' });
      await ch.waitForConfirms();
      await waitForCount(ch, 'work.a', 1);
      const m = await ch.get('work.a');
      if (m) ch.nack(m, false, false);
    }, ++n);
    // through the wait queue, then dead-lettered by an (older) worker without origin headers
    await publishAndWait(async () => {
      ch.sendToQueue('work.a.retry.50ms', Buffer.from('{"type":"t"}'), { messageId: 'retry-w' });
      await ch.waitForConfirms();
      await waitForCount(ch, 'work.a', 1);
      const m = await ch.get('work.a');
      if (!m) throw new Error('retry-w did not come back from the wait queue');
      ch.publish('dlx', 'dead', m.content, {
        messageId: 'retry-w',
        headers: { ...m.properties.headers, [HEADERS.failedAt]: new Date(Date.now() + 1000).toISOString(), [HEADERS.errorClass]: 'timeout', [HEADERS.reason]: 'timeout' },
      });
      await ch.waitForConfirms();
      ch.ack(m);
    }, ++n);
    // fan-out: a headers exchange routes this to docs.pdf AND docs.big; it dies in docs.pdf
    await publishAndWait(async () => {
      ch.publish('docs', '', Buffer.from('{"type":"t"}'), { messageId: 'fan-1', headers: { format: 'pdf', size: 'big' } });
      await ch.waitForConfirms();
      const m = await ch.get('docs.pdf');
      if (m) ch.nack(m, false, false);
    }, ++n);
    await drain(ch, 'docs.big');
    // no origin at all: published straight to the DLX
    await publishAndWait(async () => void ch.publish('dlx', 'dead', Buffer.from('{"type":"t"}'), { messageId: 'orphan-1' }), ++n);

    const { connection } = await import('../../src/broker/broker-connection.ts').then(async (m) => ({ connection: m.createBrokerConnection({ urls: [vh.amqpUrl], name: 'dlq-events' }) }));
    eventsPublisher = createConfirmPublisher({ connection, channels: 1 });
    h = await createDlqHarness(vh, topology, { events: createJobEventPublisher(eventsPublisher, topology.jobEvents, 'dlq', createJobEventKeyring('dlq-test-event-key-0123456789', vh.vhost)) });
    (h as { extraClose?: () => Promise<void> }).extraClose = async () => {
      await eventsPublisher.close();
      await connection.close();
    };
  });

  afterAll(async () => {
    await h?.close();
    await (h as { extraClose?: () => Promise<void> } | undefined)?.extraClose?.();
    await conn?.close();
    await vh?.cleanup();
  });

  it('produced every kind of dead letter in a known order', async () => {
    expect(await peekIds(conn, 'dead')).toEqual(ORIGINAL);
  });

  it('list summarises by reason, kind and origin and leaves the queue exactly as it was', async () => {
    const { summary, messages } = await h.service.list('dead', { filter: {}, pageSize: 20 });
    expect(summary.total).toBe(10);
    expect(summary.matched).toBe(10);
    expect(summary.byReason).toEqual({ rejected: 3, expired: 1, maxlen: 1, delivery_limit: 1, 'attempts-exhausted': 1, 'server-error': 1, timeout: 1, unknown: 1 });
    expect(summary.byKind).toEqual({ broker: 6, warren: 3, unknown: 1 });
    expect(summary.byOrigin).toEqual({ 'work.a': 5, 'work.ttl': 1, 'work.max': 1, 'work.q': 1, 'docs.pdf': 1, '(none)': 1 });
    expect(summary.unknownOrigin).toBe(1);
    const byId = new Map(messages.map((m) => [m.messageId, m]));
    expect(byId.get('retry-1')?.origin).toEqual({ exchange: '', routingKey: 'work.a', queue: 'work.a', source: 'x-death' });
    expect(byId.get('retry-w')?.origin).toEqual({ exchange: '', routingKey: 'work.a', queue: 'work.a', source: 'x-death' });
    expect(byId.get('rej-1')?.origin).toEqual({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', source: 'x-death' });
    expect(byId.get('warren-1')?.origin?.source).toBe('x-warren-origin');
    expect(byId.get('rej-1')?.route).toBe('a');
    expect(await peekIds(conn, 'dead')).toEqual(ORIGINAL);
  });

  it('filters: --since / --before / --id / --origin / --limit (dry run)', async () => {
    const ids = async (filter: Parameters<DlqHarness['service']['requeue']>[1]['filter'], limit?: number) =>
      (await h.service.requeue('dead', { filter, dryRun: true, ...(limit === undefined ? {} : { limit }) })).plan.map((p) => p.messageId);
    const hourAgo = Date.now() - 3_600_000;
    expect(await ids({ before: hourAgo })).toEqual(['warren-old']);
    expect(await ids({ since: hourAgo })).toEqual(ORIGINAL.filter((id) => id !== 'warren-old' && id !== 'orphan-1'));
    expect(await ids({ id: ['lim-1', 'max-1'] })).toEqual(['max-1', 'lim-1']);
    expect(await ids({ origin: ['work.a'] })).toEqual(['rej-1', 'warren-1', 'warren-old', 'retry-1', 'retry-w']);
    expect(await ids({ reason: ['rate-limited'] })).toEqual(['warren-1']);
    expect(await ids({ errorClass: ['server-error'] })).toEqual(['warren-old']);
    expect(await ids({ route: ['a'] }, 2)).toEqual(['rej-1', 'warren-1']);
  });

  it('dry run reports every move and its destination but changes nothing', async () => {
    const r = await h.service.requeue('dead', { filter: {}, dryRun: true });
    expect(r.moved).toBe(9);
    expect(r.skipped.unknownOrigin).toBe(1);
    expect(r.unknownOrigins[0]?.messageId).toBe('orphan-1');
    expect(r.plan.find((p) => p.messageId === 'fan-1')?.to).toBe('queue docs.pdf');
    expect(r.plan.find((p) => p.messageId === 'rej-1')?.to).toBe('jobs/a.chat -> work.a');
    expect(await peekIds(conn, 'dead')).toEqual(ORIGINAL);
    for (const q of ['work.a', 'work.q', 'work.max', 'docs.pdf']) expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });

  it('requeues only the matching message and keeps the others in their original order', async () => {
    const r = await h.service.requeue('dead', { filter: { id: ['max-1', 'warren-1'] } });
    expect(r).toMatchObject({ moved: 2, failed: 0, skipped: { filtered: 8 } });
    expect(await peekIds(conn, 'dead')).toEqual(ORIGINAL.filter((id) => id !== 'max-1' && id !== 'warren-1'));
    const [max] = await drain(ch, 'work.max');
    expect(max?.properties.messageId).toBe('max-1');
    const [w] = await drain(ch, 'work.a');
    expect(w?.properties.messageId).toBe('warren-1');
    expect(w?.properties.headers?.[HEADERS.attempt]).toBe(1);
    expect(w?.properties.headers?.[HEADERS.requeued]).toBe(1);
    expect(w?.properties.headers?.[HEADERS.errorClass]).toBeUndefined();
    expect(w?.fields.routingKey).toBe('a.chat');
  });

  it('requeues every kind to its own origin with body and properties intact, and leaves the unknown one', async () => {
    const r = await h.service.requeue('dead', { filter: {} });
    expect(r).toMatchObject({ moved: 7, failed: 0, skipped: { unknownOrigin: 1 } });
    const workA = await drain(ch, 'work.a');
    expect(workA.map((m) => m.properties.messageId)).toEqual(['rej-1', 'warren-old', 'retry-1', 'retry-w']);
    const rej = workA[0] as amqplib.GetMessage;
    expect(rej.content.toString()).toBe('{"type":"t","n":1}');
    expect(rej.fields).toMatchObject({ exchange: 'jobs', routingKey: 'a.chat' });
    expect(rej.properties).toMatchObject({ contentType: 'application/json', correlationId: 'corr', priority: 3, type: 'task', appId: 'test', timestamp: 1_700_000_000, deliveryMode: 2, messageId: 'rej-1' });
    const hdr = rej.properties.headers ?? {};
    expect(hdr['x-custom']).toBe('kept');
    expect(hdr['x-death']).toBeUndefined();
    expect(hdr['x-first-death-queue']).toBeUndefined();
    expect(hdr[HEADERS.requeued]).toBe(1);
    expect(hdr[HEADERS.attempt]).toBe(1);
    expect(hdr[HEADERS.originQueue]).toBe('work.a');
    expect((workA[2] as amqplib.GetMessage).fields).toMatchObject({ exchange: '', routingKey: 'work.a' });
    expect((await drain(ch, 'work.q')).map((m) => m.properties.messageId)).toEqual(['lim-1']);
    expect((await drain(ch, 'docs.pdf')).map((m) => m.properties.messageId)).toEqual(['fan-1']);
    // The fan-out went straight to the queue it died in: the sibling queue got no second copy.
    expect((await ch.checkQueue('docs.big')).messageCount).toBe(0);
    // exp-1 went back to work.ttl, expired there again and is back in the DLQ with a fresh x-death;
    // the run ended anyway because it only reads the messages present at its start.
    await waitForCount(ch, 'dead', 2);
    const dead = await peekIds(conn, 'dead');
    expect(dead).toEqual(['orphan-1', 'exp-1']);
  });

  it('emitted a requeued job event for each requeued job', async () => {
    const events = (await drain(ch, 'events')).map((m) => JSON.parse(m.content.toString()) as { jobId: string; status: string; source: string; queue?: string });
    expect(events.filter((e) => e.status === 'requeued').map((e) => e.jobId).sort()).toEqual(['exp-1', 'fan-1', 'lim-1', 'max-1', 'rej-1', 'retry-1', 'retry-w', 'warren-1', 'warren-old'].sort());
    expect(events.find((e) => e.jobId === 'fan-1')).toMatchObject({ source: 'dlq', queue: 'docs.pdf' });
  });

  it('the requeue cap stops a requeue -> die -> requeue loop', async () => {
    // exp-1 dies again every time (TTL): requeue it until the cap of 3 holds it in the DLQ.
    const moved: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await h.service.requeue('dead', { filter: { id: ['exp-1'] }, maxRequeues: 3 });
      moved.push(r.moved);
      if (r.moved === 1) await waitForCount(ch, 'dead', 2);
      else expect(r.skipped.capped).toBe(1);
    }
    expect(moved).toEqual([1, 1, 0, 0, 0, 0]);
    const { messages } = await h.service.list('dead', { filter: { id: ['exp-1'] } });
    expect(messages[0]).toMatchObject({ requeued: 3, reason: 'expired', origin: { queue: 'work.ttl' } });
  });

  it('--to-route sends a message to another route, its routing key filled from the payload', async () => {
    ch.publish('dlx', 'dead', Buffer.from('{"type":"big"}'), {
      messageId: 'route-1',
      headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'context-length', route: 'a' }),
    });
    await ch.waitForConfirms();
    const r = await h.service.requeue('dead', { filter: { id: ['route-1'] }, toRoute: 'fallback' });
    expect(r.moved).toBe(1);
    const [m] = await drain(ch, 'fallback');
    expect(m?.fields.routingKey).toBe('fallback.big');
    expect(m?.properties.headers?.[HEADERS.route]).toBe('fallback');
    expect(m?.properties.headers?.[HEADERS.originQueue]).toBe('fallback');
  });
});
