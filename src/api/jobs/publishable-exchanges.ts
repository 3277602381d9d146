import type { Topology } from '../../config/topology-schema.ts';

/** The parts of a topology that say which exchanges only the broker and warren publish to. */
export type ExchangeTopology = Pick<Topology, 'exchanges'> & Partial<Pick<Topology, 'queues' | 'consumers' | 'jobEvents'>>;

/**
 * Exchanges of the topology that POST /v1/publish/{exchange} refuses even to a
 * `*` key, each with the reason given to the caller. A message there is read as
 * warren's own: a forged dead letter names the queue `warren dlq requeue` sends
 * it to, a forged result or job event rewrites another tenant's job.
 *
 * - internal exchanges (the broker refuses client publishes to them anyway);
 * - every queue's dead-letter exchange (the broker and warren's workers dead-letter into it);
 * - every consumer's results exchange (workers publish results there);
 * - the job-events exchange (the API and workers publish job status there);
 * - every exchange named as an alternate exchange (only the broker routes there: unroutable messages);
 * - `amq.*` names, RabbitMQ's own.
 *
 * Retry tiers go through the default exchange, which has no name the path can hold.
 */
export function warrenOnlyExchanges(topology: ExchangeTopology): Map<string, string> {
  const owned = new Map<string, string>();
  const add = (name: string | undefined, reason: string) => {
    if (name !== undefined && name !== '' && !owned.has(name)) owned.set(name, reason);
  };
  const exchanges = Object.entries(topology.exchanges);
  add(topology.jobEvents?.exchange, "warren's job-events exchange");
  for (const q of Object.values(topology.queues ?? {})) add(q.deadLetter?.exchange, 'a dead-letter exchange');
  for (const c of Object.values(topology.consumers ?? {})) add(c.results?.exchange, 'a results exchange');
  for (const [name, ex] of exchanges) if (ex.internal) add(name, 'an internal exchange');
  for (const [, ex] of exchanges) add(ex.alternateExchange, 'an alternate exchange');
  for (const name of Object.keys(topology.exchanges)) if (name.startsWith('amq.')) add(name, "one of RabbitMQ's own exchanges");
  return owned;
}

/** Exchanges of the topology a key with the grant may publish raw messages to, in topology order. */
export function publishableExchanges(topology: ExchangeTopology): string[] {
  const owned = warrenOnlyExchanges(topology);
  return Object.keys(topology.exchanges).filter((name) => !owned.has(name));
}
