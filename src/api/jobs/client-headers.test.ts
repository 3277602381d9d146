import { describe, expect, it } from 'vitest';
import { clientHeaderProblems, encodedHeaderBytes, isEncodableHeaderNumber, isReservedHeader } from './client-headers.ts';

describe('client headers of POST /v1/publish', () => {
  it.each(['CC', 'cc', 'Bcc', 'BCC', 'x-death', 'X-Delay', 'x-match', 'x-deduplication-header', 'x-warren-route', 'x-first-death-queue', 'x-delivery-count', 'x-stream-filter-value', 'x-received-from', 'x-cc', 'timestamp_in_ms', 'TraceParent'])(
    'reserves %s',
    (name) => expect(isReservedHeader(name)).toBe(true),
  );

  it.each(['format', 'kind', 'ccx', 'tenant', 'xdelay', 'x', 'tracestate'])('leaves %s to the client', (name) => expect(isReservedHeader(name)).toBe(false));

  it('names every reserved or over-long header by its field path', () => {
    expect(clientHeaderProblems({ format: 'pdf', CC: 'a', 'x-delay': 5, ['é'.repeat(128)]: 1 }).map((p) => [p.path, p.code])).toEqual([
      ['headers.CC', 'reserved_header'],
      ['headers.x-delay', 'reserved_header'],
      [`headers.${'é'.repeat(128)}`, 'too_big'],
    ]);
    expect(clientHeaderProblems({ ['a'.repeat(255)]: 1 })).toEqual([]);
  });

  it('counts encoded bytes as amqplib writes them (UTF-8, numbers at their widest)', () => {
    expect(encodedHeaderBytes({})).toBe(4);
    // 1 (name length) + 1 (name) + 1 (tag) + 4 (string length) + 2 (é in UTF-8)
    expect(encodedHeaderBytes({ a: 'é' })).toBe(4 + 9);
    expect(encodedHeaderBytes({ n: 7, t: true })).toBe(4 + (3 + 8) + (3 + 1));
  });

  it('accepts numbers amqplib encodes and refuses those its int64 path throws on', () => {
    for (const n of [0, -1, 1.5, 2 ** 53 - 1, -(2 ** 53 - 1), 1e-9, 2 ** 49 + 0.5, 2 ** 64, 1e300]) expect(isEncodableHeaderNumber(n), String(n)).toBe(true);
    // Each of these throws inside amqplib's encoder (checked by hand against amqplib 2.3.1's codec).
    for (const n of [-1e20, -(2 ** 63) - 4096, 2 ** 51 + 0.5, -(2 ** 51) - 0.5, Number.NaN]) expect(isEncodableHeaderNumber(n), String(n)).toBe(false);
  });
});
