import amqplib from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Topology } from '../../src/config/topology-schema.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createDlqHarness, declareDlqWorld, drain, peekIds, waitForCount, warrenDeadLetterHeaders, writeDlqTopology, type DlqHarness } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * Issue #10, attack 4: the requeue loop guard and the isolation of one
 * message's publish from the others in its confirm window.
 */
describe('warren dlq requeue: counters that lie, and one bad dead letter among good ones (real broker)', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let topology: Topology;
  let h: DlqHarness;

  beforeAll(async () => {
    vh = await createTestVhost('dlq-guards');
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    await declareDlqWorld(ch);
    const base = writeDlqTopology(vh).topology;
    // Two exchanges the topology believes in that the broker disagrees with: 'gone' was never
    // declared; 'drifted' is internal on the broker (someone changed it behind the topology's back),
    // so a publish to it makes the broker close the publishing channel.
    topology = {
      ...base,
      exchanges: {
        ...base.exchanges,
        gone: { type: 'topic', durable: true, autoDelete: false, internal: false },
        drifted: { type: 'topic', durable: true, autoDelete: false, internal: false },
      },
      bindings: [...base.bindings, { source: 'gone', queue: 'work.a', routingKey: 'a.#' }, { source: 'drifted', queue: 'work.a', routingKey: 'a.#' }],
    };
    await ch.assertExchange('drifted', 'topic', { internal: true });
    await ch.bindQueue('work.a', 'drifted', 'a.#');
    h = await createDlqHarness(vh, topology);
  });

  afterEach(async () => {
    for (const q of ['dead', 'work.a', 'work.ttl']) await ch.purgeQueue(q);
  });

  afterAll(async () => {
    await h?.close();
    await conn?.close();
    await vh?.cleanup();
  });

  it('a negative, fractional or string x-warren-requeued does not bypass the cap; a huge one holds the message back', async () => {
    // Origin work.ttl: every requeued message expires there (50 ms) and dies back into the DLQ.
    const counters: Array<[string, unknown]> = [
      ['negative', -1000],
      ['negative-string', '-5'],
      ['fraction', -0.5],
      ['huge', 1e300],
    ];
    for (const [id, requeued] of counters) {
      ch.publish('dlx', 'dead', Buffer.from('{"type":"t"}'), {
        messageId: id,
        headers: { ...warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'ttl.x', queue: 'work.ttl', errorClass: 'timeout' }), [HEADERS.requeued]: requeued },
      });
    }
    await ch.waitForConfirms();
    await waitForCount(ch, 'dead', counters.length);
    const moved: number[] = [];
    const capped: number[] = [];
    for (let run = 0; run < 6; run++) {
      const r = await h.service.requeue('dead', { filter: {}, maxRequeues: 3 });
      moved.push(r.moved);
      capped.push(r.skipped.capped);
      // Wait until the moved ones have expired back into the DLQ.
      await waitForCount(ch, 'dead', counters.length);
    }
    // Three requeues each for the three small counters (0 -> 1 -> 2 -> 3), then the cap; the huge one never moves.
    expect(moved).toEqual([3, 3, 3, 0, 0, 0]);
    expect(capped).toEqual([1, 1, 1, 4, 4, 4]);
    const { messages } = await h.service.list('dead', { filter: {}, maxRequeues: 3 });
    expect(Object.fromEntries(messages.map((m) => [m.messageId, m.requeued]))).toEqual({ negative: 3, 'negative-string': 3, fraction: 3, huge: Number.MAX_SAFE_INTEGER });
  });

  it('one bad dead letter among good ones: the good ones are requeued, in order; each bad one stays in the DLQ with its reason', async () => {
    const good = (id: string) => ({ id, headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'rate-limited', route: 'a' }) });
    const direct = (id: string) => ({ id, headers: { 'x-first-death-queue': 'work.a', 'x-first-death-reason': 'rejected' } });
    // Headers that fit a publish (amqplib encodes a header table into 64 KiB) until the requeue adds
    // its own few hundred bytes. A table of strings takes 4 bytes + per entry 1 + key + 1 + 4 + value.
    const bigHeaders: Record<string, string> = { 'x-first-death-queue': 'work.a', 'x-first-death-reason': 'rejected', 'x-blob': '' };
    const tableBytes = (t: Record<string, string>) => 4 + Object.entries(t).reduce((n, [k, v]) => n + 6 + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    bigHeaders['x-blob'] = 'b'.repeat(65_536 - 60 - tableBytes(bigHeaders));
    const messages = [
      good('g1'),
      direct('g2'),
      // '..' passed the old "exists on the broker" check (the management URL resolved it away) and closed the channel.
      { id: 'bad-dotdot', headers: warrenDeadLetterHeaders({ exchange: '..', routingKey: 'a.chat', queue: 'work.a', errorClass: 'timeout' }) },
      good('g3'),
      direct('g4'),
      { id: 'bad-big', headers: bigHeaders },
      good('g5'),
      { id: 'bad-gone', headers: warrenDeadLetterHeaders({ exchange: 'gone', routingKey: 'a.chat', queue: 'work.a', errorClass: 'timeout' }) },
      direct('g6'),
      { id: 'bad-drifted', headers: warrenDeadLetterHeaders({ exchange: 'drifted', routingKey: 'a.chat', queue: 'work.a', errorClass: 'timeout' }) },
      good('g7'),
      direct('g8'),
      good('g9'),
    ];
    for (const m of messages) ch.publish('dlx', 'dead', Buffer.from(`{"type":"t","id":"${m.id}"}`), { messageId: m.id, headers: m.headers });
    await ch.waitForConfirms();
    await waitForCount(ch, 'dead', messages.length);

    const r = await h.service.requeue('dead', { filter: {} });
    const goods = messages.map((m) => m.id).filter((id) => id.startsWith('g'));
    expect(r).toMatchObject({ moved: goods.length, failed: 3, skipped: { unknownOrigin: 1 } });
    await waitForCount(ch, 'work.a', goods.length);
    expect((await drain(ch, 'work.a')).map((m) => m.properties.messageId)).toEqual(goods);
    expect(await peekIds(conn, 'dead')).toEqual(['bad-dotdot', 'bad-big', 'bad-gone', 'bad-drifted']);

    expect(r.unknownOrigins).toEqual([{ messageId: 'bad-dotdot', reason: 'timeout', detail: "x-warren-origin-* names exchange '..', which is a path segment that a URL resolves away" }]);
    const failures = Object.fromEntries(r.failures.map((f) => [f.messageId, f.detail]));
    expect(Object.keys(failures)).toEqual(['bad-big', 'bad-gone', 'bad-drifted']);
    expect(failures['bad-big']).toMatch(/^its headers take \d+ bytes, more than the 65536 a republish can carry$/);
    expect(failures['bad-gone']).toBe("exchange 'gone' does not exist on the broker (run warren topology apply)");
    expect(failures['bad-drifted']).toMatch(/ACCESS_REFUSED - cannot publish to internal exchange 'drifted'/);
    for (const detail of Object.values(failures)) expect(detail).not.toMatch(/exchange '' does not exist/);
  });
});
