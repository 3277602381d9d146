import { describe, expect, it } from 'vitest';
import { formatPlan } from './format-plan.ts';
import type { TopologyPlan } from './plan-step.ts';

const managed = { 'x-warren-managed': true };

const plan: TopologyPlan = {
  vhost: '/',
  steps: [
    { kind: 'create', object: 'exchange', name: 'tasks', exchange: { name: 'tasks', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: { ...managed, 'alternate-exchange': 'tasks.unrouted' } } },
    { kind: 'create', object: 'queue', name: 'llm.batch', queue: { name: 'llm.batch', type: 'classic', durable: true, autoDelete: false, arguments: { 'x-queue-type': 'classic', ...managed, 'x-max-priority': 10 }, role: 'queue' } },
    { kind: 'create', object: 'queue', name: 'llm.batch.retry.1m', queue: { name: 'llm.batch.retry.1m', type: 'classic', durable: true, autoDelete: false, arguments: { 'x-queue-type': 'classic', ...managed }, role: 'retry-wait' } },
    { kind: 'create', object: 'binding', name: 'llm.jobs -> queue llm.batch [llm.batch.#]', binding: { source: 'llm.jobs', destination: 'llm.batch', destinationType: 'queue', routingKey: 'llm.batch.#', arguments: managed } },
    { kind: 'create', object: 'policy', name: 'warren.q.llm.batch.retry.1m', policy: { name: 'warren.q.llm.batch.retry.1m', pattern: '^llm\\.batch\\.retry\\.1m$', applyTo: 'queues', priority: 100, definition: { 'message-ttl': 60000, 'dead-letter-exchange': '', 'dead-letter-routing-key': 'llm.batch' } } },
    { kind: 'update', object: 'policy', name: 'warren.q.llm.batch', queue: 'llm.batch', changes: [{ field: 'message-ttl', actual: 86400000, desired: 3600000 }, { field: 'max-length', actual: undefined, desired: 10 }], policy: { name: 'warren.q.llm.batch', pattern: '^llm\\.batch$', applyTo: 'queues', priority: 100, definition: { 'message-ttl': 3600000, 'max-length': 10 } } },
    { kind: 'update', object: 'policy', name: 'warren.q.tasks.dead', queue: 'tasks.dead', changes: [{ field: 'message-ttl', actual: 5, desired: undefined }], policy: null },
    { kind: 'cannot-change', object: 'queue', name: 'llm.dead', changes: [{ field: 'type', actual: 'classic', desired: 'quorum' }], message: "queue 'llm.dead' is classic on the broker but quorum in topology.yaml; do something." },
    { kind: 'extra', object: 'binding', name: 'tasks -> queue tasks.default [old]', binding: { source: 'tasks', destination: 'tasks.default', destinationType: 'queue', routingKey: 'old', arguments: managed, propertiesKey: 'old' } },
    { kind: 'extra', object: 'queue', name: 'llm.legacy', queue: { name: 'llm.legacy', type: 'classic', durable: true, autoDelete: false, arguments: managed, messages: 12 } },
  ],
  warnings: [{ object: 'policy', name: 'warren.q.llm.batch', message: "policy 'ops' outranks warren's." }],
};

describe('formatPlan', () => {
  it('renders a readable diff with +, ~, ! and - and a summary', () => {
    expect(formatPlan(plan)).toBe(
      [
        '  + exchange tasks  (direct, alternate-exchange tasks.unrouted)',
        '  + queue llm.batch  (classic, x-max-priority=10)',
        '  + queue llm.batch.retry.1m  (classic, retry wait queue)',
        '  + binding llm.jobs -> queue llm.batch [llm.batch.#]',
        '  + policy warren.q.llm.batch.retry.1m  message-ttl=60000, dead-letter-exchange="", dead-letter-routing-key=llm.batch',
        '  ~ policy warren.q.llm.batch  message-ttl: 86400000 -> 3600000, max-length: (none) -> 10',
        '  ~ policy warren.q.tasks.dead  remove: queue tasks.dead no longer sets message-ttl',
        '  ! queue llm.dead',
        "      queue 'llm.dead' is classic on the broker but quorum in topology.yaml; do something.",
        '  - binding tasks -> queue tasks.default [old]  (not in the file; apply --prune deletes it)',
        '  - queue llm.legacy  (12 messages; not in the file; apply --prune-queues deletes it)',
        "  warning: policy 'ops' outranks warren's.",
        '',
        "Plan: 5 to create, 2 to update in place, 1 can't change (apply refuses until fixed), 2 extra on the broker (0 to delete).",
      ].join('\n'),
    );
  });

  it('says which extras a prune deletes', () => {
    const text = formatPlan(plan, { prune: true });
    expect(text).toContain('  - binding tasks -> queue tasks.default [old]  (will be deleted)');
    expect(text).toContain('  - queue llm.legacy  (12 messages; not in the file; apply --prune-queues deletes it)');
    expect(text).toContain('2 extra on the broker (1 to delete)');
    expect(formatPlan(plan, { pruneQueues: true })).toContain('  - queue llm.legacy  (12 messages; will be deleted)');
  });

  it('colours only when asked (TTY)', () => {
    expect(formatPlan(plan)).not.toContain('\u001b[');
    const coloured = formatPlan(plan, { color: true });
    expect(coloured).toContain('\u001b[32m+ exchange tasks\u001b[0m');
    expect(coloured).toContain('\u001b[33m~ policy warren.q.llm.batch\u001b[0m');
    expect(coloured).toContain('\u001b[31m! queue llm.dead\u001b[0m');
    expect(coloured).toContain('\u001b[2m- queue llm.legacy\u001b[0m');
  });

  it('says so when there is nothing to do', () => {
    expect(formatPlan({ vhost: 'prod', steps: [], warnings: [] }, { file: 'conf/t.yaml' })).toBe("No changes: vhost 'prod' matches conf/t.yaml.");
  });
});
