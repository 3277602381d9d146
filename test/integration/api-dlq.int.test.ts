import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { testLogger } from './helpers/api-fixture.ts';
import { warrenDeadLetterHeaders, writeDlqTopology } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

const ADMIN = { authorization: 'Bearer admin-key-0123456789' };
const PLAIN = { authorization: 'Bearer plain-key-0123456789' };

describe('the API serves the DLQ endpoints behind the admin scope (real broker, startApi)', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;

  beforeAll(async () => {
    vh = await createTestVhost('api-dlq');
    const { topology } = writeDlqTopology(vh);
    api = await startApi({
      topology,
      port: 0,
      apiKeys: 'admin-key-0123456789:*:admin;plain-key-0123456789:*',
      applyTopology: true,
      logger: testLogger(),
    });
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    for (const id of ['dead-1', 'dead-2']) {
      ch.sendToQueue('dead', Buffer.from(JSON.stringify({ type: 'x' })), {
        messageId: id,
        persistent: true,
        headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: id === 'dead-1' ? 'rate-limited' : 'auth', route: 'a' }),
      });
    }
    await ch.waitForConfirms();
  });

  afterAll(async () => {
    await conn?.close();
    await api?.close();
    await vh?.cleanup();
  });

  it('refuses keys without the admin scope (403) and requests without a key (401)', async () => {
    expect((await fetch(`${api.url}/v1/dlq/dead`, { headers: PLAIN })).status).toBe(403);
    expect((await fetch(`${api.url}/v1/dlq/dead`)).status).toBe(401);
  });

  it('GET summarises without changing the queue; POST requeues the filtered ones to their origin', async () => {
    const list = await fetch(`${api.url}/v1/dlq/dead`, { headers: ADMIN });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { summary: { total: number; scanned: number }; messages: { messageId: string }[] };
    expect(body.summary.scanned).toBe(2);
    expect(body.messages.map((m) => m.messageId).sort()).toEqual(['dead-1', 'dead-2']);

    const requeue = await fetch(`${api.url}/v1/dlq/dead/requeue`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ errorClass: ['rate-limited'] }),
    });
    expect(requeue.status).toBe(200);
    const tally = (await requeue.json()) as { moved: number; failed: number };
    expect(tally).toMatchObject({ moved: 1, failed: 0 });

    const back = await ch.get('work.a', { noAck: true });
    expect(back && back.properties.messageId).toBe('dead-1');
    const left = await ch.get('dead', { noAck: true });
    expect(left && left.properties.messageId).toBe('dead-2');
  });
});
