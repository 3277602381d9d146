import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../jobs/job-event.ts';
import type { DlqGroups } from './dlq-groups.ts';
import { createDlqRequests } from './dlq-requests.ts';
import type { DlqService } from './dlq-service.ts';
import { createDeadLetterPlacer, type DeadLetterRecords } from './event-groups.ts';
import { TEST_TOPOLOGY } from './test-topology.test-support.ts';

const event = (jobId: string, errorClass: string): JobEvent => ({
  jobId,
  status: 'dead-lettered',
  route: 'chat',
  queue: 'llm.standard',
  attempt: 1,
  at: '2026-12-03T10:00:00.000Z',
  error: { class: errorClass, message: 'no' },
  deadLetter: { reason: errorClass, originExchange: 'llm.jobs', originRoutingKey: 'llm.standard.chat', failedAt: '2026-12-03T10:00:00.000Z', requeued: 0 },
});

/** Requests over a fake service whose scan says `scanned` and whose queue holds `depth` messages, and records of the events. */
function setup(o: { depth: number; events: JobEvent[]; ready?: boolean }) {
  let scans = 0;
  const scanResult: DlqGroups & { warnings: string[] } = { queue: 'llm.dead', total: o.depth, scanned: o.depth, matched: o.depth, truncated: false, groups: [], warnings: [] };
  const service = {
    groups: async () => {
      scans++;
      return scanResult;
    },
    depth: async () => o.depth,
  } as unknown as DlqService;
  const records: DeadLetterRecords = {
    ready: () => o.ready ?? true,
    waitUntilReady: async () => o.ready ?? true,
    records: () => o.events.map((e) => ({ event: e })),
    version: () => 1,
  };
  const requests = createDlqRequests(service, { maxRequeues: 5, events: { records, placer: createDeadLetterPlacer(TEST_TOPOLOGY) }, convergeMs: 0, readyWaitMs: 0 });
  return { requests, scans: () => scans };
}

describe('failure groups: from the events or from a read of the queue', () => {
  const two = [event('a', 'auth'), event('b', 'bad-request')];

  it('answers from the events, without a scan, when they account for every message', async () => {
    const { requests, scans } = setup({ depth: 2, events: two });
    const g = await requests.groups('llm.dead', {});
    expect(g).toMatchObject({ source: 'events', total: 2, matched: 2, unaccounted: 0, warnings: [] });
    expect(g.groups.map((x) => x.reason).sort()).toEqual(['auth', 'bad-request']);
    expect(scans()).toBe(0);
  });

  it('says how many messages the events do not account for when the queue holds more', async () => {
    const { requests, scans } = setup({ depth: 5, events: two });
    const g = await requests.groups('llm.dead', {});
    expect(g).toMatchObject({ source: 'events', total: 5, matched: 2, unaccounted: 3 });
    expect(g.warnings[0]).toMatch(/^3 of the 5 messages in 'llm.dead' are not accounted for/);
    expect(scans()).toBe(0);
  });

  it('reads the queue when it holds fewer messages than the events count, when not restored yet, and when asked (fresh, limit)', async () => {
    const fewer = setup({ depth: 1, events: two });
    expect(await fewer.requests.groups('llm.dead', {})).toMatchObject({ source: 'scan' });
    expect((await fewer.requests.groups('llm.dead', {})).warnings[0]).toMatch(/the job events count 2 dead letters in 'llm.dead' but it holds 1/);
    const restoring = setup({ depth: 2, events: two, ready: false });
    expect(await restoring.requests.groups('llm.dead', {})).toMatchObject({ source: 'scan' });
    expect(restoring.scans()).toBe(1);
    const asked = setup({ depth: 2, events: two });
    expect(await asked.requests.groups('llm.dead', { fresh: 'true' })).toMatchObject({ source: 'scan' });
    expect(await asked.requests.groups('llm.dead', { limit: '10' })).toMatchObject({ source: 'scan' });
    expect(asked.scans()).toBe(2);
  });
});
