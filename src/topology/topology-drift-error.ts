import { WarrenError } from '../errors/index.ts';
import type { CannotChangeStep } from './plan-step.ts';

/**
 * The broker holds objects that differ from the file in ways RabbitMQ can't
 * change in place (queue type, durability, structural arguments). Nothing was
 * applied; each step's message says what to do.
 */
export class TopologyDriftError extends WarrenError {
  override readonly name = 'TopologyDriftError';
  readonly steps: CannotChangeStep[];

  constructor(vhost: string, steps: CannotChangeStep[]) {
    const head =
      steps.length === 1
        ? `topology can't be applied to vhost '${vhost}': 1 object differs in a way RabbitMQ can't change in place. Nothing was applied.`
        : `topology can't be applied to vhost '${vhost}': ${steps.length} objects differ in ways RabbitMQ can't change in place. Nothing was applied.`;
    super('TOPOLOGY_DRIFT', `${head}\n${steps.map((s) => `  ! ${s.message}`).join('\n')}`, {
      details: steps.map((s) => ({ object: s.object, name: s.name, changes: s.changes, message: s.message })),
    });
    this.steps = steps;
  }
}
