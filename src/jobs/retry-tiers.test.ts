import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { retryQueueName, retryTiers } from './retry-tiers.ts';

const topology = topologySchema.parse({
  version: 1,
  exchanges: { dlx: { type: 'direct' } },
  queues: { work: { type: 'quorum', deadLetter: { exchange: 'dlx' }, retry: 'fast' }, plain: { type: 'classic' } },
  retryPolicies: { fast: { attempts: 3, backoff: ['10s', '1s', '10s'] } },
});

describe('retry tiers', () => {
  it('one wait queue per distinct backoff, sorted ascending', () => {
    expect(retryTiers(topology, 'work')).toEqual([
      { delayMs: 1_000, queue: 'work.retry.1s' },
      { delayMs: 10_000, queue: 'work.retry.10s' },
    ]);
  });
  it('none for a queue without a retry policy or an unknown queue', () => {
    expect(retryTiers(topology, 'plain')).toEqual([]);
    expect(retryTiers(topology, 'nope')).toEqual([]);
  });
  it('names wait queues <queue>.retry.<duration>', () => {
    expect(retryQueueName('q', 90_000)).toBe('q.retry.90s');
  });
});
