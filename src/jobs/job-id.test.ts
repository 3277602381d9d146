import { describe, expect, it } from 'vitest';
import { JOB_ID_PATTERN, jobIdTime, newJobId } from './job-id.ts';

describe('job ids', () => {
  it('are RFC 9562 version-7 UUIDs carrying their creation time', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const id = newJobId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(jobIdTime(id)).toBe(at);
    expect(JOB_ID_PATTERN.test(id)).toBe(true);
  });

  it('sort by time as strings, and differ within the same millisecond', () => {
    const ids = [newJobId(1_000), newJobId(2_000), newJobId(1_700_000_000_000), newJobId(281_474_976_710_655)];
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 10_000 }, () => newJobId(5)));
    expect(same.size).toBe(10_000);
  });

  it('have no time when they are v4, v5 or foreign', () => {
    expect(jobIdTime(crypto.randomUUID())).toBeUndefined();
    expect(jobIdTime('8f14e45f-ceea-567a-9a36-dedd4bea2543')).toBeUndefined();
    expect(jobIdTime('dead-1')).toBeUndefined();
    expect(jobIdTime('0190aaaa-bbbb-7ccc-zddd-eeeeeeeeeeee')).toBeUndefined();
  });
});
