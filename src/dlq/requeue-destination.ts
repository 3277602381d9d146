import type { ConsumeMessage, Options } from 'amqplib';
import type { DeadLetterInfo } from './dead-letter-info.ts';
import { fieldTableBytes, MAX_REPUBLISH_HEADER_BYTES } from './header-table-size.ts';
import { shownName, type OriginPolicy } from './origin-policy.ts';
import { routeTargetKey, type RouteTarget } from './route-target.ts';

/** How a requeued message travels: to its origin exchange + key, straight to its origin queue, or `auto`. */
export type RequeueVia = 'auto' | 'exchange' | 'queue';

/** Where one requeued message is published. */
export interface Destination {
  exchange: string;
  routingKey: string;
  /** The one work queue it lands in, when the topology names exactly one. */
  queue: string | undefined;
  /** The route it was sent to (`--to-route`), else undefined. */
  route: string | undefined;
  /** Shown in the report's per-destination count. */
  label: string;
}

/** Why a message has no destination; `unknownOrigin` tells a bad origin (skipped) from a bad route (failed). */
export interface NoDestination {
  problem: string;
  unknownOrigin: boolean;
}

/** How the caller chose destinations. */
export interface DestinationChoice {
  /** Send every message to this route instead of its origin (opened once per run: the route and its payload schema). */
  toRoute?: RouteTarget | undefined;
  /** @default 'auto' */
  via?: RequeueVia | undefined;
}

/** Straight to the queue, through the default exchange. */
function direct(q: string): Destination {
  return { exchange: '', routingKey: q, queue: q, route: undefined, label: `queue ${q}` };
}

/**
 * Where a dead letter goes back to. Everything comes from the topology through the
 * origin policy: the message's own headers only pick among what the policy allows
 * (its resolved origin, a route's template values), never a name of their own.
 */
export function destinationFor(info: DeadLetterInfo, msg: ConsumeMessage, choice: DestinationChoice, policy: OriginPolicy): Destination | NoDestination {
  const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
  if (choice.toRoute !== undefined) {
    const route = choice.toRoute.route;
    // Checked as a new job on that route would be (schema, routing-key rule): the submit use case's own check.
    const filled = routeTargetKey(choice.toRoute, msg.content);
    if ('problem' in filled) return { problem: filled.problem, unknownOrigin: false };
    // The payload fills the key: the route must still lead to work queues only.
    const reach = policy.reach(route.exchange, filled.key, headers);
    if ('problem' in reach) return { problem: `route '${route.name}' leads to ${reach.problem}`, unknownOrigin: false };
    const queue = reach.work.size === 1 ? [...reach.work][0] : undefined;
    return { exchange: route.exchange, routingKey: filled.key, queue, route: route.name, label: `route ${route.name}: ${route.exchange}/${filled.key}` };
  }
  const o = info.origin;
  if (!o) return { problem: info.originProblem ?? 'origin unknown', unknownOrigin: true };
  const via = choice.via ?? 'auto';
  // The resolver only lets through origins the policy accepts; the default exchange means "that queue".
  if (o.exchange === '' && o.queue !== undefined) return direct(o.queue);
  if (via === 'queue' && o.queue !== undefined) return direct(o.queue);
  const reach = policy.reach(o.exchange, o.routingKey, headers);
  if ('problem' in reach) return { problem: `the origin is ${reach.problem}`, unknownOrigin: true };
  if (via !== 'exchange') {
    // The resolver names a queue for every origin it accepts; without one, never fan out.
    if (o.queue === undefined) return { problem: `the origin is exchange ${shownName(o.exchange)} with no single origin queue`, unknownOrigin: true };
    // Through the exchange only when it leads to the origin queue and nowhere else (no fan-out copy, no audit copy).
    if (reach.taps.size > 0 || reach.work.size !== 1 || !reach.work.has(o.queue)) return direct(o.queue);
  }
  const arrow = o.queue === undefined ? '' : ` -> ${o.queue}`;
  return { exchange: o.exchange, routingKey: o.routingKey, queue: o.queue, route: undefined, label: `${o.exchange}/${o.routingKey}${arrow}` };
}

/** Why a message can't be republished as it is (headers amqplib would refuse), or undefined. */
export function republishProblem(properties: Options.Publish): string | undefined {
  try {
    const bytes = fieldTableBytes((properties.headers ?? {}) as Record<string, unknown>);
    if (bytes > MAX_REPUBLISH_HEADER_BYTES) return `its headers take ${bytes} bytes, more than the ${MAX_REPUBLISH_HEADER_BYTES} a republish can carry`;
  } catch (err) {
    return `its headers can't be republished: ${(err as Error).message}`;
  }
  return undefined;
}
