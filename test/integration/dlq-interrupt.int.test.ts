import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import { createFileJournal } from '../../src/dlq/index.ts';
import { createDlqHarness, declareDlqWorld, drain, peekIds, waitForCount, writeDlqTopology } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** Starts `warren dlq ...` as a child process (as an operator would) and collects its output. */
function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners: Array<() => void> = [];
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    /** Resolves once stderr shows a progress line with at least `n` moved. */
    movedAtLeast(n: number): Promise<void> {
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no progress to ${n} moved; stderr: ${stderr}`)), 30_000);
        const check = () => {
          const counts = [...stderr.matchAll(/moved (\d+)/g)].map((m) => Number(m[1]));
          if (counts.some((c) => c >= n)) {
            clearTimeout(timer);
            res();
          }
        };
        listeners.push(check);
        check();
      });
    },
  };
}

describe('warren dlq requeue: interrupted runs lose and double nothing (real broker)', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let file: string;
  let topology: Topology;
  let stateDir: string;

  /** 40 broker dead letters (rejected from work.a) with 5 origin-less ones spread among them. */
  async function fillDlq(prefix: string): Promise<{ movable: string[]; orphans: string[] }> {
    const movable: string[] = [];
    const orphans: string[] = [];
    for (let i = 0; i < 40; i++) {
      ch.publish('jobs', 'a.chat', Buffer.from(`{"type":"t","i":${i}}`), { messageId: `${prefix}-${i}` });
      movable.push(`${prefix}-${i}`);
    }
    await ch.waitForConfirms();
    await waitForCount(ch, 'work.a', 40);
    const rc = await conn.createChannel();
    await rc.prefetch(100);
    for (let i = 0; i < 40; i++) {
      const m = await rc.get('work.a');
      if (!m) throw new Error('missing message in work.a');
      rc.nack(m, false, false);
      if (i % 8 === 7) {
        await waitForCount(ch, 'dead', i + 1 + orphans.length);
        ch.publish('dlx', 'dead', Buffer.from('{}'), { messageId: `${prefix}-orphan-${i}` });
        await ch.waitForConfirms();
        orphans.push(`${prefix}-orphan-${i}`);
      }
    }
    await rc.close();
    await waitForCount(ch, 'dead', 45);
    return { movable, orphans };
  }

  /**
   * Right after a kill -9: nothing lost, nothing twice in one queue, and at most
   * `window` messages in both places — those whose republish was confirmed but
   * whose DLQ ack never left the dead process. The journal removes their DLQ copy
   * on the next run (checked by the exactly-once check after it).
   */
  async function expectNoneLost(movable: string[], orphans: string[], window: number): Promise<{ inOrigin: string[]; inBoth: string[] }> {
    const inOrigin = await peekIds(conn, 'work.a');
    const inDlq = await peekIds(conn, 'dead');
    expect(inOrigin.length).toBe(new Set(inOrigin).size);
    expect(inDlq.length).toBe(new Set(inDlq).size);
    const inBoth = inOrigin.filter((id) => inDlq.includes(id));
    expect(inBoth.length).toBeLessThanOrEqual(window);
    expect(new Set([...inOrigin, ...inDlq])).toEqual(new Set([...movable, ...orphans]));
    for (const o of orphans) expect(inDlq).toContain(o);
    return { inOrigin, inBoth };
  }

  /** Every movable message is exactly once in work.a or in dead; orphans all still in dead. */
  async function expectExactlyOnce(movable: string[], orphans: string[]): Promise<{ inOrigin: string[]; inDlq: string[] }> {
    const inOrigin = await peekIds(conn, 'work.a');
    const inDlq = await peekIds(conn, 'dead');
    const all = [...inOrigin, ...inDlq];
    expect(all.length).toBe(new Set(all).size);
    expect(new Set(all)).toEqual(new Set([...movable, ...orphans]));
    for (const o of orphans) expect(inDlq).toContain(o);
    return { inOrigin, inDlq };
  }

  beforeAll(async () => {
    vh = await createTestVhost('dlq-interrupt');
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    await declareDlqWorld(ch);
    ({ file, topology } = writeDlqTopology(vh));
    stateDir = mkdtempSync(join(tmpdir(), 'warren-dlq-state-'));
  });

  afterAll(async () => {
    await conn?.close();
    await vh?.cleanup();
  });

  it('kill -9 half-way, then run again: every message exactly once in its origin or still in the DLQ', async () => {
    const { movable, orphans } = await fillDlq('k');
    const env = { XDG_STATE_HOME: stateDir };
    const run = startCli(['-f', file, 'dlq', 'requeue', 'dead', '--yes', '--rate', '5/s'], env);
    await run.movedAtLeast(8);
    run.child.kill('SIGKILL');
    await run.exited;
    // Half-way: some moved, the rest (and every orphan) still in the DLQ; the one message
    // whose confirm arrived but whose ack didn't leave may be in both until the next run.
    const half = await expectNoneLost(movable, orphans, 1);
    expect(half.inOrigin.length).toBeGreaterThanOrEqual(8);
    expect(half.inOrigin.length).toBeLessThan(40);

    const again = startCli(['-f', file, '--json', 'dlq', 'requeue', 'dead', '--yes'], env);
    expect(await again.exited).toBe(0);
    const report = JSON.parse(again.out()) as { moved: number; failed: number; skipped: { unknownOrigin: number } };
    expect(report.failed).toBe(0);
    expect(report.skipped.unknownOrigin).toBe(5);
    const done = await expectExactlyOnce(movable, orphans);
    expect(done.inOrigin.sort()).toEqual([...movable].sort());
    expect(done.inDlq.sort()).toEqual([...orphans].sort());
    // A message in both places is acked from the DLQ by the journal, not sent again.
    expect(report.moved).toBeGreaterThanOrEqual(40 - half.inOrigin.length);
    expect(report.moved).toBeLessThanOrEqual(40 - half.inOrigin.length + half.inBoth.length);
    await drain(ch, 'work.a');
    await drain(ch, 'dead');
  });

  it('Ctrl-C stops cleanly (exit 130): moved ones in origin, the rest in the DLQ in their original order', async () => {
    const { movable, orphans } = await fillDlq('c');
    const before = await peekIds(conn, 'dead');
    const run = startCli(['-f', file, 'dlq', 'requeue', 'dead', '--yes', '--rate', '20/s', '--no-journal'], {});
    await run.movedAtLeast(10);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.out()).toMatch(/interrupted/);
    const { inOrigin, inDlq } = await expectExactlyOnce(movable, orphans);
    expect(inDlq).toEqual(before.filter((id) => !inOrigin.includes(id)));
    await drain(ch, 'work.a');
    await drain(ch, 'dead');
  });

  it('connection lost between confirm and ack: the journal drops the DLQ copy on the next run (no double)', async () => {
    const { movable, orphans } = await fillDlq('j');
    const journalFile = join(stateDir, 'lost.journal');
    const h = await createDlqHarness(vh, topology, { journal: () => createFileJournal(journalFile) });
    // The management API lists a new connection after its next stats tick: poll for it.
    let connName: string | undefined;
    for (let i = 0; i < 60 && connName === undefined; i++) {
      const list = await vh.management.get<Array<{ name: string; client_properties?: { connection_name?: string } }>>(`/vhosts/${seg(vh.vhost)}/connections`);
      connName = list.find((c) => c.client_properties?.connection_name?.startsWith('dlq-test-'))?.name;
      if (connName === undefined) await new Promise((r) => setTimeout(r, 500));
    }
    expect(connName).toBeDefined();
    let n = 0;
    const report = await h.service.requeue('dead', {
      filter: {},
      window: 1,
      beforeAck: async () => {
        if (++n !== 5) return;
        // The 5th message is confirmed in work.a; kill the connection before its DLQ ack.
        await vh.management.delete(`/connections/${encodeURIComponent(connName as string)}`);
        await new Promise((r) => setTimeout(r, 300));
      },
    });
    expect(report.error?.code).toBe('DLQ_CONNECTION_LOST');
    expect(report.moved).toBe(4);
    expect(report.unacked).toBe(1);
    // Right now the 5th message is in work.a AND back in the DLQ: exactly the double the journal prevents.
    expect((await ch.checkQueue('work.a')).messageCount).toBe(5);
    expect((await ch.checkQueue('dead')).messageCount).toBe(41);

    await h.deps.connection.waitForConnection(10_000);
    const again = await h.service.requeue('dead', { filter: {} });
    expect(again.deduplicated).toBe(1);
    expect(again.moved).toBe(35);
    expect(again.failed).toBe(0);
    const done = await expectExactlyOnce(movable, orphans);
    expect(done.inOrigin.sort()).toEqual([...movable].sort());
    await h.close();
  });
});
