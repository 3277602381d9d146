import { Counter, type Registry } from 'prom-client';
import type { JobEvent } from '../../jobs/job-event.ts';

/**
 * Cost and token counters by route, model and API key name, from the
 * `succeeded` job events every replica reads: each replica reports the whole
 * deployment's figures (aggregate replicas with `max`, not `sum`).
 */
export interface CostMetrics {
  observe(event: JobEvent, owner: string | undefined): void;
}

/** Registers the counters on `registry`. */
export function createCostMetrics(registry: Registry): CostMetrics {
  const cost = new Counter({
    name: 'warren_llm_cost_total',
    help: 'Cost of succeeded LLM jobs by the topology price table (whole deployment, from the job events), by route, model and API key name',
    labelNames: ['route', 'model', 'key'],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'warren_llm_key_tokens_total',
    help: 'Tokens of succeeded LLM jobs (whole deployment, from the job events), by route, model, API key name and kind (prompt, completion)',
    labelNames: ['route', 'model', 'key', 'kind'],
    registers: [registry],
  });
  return {
    observe(event, owner) {
      const u = event.usage;
      if (event.status !== 'succeeded' || u === undefined) return;
      const labels = { route: event.route ?? '', model: u.model ?? '', key: event.owner ?? owner ?? '' };
      if (u.cost !== undefined) cost.inc(labels, u.cost);
      tokens.inc({ ...labels, kind: 'prompt' }, u.promptTokens);
      tokens.inc({ ...labels, kind: 'completion' }, u.completionTokens);
    },
  };
}
