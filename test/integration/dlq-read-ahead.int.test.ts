import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Topology } from '../../src/config/topology-schema.ts';
import { openSnapshotReader } from '../../src/dlq/snapshot-reader.ts';
import { createDlqHarness, declareDlqWorld, drain, peekIds, waitForCount, warrenDeadLetterHeaders, writeDlqTopology } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * The reader keeps the broker only `credit` deliveries ahead; messages the caller keeps use that
 * credit up, so it widens (a new exclusive consumer with twice the prefetch) instead of stalling,
 * and everything kept still goes back in order.
 */
describe('warren dlq: bounded read-ahead (real broker)', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let topology: Topology;

  /** `n` warren dead letters from work.a in `dead`, ids `${prefix}-0` ... in order. */
  async function fill(prefix: string, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${i}`;
      ch.publish('dlx', 'dead', Buffer.from(`{"type":"t","i":${i}}`), {
        messageId: id,
        persistent: true,
        headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'ServerError' }),
      });
      ids.push(id);
    }
    await ch.waitForConfirms();
    await waitForCount(ch, 'dead', n);
    return ids;
  }

  beforeAll(async () => {
    vh = await createTestVhost('dlq-read-ahead');
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    await declareDlqWorld(ch);
    topology = writeDlqTopology(vh).topology;
  });

  afterAll(async () => {
    await conn?.close();
    await vh?.cleanup();
  });

  it('a reader that keeps every message reads them all past its credit, then returns them in order', async () => {
    const ids = await fill('k', 100);
    const reader = await openSnapshotReader({ connection: conn, queue: 'dead', credit: 10 });
    const seen: string[] = [];
    for (let m = await reader.next(); m; m = await reader.next()) {
      seen.push(String(m.properties.messageId));
      reader.keep(m);
    }
    await reader.close();
    expect(seen).toEqual(ids);
    expect(await peekIds(conn, 'dead')).toEqual(ids);
    await drain(ch, 'dead');
  });

  it('a caller that keeps messages without saying so is not widened for: the read ends after maxIdleMs, everything in place and in order', async () => {
    const ids = await fill('s', 30);
    const reader = await openSnapshotReader({ connection: conn, queue: 'dead', credit: 10, idleMs: 100, maxIdleMs: 400 });
    const seen: string[] = [];
    for (let m = await reader.next(); m; m = await reader.next()) seen.push(String(m.properties.messageId));
    await reader.close();
    expect(seen).toEqual(ids.slice(0, 10));
    expect(await peekIds(conn, 'dead')).toEqual(ids);
    await drain(ch, 'dead');
  });

  it('acks across widenings reach the broker: the acked ones leave, the kept ones stay in order', async () => {
    const ids = await fill('a', 60);
    const reader = await openSnapshotReader({ connection: conn, queue: 'dead', credit: 8 });
    const acked: string[] = [];
    const seen: string[] = [];
    const batch: amqplib.ConsumeMessage[] = [];
    for (let m = await reader.next(); m; m = await reader.next()) {
      seen.push(String(m.properties.messageId));
      const i = Number(String(m.properties.messageId).split('-')[1]);
      // Every third message leaves; the rest stay, so the credit fills up with kept ones.
      if (i % 3 === 0) {
        batch.push(m);
        acked.push(String(m.properties.messageId));
      } else reader.keep(m);
      if (batch.length === 2) expect(reader.ackAll(batch.splice(0))).toBe(true);
    }
    expect(reader.ackAll(batch.splice(0))).toBe(true);
    await reader.sync();
    await reader.close();
    // Read once each, in queue order: a widening never sends a delivery back to the queue.
    expect(seen).toEqual(ids);
    expect(await peekIds(conn, 'dead')).toEqual(ids.filter((id) => !acked.includes(id)));
    await drain(ch, 'dead');
  });

  it('a requeue stopped early (--limit) before reading past its read-ahead leaves the DLQ in order, kept and unread alike', async () => {
    const ids = await fill('l', 1500);
    const h = await createDlqHarness(vh, topology);
    try {
      const report = await h.service.requeue('dead', { filter: { id: ['l-1', 'l-3', 'l-5', 'l-7'] }, limit: 3 });
      expect(report).toMatchObject({ moved: 3, error: undefined, skipped: { filtered: 3 } });
    } finally {
      await h.close();
    }
    expect((await drain(ch, 'work.a')).map((m) => String(m.properties.messageId))).toEqual(['l-1', 'l-3', 'l-5']);
    // Without taking the unread ones into hand first, a quorum DLQ would put l-0, l-2, l-4 behind all of them.
    expect(await peekIds(conn, 'dead')).toEqual(ids.filter((id) => !['l-1', 'l-3', 'l-5'].includes(id)));
    await drain(ch, 'dead');
  });

  it('a requeue that leaves more than half its read-ahead in the DLQ moves the rest and keeps the order (1,500 messages)', async () => {
    const ids = await fill('r', 1500);
    const wanted = ids.filter((_, i) => i % 100 === 99);
    const h = await createDlqHarness(vh, topology);
    try {
      const report = await h.service.requeue('dead', { filter: { id: wanted } });
      expect(report).toMatchObject({ scanned: 1500, moved: wanted.length, failed: 0, error: undefined, skipped: { filtered: 1500 - wanted.length } });
    } finally {
      await h.close();
    }
    expect((await drain(ch, 'work.a')).map((m) => String(m.properties.messageId))).toEqual(wanted);
    expect(await peekIds(conn, 'dead')).toEqual(ids.filter((id) => !wanted.includes(id)));
    await drain(ch, 'dead');
  });
});
