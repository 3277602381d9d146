import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { desiredState } from './desired-state.ts';
import { exportDefinitions } from './export-definitions.ts';

describe('exportDefinitions', () => {
  it('writes the import_definitions format with the vhost on every object', () => {
    const t = topologySchema.parse({
      version: 1,
      connection: { vhost: 'prod' },
      exchanges: { jobs: { type: 'headers', alternateExchange: 'amq.fanout' } },
      queues: { work: { type: 'quorum', deadLetter: { exchange: 'jobs' } } },
      bindings: [{ source: 'jobs', queue: 'work', headers: { match: 'any', values: { a: 1 } } }],
      jobEvents: { exchange: 'ev', stream: 'ev.log', maxAge: '1d', maxLengthBytes: 1000 },
    });
    const defs = exportDefinitions(desiredState(t));
    expect(defs).toEqual({
      vhosts: [{ name: 'prod' }],
      exchanges: [
        { name: 'jobs', vhost: 'prod', type: 'headers', durable: true, auto_delete: false, internal: false, arguments: { 'x-warren-managed': true, 'alternate-exchange': 'amq.fanout' } },
        { name: 'ev', vhost: 'prod', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: { 'x-warren-managed': true } },
      ],
      queues: [
        { name: 'work', vhost: 'prod', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum', 'x-warren-managed': true } },
        { name: 'ev.log', vhost: 'prod', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream', 'x-warren-managed': true } },
        { name: 'warren.events.checkpoints', vhost: 'prod', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream', 'x-warren-managed': true } },
      ],
      bindings: [
        { source: 'ev', vhost: 'prod', destination: 'ev.log', destination_type: 'queue', routing_key: '', arguments: { 'x-warren-managed': true } },
        { source: 'jobs', vhost: 'prod', destination: 'work', destination_type: 'queue', routing_key: '', arguments: { 'x-warren-managed': true, 'x-match': 'any', a: 1 } },
      ],
      policies: [
        { vhost: 'prod', name: 'warren.q.work', pattern: '^work$', 'apply-to': 'queues', priority: 100, definition: { 'dead-letter-exchange': 'jobs' } },
        // Stream retention is a policy: changeable without recreating the stream.
        { vhost: 'prod', name: 'warren.q.ev.log', pattern: '^ev\\.log$', 'apply-to': 'queues', priority: 100, definition: { 'max-age': '86400s', 'max-length-bytes': 1000 } },
        {
          vhost: 'prod',
          name: 'warren.q.warren.events.checkpoints',
          pattern: '^warren\\.events\\.checkpoints$',
          'apply-to': 'queues',
          priority: 100,
          definition: { 'max-age': '86400s', 'max-length-bytes': 50_000_000 },
        },
      ],
    });
  });
});
