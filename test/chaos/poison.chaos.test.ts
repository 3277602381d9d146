import amqplib from 'amqplib';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScenario, type Scenario } from './helpers/scenario.ts';
import { SCENARIO } from './helpers/scenario-topology.ts';
import { freePort } from './helpers/warren-processes.ts';

const JOBS = 400;
const ATTEMPTS = 3;

/** Poison kinds the API accepts (valid payloads the provider chokes on), by job number; the rest are normal. */
function poisonOf(seq: number): { marker: string; errorClass: string; reason: string; attempts: number } | undefined {
  if (seq % 20 === 3) return { marker: '[[fail:400:context-length]]', errorClass: 'context-length', reason: 'context-length', attempts: 1 };
  if (seq % 20 === 7) return { marker: '[[fail:500]]', errorClass: 'server-error', reason: 'attempts-exhausted', attempts: ATTEMPTS };
  if (seq % 20 === 11) return { marker: '[[content-filter]]', errorClass: 'content-filter', reason: 'content-filter', attempts: 1 };
  if (seq % 40 === 15) return { marker: '[[hang]]', errorClass: 'timeout', reason: 'attempts-exhausted', attempts: ATTEMPTS };
  return undefined;
}

describe('poison payloads mixed into normal load', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await createScenario('poison', { llm: { latencyMs: 30 }, topology: { attempts: ATTEMPTS, backoff: ['200ms', '500ms'], jobTimeout: '4s', llmTimeout: '4s' } });
  });
  afterAll(async () => s?.cleanup());

  it('dead-letters each poison job for its own reason, on the right attempt, while normal jobs all succeed', async () => {
    const api = await s.startApi('api', await freePort());
    await s.startWorker('worker-1');
    await s.startWorker('worker-2');

    const idsBySeq = new Map<number, string>();
    const load = s.load({
      submit: s.submitter(() => [api.url], (seq) => `job ${seq} ${poisonOf(seq)?.marker ?? ''}`),
      ratePerSecond: 80,
      total: JOBS,
      onResult: (seq, r) => {
        if (r.kind === 'accepted') idsBySeq.set(seq, r.jobId);
      },
    });

    // Payloads no API would accept, published straight to the exchange: not JSON, and JSON that fails the schema.
    const direct: { id: string; body: string }[] = [];
    for (let i = 0; i < 10; i++) direct.push({ id: randomUUID(), body: `not json ${i} {` });
    for (let i = 0; i < 10; i++) direct.push({ id: randomUUID(), body: JSON.stringify({ model: 42, messages: 'nope' }) });
    const conn = await amqplib.connect(s.amqpUrls[0] as string);
    try {
      const ch = await conn.createConfirmChannel();
      for (const d of direct) {
        ch.publish('llm.jobs', 'llm.standard.chat', Buffer.from(d.body), { messageId: d.id, persistent: true, contentType: 'application/json', headers: { 'x-warren-route': SCENARIO.route } });
      }
      await ch.waitForConfirms();
      for (const d of direct) s.ledger.accepted(d.id);
    } finally {
      await conn.close();
    }
    await load;

    const report = await s.finish({ settleTimeoutMs: 60_000 });
    expect(report.accepted).toBe(JOBS + direct.length);
    expect(report.lost).toBe(0);
    expect(report.duplicates).toBe(0);

    const wrong: string[] = [];
    let poisoned = 0;
    for (const [seq, id] of idsBySeq) {
      const expected = poisonOf(seq);
      const info = s.observer.deadLetterInfo(id);
      if (expected === undefined) {
        if (info !== undefined || s.ledger.finishCount(id) !== 1) wrong.push(`normal #${seq} dead-lettered (${info?.reason})`);
        continue;
      }
      poisoned++;
      if (info?.errorClass !== expected.errorClass || info.reason !== expected.reason || info.attempts !== expected.attempts) {
        wrong.push(`#${seq} ${expected.marker}: got ${JSON.stringify(info)}`);
      }
    }
    for (const d of direct) {
      const info = s.observer.deadLetterInfo(d.id);
      if (info?.errorClass !== 'invalid-payload' || info.attempts !== 1) wrong.push(`direct ${d.body.slice(0, 12)}: got ${JSON.stringify(info)}`);
    }
    expect(wrong).toEqual([]);
    expect(report.deadLettered).toBe(poisoned + direct.length);
    expect(s.observer.deadLetters()).toBe(poisoned + direct.length);
    expect(report.succeeded).toBe(JOBS - poisoned);
    expect(await s.nonTerminalInStatusView(api.url, [...idsBySeq.values()])).toEqual([]);
  });
});
