import type { MessageProperties } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { HEADERS } from './headers.ts';
import {
  deadLetterProperties,
  firstPublishProperties,
  forwardProperties,
  republishHeaders,
  republishProperties,
  requeueProperties,
  resultProperties,
  retryProperties,
} from './message-properties.ts';

const props = (p: Omit<Partial<MessageProperties>, 'headers'> & { headers?: Record<string, unknown> }): MessageProperties => p as MessageProperties;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const origin = { exchange: 'llm.jobs', routingKey: 'llm.standard.chat' };

/** Every republish kind, applied to the same consumed message. */
const kinds = (p: MessageProperties) => ({
  retry: retryProperties(p, { attempt: 2, origin, delayMs: 1000 }),
  deadLetter: deadLetterProperties(p, { errorClass: 'timeout', errorMessage: 'slow', reason: 'timeout', attempts: 1, origin, queue: 'llm.standard', failedAt: new Date(0) }),
  forward: forwardProperties(p, { route: 'fallback', origin }),
  requeue: requeueProperties(p, { origin: { ...origin, queue: 'llm.standard' }, requeued: 0, keepAttempts: false, fromQueue: 'dead', now: new Date(0) }),
});

describe('first publish', () => {
  it('is persistent, mandatory, JSON, stamped in seconds, with the id, correlation id and app', () => {
    const before = nowSeconds();
    const p = firstPublishProperties('job-1', 'corr-1', 'warren-api', { [HEADERS.route]: 'chat' });
    expect(p).toMatchObject({ persistent: true, mandatory: true, messageId: 'job-1', correlationId: 'corr-1', contentType: 'application/json', appId: 'warren-api', headers: { [HEADERS.route]: 'chat' } });
    expect(p.timestamp).toBeGreaterThanOrEqual(before);
    expect(p.timestamp).toBeLessThanOrEqual(nowSeconds());
    expect(p).not.toHaveProperty('priority');
    expect(firstPublishProperties('j', 'j', 'a', {}, 7).priority).toBe(7);
  });
});

describe('every republish (retry, dead letter, forward, requeue) follows one rule', () => {
  const consumed = props({
    headers: { custom: 'kept', 'x-death': [{ count: 1 }], 'x-first-death-queue': 'q', 'x-last-death-reason': 'expired', 'x-delivery-count': 3, CC: ['warren.events.log'], BCC: ['x'] },
    deliveryMode: 2,
    messageId: 'job-1',
    correlationId: 'corr',
    contentType: 'application/json',
    priority: 4,
    type: 'task',
    appId: 'warren-api',
    timestamp: 1_700_000_000,
    userId: 'alice',
    expiration: '500',
    clusterId: 'old',
  });

  it('never copies userId, expiration or clusterId; keeps the rest; mandatory', () => {
    for (const [kind, p] of Object.entries(kinds(consumed))) {
      expect(p, kind).toMatchObject({ messageId: 'job-1', correlationId: 'corr', contentType: 'application/json', priority: 4, type: 'task', appId: 'warren-api', timestamp: 1_700_000_000, persistent: true, mandatory: true });
      expect(p.userId, kind).toBeUndefined();
      expect(p.expiration, kind).toBeUndefined();
      expect(p, kind).not.toHaveProperty('clusterId');
    }
  });

  it('drops the broker-owned headers (x-death family, x-delivery-count, CC, BCC) and keeps the caller\'s', () => {
    for (const [kind, p] of Object.entries(kinds(consumed))) {
      const h = p.headers as Record<string, unknown>;
      expect(h.custom, kind).toBe('kept');
      for (const owned of ['x-death', 'x-first-death-queue', 'x-last-death-reason', 'x-delivery-count', 'CC', 'BCC']) expect(h, `${kind} ${owned}`).not.toHaveProperty(owned);
    }
  });

  it('deliveryMode: a missing one counts as persistent, only an explicit 1 stays transient', () => {
    for (const [kind, p] of Object.entries(kinds(props({ headers: {} })))) expect(p.persistent, kind).toBe(true);
    for (const [kind, p] of Object.entries(kinds(props({ headers: {}, deliveryMode: 1 })))) expect(p.persistent, kind).toBe(false);
  });

  it('timestamp: seconds kept, legacy milliseconds converted to seconds, a missing one stamped now', () => {
    for (const [kind, p] of Object.entries(kinds(props({ headers: {}, timestamp: 1_700_000_000_123 })))) expect(p.timestamp, kind).toBe(1_700_000_000);
    const before = nowSeconds();
    for (const [kind, p] of Object.entries(kinds(props({ headers: {} })))) {
      expect(p.timestamp, kind).toBeGreaterThanOrEqual(before);
      expect(p.timestamp, kind).toBeLessThanOrEqual(nowSeconds());
    }
  });

  it('republishHeaders ignores inherited keys and copies nothing from a missing table', () => {
    expect(republishHeaders(undefined)).toEqual({});
    const inherited = Object.create({ CC: ['x'], sneaky: 1 }) as Record<string, unknown>;
    inherited.own = 1;
    expect(republishHeaders(inherited)).toEqual({ own: 1 });
  });

  it('republishProperties leaves out properties the message does not have', () => {
    const p = republishProperties(props({ headers: {}, timestamp: 5 }), {});
    expect(Object.keys(p).sort()).toEqual(['headers', 'mandatory', 'persistent', 'timestamp']);
  });
});

describe('what each kind writes', () => {
  it('retry: the next attempt, the origin, the delay, and its own expiration', () => {
    const p = retryProperties(props({ headers: { [HEADERS.attempt]: 1 } }), { attempt: 2, origin, delayMs: 750, expiration: '750' });
    expect(p.headers).toEqual({ [HEADERS.attempt]: 2, [HEADERS.originExchange]: 'llm.jobs', [HEADERS.originRoutingKey]: 'llm.standard.chat', [HEADERS.retryDelay]: 750 });
    expect(p.expiration).toBe('750');
  });

  it('dead letter: why, when, where from', () => {
    const p = deadLetterProperties(props({ headers: { [HEADERS.route]: 'chat' } }), { errorClass: 'auth', errorMessage: 'no', reason: 'auth', attempts: 2, origin, queue: 'llm.standard', failedAt: new Date('2025-01-02T03:04:05.000Z') });
    expect(p.headers).toEqual({
      [HEADERS.route]: 'chat',
      [HEADERS.errorClass]: 'auth',
      [HEADERS.errorMessage]: 'no',
      [HEADERS.attempts]: 2,
      [HEADERS.originExchange]: 'llm.jobs',
      [HEADERS.originRoutingKey]: 'llm.standard.chat',
      [HEADERS.originQueue]: 'llm.standard',
      [HEADERS.failedAt]: '2025-01-02T03:04:05.000Z',
      [HEADERS.reason]: 'auth',
    });
  });

  it('forward: attempt 1 on the new route, the chain grows, the previous route is named', () => {
    const first = forwardProperties(props({ headers: { [HEADERS.route]: 'chat', [HEADERS.attempt]: 3 } }), { route: 'chat-small', origin });
    expect(first.headers).toMatchObject({ [HEADERS.route]: 'chat-small', [HEADERS.attempt]: 1, [HEADERS.forwardedTo]: 'chat-small', [HEADERS.forwardedFrom]: 'chat' });
    const second = forwardProperties(props({ headers: first.headers as Record<string, unknown> }), { route: 'chat-tiny', origin });
    expect(second.headers).toMatchObject({ [HEADERS.forwardedTo]: 'chat-small,chat-tiny', [HEADERS.forwardedFrom]: 'chat-small' });
    const unnamed = forwardProperties(props({ headers: { [HEADERS.route]: '' } }), { route: 'x', origin });
    expect(unnamed.headers).not.toHaveProperty(HEADERS.forwardedFrom);
  });

  it('requeue: strips the failure headers, bumps the count, resets the attempt, writes the destination as origin', () => {
    const p = requeueProperties(
      props({ headers: { 'x-death': [], 'x-custom': 1, [HEADERS.attempt]: 5, [HEADERS.requeued]: 1, [HEADERS.errorClass]: 'timeout', [HEADERS.errorMessage]: 'm', [HEADERS.failedAt]: 'x', [HEADERS.reason]: 'timeout', [HEADERS.attempts]: 5, CC: ['warren.events.log'] }, deliveryMode: 2, messageId: 'm', timestamp: 5, userId: 'alice' }),
      { origin: { exchange: 'e', routingKey: 'k', queue: 'q' }, requeued: 1, keepAttempts: false, fromQueue: 'dead', now: new Date(0) },
    );
    expect(p).toMatchObject({ persistent: true, messageId: 'm', timestamp: 5 });
    expect(p.userId).toBeUndefined();
    expect(p.headers).toEqual({
      'x-custom': 1,
      [HEADERS.attempt]: 1,
      [HEADERS.requeued]: 2,
      [HEADERS.originExchange]: 'e',
      [HEADERS.originRoutingKey]: 'k',
      [HEADERS.originQueue]: 'q',
      [HEADERS.requeuedAt]: '1970-01-01T00:00:00.000Z',
      [HEADERS.requeuedFrom]: 'dead',
    });
  });

  it('requeue --keep-attempts keeps the attempt, clamped to at least 1; --to-route names the route; no queue drops the origin queue', () => {
    const p = requeueProperties(props({ headers: { [HEADERS.attempt]: -7, [HEADERS.originQueue]: 'old' } }), { origin: { exchange: 'e', routingKey: 'k', queue: undefined }, requeued: 0, keepAttempts: true, route: 'fallback', fromQueue: 'dead', now: new Date(0) });
    expect(p.headers?.[HEADERS.attempt]).toBe(1);
    expect(p.headers?.[HEADERS.route]).toBe('fallback');
    expect(p.headers).not.toHaveProperty(HEADERS.originQueue);
  });

  it('result: a new message about the job, stamped in seconds', () => {
    const p = resultProperties('job-1', 'chat');
    expect(p).toMatchObject({ persistent: true, mandatory: true, messageId: 'job-1.result', correlationId: 'job-1', type: 'job.result', headers: { [HEADERS.route]: 'chat' } });
    expect(p.timestamp).toBeLessThanOrEqual(nowSeconds());
    expect(p.timestamp).toBeGreaterThan(nowSeconds() - 5);
  });
});
