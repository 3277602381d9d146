import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildIdFilter, hashId, idFilterOf } from './id-filter.ts';

/** A UUID-shaped id derived from `seed` and `i`: the same ids at every run, so the false-positive count is too. */
function fixedId(seed: string, i: number): string {
  const h = createHash('sha256').update(`${seed}:${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

describe('id filter', () => {
  const members = Array.from({ length: 10_000 }, (_, i) => fixedId('member', i));
  const filter = buildIdFilter(members, members.length);

  it('finds every id it was built from', () => {
    expect(members.filter((id) => !filter.has(hashId(id)))).toEqual([]);
  });

  it('says "maybe" for fewer than 5 in 100,000 other ids (measured ~1.3e-5)', () => {
    let wrong = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) if (filter.has(hashId(fixedId('other', i)))) wrong++;
    expect(wrong / n).toBeLessThan(5e-5);
  });

  it('is the same bytes whatever the insertion order, and survives serialisation', () => {
    const again = buildIdFilter([...members].reverse(), members.length);
    expect(Buffer.from(again.bits).equals(Buffer.from(filter.bits))).toBe(true);
    const copy = idFilterOf(new Uint8Array(Buffer.from(Buffer.from(filter.bits).toString('base64'), 'base64')), filter.k);
    expect(members.every((id) => copy.has(hashId(id)))).toBe(true);
  });

  it('sizes itself by whole 64-byte blocks, at 28 bits per id', () => {
    expect(buildIdFilter([], 0).bits.length).toBe(64);
    expect(filter.bits.length).toBe(Math.ceil((10_000 * 28) / 512) * 64);
  });
});
