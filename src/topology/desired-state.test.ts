import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { desiredState, exactPattern } from './desired-state.ts';

const topology = topologySchema.parse({
  version: 1,
  exchanges: { jobs: { type: 'topic' }, dlx: { type: 'direct' }, docs: { type: 'headers' } },
  queues: {
    work: { type: 'quorum', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, deliveryLimit: 3, retry: 'fast' },
    plain: { type: 'classic', maxPriority: 5, messageTtl: '1m' },
    dead: { type: 'quorum' },
    pdf: {},
    log: { type: 'stream', retention: { maxAge: '1d', maxLengthBytes: '1MB' } },
  },
  bindings: [
    { source: 'jobs', queue: 'work', routingKey: 'a.#' },
    { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    { source: 'docs', queue: 'pdf', headers: { match: 'any', values: { format: 'pdf' } } },
  ],
  retryPolicies: { fast: { attempts: 3, backoff: ['10s', '1s', '10s'] } },
});

describe('desiredState', () => {
  const state = desiredState(topology);

  it('expands a retry policy into one wait queue per distinct tier, sorted', () => {
    expect(state.queues.filter((q) => q.role === 'retry-wait').map((q) => q.name)).toEqual(['work.retry.1s', 'work.retry.10s']);
    const wait = state.queues.find((q) => q.name === 'work.retry.1s');
    expect(wait).toMatchObject({ type: 'quorum', role: 'retry-wait' });
    const policy = state.policies.find((p) => p.name === 'warren.q.work.retry.1s');
    expect(policy?.definition).toEqual({
      'message-ttl': 1_000,
      'dead-letter-exchange': '',
      'dead-letter-routing-key': 'work',
      overflow: 'reject-publish',
      'dead-letter-strategy': 'at-least-once',
    });
  });

  it('puts changeable settings in a per-queue policy and structural ones in arguments', () => {
    const work = state.queues.find((q) => q.name === 'work');
    expect(work?.arguments).toEqual({ 'x-queue-type': 'quorum', 'x-warren-managed': true });
    expect(state.policies.find((p) => p.name === 'warren.q.work')).toEqual({
      name: 'warren.q.work',
      pattern: '^work$',
      applyTo: 'queues',
      priority: 100,
      definition: { 'dead-letter-exchange': 'dlx', 'dead-letter-routing-key': 'dead', 'delivery-limit': 3 },
    });
    expect(state.queues.find((q) => q.name === 'plain')?.arguments).toMatchObject({ 'x-max-priority': 5 });
    expect(state.policies.find((p) => p.name === 'warren.q.plain')?.definition).toEqual({ 'message-ttl': 60_000 });
    expect(state.queues.find((q) => q.name === 'log')?.arguments).toMatchObject({ 'x-max-age': '86400s', 'x-max-length-bytes': 1_000_000 });
  });

  it('creates no policy for a queue without changeable settings', () => {
    expect(state.policies.find((p) => p.name === 'warren.q.pdf')).toBeUndefined();
  });

  it('turns a headers match into binding arguments', () => {
    const b = state.bindings.find((x) => x.destination === 'pdf');
    expect(b).toEqual({ source: 'docs', destination: 'pdf', destinationType: 'queue', routingKey: '', arguments: { 'x-warren-managed': true, 'x-match': 'any', format: 'pdf' } });
  });

  it("adds warren's job-event exchange and stream", () => {
    expect(state.exchanges.find((e) => e.name === 'warren.events')?.type).toBe('fanout');
    expect(state.queues.find((q) => q.name === 'warren.events.log')).toMatchObject({ type: 'stream', role: 'job-events' });
  });

  it('declares the job-history checkpoint stream, and keeps both streams\' retention in policies (changeable in place)', () => {
    const events = state.queues.find((q) => q.name === 'warren.events.log');
    const checkpoints = state.queues.find((q) => q.name === 'warren.events.checkpoints');
    expect(checkpoints).toMatchObject({ type: 'stream', role: 'job-history' });
    for (const q of [events, checkpoints]) expect(Object.keys(q?.arguments ?? {}).sort()).toEqual(['x-queue-type', 'x-warren-managed']);
    expect(state.policies.find((p) => p.name === 'warren.q.warren.events.log')?.definition).toEqual({ 'max-age': '604800s', 'max-length-bytes': 20_000_000_000 });
    // A hundredth of the events stream: a checkpoint holds ~3 bytes per job of a segment of ~1,000 jobs.
    expect(state.policies.find((p) => p.name === 'warren.q.warren.events.checkpoints')?.definition).toEqual({ 'max-age': '604800s', 'max-length-bytes': 200_000_000 });
  });

  it('anchors and escapes policy patterns', () => {
    expect(exactPattern('llm.realtime')).toBe('^llm\\.realtime$');
    expect(new RegExp(exactPattern('a.b')).test('aXb')).toBe(false);
  });
});
