import type { QueueConfig, Topology } from '../config/topology-schema.ts';
import { OrderKeyError } from '../errors/index.ts';
import { ORDER_HEADERS } from './headers.ts';
import { compileRoutingKey, type RoutingKeyTemplate } from './routing-key.ts';

/**
 * The one home of the ordered-route contract (docs/ordered-routes.md): how an
 * ordered queue is laid out on the broker, how a job's key is read and
 * written, and the reason a job of a blocked key is moved aside. The
 * topology expansion, the API, the worker and the DLQ tooling all import it.
 *
 * An ordered queue `q` with `partitions: N` becomes an `x-consistent-hash`
 * exchange `q.hash` (hashing the `x-warren-order-key` header) bound to N
 * quorum queues `q.p0` .. `q.p<N-1>`, each consumed with single-active-consumer,
 * and a stream `q.blocks` that holds which keys are blocked (block and
 * release events; every worker replica reads it).
 */

/** `x-warren-reason` of a job moved aside because an earlier job of its key was dead-lettered. */
export const REASON_BLOCKED = 'blocked-by-previous-failure';

/**
 * AMQP `type` of the end marker a requeue publishes after a blocking job and
 * the jobs it blocked (same partition: it carries the key; `x-warren-blocked-by`
 * names the blocking job). Until the marker passes, the partition's owner holds
 * the key's new jobs back, so they run after the requeued ones.
 */
export const RELEASE_END_TYPE = 'warren.order.release-end';

/** The end marker of a requeued blocking job `by` of `key` (see {@link RELEASE_END_TYPE}). */
export function releaseEndMessage(key: string, by: string): { content: Buffer; properties: { type: string; persistent: true; mandatory: true; contentType: string; headers: Record<string, string> } } {
  return {
    content: Buffer.from(JSON.stringify({ releaseEnd: by })),
    properties: { type: RELEASE_END_TYPE, persistent: true, mandatory: true, contentType: 'application/json', headers: { [ORDER_HEADERS.key]: key, [ORDER_HEADERS.blockedBy]: by } },
  };
}

/** Longest ordering key value (before the owner prefix). */
export const ORDER_KEY_MAX = 200;

/** What `ordering.key` names: a payload field (`{customerId}`, `{input.customerId}`) or an HTTP request header (`X-Customer-Id`). */
export type OrderKeySource = { kind: 'field'; name: string } | { kind: 'header'; name: string };

/** The ordered-queue names derived from queue `q`. */
export const orderedNames = {
  /** The consistent-hash exchange routes and bindings into `q` are redirected to. */
  exchange: (queue: string): string => `${queue}.hash`,
  /** Partition queue `i`. */
  partition: (queue: string, i: number): string => `${queue}.p${i}`,
  /** Every partition queue, in order. */
  partitions: (queue: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${queue}.p${i}`),
  /** The stream of block / release events of `q`. */
  blocks: (queue: string): string => `${queue}.blocks`,
};

/** Parses `ordering.key`: `{field}` or a header name. */
export function parseOrderKeySource(spec: string): OrderKeySource {
  const m = /^\{([A-Za-z_][A-Za-z0-9_.]*)\}$/.exec(spec);
  return m ? { kind: 'field', name: m[1] as string } : { kind: 'header', name: spec.toLowerCase() };
}

/** A route's ordering: the ordered queue its exchange binds to and where its key comes from. */
export interface RouteOrdering {
  queue: string;
  partitions: number;
  source: OrderKeySource;
}

/** The ordered queues of a topology, by name. */
export function orderedQueues(t: Pick<Topology, 'queues'>): Map<string, QueueConfig & { ordering: NonNullable<QueueConfig['ordering']> }> {
  const out = new Map<string, QueueConfig & { ordering: NonNullable<QueueConfig['ordering']> }>();
  for (const [name, q] of Object.entries(t.queues)) if (q.ordering !== undefined) out.set(name, q as QueueConfig & { ordering: NonNullable<QueueConfig['ordering']> });
  return out;
}

/**
 * Which routes are ordered: a route whose exchange has a binding straight to
 * an ordered queue carries that queue's key. (Validation refuses a route
 * that reaches two ordered queues with different keys.)
 */
export function routeOrderings(t: Pick<Topology, 'routes'> & Partial<Pick<Topology, 'queues' | 'bindings' | 'exchanges'>>): Map<string, RouteOrdering> {
  const out = new Map<string, RouteOrdering>();
  if (t.queues === undefined || t.bindings === undefined) return out;
  const ordered = orderedQueues({ queues: t.queues });
  if (ordered.size === 0) return out;
  for (const [route, r] of Object.entries(t.routes)) {
    const template = compileRoutingKey(r.routingKey);
    const type = t.exchanges?.[r.exchange]?.type;
    for (const b of t.bindings) {
      if (b.source !== r.exchange || b.queue === undefined) continue;
      if (!mayReach(type, template, b.routingKey ?? '')) continue;
      const q = ordered.get(b.queue);
      if (q && !out.has(route)) out.set(route, { queue: b.queue, partitions: q.ordering.partitions, source: parseOrderKeySource(q.ordering.key) });
    }
  }
  return out;
}

/**
 * Whether a route's keys may match a binding: a direct binding's key must be
 * one the template can render, a topic pattern must match the template (each
 * placeholder stands for one word); fanout and headers bindings match any key.
 */
function mayReach(type: string | undefined, template: RoutingKeyTemplate, bindingKey: string): boolean {
  if (type === 'direct') return template.matches(bindingKey);
  if (type !== 'topic') return true;
  const words = template.source.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, '*').split('.');
  const pattern = bindingKey.split('.');
  const match = (w: number, p: number): boolean => {
    if (p === pattern.length) return w === words.length;
    if (pattern[p] === '#') return match(w, p + 1) || (w < words.length && match(w + 1, p));
    if (w === words.length) return false;
    return (pattern[p] === '*' || words[w] === '*' || pattern[p] === words[w]) && match(w + 1, p + 1);
  };
  return match(0, 0);
}

/**
 * The `x-warren-order-key` header value of a job: `<owner>/<key>`. The owner
 * (the submitting API key's name) scopes the key, so one tenant's failed job
 * never blocks another tenant's jobs that happen to use the same key value.
 * OrderKeyError when the key is missing or not a string / number.
 */
export function renderOrderKey(route: string, source: OrderKeySource, payload: unknown, header: string | undefined, owner: string | undefined): string {
  const label = source.kind === 'field' ? source.name : `header:${source.name}`;
  let raw: unknown;
  if (source.kind === 'field') {
    raw = payload;
    // Own properties only, one object level per dot: an inherited member never fills a key.
    for (const part of source.name.split('.')) {
      raw = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, part) ? (raw as Record<string, unknown>)[part] : undefined;
    }
  } else {
    raw = header;
  }
  if (raw === undefined || raw === '') throw new OrderKeyError('ORDER_KEY_MISSING', label, route);
  if (typeof raw === 'number' ? !Number.isFinite(raw) : typeof raw !== 'string') throw new OrderKeyError('ORDER_KEY_INVALID', label, route);
  const value = String(raw);
  if (value.length > ORDER_KEY_MAX) throw new OrderKeyError('ORDER_KEY_INVALID', label, route);
  return `${owner ?? ''}/${value}`;
}

/**
 * One event of a `q.blocks` stream. `releasing`: a requeue is sending the
 * blocking job back (written before the requeue publishes it), so the
 * partition's owner holds the key's new jobs back instead of moving them aside.
 */
export type BlockEvent =
  | { type: 'block'; key: string; by: string; at: string }
  | { type: 'release'; key: string; by: string; at: string; why: 'succeeded' | 'purged' | 'moved' }
  | { type: 'releasing'; key: string; by: string; at: string };

/** Parses a `q.blocks` stream message body; undefined when it is not one (it is then ignored). */
export function parseBlockEvent(body: Buffer): BlockEvent | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (typeof v.key !== 'string' || typeof v.by !== 'string' || typeof v.at !== 'string') return undefined;
    if (v.type === 'block') return { type: 'block', key: v.key, by: v.by, at: v.at };
    if (v.type === 'release') return { type: 'release', key: v.key, by: v.by, at: v.at, why: v.why === 'purged' || v.why === 'moved' ? v.why : 'succeeded' };
    if (v.type === 'releasing') return { type: 'releasing', key: v.key, by: v.by, at: v.at };
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * Folds block events into the blocked keys (key -> blocking job id). A
 * release only clears the block it names: a later block of the same key by
 * another job stays.
 */
export function applyBlockEvent(blocked: Map<string, string>, e: BlockEvent): void {
  if (e.type === 'block') blocked.set(e.key, e.by);
  else if (e.type === 'release' && blocked.get(e.key) === e.by) blocked.delete(e.key);
}
