import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '../jobs/headers.ts';
import { deadLetterRequest } from './dead-letter.ts';

function message(headers: Record<string, unknown>, fields: Partial<ConsumeMessage['fields']> = {}): ConsumeMessage {
  return {
    content: Buffer.from('{"a":1}'),
    fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'llm.standard', consumerTag: 'c', ...fields },
    properties: {
      contentType: 'application/json',
      contentEncoding: undefined,
      headers,
      deliveryMode: 2,
      priority: 3,
      correlationId: undefined,
      replyTo: undefined,
      expiration: '500',
      messageId: 'job-1',
      timestamp: 1700000000,
      type: undefined,
      userId: 'guest',
      appId: 'api',
      clusterId: undefined,
    },
  };
}

describe('deadLetterRequest', () => {
  const queue = { type: 'quorum' as const, durable: true, autoDelete: false, deadLetter: { exchange: 'llm.dlx', routingKey: 'llm.dead' } };
  const info = { errorClass: 'auth', errorMessage: 'Incorrect API key provided: sk-abcdefghijklmnop1234', reason: 'auth', attempts: 2, queue: 'llm.standard', now: new Date('2025-01-02T03:04:05.000Z') };

  it('targets the queue DLX with the original body and properties plus x-warren-* headers', () => {
    const msg = message({ [HEADERS.route]: 'chat', [HEADERS.attempt]: 2, [HEADERS.originExchange]: 'llm.jobs', [HEADERS.originRoutingKey]: 'llm.standard.chat', 'x-death': [{ count: 1 }], 'x-first-death-queue': 'llm.standard.retry.5s', custom: 'kept' });
    const r = deadLetterRequest(msg, queue, info);
    expect(r?.exchange).toBe('llm.dlx');
    expect(r?.routingKey).toBe('llm.dead');
    expect(r?.content.toString()).toBe('{"a":1}');
    expect(r?.properties).toMatchObject({ messageId: 'job-1', contentType: 'application/json', priority: 3, timestamp: 1700000000, appId: 'api', persistent: true });
    // A dead letter must not expire, and the broker refuses a user-id that isn't the connection's.
    expect(r?.properties?.expiration).toBeUndefined();
    expect(r?.properties?.userId).toBeUndefined();
    expect(r?.properties?.headers).toEqual({
      [HEADERS.route]: 'chat',
      [HEADERS.attempt]: 2,
      custom: 'kept',
      [HEADERS.errorClass]: 'auth',
      [HEADERS.errorMessage]: 'Incorrect API key provided: sk-***',
      [HEADERS.attempts]: 2,
      [HEADERS.originExchange]: 'llm.jobs',
      [HEADERS.originRoutingKey]: 'llm.standard.chat',
      [HEADERS.originQueue]: 'llm.standard',
      [HEADERS.failedAt]: '2025-01-02T03:04:05.000Z',
      [HEADERS.reason]: 'auth',
    });
  });

  it("falls back to the delivery's exchange and routing key, and to the message's key without a DLX routing key", () => {
    const msg = message({}, { exchange: 'tasks', routingKey: 'default' });
    const r = deadLetterRequest(msg, { ...queue, deadLetter: { exchange: 'dlx' } }, info);
    expect(r?.routingKey).toBe('default');
    expect(r?.properties?.headers?.[HEADERS.originExchange]).toBe('tasks');
  });

  it('returns undefined for a queue without a dead-letter target', () => {
    expect(deadLetterRequest(message({}), { type: 'classic', durable: true, autoDelete: false }, info)).toBeUndefined();
  });
});
