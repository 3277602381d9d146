import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../../src/cli/cli-test-io.test-support.ts';
import { runCli } from '../../src/cli/program.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import { dlqHttp } from './helpers/dlq-http.ts';
import { createDlqHarness, declareDlqWorld, peekIds, warrenDeadLetterHeaders, writeDlqTopology, type DlqHarness } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/** The CLI and HTTP faces of the DLQ tooling, and the bad input they must refuse clearly. */
describe('warren dlq CLI and API (real broker)', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let file: string;
  let dir: string;
  let topology: Topology;
  let h: DlqHarness;
  const ids = ['w-1', 'w-2', 'w-3'];

  beforeAll(async () => {
    vh = await createTestVhost('dlq-cli');
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    await declareDlqWorld(ch);
    ({ file, dir, topology } = writeDlqTopology(vh));
    for (const [i, id] of ids.entries()) {
      ch.publish('dlx', 'dead', Buffer.from(`{"type":"t","i":${i}}`), {
        messageId: id,
        headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: i === 2 ? 'timeout' : 'rate-limited', route: 'a' }),
      });
    }
    ch.sendToQueue('not.a.dlq', Buffer.from('{}'), { messageId: 'x-1', headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'timeout' }) });
    await ch.waitForConfirms();
    h = await createDlqHarness(vh, topology);
  });

  afterAll(async () => {
    await h?.close();
    await conn?.close();
    await vh?.cleanup();
  });

  const cli = async (args: string[], opts: { answer?: boolean } = {}) => {
    const io = captureIo(opts);
    const code = await runCli(['-f', file, ...args], { io, env: { ...process.env, XDG_STATE_HOME: join(dir, 'state') } });
    return { code, out: io.out(), err: io.err() };
  };

  it('list prints the summary and changes nothing', async () => {
    const r = await cli(['dlq', 'list', 'dead']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dead: 3 messages, scanned 3, 3 match');
    expect(r.out).toContain('by error class  rate-limited 2, timeout 1');
    expect(r.out).toContain('by origin       work.a 3');
    expect(await peekIds(conn, 'dead')).toEqual(ids);
  });

  it('list --json with a filter', async () => {
    const r = await cli(['--json', 'dlq', 'list', 'dead', '--reason', 'timeout']);
    const body = JSON.parse(r.out) as { summary: { matched: number }; messages: Array<{ messageId: string }> };
    expect(body.summary.matched).toBe(1);
    expect(body.messages.map((m) => m.messageId)).toEqual(['w-3']);
  });

  it('list --groups prints the failure groups with their ids; --group selects exactly one of them; changes nothing', async () => {
    const r = await cli(['dlq', 'list', 'dead', '--groups']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dead: 3 matches in 2 groups (scanned 3 of 3)');
    const rows = r.out.split('\n').filter((l) => /^\s+\d+\s+work\.a/.test(l));
    expect(rows.map((l) => l.trim().split(/\s+/).slice(0, 4))).toEqual([
      ['2', 'work.a', 'rate-limited', 'rate-limited'],
      ['1', 'work.a', 'timeout', 'timeout'],
    ]);
    const timeoutGroup = rows[1]!.trim().split(/\s+/).at(-1) as string;
    const dry = await cli(['--json', 'dlq', 'requeue', 'dead', '--dry-run', '--group', timeoutGroup]);
    expect(JSON.parse(dry.out)).toMatchObject({ moved: 1, plan: [{ messageId: 'w-3' }] });
    expect(await peekIds(conn, 'dead')).toEqual(ids);
  });

  it('requeue refuses without a terminal and without --yes, and changes nothing', async () => {
    const r = await cli(['dlq', 'requeue', 'dead']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('refusing to requeue without confirmation: not running on a terminal. Pass --yes, or --dry-run to preview');
    expect(await peekIds(conn, 'dead')).toEqual(ids);
  });

  it('requeue --dry-run prints what would move where', async () => {
    const r = await cli(['dlq', 'requeue', 'dead', '--dry-run', '--error-class', 'rate-limited']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dry run: nothing was changed');
    expect(r.out).toContain('would move w-1 [rate-limited] -> jobs/a.chat -> work.a');
    expect(r.out).toContain('dead: would be moved 2 / skipped 1 / failed 0');
    expect(await peekIds(conn, 'dead')).toEqual(ids);
  });

  it('bad input: unknown queue, not a DLQ (allowed with --force), unknown --to-route, bad --rate', async () => {
    let r = await cli(['dlq', 'requeue', 'nope', '--yes']);
    expect([r.code, r.err.trim()]).toEqual([1, `error: queue 'nope' does not exist in vhost '${vh.vhost}'`]);
    r = await cli(['dlq', 'requeue', 'not.a.dlq', '--yes']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("queue 'not.a.dlq' is not a dead-letter queue of anything in the topology (dead-letter queues in the topology: dead); pass --force to use it anyway");
    r = await cli(['dlq', 'requeue', 'dead', '--yes', '--to-route', 'gpt-5']);
    expect(r.err.trim()).toBe("error: --to-route 'gpt-5' is not a route of the topology (routes: a, fallback)");
    r = await cli(['dlq', 'requeue', 'dead', '--yes', '--rate', 'fast']);
    expect(r.err.trim()).toBe("error: --rate 'fast' is not a rate (use e.g. 500/s, 30/m)");
    r = await cli(['dlq', 'requeue', 'not.a.dlq', '--yes', '--force']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('not.a.dlq: moved 1 / skipped 0 / failed 0');
    expect(r.out).toContain("warning: queue 'not.a.dlq' is not a dead-letter queue");
    expect(await peekIds(conn, 'work.a')).toEqual(['x-1']);
    await ch.purgeQueue('work.a');
    expect(await peekIds(conn, 'dead')).toEqual(ids);
  });

  it('management API down: a clear warning, and the requeue still works over AMQP', async () => {
    const down = writeDlqTopology(vh, 'http://guest:guest@127.0.0.1:1');
    const io = captureIo();
    const code = await runCli(['-f', down.file, 'dlq', 'requeue', 'dead', '--yes', '--id', 'w-1', '--no-journal'], { io });
    expect(code).toBe(0);
    expect(io.out()).toContain('dead: moved 1 / skipped 2 / failed 0');
    expect(io.out()).toMatch(/warning: management API unavailable .*continuing over AMQP only/);
    expect(await peekIds(conn, 'work.a')).toEqual(['w-1']);
    expect(await peekIds(conn, 'dead')).toEqual(['w-2', 'w-3']);
  });

  it('export writes body, headers and properties as NDJSON without removing anything', async () => {
    const out = join(dir, 'dead.ndjson');
    const r = await cli(['dlq', 'export', 'dead', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`dead: exported 2 of 2 messages to ${out} (nothing removed)`);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { body: string; properties: { messageId: string; headers: Record<string, unknown> }; deadLetter: { errorClass: string } });
    expect(lines.map((l) => l.properties.messageId)).toEqual(['w-2', 'w-3']);
    expect(lines[0]?.body).toBe('{"type":"t","i":1}');
    expect(lines[0]?.properties.headers['x-warren-origin-queue']).toBe('work.a');
    expect(lines[1]?.deadLetter.errorClass).toBe('timeout');
    expect(await peekIds(conn, 'dead')).toEqual(['w-2', 'w-3']);
  });

  it('API: GET /:queue and POST /:queue/requeue with the same filters', async () => {
    const request = dlqHttp(h.service);
    let res = await request('/dead?errorClass=timeout&pageSize=5');
    expect(res.status).toBe(200);
    const listing = (await res.json()) as { summary: { total: number; matched: number }; messages: Array<{ messageId: string }> };
    expect(listing.summary).toMatchObject({ total: 2, matched: 1 });
    expect(listing.messages.map((m) => m.messageId)).toEqual(['w-3']);
    res = await request('/nope');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('DLQ_QUEUE_NOT_FOUND');
    res = await request('/dead?since=yesterday');
    expect(res.status).toBe(400);
    res = await request('/dead/requeue', { method: 'POST', body: JSON.stringify({ toRoute: 'nope' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(422);
    res = await request('/dead/requeue', { method: 'POST', body: JSON.stringify({ errorClass: ['timeout'], rate: '100/s' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect((await res.json()) as { moved: number; failed: number }).toMatchObject({ moved: 1, failed: 0 });
    expect(await peekIds(conn, 'work.a')).toEqual(['w-1', 'w-3']);
    expect(await peekIds(conn, 'dead')).toEqual(['w-2']);
  });

  it('API: groups (a count reused until the queue changes), purge dry run then by group, export as NDJSON', async () => {
    const request = dlqHttp(h.service);
    const json = { 'content-type': 'application/json' };
    ch.publish('dlx', 'dead', Buffer.from('{"type":"t","i":9}'), { messageId: 'w-9', headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'content-filter', route: 'a' }) });
    await ch.waitForConfirms();
    const groupsOf = async () => (await (await request('/dead/groups')).json()) as { matched: number; cached: boolean; groups: Array<{ id: string; reason: string; count: number }> };
    const first = await groupsOf();
    expect(first).toMatchObject({ matched: 2, cached: false });
    expect((await groupsOf()).cached).toBe(true);
    const filtered = first.groups.find((g) => g.reason === 'content-filter');
    expect(filtered?.count).toBe(1);

    const exp = await request(`/dead/export?group=${filtered?.id ?? ''}`);
    expect(exp.headers.get('content-type')).toContain('application/x-ndjson');
    expect((await exp.text()).trim().split('\n').map((l) => (JSON.parse(l) as { properties: { messageId: string } }).properties.messageId)).toEqual(['w-9']);

    let res = await request('/dead/purge', { method: 'POST', headers: json, body: JSON.stringify({ group: [filtered?.id], dryRun: true }) });
    expect(await res.json()).toMatchObject({ dryRun: true, purged: 1 });
    expect(await peekIds(conn, 'dead')).toEqual(['w-2', 'w-9']);
    res = await request('/dead/purge', { method: 'POST', headers: json, body: JSON.stringify({ group: [filtered?.id] }) });
    expect(await res.json()).toMatchObject({ dryRun: false, purged: 1 });
    expect(await peekIds(conn, 'dead')).toEqual(['w-2']);
    // The purge went through this API: the next count is a new one.
    expect(await groupsOf()).toMatchObject({ matched: 1, cached: false });
  });

  it('purge: asks, refuses without a terminal, selective with filters, everything with --yes', async () => {
    ch.publish('dlx', 'dead', Buffer.from('{}'), { messageId: 'p-1' });
    await ch.waitForConfirms();
    let r = await cli(['dlq', 'purge', 'dead']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('refusing to purge without confirmation');
    r = await cli(['dlq', 'purge', 'dead'], { answer: false });
    expect(r.err).toContain('nothing done');
    r = await cli(['dlq', 'purge', 'dead', '--id', 'p-1'], { answer: true });
    expect(r.code).toBe(0);
    expect(await peekIds(conn, 'dead')).toEqual(['w-2']);
    r = await cli(['dlq', 'purge', 'dead', '--yes']);
    expect(r.out.trim()).toBe('dead: purged 1 message');
    expect((await ch.checkQueue('dead')).messageCount).toBe(0);
  });
});
