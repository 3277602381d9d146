import { describe, expect, it } from 'vitest';
import { parseTopology } from '../config/load-topology.ts';
import { createDlqTopology } from './dlq-topology.ts';
import { fieldTableBytes } from './header-table-size.ts';
import { createOriginPolicy, plainNameProblem, shownName } from './origin-policy.ts';
import { TEST_TOPOLOGY } from './test-topology.test-support.ts';

const policy = createOriginPolicy(createDlqTopology(TEST_TOPOLOGY));

describe('origin policy', () => {
  it('work queues: declared, not a stream or DLQ, with a deadLetter target', () => {
    expect([...policy.workQueues].sort()).toEqual(['llm.realtime', 'llm.standard', 'tasks.default']);
    expect(policy.queueProblem('warren.events.log')).toBe('is the job-events stream');
    expect(policy.queueProblem('llm.standard.retry.5s')).toBe("is a retry wait queue (of 'llm.standard')");
  });

  it('reach: a route exchange leads to its work queue plus the audit tap; nothing else is tolerated', () => {
    expect(policy.reach('llm.jobs', 'llm.standard.chat')).toEqual({ work: new Set(['llm.standard']), taps: new Set(['llm.jobs.log']) });
    expect(policy.reach('tasks', 'default')).toEqual({ work: new Set(['tasks.default']), taps: new Set() });
    expect(policy.reach('', 'llm.realtime')).toEqual({ work: new Set(['llm.realtime']), taps: new Set() });
    expect(policy.reach('llm.jobs', 'k'.repeat(256))).toEqual({ problem: expect.stringMatching(/longer than 255 bytes/) });
    expect(policy.reach('llm.jobs', 'llm.standard\u0000')).toEqual({ problem: expect.stringMatching(/control characters/) });
    expect(policy.reach('', 'llm.jobs.log')).toEqual({ problem: "queue 'llm.jobs.log', which is a stream" });
  });

  it('reach answers per exchange and key; through a headers exchange, per message headers', () => {
    const topology = parseTopology(
      `version: 1
exchanges:
  front: { type: topic }
  by-header: { type: headers }
  dlx: { type: direct }
queues:
  a: { deadLetter: { exchange: dlx, routingKey: dead } }
  b: { deadLetter: { exchange: dlx, routingKey: dead } }
  dead: {}
bindings:
  - { source: front, queue: a, routingKey: "a.#" }
  - { source: front, exchange: by-header, routingKey: "h.#" }
  - { source: by-header, queue: a, headers: { match: all, values: { to: a } } }
  - { source: by-header, queue: b, headers: { match: all, values: { to: b } } }
  - { source: dlx, queue: dead, routingKey: dead }
`,
      'h.yaml',
      { checkHandlers: false, env: {} },
    ).topology;
    const p = createOriginPolicy(createDlqTopology(topology));
    for (let i = 0; i < 2; i++) {
      expect(p.reach('front', 'a.x')).toEqual({ work: new Set(['a']), taps: new Set() });
      expect(p.reach('front', 'b.x')).toEqual({ problem: "exchange 'front' with routing key 'b.x', which reaches no work queue of the topology" });
      // The same exchange and key, other headers: another answer each time.
      expect(p.reach('front', 'h.x', { to: 'a' })).toEqual({ work: new Set(['a']), taps: new Set() });
      expect(p.reach('front', 'h.x', { to: 'b' })).toEqual({ work: new Set(['b']), taps: new Set() });
      expect(p.reach('by-header', '', { to: 'b' })).toEqual({ work: new Set(['b']), taps: new Set() });
      expect(p.reach('by-header', '', { to: 'a' })).toEqual({ work: new Set(['a']), taps: new Set() });
    }
  });

  it('names that would not round-trip are refused before any lookup', () => {
    expect(['..', '.', 'a/b', 'a%2F', 'a b', 'a\tb', 'a\u200bb', 'amq.topic', '', 'x'.repeat(256)].map(plainNameProblem).every((p) => p !== undefined)).toBe(true);
    expect(plainNameProblem('llm.standard')).toBeUndefined();
    expect([shownName('ok.name'), shownName('a b'), shownName('it\'s')]).toEqual(["'ok.name'", '"a b"', '"it\'s"']);
  });
});

describe('fieldTableBytes', () => {
  it('counts a header table as amqplib encodes it, and refuses what amqplib would', () => {
    // 4 (table length) + per entry: 1 + key + 1 (type) + 4 (length) + value.
    expect(fieldTableBytes({ a: 'xy' })).toBe(4 + 1 + 1 + 5 + 2);
    expect(fieldTableBytes({ a: Buffer.from('xyz'), b: null, c: true })).toBe(4 + (2 + 5 + 3) + (2 + 1) + (2 + 2));
    expect(fieldTableBytes({ t: { u: 'v' } })).toBe(4 + 2 + 1 + (4 + 2 + 5 + 1));
    expect(() => fieldTableBytes({ ['k'.repeat(256)]: 1 })).toThrow(/longer than 255 bytes/);
  });
});
