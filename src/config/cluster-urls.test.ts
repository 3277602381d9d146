import { describe, expect, it } from 'vitest';
import { connectionSchema } from './topology-schema.ts';

describe('connection.urls', () => {
  it('splits an entry holding comma-separated URLs, so one variable can name a whole cluster', () => {
    const c = connectionSchema.parse({ urls: ['amqp://a:5672, amqp://b:5672,amqp://c:5672', 'amqp://d:5672'] });
    expect(c.urls).toEqual(['amqp://a:5672', 'amqp://b:5672', 'amqp://c:5672', 'amqp://d:5672']);
  });

  it('still checks every URL after the split', () => {
    const r = connectionSchema.safeParse({ urls: ['amqp://a:5672,http://b:15672'] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['urls', 1]);
  });
});
