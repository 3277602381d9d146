import type { MessageProperties } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '../jobs/headers.ts';
import { resolveDeadLetter, type ResolveContext } from './dead-letter-info.ts';
import { createDlqTopology, topicMatches } from './dlq-topology.ts';
import { headerCount, headerName } from '../jobs/header-values.ts';
import { createOriginPolicy } from './origin-policy.ts';
import { TEST_TOPOLOGY } from './test-topology.test-support.ts';
import { matchesFilter } from './message-filter.ts';
import { parseRate } from './rate-limiter.ts';

const origins = createOriginPolicy(createDlqTopology(TEST_TOPOLOGY));
const ctx: ResolveContext = { queue: 'llm.dead', origins };
const msg = (headers: Record<string, unknown>, extra: Partial<MessageProperties> = {}) => ({ properties: { headers, ...extra } as MessageProperties });
const ts = (s: number) => ({ '!': 'timestamp', value: s });

describe('resolveDeadLetter', () => {
  it('broker dead letter: origin from the newest x-death entry', () => {
    const info = resolveDeadLetter(msg({ 'x-death': [{ queue: 'llm.standard', reason: 'delivery_limit', exchange: 'llm.jobs', 'routing-keys': ['llm.standard.chat'], count: 1, time: ts(1_700_000_000) }] }), ctx);
    expect(info).toMatchObject({ kind: 'broker', reason: 'delivery_limit', failedAt: 1_700_000_000_000, route: 'chat', origin: { exchange: 'llm.jobs', routingKey: 'llm.standard.chat', queue: 'llm.standard', source: 'x-death' } });
  });

  it('a retry wait queue entry maps back to its work queue, never the wait queue', () => {
    const info = resolveDeadLetter(msg({ 'x-death': [{ queue: 'llm.standard.retry.5s', reason: 'expired', exchange: '', 'routing-keys': ['llm.standard.retry.5s'], count: 3, time: ts(1_700_000_000) }] }), ctx);
    expect(info.origin).toEqual({ exchange: '', routingKey: 'llm.standard', queue: 'llm.standard', source: 'x-death' });
  });

  it('warren dead letter: x-warren-origin-* win over x-death left by retries', () => {
    const info = resolveDeadLetter(
      msg({
        [HEADERS.originExchange]: 'llm.jobs',
        [HEADERS.originRoutingKey]: 'llm.standard.chat',
        [HEADERS.originQueue]: 'llm.standard',
        [HEADERS.failedAt]: new Date(1_700_000_100_000).toISOString(),
        [HEADERS.reason]: 'attempts-exhausted',
        [HEADERS.errorClass]: 'rate-limited',
        'x-death': [{ queue: 'llm.standard.retry.5s', reason: 'expired', exchange: '', 'routing-keys': ['llm.standard.retry.5s'], count: 4, time: ts(1_700_000_090) }],
      }),
      ctx,
    );
    expect(info).toMatchObject({ kind: 'warren', reason: 'attempts-exhausted', errorClass: 'rate-limited', origin: { exchange: 'llm.jobs', routingKey: 'llm.standard.chat', queue: 'llm.standard', source: 'x-warren-origin' } });
  });

  it('x-first-death only: back to that queue through the default exchange', () => {
    expect(resolveDeadLetter(msg({ 'x-first-death-queue': 'tasks.default', 'x-first-death-reason': 'rejected' }), ctx).origin).toEqual({ exchange: '', routingKey: 'tasks.default', queue: 'tasks.default', source: 'x-first-death' });
  });

  it('an origin outside the work queues is unknown, with the reason (the forged dead letters of issue #10)', () => {
    const problem = (headers: Record<string, unknown>) => {
      const info = resolveDeadLetter(msg(headers), ctx);
      expect(info.origin).toBeUndefined();
      return info.originProblem;
    };
    expect(problem({ 'x-first-death-queue': 'warren.events.log' })).toBe("x-first-death-queue names queue 'warren.events.log', which is the job-events stream");
    expect(problem({ 'x-last-death-queue': 'llm.jobs.log' })).toBe("x-last-death-queue names queue 'llm.jobs.log', which is a stream");
    expect(problem({ [HEADERS.originExchange]: 'warren.events', [HEADERS.originRoutingKey]: '' })).toBe("x-warren-origin-* names exchange 'warren.events', which is the job-events exchange");
    expect(problem({ [HEADERS.originExchange]: '..', [HEADERS.originRoutingKey]: 'k', [HEADERS.originQueue]: 'llm.standard' })).toMatch(/exchange '\.\.', which is a path segment that a URL resolves away/);
    expect(problem({ [HEADERS.originExchange]: 'llm.dlx', [HEADERS.originRoutingKey]: 'llm.dead' })).toMatch(/is a dead-letter exchange/);
    expect(problem({ [HEADERS.originExchange]: 'llm.audit', [HEADERS.originRoutingKey]: 'llm.x' })).toMatch(/is internal/);
    expect(problem({ [HEADERS.originExchange]: 'amq.topic', [HEADERS.originRoutingKey]: 'llm.standard.chat' })).toMatch(/amq\.\* name/);
    expect(problem({ [HEADERS.originExchange]: 'llm.results', [HEADERS.originRoutingKey]: '' })).toMatch(/is a results exchange/);
    // A key that reaches only the audit tap, or the alternate exchange's parking queue, is no origin either.
    expect(problem({ [HEADERS.originExchange]: 'llm.jobs', [HEADERS.originRoutingKey]: 'llm.nothing' })).toMatch(/reaches no work queue/);
    expect(problem({ [HEADERS.originExchange]: 'tasks', [HEADERS.originRoutingKey]: 'other' })).toMatch(/which would also reach queue 'tasks.unrouted' \(it is not a work queue/);
    expect(problem({ [HEADERS.originExchange]: 'fan', [HEADERS.originRoutingKey]: '' })).toBe("x-warren-origin-* names exchange 'fan' with routing key '', which reaches 'llm.realtime', 'tasks.default', and no single origin queue");
    expect(problem({ [HEADERS.originExchange]: '', [HEADERS.originRoutingKey]: 'llm.dead' })).toBe("x-warren-origin-* names 'llm.dead', the queue being read");
    expect(problem({ [HEADERS.originQueue]: 'llm.standard ' })).toMatch(/whitespace/);
    expect(problem({ [HEADERS.originQueue]: 'a/b' })).toMatch(/contains '\/'/);
    expect(problem({ [HEADERS.originQueue]: 'llm%2Estandard' })).toMatch(/percent/);
    expect(problem({ [HEADERS.originQueue]: 'nope' })).toMatch(/is not a queue of the topology/);
    expect(problem({ [HEADERS.originQueue]: 'tasks.unrouted' })).toMatch(/no deadLetter target/);
    expect(problem({ [HEADERS.originQueue]: 42 })).toBe('x-warren-origin-queue is a number, not a name');
    expect(problem({ [HEADERS.originQueue]: Buffer.from([0xff, 0xfe]) })).toMatch(/not valid UTF-8/);
    expect(problem({ 'x-first-death-queue': ['llm.standard'] })).toBe('x-first-death-queue is an array, not a name');
    expect(problem({ 'x-death': [{ queue: 'warren.events.log', reason: 'rejected', exchange: 'warren.events', 'routing-keys': [''], count: 1 }] })).toMatch(/x-death names queue 'warren.events.log'/);
  });

  it('valid origins: a route exchange reaching only the origin queue (its audit tap aside), a wait queue mapped back, a UTF-8 buffer', () => {
    const ok = (headers: Record<string, unknown>) => resolveDeadLetter(msg(headers), ctx).origin;
    expect(ok({ [HEADERS.originExchange]: 'llm.jobs', [HEADERS.originRoutingKey]: 'llm.realtime.chat' })).toEqual({ exchange: 'llm.jobs', routingKey: 'llm.realtime.chat', queue: 'llm.realtime', source: 'x-warren-origin' });
    expect(ok({ [HEADERS.originQueue]: 'llm.standard.retry.5s' })?.queue).toBe('llm.standard');
    expect(ok({ 'x-first-death-queue': Buffer.from('tasks.default') })?.queue).toBe('tasks.default');
  });

  it('counters are clamped: negative and NaN count as 0, huge ones as the most there is', () => {
    const requeued = (v: unknown) => resolveDeadLetter(msg({ [HEADERS.requeued]: v }), ctx).requeued;
    expect([requeued(-1000), requeued('-5'), requeued('NaN'), requeued('abc'), requeued([3]), requeued(2.7), requeued(1e300), requeued('Infinity')]).toEqual([0, 0, 0, 0, 0, 2, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    expect([headerCount(-0.5), headerCount({ '!': 'long', value: 7 }), headerCount(null), headerCount(undefined)]).toEqual([0, 7, undefined, undefined]);
    expect([headerName('x'), headerName(Buffer.from('y')), headerName(true), headerName({ a: 1 })]).toEqual(['x', 'y', { invalid: 'a boolean' }, { invalid: 'a table' }]);
  });

  it('the route comes from the topology: a header naming no route is ignored', () => {
    expect(resolveDeadLetter(msg({ [HEADERS.route]: 'admin-only', 'x-first-death-queue': 'tasks.default' }), ctx).route).toBeUndefined();
    expect(resolveDeadLetter(msg({ [HEADERS.route]: 'chat', 'x-first-death-queue': 'tasks.default' }), ctx).route).toBe('chat');
  });

  it('no origin at all is reported, never guessed', () => {
    const info = resolveDeadLetter(msg({}, { messageId: 'm' }), ctx);
    expect(info.origin).toBeUndefined();
    expect(info.kind).toBe('unknown');
    expect(info.originProblem).toMatch(/neither x-warren-origin-\* headers nor x-death/);
  });
});

describe('filters, rates, routing keys, topic patterns', () => {
  const info = resolveDeadLetter(msg({ [HEADERS.failedAt]: new Date(1000).toISOString(), [HEADERS.reason]: 'attempts-exhausted', [HEADERS.errorClass]: 'rate-limited', [HEADERS.route]: 'chat', [HEADERS.originExchange]: 'llm.jobs', [HEADERS.originRoutingKey]: 'llm.standard.chat' }), ctx);
  it('--reason matches the reason or the error class; time filters exclude unknown times', () => {
    expect(matchesFilter(info, { reason: ['rate-limited'] })).toBe(true);
    expect(matchesFilter(info, { reason: ['attempts-exhausted'] })).toBe(true);
    expect(matchesFilter(info, { errorClass: ['timeout'] })).toBe(false);
    expect(matchesFilter(info, { since: 500, before: 2000, route: ['chat'] })).toBe(true);
    expect(matchesFilter(resolveDeadLetter(msg({}), ctx), { since: 0 })).toBe(false);
  });
  it('parses rates', () => {
    expect([parseRate('500/s'), parseRate('30/m'), parseRate('7200/h'), parseRate('10'), parseRate('fast')]).toEqual([500, 0.5, 2, 10, undefined]);
  });
  it('matches topic patterns like the broker', () => {
    expect(topicMatches('llm.standard.#', 'llm.standard')).toBe(true);
    expect(topicMatches('llm.*.chat', 'llm.batch.chat')).toBe(true);
    expect(topicMatches('llm.*', 'llm.a.b')).toBe(false);
  });
});
