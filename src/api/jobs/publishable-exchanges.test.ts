import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../config/load-topology.ts';
import { topologySchema } from '../../config/topology-schema.ts';
import { publishableExchanges, warrenOnlyExchanges } from './publishable-exchanges.ts';

describe('exchanges only warren publishes to', () => {
  it('in the shipped topology: the DLX, the results and job-events exchanges and the internal ones', () => {
    const file = fileURLToPath(new URL('../../../topology.yaml', import.meta.url));
    const { topology } = loadTopology(file, { env: {}, checkHandlers: false });
    expect(Object.fromEntries(warrenOnlyExchanges(topology))).toEqual({
      'warren.events': "warren's job-events exchange",
      'llm.dlx': 'a dead-letter exchange',
      'llm.results': 'a results exchange',
      'tasks.unrouted': 'an internal exchange',
      'llm.audit': 'an internal exchange',
    });
    expect(publishableExchanges(topology)).toEqual(['llm.jobs', 'tasks', 'documents']);
  });

  it('counts alternate exchanges and amq.* names even when not internal', () => {
    const topology = topologySchema.parse({
      version: 1,
      exchanges: { in: { type: 'direct', alternateExchange: 'spill' }, spill: { type: 'fanout' }, 'amq.custom': { type: 'topic' } },
    });
    expect(warrenOnlyExchanges(topology).get('spill')).toBe('an alternate exchange');
    expect(warrenOnlyExchanges(topology).get('amq.custom')).toBe("one of RabbitMQ's own exchanges");
    expect(publishableExchanges(topology)).toEqual(['in']);
  });
});
