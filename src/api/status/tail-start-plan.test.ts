import { describe, expect, it } from 'vitest';
import { planTailStart } from './tail-start-plan.ts';

describe('planTailStart', () => {
  it('a boot with little unindexed history reads it all live and warms the cache', () => {
    expect(planTailStart({ chainStart: 100, end: 300, lastChunk: 290, bootWindow: 256 })).toEqual({ mode: 'live', tailFrom: 100, liveFrom: 100, warm: true });
  });

  it('a boot with a long unindexed history starts at the last chunk and indexes the rest in the background', () => {
    expect(planTailStart({ chainStart: 100, end: 10_000, lastChunk: 9_800, bootWindow: 256 })).toEqual({ mode: 'provisional', tailFrom: 9_800, gapStart: 100 });
  });

  it('a resume goes on right after the last applied offset even when much was written meanwhile (no skipped events)', () => {
    // The bug this guards: a tail that lost its consumer during a cluster restart re-attached at the last chunk,
    // and jobs whose later events lay in between stayed 'queued' in the cache for good.
    expect(planTailStart({ chainStart: 0, end: 10_000, lastChunk: 9_800, bootWindow: 256, resumeFrom: 5_001 })).toEqual({
      mode: 'provisional',
      tailFrom: 5_001,
      gapStart: 0,
    });
  });

  it('a resume before the chain start re-reads from the resume point and builds segments from the chain start', () => {
    expect(planTailStart({ chainStart: 4_096, end: 10_000, lastChunk: 9_800, bootWindow: 256, resumeFrom: 4_000 })).toEqual({
      mode: 'live',
      tailFrom: 4_000,
      liveFrom: 4_096,
      warm: false,
    });
  });
});
