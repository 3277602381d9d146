import type { QueueConfig, Topology } from '../config/topology-schema.ts';
import { retryTiers } from '../jobs/retry-tiers.ts';
import { ORDER_HEADERS } from '../jobs/headers.ts';
import { orderedNames } from '../jobs/ordering.ts';

/**
 * The topology expanded into exactly what the broker should hold: retry
 * policies become wait queues, queue settings split into structural arguments
 * (fixed at declaration) and one warren-owned policy per queue (changeable in
 * place). Plan, apply and export all work from this one shape.
 */

/** Argument warren puts on every exchange, queue and binding it creates, so prune only touches its own. */
export const MANAGED_ARG = 'x-warren-managed';
/** Prefix of every policy warren owns. */
export const POLICY_PREFIX = 'warren.q.';
/** Priority of warren's per-queue policies: above typical operator policies. */
export const POLICY_PRIORITY = 100;

export type AmqpArgs = Record<string, unknown>;

export interface DesiredExchange {
  name: string;
  type: 'direct' | 'topic' | 'fanout' | 'headers' | 'x-consistent-hash';
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: AmqpArgs;
}

/** Why a queue exists: declared by the user, a retry wait queue, warren's own job-event stream, or its job-history checkpoint stream. */
export type QueueRole = 'queue' | 'retry-wait' | 'job-events' | 'job-history' | 'ordered-partition' | 'order-blocks';

/** Smallest retention of the checkpoint stream (it holds ~1/300 of the events stream's bytes; the rest is margin for duplicates). */
const MIN_CHECKPOINT_BYTES = 50_000_000;

/**
 * Stream arguments warren no longer declares on its own streams: retention
 * moved to the stream's policy (changeable in place). A stream declared by an
 * older warren keeps them; the broker then applies the lower of argument and
 * policy, which the API reports at start-up.
 */
export const LEGACY_STREAM_RETENTION_ARGS: ReadonlySet<string> = new Set(['x-max-age', 'x-max-length-bytes']);

export interface DesiredQueue {
  name: string;
  type: 'classic' | 'quorum' | 'stream';
  durable: boolean;
  autoDelete: boolean;
  /** Structural arguments: fixed at declaration, a change means delete + recreate. */
  arguments: AmqpArgs;
  role: QueueRole;
  /** Partition queues only: the ordered queue they belong to (docs/ordered-routes.md). */
  orderedQueue?: string;
}

export interface DesiredBinding {
  source: string;
  destination: string;
  destinationType: 'queue' | 'exchange';
  routingKey: string;
  arguments: AmqpArgs;
}

export interface DesiredPolicy {
  name: string;
  pattern: string;
  applyTo: 'queues';
  priority: number;
  definition: Record<string, unknown>;
}

export interface DesiredState {
  vhost: string;
  exchanges: DesiredExchange[];
  queues: DesiredQueue[];
  bindings: DesiredBinding[];
  policies: DesiredPolicy[];
}

/** Escapes a queue name for an anchored policy pattern. */
export function exactPattern(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/** Name of the warren-owned policy for one queue. */
export function policyName(queue: string): string {
  return `${POLICY_PREFIX}${queue}`;
}

function structuralArgs(q: QueueConfig): AmqpArgs {
  const args: AmqpArgs = { 'x-queue-type': q.type, [MANAGED_ARG]: true };
  if (q.maxPriority !== undefined) args['x-max-priority'] = q.maxPriority;
  if (q.retention?.maxAge !== undefined) args['x-max-age'] = `${Math.max(1, Math.round(q.retention.maxAge / 1000))}s`;
  if (q.retention?.maxLengthBytes !== undefined) args['x-max-length-bytes'] = q.retention.maxLengthBytes;
  return args;
}

function policyDefinition(q: QueueConfig): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (q.deadLetter !== undefined) {
    d['dead-letter-exchange'] = q.deadLetter.exchange;
    if (q.deadLetter.routingKey !== undefined) d['dead-letter-routing-key'] = q.deadLetter.routingKey;
  }
  if (q.messageTtl !== undefined) d['message-ttl'] = q.messageTtl;
  if (q.maxLength !== undefined) d['max-length'] = q.maxLength;
  if (q.maxLengthBytes !== undefined) d['max-length-bytes'] = q.maxLengthBytes;
  if (q.overflow !== undefined) d['overflow'] = q.overflow;
  if (q.deliveryLimit !== undefined) d['delivery-limit'] = q.deliveryLimit;
  if (q.deadLetterStrategy !== undefined) d['dead-letter-strategy'] = q.deadLetterStrategy;
  return d;
}

function policyFor(queue: string, definition: Record<string, unknown>): DesiredPolicy {
  return { name: policyName(queue), pattern: exactPattern(queue), applyTo: 'queues', priority: POLICY_PRIORITY, definition };
}

/** Expands a validated topology into the broker state it describes. Pure: no I/O. */
export function desiredState(t: Topology): DesiredState {
  const state: DesiredState = { vhost: t.connection.vhost, exchanges: [], queues: [], bindings: [], policies: [] };
  const managed = { [MANAGED_ARG]: true };

  for (const [name, ex] of Object.entries(t.exchanges)) {
    const args: AmqpArgs = { ...managed };
    if (ex.alternateExchange !== undefined) args['alternate-exchange'] = ex.alternateExchange;
    state.exchanges.push({ name, type: ex.type, durable: ex.durable, autoDelete: ex.autoDelete, internal: ex.internal, arguments: args });
  }
  state.exchanges.push({ name: t.jobEvents.exchange, type: 'fanout', durable: true, autoDelete: false, internal: false, arguments: { ...managed } });

  for (const [name, q] of Object.entries(t.queues)) {
    if (q.ordering !== undefined) {
      expandOrdered(state, name, q, q.ordering.partitions);
      continue;
    }
    state.queues.push({ name, type: q.type, durable: q.durable, autoDelete: q.autoDelete, arguments: structuralArgs(q), role: 'queue' });
    const def = policyDefinition(q);
    if (Object.keys(def).length > 0) state.policies.push(policyFor(name, def));

    for (const tier of retryTiers(t, name)) {
      // Wait queues share the work queue's type, so a quorum work queue keeps its
      // retries replicated and dead-letters them back at-least-once.
      const waitType = q.type === 'quorum' ? 'quorum' : 'classic';
      state.queues.push({ name: tier.queue, type: waitType, durable: true, autoDelete: false, arguments: { 'x-queue-type': waitType, ...managed }, role: 'retry-wait' });
      const waitDef: Record<string, unknown> = { 'message-ttl': tier.delayMs, 'dead-letter-exchange': '', 'dead-letter-routing-key': name };
      if (waitType === 'quorum') Object.assign(waitDef, { overflow: 'reject-publish', 'dead-letter-strategy': 'at-least-once' });
      state.policies.push(policyFor(tier.queue, waitDef));
    }
  }

  // Retention lives in a policy, not in arguments: a stream's arguments can't change without deleting it (and its history).
  const maxAge = `${Math.max(1, Math.round(t.jobEvents.maxAge / 1000))}s`;
  state.queues.push({ name: t.jobEvents.stream, type: 'stream', durable: true, autoDelete: false, arguments: { 'x-queue-type': 'stream', ...managed }, role: 'job-events' });
  state.policies.push(policyFor(t.jobEvents.stream, { 'max-age': maxAge, 'max-length-bytes': t.jobEvents.maxLengthBytes }));
  state.bindings.push({ source: t.jobEvents.exchange, destination: t.jobEvents.stream, destinationType: 'queue', routingKey: '', arguments: { ...managed } });
  state.queues.push({
    name: t.jobEvents.checkpointStream,
    type: 'stream',
    durable: true,
    autoDelete: false,
    arguments: { 'x-queue-type': 'stream', ...managed },
    role: 'job-history',
  });
  state.policies.push(
    policyFor(t.jobEvents.checkpointStream, { 'max-age': maxAge, 'max-length-bytes': Math.max(MIN_CHECKPOINT_BYTES, Math.ceil(t.jobEvents.maxLengthBytes / 100)) }),
  );

  for (const b of t.bindings) {
    const args: AmqpArgs = { ...managed };
    if (b.headers !== undefined) Object.assign(args, { 'x-match': b.headers.match }, b.headers.values);
    // A binding to an ordered queue goes to its consistent-hash exchange, which spreads keys over the partitions.
    const ordered = b.queue !== undefined && t.queues[b.queue]?.ordering !== undefined;
    state.bindings.push({
      source: b.source,
      destination: ordered ? orderedNames.exchange(b.queue as string) : ((b.queue ?? b.exchange) as string),
      destinationType: b.queue !== undefined && !ordered ? 'queue' : 'exchange',
      routingKey: b.routingKey ?? '',
      arguments: args,
    });
  }
  return state;
}

/**
 * An ordered queue (docs/ordered-routes.md): an internal `x-consistent-hash`
 * exchange hashing the order-key header, `partitions` queues of the queue's
 * type and settings with single-active-consumer (one worker owns a partition;
 * another takes over when it dies), each bound with weight 1, and the stream
 * of block / release events. No retry wait queues: ordered retries run in
 * the worker, so later jobs of the key can't overtake them.
 */
function expandOrdered(state: DesiredState, name: string, q: QueueConfig, partitions: number): void {
  const managed = { [MANAGED_ARG]: true };
  const exchange = orderedNames.exchange(name);
  state.exchanges.push({ name: exchange, type: 'x-consistent-hash', durable: true, autoDelete: false, internal: true, arguments: { 'hash-header': ORDER_HEADERS.key, ...managed } });
  const def = policyDefinition(q);
  for (const partition of orderedNames.partitions(name, partitions)) {
    state.queues.push({
      name: partition,
      type: q.type,
      durable: true,
      autoDelete: false,
      arguments: { ...structuralArgs(q), 'x-single-active-consumer': true },
      role: 'ordered-partition',
      orderedQueue: name,
    });
    if (Object.keys(def).length > 0) state.policies.push(policyFor(partition, def));
    state.bindings.push({ source: exchange, destination: partition, destinationType: 'queue', routingKey: '1', arguments: { ...managed } });
  }
  // Blocks must outlive any job that waits on them: no retention (a few hundred bytes per failure).
  state.queues.push({ name: orderedNames.blocks(name), type: 'stream', durable: true, autoDelete: false, arguments: { 'x-queue-type': 'stream', ...managed }, role: 'order-blocks', orderedQueue: name });
}
