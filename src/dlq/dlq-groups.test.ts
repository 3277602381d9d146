import { describe, expect, it } from 'vitest';
import type { DeadLetterInfo } from './dead-letter-info.ts';
import { createGroupBuilder } from './dlq-groups.ts';
import { groupIdOf, groupKeyOf, matchesFilter, NO_VALUE, parseTimeBound } from './message-filter.ts';
import { parseDlqFilter } from './dlq-requests.ts';

const origin = (queue: string | undefined) => ({ exchange: 'llm.jobs', routingKey: 'llm.standard.chat', queue, source: 'x-warren-origin' as const });
function info(over: Partial<DeadLetterInfo>): DeadLetterInfo {
  return { kind: 'warren', reason: 'context-length', errorClass: 'context-length', errorMessage: 'too long', route: 'chat', messageId: 'm', jobId: 'm', origin: origin('llm.standard'), originProblem: undefined, failedAt: 1_000, attempts: 1, requeued: 0, deaths: [], ...over };
}

describe('failure groups', () => {
  it('groups by origin, reason and error class with counts, routes, ages and the newest error; largest first', () => {
    const b = createGroupBuilder(5);
    b.add(info({ failedAt: 3_000, errorMessage: 'newest' }));
    b.add(info({ failedAt: 1_000, errorMessage: 'oldest' }));
    b.add(info({ reason: 'attempts-exhausted', errorClass: 'rate-limited', route: 'task', requeued: 5 }));
    b.add(info({ reason: 'rejected', errorClass: undefined, origin: undefined, originProblem: 'no header', kind: 'broker' }));
    const groups = b.result();
    expect(groups.map((g) => [g.count, g.origin, g.reason, g.errorClass])).toEqual([
      [2, 'llm.standard', 'context-length', 'context-length'],
      [1, '(none)', 'rejected', '(none)'],
      [1, 'llm.standard', 'attempts-exhausted', 'rate-limited'],
    ]);
    expect(groups[0]).toMatchObject({ oldest: new Date(1_000).toISOString(), newest: new Date(3_000).toISOString(), sampleError: 'newest', routes: { chat: 2 } });
    expect(groups[1]).toMatchObject({ unknownOrigin: 1 });
    expect(groups[2]).toMatchObject({ overCap: 1, routes: { task: 1 } });
  });

  it("a group's id as the `group` filter selects exactly its messages, where reason + error class filters would not", () => {
    const a = info({ reason: 'rate-limited', errorClass: 'rate-limited' });
    const b = info({ reason: 'attempts-exhausted', errorClass: 'rate-limited' });
    const byFields = parseDlqFilter({ origin: 'llm.standard', reason: 'rate-limited', errorClass: 'rate-limited' }, 0);
    // --reason matches the reason or the error class, so the field filters take both groups.
    expect([matchesFilter(a, byFields), matchesFilter(b, byFields)]).toEqual([true, true]);
    const byGroup = parseDlqFilter({ group: groupIdOf(groupKeyOf(a)) }, 0);
    expect([matchesFilter(a, byGroup), matchesFilter(b, byGroup)]).toEqual([true, false]);
  });

  it("'(none)' selects messages without an origin queue or an error class", () => {
    const none = info({ origin: undefined, errorClass: undefined });
    expect(matchesFilter(none, parseDlqFilter({ origin: NO_VALUE, errorClass: NO_VALUE }, 0))).toBe(true);
    expect(matchesFilter(info({}), parseDlqFilter({ origin: NO_VALUE }, 0))).toBe(false);
    expect(parseTimeBound('1h', 10_000_000)).toBe(10_000_000 - 3_600_000);
  });
});
