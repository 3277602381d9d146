import { describe, expect, it } from 'vitest';
import { createBytePacer, UNPACED } from './byte-pacer.ts';

function pacerAt(bytesPerSecond: number, burstBytes: number) {
  let t = 1_000;
  const waits: number[] = [];
  const pacer = createBytePacer({
    bytesPerSecond,
    burstBytes,
    now: () => t,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  return { pacer, waits, advance: (ms: number) => (t += ms) };
}

describe('byte pacer', () => {
  it('lets a burst through at once, then spaces the rest at the rate', () => {
    const { pacer, waits } = pacerAt(1_000, 2_000);
    // 2,000 bytes of burst: the first two 1,000-byte takes go at once.
    expect(pacer.take('k', 1_000)).toBeUndefined();
    expect(pacer.take('k', 1_000)).toBeUndefined();
    // The next ones wait 1 s, 2 s, 3 s: 1,000 bytes per second.
    for (let i = 0; i < 3; i++) expect(pacer.take('k', 1_000)).toBeInstanceOf(Promise);
    expect(waits).toEqual([1_000, 2_000, 3_000]);
  });

  it('a key that paused earns its pace back, up to the burst only', () => {
    const { pacer, waits, advance } = pacerAt(1_000, 1_000);
    pacer.take('k', 1_000);
    void pacer.take('k', 1_000);
    expect(waits).toEqual([1_000]);
    advance(10_000);
    // Ten idle seconds buy one burst, not ten seconds of bytes.
    expect(pacer.take('k', 1_000)).toBeUndefined();
    void pacer.take('k', 1_000);
    expect(waits).toEqual([1_000, 1_000]);
  });

  it("keys are paced apart: one key's backlog never delays another", () => {
    const { pacer, waits } = pacerAt(1_000, 1_000);
    for (let i = 0; i < 5; i++) void pacer.take('noisy', 1_000);
    expect(waits).toEqual([1_000, 2_000, 3_000, 4_000]);
    expect(pacer.take('quiet', 1_000)).toBeUndefined();
  });

  it('rate 0 turns pacing off', () => {
    expect(createBytePacer({ bytesPerSecond: 0, burstBytes: 0 })).toBe(UNPACED);
    expect(UNPACED.take('k', 1e9)).toBeUndefined();
  });
});
