import { z } from 'zod';
import { seg, type ManagementClient } from '../broker/management-client.ts';
import { ManagementApiError, WarrenError } from '../errors/index.ts';
import type { AmqpArgs } from './desired-state.ts';

/**
 * What the broker holds in one vhost, read through the management HTTP API.
 * Policies are read from /api/policies, never from a queue's `policy` field:
 * the management view of a queue's effective policy lags behind the broker.
 */

export interface ActualExchange {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: AmqpArgs;
}

export interface ActualQueue {
  name: string;
  /** `classic`, `quorum` or `stream`. */
  type: string;
  durable: boolean;
  autoDelete: boolean;
  arguments: AmqpArgs;
  /** Ready + unacked messages, when the broker reports it (shown before a prune deletes the queue). */
  messages: number | undefined;
}

export interface ActualBinding {
  source: string;
  destination: string;
  destinationType: 'queue' | 'exchange';
  routingKey: string;
  arguments: AmqpArgs;
  /** The management API's id of the binding, needed to delete it. */
  propertiesKey: string;
}

export interface ActualPolicy {
  name: string;
  pattern: string;
  applyTo: string;
  priority: number;
  definition: Record<string, unknown>;
}

export interface ActualState {
  vhost: string;
  /** False when the vhost doesn't exist yet (every list is then empty). */
  vhostExists: boolean;
  exchanges: ActualExchange[];
  queues: ActualQueue[];
  bindings: ActualBinding[];
  policies: ActualPolicy[];
}

/** An empty vhost's state (handy for plans against nothing, e.g. tests and export). */
export function emptyActualState(vhost: string, vhostExists = true): ActualState {
  return { vhost, vhostExists, exchanges: [], queues: [], bindings: [], policies: [] };
}

const args = z.record(z.string(), z.unknown()).nullish().transform((a) => a ?? {});

const exchangeRow = z.object({
  name: z.string(),
  type: z.string(),
  durable: z.boolean(),
  auto_delete: z.boolean(),
  internal: z.boolean(),
  arguments: args,
});

const queueRow = z.object({
  name: z.string(),
  // Older brokers omit `type` for classic queues.
  type: z.string().nullish(),
  durable: z.boolean(),
  auto_delete: z.boolean(),
  arguments: args,
  messages: z.number().nullish(),
});

const bindingRow = z.object({
  source: z.string(),
  destination: z.string(),
  destination_type: z.enum(['queue', 'exchange']),
  routing_key: z.string(),
  arguments: args,
  properties_key: z.string(),
});

const policyRow = z.object({
  name: z.string(),
  pattern: z.string(),
  'apply-to': z.string(),
  priority: z.number(),
  definition: z.record(z.string(), z.unknown()),
});

/** Columns asked for, so the broker doesn't serialise message rates and node stats (500 queues stay fast). */
const EXCHANGE_COLUMNS = 'name,type,durable,auto_delete,internal,arguments';
const QUEUE_COLUMNS = 'name,type,durable,auto_delete,arguments,messages';
const BINDING_COLUMNS = 'source,destination,destination_type,routing_key,arguments,properties_key';

function parseRows<T>(schema: z.ZodType<T>, rows: unknown, what: string, path: string): T[] {
  const parsed = z.array(schema).safeParse(rows);
  if (!parsed.success) {
    throw new WarrenError('MANAGEMENT_API_UNEXPECTED', `the management API answered GET ${path} with ${what} in an unexpected shape: ${z.prettifyError(parsed.error).split('\n')[0] ?? ''}`, {
      details: parsed.error.issues,
    });
  }
  return parsed.data;
}

async function vhostExists(management: ManagementClient, vhost: string): Promise<boolean> {
  try {
    await management.get(`/vhosts/${seg(vhost)}`);
    return true;
  } catch (err) {
    if (err instanceof ManagementApiError && err.status === 404) return false;
    throw err;
  }
}

/** Reads exchanges, queues, bindings and policies of `vhost` (four GETs in parallel, stats disabled). */
export async function readActualState(management: ManagementClient, vhost: string): Promise<ActualState> {
  if (!(await vhostExists(management, vhost))) return emptyActualState(vhost, false);
  const v = seg(vhost);
  const paths = {
    exchanges: `/exchanges/${v}?disable_stats=true&columns=${EXCHANGE_COLUMNS}`,
    queues: `/queues/${v}?disable_stats=true&enable_queue_totals=true&columns=${QUEUE_COLUMNS}`,
    bindings: `/bindings/${v}?columns=${BINDING_COLUMNS}`,
    policies: `/policies/${v}`,
  };
  const [exchanges, queues, bindings, policies] = await Promise.all([
    management.get(paths.exchanges),
    management.get(paths.queues),
    management.get(paths.bindings),
    management.get(paths.policies),
  ]);
  return {
    vhost,
    vhostExists: true,
    exchanges: parseRows(exchangeRow, exchanges, 'exchanges', paths.exchanges).map((e) => ({
      name: e.name,
      type: e.type,
      durable: e.durable,
      autoDelete: e.auto_delete,
      internal: e.internal,
      arguments: e.arguments,
    })),
    queues: parseRows(queueRow, queues, 'queues', paths.queues).map((q) => ({
      name: q.name,
      type: q.type ?? (typeof q.arguments['x-queue-type'] === 'string' ? q.arguments['x-queue-type'] : 'classic'),
      durable: q.durable,
      autoDelete: q.auto_delete,
      arguments: q.arguments,
      messages: q.messages ?? undefined,
    })),
    bindings: parseRows(bindingRow, bindings, 'bindings', paths.bindings).map((b) => ({
      source: b.source,
      destination: b.destination,
      destinationType: b.destination_type,
      routingKey: b.routing_key,
      arguments: b.arguments,
      propertiesKey: b.properties_key,
    })),
    policies: parseRows(policyRow, policies, 'policies', paths.policies).map((p) => ({
      name: p.name,
      pattern: p.pattern,
      applyTo: p['apply-to'],
      priority: p.priority,
      definition: p.definition,
    })),
  };
}
