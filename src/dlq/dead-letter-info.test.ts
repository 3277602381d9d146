import type { MessageProperties } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '../jobs/headers.ts';
import { resolveDeadLetter, type ResolveContext } from './dead-letter-info.ts';
import { topicMatches } from './dlq-topology.ts';
import { matchesFilter } from './message-filter.ts';
import { parseRate } from './rate-limiter.ts';
import { requeueProperties } from './requeue-message.ts';
import { fillRoutingKey } from './routing-key-template.ts';

const ctx: ResolveContext = { queue: 'llm.dead', waitQueues: new Map([['llm.standard.retry.5s', 'llm.standard']]), deadLetterQueues: new Set(['llm.dead']) };
const msg = (headers: Record<string, unknown>, extra: Partial<MessageProperties> = {}) => ({ properties: { headers, ...extra } as MessageProperties });
const ts = (s: number) => ({ '!': 'timestamp', value: s });

describe('resolveDeadLetter', () => {
  it('broker dead letter: origin from the newest x-death entry', () => {
    const info = resolveDeadLetter(msg({ 'x-death': [{ queue: 'llm.standard', reason: 'delivery_limit', exchange: 'llm.jobs', 'routing-keys': ['llm.standard.chat'], count: 1, time: ts(1_700_000_000) }] }), ctx);
    expect(info).toMatchObject({ kind: 'broker', reason: 'delivery_limit', failedAt: 1_700_000_000_000, origin: { exchange: 'llm.jobs', routingKey: 'llm.standard.chat', queue: 'llm.standard', source: 'x-death' } });
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

  it('no origin at all is reported, never guessed', () => {
    const info = resolveDeadLetter(msg({}, { messageId: 'm' }), ctx);
    expect(info.origin).toBeUndefined();
    expect(info.kind).toBe('unknown');
    expect(info.originProblem).toMatch(/neither x-warren-origin-\* headers nor x-death/);
  });
});

describe('filters, rates, routing keys, topic patterns', () => {
  const info = resolveDeadLetter(msg({ [HEADERS.failedAt]: new Date(1000).toISOString(), [HEADERS.reason]: 'attempts-exhausted', [HEADERS.errorClass]: 'rate-limited', [HEADERS.route]: 'chat', [HEADERS.originExchange]: 'x', [HEADERS.originRoutingKey]: 'k' }), ctx);
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
  it('fills routing-key templates from payload then defaults', () => {
    expect(fillRoutingKey('llm.{priority}.chat', { priority: 'batch' }, { priority: 'standard' })).toEqual({ key: 'llm.batch.chat' });
    expect(fillRoutingKey('llm.{priority}.chat', {}, { priority: 'standard' })).toEqual({ key: 'llm.standard.chat' });
    expect(fillRoutingKey('x.{kind}', {}, {})).toEqual({ missing: ['kind'] });
  });
  it('matches topic patterns like the broker', () => {
    expect(topicMatches('llm.standard.#', 'llm.standard')).toBe(true);
    expect(topicMatches('llm.*.chat', 'llm.batch.chat')).toBe(true);
    expect(topicMatches('llm.*', 'llm.a.b')).toBe(false);
  });
});

describe('requeueProperties', () => {
  it('keeps properties, strips broker death headers, bumps the requeue count, resets the attempt', () => {
    const p = requeueProperties(
      { headers: { 'x-death': [], 'x-first-death-queue': 'q', 'x-custom': 1, [HEADERS.attempt]: 5, [HEADERS.requeued]: 1, [HEADERS.errorClass]: 'timeout' }, deliveryMode: 2, messageId: 'm', contentType: 'application/json', timestamp: 5 } as unknown as MessageProperties,
      { origin: { exchange: 'e', routingKey: 'k', queue: 'q' }, requeued: 1, keepAttempts: false, fromQueue: 'dead', now: new Date(0) },
    );
    expect(p).toMatchObject({ persistent: true, messageId: 'm', contentType: 'application/json', timestamp: 5 });
    expect(p.headers).toEqual({
      'x-custom': 1,
      [HEADERS.attempt]: 1,
      [HEADERS.requeued]: 2,
      [HEADERS.originExchange]: 'e',
      [HEADERS.originRoutingKey]: 'k',
      [HEADERS.originQueue]: 'q',
      'x-warren-requeued-at': '1970-01-01T00:00:00.000Z',
      'x-warren-requeued-from': 'dead',
    });
  });
});
