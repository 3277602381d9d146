import type { Topology } from './topology-schema.ts';

/** A problem at a path of the topology (validate-topology.ts's SemanticIssue). */
interface SemanticIssue {
  path: (string | number)[];
  message: string;
}

/** Names the ordered-queue expansion uses (kept in step with src/jobs/ordering.ts, which config/ can't import). */
const derived = (q: string, n: number): { exchange: string; queues: string[] } => ({
  exchange: `${q}.hash`,
  queues: [...Array.from({ length: n }, (_, i) => `${q}.p${i}`), `${q}.blocks`],
});

/**
 * Checks of `queues.<q>.ordering` (docs/ordered-routes.md): not on a stream, a
 * quorum queue (single-active-consumer fail-over keeps order only there), no
 * clash with the names it expands into, a dead-letter target (a failure must
 * block its key, not vanish), a route reaching one key only, and in-process
 * retries that fit below the broker's consumer_timeout.
 */
export function validateOrdering(t: Topology): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const keyOf = new Map<string, string>();

  for (const [qName, q] of Object.entries(t.queues)) {
    if (q.ordering === undefined) continue;
    const at = (...p: (string | number)[]) => ['queues', qName, 'ordering', ...p];
    keyOf.set(qName, q.ordering.key);
    if (q.type === 'stream') {
      add(at(), `ordering is not supported on stream queues ('${qName}'): streams are for replay, not jobs`);
      continue;
    }
    if (q.type !== 'quorum') add(['queues', qName, 'type'], `ordered queue '${qName}' must be type: quorum (its partitions fail over between workers with single-active-consumer and keep order)`);
    if (q.deadLetter === undefined) add(['queues', qName, 'deadLetter'], `ordered queue '${qName}' needs a deadLetter target: a job that fails for good blocks its key and waits there`);
    if (q.maxPriority !== undefined) add(['queues', qName, 'maxPriority'], `ordered queue '${qName}' can't have priorities: they reorder jobs`);
    const names = derived(qName, q.ordering.partitions);
    if (names.exchange in t.exchanges) add(at(), `ordered queue '${qName}' expands into exchange '${names.exchange}', which exchanges: already declares`);
    for (const n of names.queues) if (n in t.queues) add(at(), `ordered queue '${qName}' expands into queue '${n}', which queues: already declares`);
  }
  if (keyOf.size === 0) return issues;

  for (const [rName, r] of Object.entries(t.routes)) {
    const keys = new Set<string>();
    for (const b of t.bindings) if (b.source === r.exchange && b.queue !== undefined && keyOf.has(b.queue)) keys.add(keyOf.get(b.queue) as string);
    if (keys.size > 1) add(['routes', rName, 'exchange'], `route '${rName}' reaches ordered queues with different keys (${[...keys].join(', ')}); a job has one ordering key`);
  }

  for (const [cName, c] of Object.entries(t.consumers)) {
    const q = t.queues[c.queue];
    if (q?.ordering === undefined) continue;
    const policy = q.retry === undefined ? undefined : t.retryPolicies[q.retry];
    if (!policy) continue;
    // Ordered retries run in the worker (the key's later jobs wait behind them): the delivery is held the whole time.
    let held = policy.attempts * c.timeout;
    for (let i = 0; i < policy.attempts - 1; i++) held += policy.backoff[Math.min(i, policy.backoff.length - 1)] ?? 0;
    if (held >= t.connection.consumerTimeout) {
      add(['queues', c.queue, 'retry'], `ordered queue '${c.queue}' retries in the worker while holding the job: ${policy.attempts} attempts of up to ${c.timeout}ms (consumer '${cName}') plus backoff make ${held}ms, not below the broker's consumer_timeout ${t.connection.consumerTimeout}ms`);
    }
  }
  return issues;
}
