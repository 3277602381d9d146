import type { Topology } from '../config/topology-schema.ts';
import { retryTiers } from '../jobs/retry-tiers.ts';
import { compileRoutingKey } from '../jobs/routing-key.ts';

/**
 * What the DLQ tooling needs to know from topology.yaml: which queues are
 * dead-letter queues, which wait queue belongs to which work queue, the routes,
 * and where an exchange + routing key would deliver (to avoid fan-out copies).
 */
export interface DlqTopology {
  readonly topology: Topology;
  /** Queues bound to an exchange that some queue uses as its dead-letter exchange. */
  readonly deadLetterQueues: ReadonlySet<string>;
  /** Retry wait queue -> the work queue it dead-letters back to. */
  readonly waitQueues: ReadonlyMap<string, string>;
  /** Queues whose dead letters end up in `dlq` (empty when it isn't a DLQ). */
  sourcesOf(dlq: string): string[];
  /** Queues a message published to `exchange` with `routingKey` reaches; undefined when the topology doesn't know the exchange. */
  routeQueues(exchange: string, routingKey: string, headers?: Record<string, unknown>): Set<string> | undefined;
  /** The route whose exchange and routing-key template produce this exchange/key, if exactly one does. */
  routeFor(exchange: string, routingKey: string): string | undefined;
}

/** `*` matches one word, `#` zero or more (AMQP topic semantics). */
export function topicMatches(pattern: string, key: string): boolean {
  const p = pattern === '' ? [] : pattern.split('.');
  const k = key === '' ? [] : key.split('.');
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const id = `${i}:${j}`;
    const hit = memo.get(id);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === k.length;
    else if (p[i] === '#') r = go(i + 1, j) || (j < k.length && go(i, j + 1));
    else r = j < k.length && (p[i] === '*' || p[i] === k[j]) && go(i + 1, j + 1);
    memo.set(id, r);
    return r;
  };
  return go(0, 0);
}

function headersMatch(match: 'all' | 'any', values: Record<string, unknown>, headers: Record<string, unknown>): boolean {
  const entries = Object.entries(values);
  const eq = ([k, v]: [string, unknown]) => k in headers && String(headers[k]) === String(v);
  return match === 'all' ? entries.every(eq) : entries.some(eq);
}

/** Builds the DLQ view of a topology. Pure. */
export function createDlqTopology(topology: Topology): DlqTopology {
  const dlxNames = new Set(Object.values(topology.queues).flatMap((q) => (q.deadLetter ? [q.deadLetter.exchange] : [])));
  const deadLetterQueues = new Set(topology.bindings.filter((b) => dlxNames.has(b.source) && b.queue !== undefined).map((b) => b.queue as string));
  const waitQueues = new Map<string, string>();
  for (const name of Object.keys(topology.queues)) for (const tier of retryTiers(topology, name)) waitQueues.set(tier.queue, name);
  // Keys the one routing-key renderer could have made for each route.
  const routeMatchers = Object.entries(topology.routes).map(([name, r]) => ({ name, exchange: r.exchange, key: compileRoutingKey(r.routingKey) }));

  function routeQueues(exchange: string, routingKey: string, headers: Record<string, unknown> = {}, depth = 0): Set<string> | undefined {
    if (exchange === '') return new Set([routingKey]);
    const ex = topology.exchanges[exchange];
    if (!ex || depth > 8) return undefined;
    const out = new Set<string>();
    for (const b of topology.bindings) {
      if (b.source !== exchange) continue;
      let hit: boolean;
      if (ex.type === 'fanout') hit = true;
      else if (ex.type === 'direct') hit = (b.routingKey ?? '') === routingKey;
      else if (ex.type === 'topic') hit = topicMatches(b.routingKey ?? '', routingKey);
      else hit = b.headers !== undefined && headersMatch(b.headers.match, b.headers.values, headers);
      if (!hit) continue;
      if (b.queue !== undefined) out.add(b.queue);
      else if (b.exchange !== undefined) {
        const inner = routeQueues(b.exchange, routingKey, headers, depth + 1);
        if (!inner) return undefined;
        for (const q of inner) out.add(q);
      }
    }
    if (out.size === 0 && ex.alternateExchange !== undefined) return routeQueues(ex.alternateExchange, routingKey, headers, depth + 1);
    return out;
  }

  return {
    topology,
    deadLetterQueues,
    waitQueues,
    sourcesOf(dlq) {
      const exchanges = new Set(topology.bindings.filter((b) => b.queue === dlq && dlxNames.has(b.source)).map((b) => b.source));
      return Object.entries(topology.queues)
        .filter(([, q]) => q.deadLetter !== undefined && exchanges.has(q.deadLetter.exchange))
        .filter(([, q]) => {
          const reached = routeQueues(q.deadLetter?.exchange ?? '', q.deadLetter?.routingKey ?? '');
          // A DLX without a fixed routing key keeps the message's own key: assume it can reach the DLQ.
          return q.deadLetter?.routingKey === undefined || reached === undefined || reached.has(dlq);
        })
        .map(([name]) => name);
    },
    routeQueues: (exchange, routingKey, headers) => routeQueues(exchange, routingKey, headers),
    routeFor(exchange, routingKey) {
      const hits = routeMatchers.filter((m) => m.exchange === exchange && m.key.matches(routingKey));
      return hits.length === 1 ? hits[0]?.name : undefined;
    },
  };
}
