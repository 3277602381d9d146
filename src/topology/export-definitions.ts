import type { DesiredState } from './desired-state.ts';

/**
 * RabbitMQ definitions JSON for a desired state, in the format
 * `rabbitmqctl import_definitions` and POST /api/definitions accept.
 * Import only adds objects; it never updates existing ones (use apply for that).
 */
export interface RabbitDefinitions {
  vhosts: { name: string }[];
  exchanges: { name: string; vhost: string; type: string; durable: boolean; auto_delete: boolean; internal: boolean; arguments: Record<string, unknown> }[];
  queues: { name: string; vhost: string; durable: boolean; auto_delete: boolean; arguments: Record<string, unknown> }[];
  bindings: { source: string; vhost: string; destination: string; destination_type: 'queue' | 'exchange'; routing_key: string; arguments: Record<string, unknown> }[];
  policies: { vhost: string; name: string; pattern: string; 'apply-to': string; priority: number; definition: Record<string, unknown> }[];
}

/** Converts the desired state to RabbitMQ definitions (no broker needed). */
export function exportDefinitions(desired: DesiredState): RabbitDefinitions {
  const vhost = desired.vhost;
  return {
    // Name only: importing must not rewrite the description or tags of an existing vhost.
    vhosts: [{ name: vhost }],
    exchanges: desired.exchanges.map((e) => ({ name: e.name, vhost, type: e.type, durable: e.durable, auto_delete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
    queues: desired.queues.map((q) => ({ name: q.name, vhost, durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments })),
    bindings: desired.bindings.map((b) => ({ source: b.source, vhost, destination: b.destination, destination_type: b.destinationType, routing_key: b.routingKey, arguments: b.arguments })),
    policies: desired.policies.map((p) => ({ vhost, name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, priority: p.priority, definition: p.definition })),
  };
}
