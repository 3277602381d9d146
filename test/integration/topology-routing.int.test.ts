import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { applyOn, shippedTopology, waitFor, yamlTopology } from './helpers/topology.ts';

/** Topology with what the shipped file lacks (exchange-to-exchange, internal exchange) and tiny retry tiers. */
const EXTRA_TOPOLOGY = `
exchanges:
  front: { type: topic }
  back: { type: fanout, internal: true }
  work.dlx: { type: fanout }
queues:
  audit: {}
  work: { type: classic, deadLetter: { exchange: work.dlx }, retry: tiny }
  work.q: { type: quorum, deadLetter: { exchange: work.dlx }, retry: tiny }
  work.dead: {}
bindings:
  - { source: front, exchange: back, routingKey: "audit.#" }
  - { source: back, queue: audit }
  - { source: work.dlx, queue: work.dead }
retryPolicies:
  tiny: { attempts: 3, backoff: [200ms, 400ms] }
`;

describe('routing through applied topologies on the real broker', () => {
  let vh: TestVhost;
  let extra: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let extraConn: amqplib.ChannelModel;
  let extraCh: amqplib.ConfirmChannel;

  beforeAll(async () => {
    vh = await createTestVhost('topo-route');
    extra = await createTestVhost('topo-route-x');
    await applyOn(shippedTopology(vh), vh.management);
    await applyOn(yamlTopology(EXTRA_TOPOLOGY, extra), extra.management);
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    extraConn = await amqplib.connect(extra.amqpUrl);
    extraCh = await extraConn.createConfirmChannel();
  });

  afterAll(async () => {
    await conn?.close();
    await extraConn?.close();
    await vh?.cleanup();
    await extra?.cleanup();
  });

  async function publish(channel: amqplib.ConfirmChannel, exchange: string, key: string, body: string, headers?: Record<string, unknown>): Promise<void> {
    channel.publish(exchange, key, Buffer.from(body), { persistent: true, ...(headers ? { headers } : {}) });
    await channel.waitForConfirms();
  }

  /** Every body currently in `queue` (basic.get until empty). */
  async function drain(channel: amqplib.Channel, queue: string): Promise<string[]> {
    const bodies: string[] = [];
    for (;;) {
      const m = await channel.get(queue, { noAck: true });
      if (m === false) return bodies;
      bodies.push(m.content.toString());
    }
  }

  /** Reads a stream from its first offset until `count` messages arrived. */
  async function readStream(queue: string, count: number): Promise<string[]> {
    const sc = await conn.createChannel();
    await sc.prefetch(100);
    const bodies: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream ${queue}: got ${bodies.length} of ${count}`)), 10_000);
      void sc.consume(
        queue,
        (m) => {
          if (!m) return;
          bodies.push(m.content.toString());
          sc.ack(m);
          if (bodies.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
        { arguments: { 'x-stream-offset': 'first' } },
      );
    });
    await sc.close();
    return bodies;
  }

  it('topic exchange llm.jobs routes llm.<priority>.<task> to the matching priority queue', async () => {
    await publish(ch, 'llm.jobs', 'llm.realtime.chat', 'rt');
    await publish(ch, 'llm.jobs', 'llm.standard.summarize.long', 'std');
    await publish(ch, 'llm.jobs', 'llm.batch.embed', 'batch');
    await publish(ch, 'llm.jobs', 'llm.unknown.chat', 'nowhere');
    expect(await drain(ch, 'llm.realtime')).toEqual(['rt']);
    expect(await drain(ch, 'llm.standard')).toEqual(['std']);
    expect(await drain(ch, 'llm.batch')).toEqual(['batch']);
  });

  it('direct exchange llm.dlx routes by exact key to the dead-letter queues', async () => {
    await publish(ch, 'llm.dlx', 'llm.dead', 'a');
    await publish(ch, 'llm.dlx', 'tasks.dead', 'b');
    await publish(ch, 'llm.dlx', 'llm.dead.more', 'c');
    expect(await drain(ch, 'llm.dead')).toEqual(['a']);
    expect(await drain(ch, 'tasks.dead')).toEqual(['b']);
  });

  it('direct exchange tasks sends unroutable messages to its alternate exchange', async () => {
    await publish(ch, 'tasks', 'default', 'known');
    await publish(ch, 'tasks', 'no-such-key', 'unknown');
    expect(await drain(ch, 'tasks.default')).toEqual(['known']);
    expect(await drain(ch, 'tasks.unrouted')).toEqual(['unknown']);
  });

  it('headers exchange documents matches x-match all and any', async () => {
    await publish(ch, 'documents', '', 'pdf', { format: 'pdf' });
    await publish(ch, 'documents', '', 'png', { format: 'png' });
    await publish(ch, 'documents', '', 'image-gif', { format: 'gif', kind: 'image' });
    await publish(ch, 'documents', '', 'txt', { format: 'txt' });
    await publish(ch, 'documents', 'format', 'no-headers');
    expect(await drain(ch, 'documents.pdf')).toEqual(['pdf']);
    expect(await drain(ch, 'documents.images')).toEqual(['png', 'image-gif']);
  });

  it('fanout exchanges llm.results and warren.events fill their stream queues', async () => {
    await publish(ch, 'llm.results', 'any.key', 'result-1');
    await publish(ch, 'warren.events', '', 'event-1');
    expect(await readStream('llm.results.log', 1)).toEqual(['result-1']);
    expect(await readStream('warren.events.log', 1)).toEqual(['event-1']);
  });

  it('an exchange-to-exchange binding forwards into an internal exchange', async () => {
    await publish(extraCh, 'front', 'audit.login', 'audited');
    await publish(extraCh, 'front', 'billing.x', 'not-audited');
    expect(await drain(extraCh, 'audit')).toEqual(['audited']);
  });

  for (const queue of ['work', 'work.q']) {
    it(`retry tiers of ${queue} deliver back to the work queue after their delay`, async () => {
      for (const delay of [200, 400]) {
        const started = Date.now();
        await publish(extraCh, '', `${queue}.retry.${delay}ms`, `retry-${delay}`);
        expect(await drain(extraCh, queue)).toEqual([]);
        const back = await waitFor(`${queue}.retry.${delay}ms to hand the message back`, async () => {
          const m = await extraCh.get(queue, { noAck: true });
          return m === false ? undefined : m;
        }, 10_000, 20);
        const elapsed = Date.now() - started;
        expect(back.content.toString()).toBe(`retry-${delay}`);
        expect(elapsed).toBeGreaterThanOrEqual(delay - 10);
        expect(elapsed).toBeLessThan(delay + 3_000);
      }
      expect(await drain(extraCh, 'work.dead')).toEqual([]);
    });
  }
});
