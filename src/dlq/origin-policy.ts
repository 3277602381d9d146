import type { DlqTopology } from './dlq-topology.ts';

/** Where a publish to an exchange + routing key lands, split by what those queues are. */
export interface OriginReach {
  /** Work queues of the topology it reaches. */
  work: ReadonlySet<string>;
  /** Audit taps it also feeds (queues fed only through internal exchanges, e.g. `llm.jobs.log`). */
  taps: ReadonlySet<string>;
}

/**
 * Which names a dead letter may give as its origin. Everything a message
 * carries is input from whoever published it, so a requeue publishes only
 * where the topology says jobs live:
 *
 * - a **work queue**: declared in topology.yaml, not a stream, not a
 *   dead-letter queue, not the job-events stream, and with a `deadLetter`
 *   target (a queue without one never produces a dead letter). Retry wait
 *   queues are mapped to their work queue before they get here.
 * - an **exchange** declared in topology.yaml that is not internal, not a
 *   dead-letter exchange, not the job-events exchange and not a consumer's
 *   results exchange, and whose bindings (per the topology) take the routing
 *   key to work queues only (audit taps aside); or the default exchange `''`
 *   with a work queue as the key.
 * - every name is plain: no `amq.*`, no `.` / `..`, no `/`, `%`, whitespace or
 *   control characters, at most 255 bytes: names that would not survive a URL
 *   path or a log line unchanged are never looked up anywhere.
 */
export interface OriginPolicy {
  readonly topology: DlqTopology;
  /** The topology's work queues. */
  readonly workQueues: ReadonlySet<string>;
  /** Why `queue` is not a work queue (undefined: it is one). Phrased to follow "queue 'x' ...". */
  queueProblem(queue: string): string | undefined;
  /** Why warren never republishes to `exchange` (undefined: it may; `''` is the default exchange). */
  exchangeProblem(exchange: string): string | undefined;
  /** Why `key` can't be a routing key (longer than 255 bytes, control characters). */
  routingKeyProblem(key: string): string | undefined;
  /** Where exchange + key lead per the topology, or why that is not only work queues (a noun phrase: "exchange 'x', which is internal"). */
  reach(exchange: string, routingKey: string, headers?: Record<string, unknown>): OriginReach | { problem: string };
  /** True when `name` is a route of the topology. */
  isRoute(name: string): boolean;
}

/** A name for messages: quoted as is when printable, JSON-escaped (and cut at 80 characters) otherwise. */
export function shownName(name: string): string {
  const cut = name.length > 80 ? `${name.slice(0, 80)}...` : name;
  return /^[\x21-\x7e]*$/.test(cut) && !cut.includes("'") ? `'${cut}'` : JSON.stringify(cut);
}

/** Why `name` is not a plain AMQP object name (undefined: it is). */
export function plainNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return 'is a path segment that a URL resolves away';
  if (Buffer.byteLength(name, 'utf8') > 255) return 'is longer than 255 bytes';
  if (/[\s\p{C}]/u.test(name)) return 'contains whitespace or control characters';
  if (name.includes('/')) return "contains '/'";
  if (name.includes('%')) return "contains '%' (percent-encoding)";
  if (name.startsWith('amq.')) return 'is an amq.* name, which belongs to the broker';
  return undefined;
}

/** Builds the policy from the topology. Pure. */
export function createOriginPolicy(dt: DlqTopology): OriginPolicy {
  const t = dt.topology;
  const { jobEvents } = t;
  const dlxNames = new Set(Object.values(t.queues).flatMap((q) => (q.deadLetter && q.deadLetter.exchange !== '' ? [q.deadLetter.exchange] : [])));
  const resultExchanges = new Set(Object.values(t.consumers).flatMap((c) => (c.results ? [c.results.exchange] : [])));
  const internal = new Set(Object.entries(t.exchanges).filter(([, e]) => e.internal).map(([n]) => n));

  // Asked per message for the queue its headers name: answered once per name (bounded, like reach below).
  const queueAnswers = new Map<string, string | undefined>();
  function queueProblem(queue: string): string | undefined {
    if (queueAnswers.has(queue)) return queueAnswers.get(queue);
    const problem = queueProblemNow(queue);
    if (queueAnswers.size < 10_000) queueAnswers.set(queue, problem);
    return problem;
  }

  function queueProblemNow(queue: string): string | undefined {
    const plain = plainNameProblem(queue);
    if (plain !== undefined) return plain;
    if (queue === jobEvents.stream) return 'is the job-events stream';
    const q = t.queues[queue];
    if (dt.waitQueues.has(queue)) return `is a retry wait queue (of '${dt.waitQueues.get(queue) as string}')`;
    if (!q) return 'is not a queue of the topology';
    if (q.type === 'stream') return 'is a stream';
    if (dt.deadLetterQueues.has(queue)) return 'is a dead-letter queue';
    if (q.deadLetter === undefined) return 'is not a work queue (it has no deadLetter target, so nothing dead-letters from it)';
    return undefined;
  }

  const workQueues = new Set(Object.keys(t.queues).filter((q) => queueProblem(q) === undefined));
  // Fed only through internal exchanges: audit plumbing that sees every publish of a route.
  const taps = new Set(
    Object.keys(t.queues).filter((q) => {
      if (workQueues.has(q)) return false;
      const sources = t.bindings.filter((b) => b.queue === q).map((b) => b.source);
      return sources.length > 0 && sources.every((s) => internal.has(s));
    }),
  );

  function exchangeProblem(exchange: string): string | undefined {
    if (exchange === '') return undefined;
    const plain = plainNameProblem(exchange);
    if (plain !== undefined) return plain;
    if (exchange === jobEvents.exchange) return 'is the job-events exchange';
    const e = t.exchanges[exchange];
    if (!e) return 'is not an exchange of the topology';
    if (e.internal) return 'is internal';
    if (dlxNames.has(exchange)) return 'is a dead-letter exchange';
    if (resultExchanges.has(exchange)) return 'is a results exchange';
    return undefined;
  }

  function routingKeyProblem(key: string): string | undefined {
    if (Buffer.byteLength(key, 'utf8') > 255) return 'is longer than 255 bytes';
    if (/\p{C}/u.test(key)) return 'contains control characters';
    return undefined;
  }

  /** Whether a headers exchange lies on some path from `exchange` (then where a publish lands depends on its headers). */
  const headersOnTheWay = new Map<string, boolean>();
  function headersMatter(exchange: string, depth = 0): boolean {
    if (exchange === '') return false;
    const known = headersOnTheWay.get(exchange);
    if (known !== undefined) return known;
    const e = t.exchanges[exchange];
    // Unknown exchanges and deep chains: never cached.
    if (!e || depth > 8) return true;
    const matters =
      e.type === 'headers' ||
      (e.alternateExchange !== undefined && headersMatter(e.alternateExchange, depth + 1)) ||
      t.bindings.some((b) => b.source === exchange && b.exchange !== undefined && headersMatter(b.exchange, depth + 1));
    if (depth === 0) headersOnTheWay.set(exchange, matters);
    return matters;
  }

  // A requeue asks the same few exchange + key pairs once or twice per message: answer each once (bounded, for
  // the many distinct pairs forged headers could bring). Answers that depend on the headers are never kept.
  const answers = new Map<string, OriginReach | { problem: string }>();
  const MAX_ANSWERS = 10_000;
  function reach(exchange: string, routingKey: string, headers: Record<string, unknown> = {}): OriginReach | { problem: string } {
    if (headersMatter(exchange)) return reachNow(exchange, routingKey, headers);
    const id = `${exchange.length}:${exchange}:${routingKey}`;
    let answer = answers.get(id);
    if (answer === undefined) {
      answer = reachNow(exchange, routingKey, headers);
      if (answers.size < MAX_ANSWERS) answers.set(id, answer);
    }
    return answer;
  }

  function reachNow(exchange: string, routingKey: string, headers: Record<string, unknown>): OriginReach | { problem: string } {
    const ex = exchangeProblem(exchange);
    if (ex !== undefined) return { problem: `exchange ${shownName(exchange)}, which ${ex}` };
    const key = routingKeyProblem(routingKey);
    if (key !== undefined) return { problem: `routing key ${shownName(routingKey)}, which ${key}` };
    if (exchange === '') {
      const q = queueProblem(routingKey);
      return q === undefined ? { work: new Set([routingKey]), taps: new Set() } : { problem: `queue ${shownName(routingKey)}, which ${q}` };
    }
    const reached = dt.routeQueues(exchange, routingKey, headers);
    const via = `exchange ${shownName(exchange)} with routing key ${shownName(routingKey)}`;
    if (reached === undefined) return { problem: `${via}, which leads where the topology can't tell (a binding to an exchange it doesn't declare)` };
    const work = new Set<string>();
    const tapped = new Set<string>();
    for (const q of reached) {
      if (workQueues.has(q)) work.add(q);
      else if (taps.has(q)) tapped.add(q);
      else return { problem: `${via}, which would also reach queue ${shownName(q)} (it ${queueProblem(q) ?? 'is not a work queue'})` };
    }
    if (work.size === 0) return { problem: `${via}, which reaches no work queue of the topology` };
    return { work, taps: tapped };
  }

  return {
    topology: dt,
    workQueues,
    queueProblem,
    exchangeProblem,
    routingKeyProblem,
    reach,
    isRoute: (name) => Object.hasOwn(t.routes, name),
  };
}
