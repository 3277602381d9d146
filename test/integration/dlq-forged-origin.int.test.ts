import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Topology } from '../../src/config/topology-schema.ts';
import { formatListing } from '../../src/dlq/index.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { censusDiff, settledCensus, streamLength, type Census } from './helpers/broker-census.ts';
import { dlqHttp } from './helpers/dlq-http.ts';
import { createDlqHarness, drain, peekIds, waitForCount, type DlqHarness } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { applyOn, shippedTopology } from './helpers/topology.ts';

/**
 * Issue #10, attack 1: a key that may publish to `llm.dlx` plants a "dead
 * letter" whose headers name the job-events stream or exchange as its origin,
 * so that an admin's routine `warren dlq requeue` writes a forged job event.
 * Against the shipped topology, applied for real.
 */
describe('warren dlq requeue never publishes a forged dead letter outside the work queues (shipped topology, real broker)', () => {
  let vh: TestVhost;
  let topology: Topology;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let h: DlqHarness;
  let before: Census;
  let eventsBefore: number;
  // A job event for someone else's job, as the stream's tail would accept it.
  const forgedEvent = Buffer.from(JSON.stringify({ jobId: 'victim-job', status: 'succeeded', at: new Date().toISOString(), attempt: 1, result: { text: 'forged' } }));
  const now = Math.floor(Date.now() / 1000);
  const FORGED: Array<[string, Record<string, unknown>]> = [
    ['first-death', { 'x-first-death-queue': 'warren.events.log', 'x-first-death-reason': 'rejected', 'x-first-death-exchange': 'warren.events' }],
    ['last-death', { 'x-last-death-queue': 'warren.events.log', 'x-last-death-reason': 'rejected', 'x-last-death-exchange': 'warren.events' }],
    ['x-death', { 'x-death': [{ queue: 'warren.events.log', reason: 'rejected', exchange: 'warren.events', 'routing-keys': [''], count: 1, time: { '!': 'timestamp', value: now } }] }],
    ['origin-exchange', { [HEADERS.originExchange]: 'warren.events', [HEADERS.originRoutingKey]: '' }],
    // A valid queue next to a forged exchange does not launder the exchange.
    ['origin-exchange+queue', { [HEADERS.originExchange]: 'warren.events', [HEADERS.originRoutingKey]: '', [HEADERS.originQueue]: 'llm.standard' }],
    ['dot-dot', { [HEADERS.originExchange]: '..', [HEADERS.originRoutingKey]: 'llm.standard.chat', [HEADERS.originQueue]: 'llm.standard' }],
    ['audit-stream', { 'x-first-death-queue': 'llm.jobs.log', 'x-first-death-reason': 'rejected' }],
  ];
  const forgedIds = FORGED.map(([id]) => `forged-${id}`);

  beforeAll(async () => {
    vh = await createTestVhost('dlq-forged');
    topology = shippedTopology(vh);
    await applyOn(topology, vh.management);
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    // What the attacker's key can do through POST /v1/publish/llm.dlx: any headers, any body.
    for (const [id, headers] of FORGED) ch.publish('llm.dlx', 'llm.dead', forgedEvent, { messageId: `forged-${id}`, headers });
    // A dead letter with a real origin whose CC header names the events stream: through llm.dlx the CC
    // key routes nowhere, but a republish through the default exchange would put a copy in the stream.
    ch.publish('llm.dlx', 'llm.dead', forgedEvent, { messageId: 'cc-rider', headers: { 'x-first-death-queue': 'llm.standard', 'x-first-death-reason': 'rejected', CC: ['warren.events.log'] } });
    await ch.waitForConfirms();
    await waitForCount(ch, 'llm.dead', FORGED.length + 1);
    h = await createDlqHarness(vh, topology);
    before = await settledCensus(vh, conn);
    eventsBefore = before.get('warren.events.log')?.messages ?? -1;
  });

  afterAll(async () => {
    await h?.close();
    await conn?.close();
    await vh?.cleanup();
  });

  it('seeded every forged dead letter into llm.dead, and nothing into the events stream', async () => {
    expect(await peekIds(conn, 'llm.dead')).toEqual([...forgedIds, 'cc-rider']);
    expect(eventsBefore).toBe(0);
  });

  it('`warren dlq list` and the /v1/dlq read route show each forged one as unknown origin, with the name it gave and why it is refused', async () => {
    const listing = await h.service.list('llm.dead', { filter: {}, pageSize: 20 });
    const res = await dlqHttp(h.service)('/llm.dead?pageSize=20');
    expect(res.status).toBe(200);
    const http = (await res.json()) as { summary: { unknownOrigin: number }; messages: Array<{ messageId: string; origin?: unknown; originProblem?: string }> };
    expect(http.summary.unknownOrigin).toBe(FORGED.length);
    expect(listing.summary.unknownOrigin).toBe(FORGED.length);
    const problems = Object.fromEntries(http.messages.map((m) => [m.messageId, m.origin === undefined ? m.originProblem : 'ok']));
    expect(Object.fromEntries(listing.messages.map((m) => [m.messageId, m.origin === undefined ? m.originProblem : 'ok']))).toEqual(problems);
    expect(problems).toEqual({
      'forged-first-death': "x-first-death-queue names queue 'warren.events.log', which is the job-events stream",
      'forged-last-death': "x-last-death-queue names queue 'warren.events.log', which is the job-events stream",
      'forged-x-death': "x-death names queue 'warren.events.log', which is the job-events stream",
      'forged-origin-exchange': "x-warren-origin-* names exchange 'warren.events', which is the job-events exchange",
      'forged-origin-exchange+queue': "x-warren-origin-* names exchange 'warren.events', which is the job-events exchange",
      'forged-dot-dot': "x-warren-origin-* names exchange '..', which is a path segment that a URL resolves away",
      'forged-audit-stream': "x-first-death-queue names queue 'llm.jobs.log', which is a stream",
      'cc-rider': 'ok',
    });
    expect(formatListing(listing, Date.now())).toContain("unknown: x-first-death-queue names queue 'warren.events.log', which is the job-events stream");
  });

  it('requeue leaves them in the DLQ, in order, and publishes nothing to the events stream or exchange', async () => {
    const report = await h.service.requeue('llm.dead', { filter: {} });
    expect(report).toMatchObject({ moved: 1, failed: 0, skipped: { unknownOrigin: FORGED.length } });
    expect(report.unknownOrigins.map((u) => u.messageId)).toEqual(forgedIds);
    const after = await settledCensus(vh, conn);
    // Only the one real dead letter moved, into its work queue; every other queue (streams included) is as it was.
    expect(censusDiff(before, after)).toEqual({ 'llm.dead': [FORGED.length + 1, FORGED.length], 'llm.standard': [0, 1] });
    expect(await streamLength(conn, 'warren.events.log')).toBe(eventsBefore);
    expect(await peekIds(conn, 'llm.dead')).toEqual(forgedIds);
    const [moved] = await drain(ch, 'llm.standard');
    expect(moved?.properties.messageId).toBe('cc-rider');
    expect(moved?.properties.headers?.CC).toBeUndefined();
  });

  it('a second requeue changes nothing either', async () => {
    const report = await h.service.requeue('llm.dead', { filter: {} });
    expect(report).toMatchObject({ moved: 0, failed: 0, skipped: { unknownOrigin: FORGED.length } });
    expect(await streamLength(conn, 'warren.events.log')).toBe(eventsBefore);
    expect(await peekIds(conn, 'llm.dead')).toEqual(forgedIds);
  });
});
