import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../jobs/job-event.ts';
import { mergeEvent, newJobRecord, toView } from './job-record.ts';

// Ordered routes: a job moved aside behind a dead-lettered job of its key shows `blocked` and the blocking
// job's id; once requeued and run, its new status replaces it.
describe('blocked jobs in the status view', () => {
  const at = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000Z`;
  const ev = (e: Partial<JobEvent> & Pick<JobEvent, 'status'>, s: number): JobEvent => ({ jobId: 'j2', attempt: 0, at: at(s), ...e });

  it('shows blocked with blockedBy, then the outcome of the requeued run', () => {
    const r = newJobRecord(ev({ status: 'queued', attempt: 1, owner: 'team-a' }, 1), true);
    mergeEvent(r, ev({ status: 'blocked', blockedBy: 'j1', error: { class: 'blocked', message: 'not run' } }, 2), 50);
    expect(toView(r)).toMatchObject({ status: 'blocked', blockedBy: 'j1', attempts: [] });
    mergeEvent(r, ev({ status: 'requeued', attempt: 1, source: 'dlq' }, 3), 50);
    mergeEvent(r, ev({ status: 'succeeded', attempt: 1, result: { ok: true } }, 4), 50);
    const view = toView(r);
    expect(view.status).toBe('succeeded');
    expect(view.blockedBy).toBeUndefined();
  });
});
