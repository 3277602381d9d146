import type { FieldChange } from './compare.ts';
import type { QueueRole } from './desired-state.ts';

/**
 * Messages for differences RabbitMQ can't apply in place. Each one says what
 * differs, why it can't change, and what the user can do about it: the plan
 * never deletes anything silently and never lets a raw 406 through.
 */

/** Where the YAML sets each structural argument, so messages speak the user's language. */
const ARGUMENT_FIELD: Record<string, string> = {
  'x-max-priority': 'maxPriority',
  'x-max-age': 'retention.maxAge',
  'x-max-length-bytes': 'retention.maxLengthBytes',
  'alternate-exchange': 'alternateExchange',
};

function show(value: unknown): string {
  if (value === undefined) return 'none';
  if (typeof value === 'string') return `'${value}'`;
  return JSON.stringify(value);
}

function flag(value: unknown, yes: string, no: string): string {
  return value === true ? yes : no;
}

function describe(change: FieldChange, file: string): string {
  const { field, actual, desired } = change;
  switch (field) {
    case 'type':
      return `is ${String(actual)} on the broker but ${String(desired)} in ${file}`;
    case 'durable':
      return `is ${flag(actual, 'durable', 'not durable')} on the broker but ${flag(desired, 'durable', 'not durable')} in ${file}`;
    case 'autoDelete':
      return `is ${flag(actual, 'auto-delete', 'not auto-delete')} on the broker but ${flag(desired, 'auto-delete', 'not auto-delete')} in ${file}`;
    case 'internal':
      return `is ${flag(actual, 'internal', 'not internal')} on the broker but ${flag(desired, 'internal', 'not internal')} in ${file}`;
  }
  const yamlField = ARGUMENT_FIELD[field];
  if (actual === undefined) return `has no ${field} on the broker but ${file} sets ${yamlField ?? field} to ${show(desired)}`;
  if (desired === undefined) {
    return yamlField === undefined
      ? `has argument ${field}=${show(actual)} on the broker, which ${file} doesn't declare (arguments outrank warren's policy and can't be removed)`
      : `has ${field} ${show(actual)} on the broker but ${file} sets no ${yamlField}`;
  }
  return `has ${field} ${show(actual)} on the broker but ${show(desired)} in ${file}${yamlField === undefined ? '' : ` (${yamlField})`}`;
}

function why(object: 'queue' | 'exchange', changes: FieldChange[]): string {
  const fields = new Set(changes.map((c) => c.field));
  const an = object === 'queue' ? 'a queue' : 'an exchange';
  if (fields.size === 1 && fields.has('type')) return `RabbitMQ can't change ${an}'s type`;
  if (fields.size === 1 && fields.has('durable')) return `RabbitMQ can't change ${an}'s durability`;
  if ([...fields].every((f) => f !== 'type' && f !== 'durable' && f !== 'autoDelete' && f !== 'internal')) {
    return `${object} arguments are fixed when ${an} is declared`;
  }
  return `RabbitMQ can't change these on an existing ${object}`;
}

function vhostFlag(vhost: string): string {
  return vhost === '/' ? '' : ` -p ${vhost}`;
}

/** Context a queue message needs to suggest the right fix. */
export interface QueueDriftContext {
  name: string;
  vhost: string;
  role: QueueRole;
  /** Label of the topology file in messages. @default topology.yaml */
  file: string;
}

/** Message for a queue whose type, durability or structural arguments differ. */
export function queueDriftMessage(changes: FieldChange[], ctx: QueueDriftContext): string {
  const { name, vhost, role, file } = ctx;
  const what = `queue '${name}' ${changes.map((c) => describe(c, file)).join('; it ')}`;
  const del = `rabbitmqctl delete_queue${vhostFlag(vhost)} ${name} / the UI`;
  let fix: string;
  if (role === 'retry-wait') {
    fix = `It is a retry wait queue warren derives from its work queue: drain it and delete it (${del}), then apply again to recreate it.`;
  } else if (role === 'job-history') {
    fix = `It is warren's job-history checkpoint stream: delete it (${del}; API replicas re-index the job-events stream once), then apply again.`;
  } else if (role === 'job-events') {
    fix = `It is warren's job-event stream: delete it (${del}; past events are lost) or set another jobEvents.stream in ${file}, then apply again.`;
  } else {
    fix = `Drain it and delete it (${del}), or rename the queue in ${file}, then apply again.`;
  }
  return `${what}; ${why('queue', changes)}. ${fix}`;
}

/** Message for an exchange whose type, flags or alternate exchange differ. */
export function exchangeDriftMessage(changes: FieldChange[], ctx: { name: string; vhost: string; file: string }): string {
  const { name, vhost, file } = ctx;
  const what = `exchange '${name}' ${changes.map((c) => describe(c, file)).join('; it ')}`;
  const del = `rabbitmqadmin${vhost === '/' ? '' : ` --vhost=${vhost}`} delete exchange name=${name} / the UI; its bindings go with it`;
  return `${what}; ${why('exchange', changes)}. Delete it (${del}) and apply again to recreate it, or rename the exchange in ${file}, then apply again.`;
}
