import { describe, expect, it } from 'vitest';
import { amqpTimestampToMs, normalizeAmqpTimestamp, toAmqpTimestamp } from './amqp-timestamp.ts';
import { headerCount, headerName, headerNumber, headerString, headerTime } from './header-values.ts';
import { HEADERS } from './headers.ts';
import { readAttempt, readForwardedTo, readOrigin, readRoute } from './job-headers.ts';

describe('header values', () => {
  it("headerString: '' is a value (the default exchange is named ''), absent is undefined", () => {
    expect(headerString('')).toBe('');
    expect(headerString(Buffer.from('llm.jobs'))).toBe('llm.jobs');
    expect([headerString(3), headerString(true), headerString(5n)]).toEqual(['3', 'true', '5']);
    for (const absent of [undefined, null, { a: 1 }, ['x']]) expect(headerString(absent)).toBeUndefined();
  });

  it('headerNumber and headerCount read typed values; counts are clamped', () => {
    expect(headerNumber({ '!': 'long', value: 4 })).toBe(4);
    expect(headerNumber('x')).toBeUndefined();
    expect([headerCount(-1000), headerCount(2.9), headerCount(1e300), headerCount('7'), headerCount(undefined)]).toEqual([0, 2, Number.MAX_SAFE_INTEGER, 7, undefined]);
  });

  it('headerName refuses what is not a name', () => {
    expect(headerName('q')).toBe('q');
    expect(headerName(5)).toEqual({ invalid: 'a number' });
    expect(headerName(Buffer.from([0xff]))).toEqual({ invalid: 'bytes that are not valid UTF-8' });
  });

  it('headerTime reads ISO strings, AMQP timestamps in seconds and legacy milliseconds alike', () => {
    const ms = Date.parse('2024-05-01T10:00:00.000Z');
    expect(headerTime('2024-05-01T10:00:00.000Z')).toBe(ms);
    expect(headerTime({ '!': 'timestamp', value: ms / 1000 })).toBe(ms);
    expect(headerTime(ms)).toBe(ms);
    expect(headerTime('yesterday')).toBeUndefined();
  });
});

describe('AMQP timestamps', () => {
  it('are written in seconds and read in either unit', () => {
    expect(toAmqpTimestamp(1_700_000_000_999)).toBe(1_700_000_000);
    expect(amqpTimestampToMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(amqpTimestampToMs(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(normalizeAmqpTimestamp(1_700_000_000_123)).toBe(1_700_000_000);
    expect(normalizeAmqpTimestamp(1_700_000_000)).toBe(1_700_000_000);
  });
});

describe('job header readers', () => {
  it('readAttempt: 1 when absent, unreadable or below 1; counters clamped', () => {
    expect(readAttempt(undefined)).toBe(1);
    expect(readAttempt({ [HEADERS.attempt]: '' })).toBe(1);
    expect(readAttempt({ [HEADERS.attempt]: -4 })).toBe(1);
    expect(readAttempt({ [HEADERS.attempt]: 'x' })).toBe(1);
    expect(readAttempt({ [HEADERS.attempt]: 3 })).toBe(3);
    expect(readAttempt({ [HEADERS.attempt]: '2' })).toBe(2);
  });

  it("readRoute: no route is named ''", () => {
    expect(readRoute({ [HEADERS.route]: 'chat' })).toBe('chat');
    expect(readRoute({ [HEADERS.route]: '' })).toBeUndefined();
    expect(readRoute({})).toBeUndefined();
  });

  it('readForwardedTo splits the chain', () => {
    expect(readForwardedTo({ [HEADERS.forwardedTo]: 'a,,b' })).toEqual(['a', 'b']);
    expect(readForwardedTo({})).toEqual([]);
  });

  it("readOrigin: the origin headers, '' (the default exchange) included, else the delivery's own", () => {
    const delivery = { exchange: 'dlx', routingKey: 'work' };
    expect(readOrigin({ [HEADERS.originExchange]: '', [HEADERS.originRoutingKey]: 'work' }, delivery)).toEqual({ exchange: '', routingKey: 'work' });
    expect(readOrigin({}, delivery)).toEqual(delivery);
  });
});
