import { seg, type ManagementClient } from '../broker/management-client.ts';
import { ManagementApiError } from '../errors/index.ts';
import type { CreateStep, ExtraStep, PlanStep, UpdateStep } from './plan-step.ts';

/** A step apply will carry out: everything but cannot-change (extras only when pruning). */
export type ExecutableStep = CreateStep | UpdateStep | ExtraStep;

/** `create queue 'x'`, `update policy 'warren.q.x'`, `delete binding a -> queue b [k]`: for reports and messages. */
export function describeStep(step: PlanStep): string {
  const verb =
    step.kind === 'create' ? 'create' : step.kind === 'update' ? (step.policy === null ? 'delete' : 'update') : step.kind === 'extra' ? 'delete' : 'cannot change';
  return step.object === 'binding' ? `${verb} binding ${step.name}` : `${verb} ${step.object} '${step.name}'`;
}

function destinationSegment(type: 'queue' | 'exchange'): string {
  return type === 'queue' ? 'q' : 'e';
}

/** Carries out one step with one management API write. Deletes of things already gone count as done. */
export async function executeStep(management: ManagementClient, vhost: string, step: ExecutableStep): Promise<void> {
  const v = seg(vhost);
  if (step.kind === 'create') {
    switch (step.object) {
      case 'vhost':
        return management.put(`/vhosts/${v}`, { description: 'managed by warren' });
      case 'exchange': {
        const e = step.exchange;
        return management.put(`/exchanges/${v}/${seg(e.name)}`, { type: e.type, durable: e.durable, auto_delete: e.autoDelete, internal: e.internal, arguments: e.arguments });
      }
      case 'queue': {
        const q = step.queue;
        return management.put(`/queues/${v}/${seg(q.name)}`, { durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments });
      }
      case 'binding': {
        const b = step.binding;
        await management.post(`/bindings/${v}/e/${seg(b.source)}/${destinationSegment(b.destinationType)}/${seg(b.destination)}`, { routing_key: b.routingKey, arguments: b.arguments });
        return;
      }
      case 'policy': {
        const p = step.policy;
        return management.put(`/policies/${v}/${seg(p.name)}`, { pattern: p.pattern, 'apply-to': p.applyTo, priority: p.priority, definition: p.definition });
      }
    }
  }
  if (step.kind === 'update') {
    const p = step.policy;
    if (p === null) return management.delete(`/policies/${v}/${seg(step.name)}`, { ignoreNotFound: true });
    return management.put(`/policies/${v}/${seg(p.name)}`, { pattern: p.pattern, 'apply-to': p.applyTo, priority: p.priority, definition: p.definition });
  }
  switch (step.object) {
    case 'binding': {
      const b = step.binding;
      return management.delete(`/bindings/${v}/e/${seg(b.source)}/${destinationSegment(b.destinationType)}/${seg(b.destination)}/${seg(b.propertiesKey)}`, { ignoreNotFound: true });
    }
    case 'policy':
      return management.delete(`/policies/${v}/${seg(step.name)}`, { ignoreNotFound: true });
    case 'queue':
      return management.delete(`/queues/${v}/${seg(step.name)}`, { ignoreNotFound: true });
    case 'exchange':
      return management.delete(`/exchanges/${v}/${seg(step.name)}`, { ignoreNotFound: true });
  }
}

/** Turns a management API failure into a sentence that names the object, never a bare status code. */
export function explainStepError(step: PlanStep, err: unknown): string {
  if (err instanceof ManagementApiError) {
    const reason = typeof err.details === 'object' && err.details !== null && 'reason' in err.details ? String((err.details as { reason: unknown }).reason) : err.message;
    if (/inequivalent arg|PRECONDITION_FAILED/i.test(reason)) {
      return `the broker refused (${reason}); the ${step.object} changed on the broker since the plan was made. Run plan again to see the difference.`;
    }
    if (err.status === 401) return err.message;
    if (err.status === 404) return `404 Not Found: the vhost or an object this step refers to does not exist (deleted while apply ran?)`;
    return `${err.status}: ${reason}`;
  }
  return err instanceof Error ? err.message : String(err);
}
