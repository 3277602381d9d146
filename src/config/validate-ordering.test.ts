import { describe, expect, it } from 'vitest';
import { TopologyError } from '../errors/index.ts';
import { parseTopology } from './load-topology.ts';

/** An ordered queue fed by route `orders`; `queue` lines replace the queue's settings. */
function yaml(queue: string[], extra: string[] = []): string {
  return [
    'version: 1',
    'exchanges:',
    '  jobs: { type: direct }',
    '  dlx: { type: direct }',
    'queues:',
    '  orders:',
    ...queue.map((l) => `    ${l}`),
    '  dead: { type: quorum }',
    'bindings:',
    '  - { source: jobs, queue: orders, routingKey: orders }',
    '  - { source: dlx, queue: dead, routingKey: dead }',
    'routes:',
    '  orders: { exchange: jobs, routingKey: orders, schema: task }',
    ...extra,
  ].join('\n');
}

function issues(text: string): { path: string; message: string; line: number | undefined }[] {
  try {
    parseTopology(text, 'topology.yaml', { checkHandlers: false, env: {} });
  } catch (err) {
    if (err instanceof TopologyError) return err.issues.map((i) => ({ path: i.path, message: i.message, line: i.line }));
    throw err;
  }
  return [];
}

const DLX = 'deadLetter: { exchange: dlx, routingKey: dead }';

describe('ordering validation', () => {
  it('accepts an ordered quorum queue keyed by a field or a header', () => {
    expect(issues(yaml(['type: quorum', DLX, 'ordering: { key: "{input.customerId}", partitions: 8 }']))).toEqual([]);
    expect(issues(yaml(['type: quorum', DLX, 'ordering: { key: X-Customer-Id, partitions: 2 }']))).toEqual([]);
  });

  it('refuses partitions: 0 at its YAML line', () => {
    expect(issues(yaml(['type: quorum', DLX, 'ordering:', '  key: "{customerId}"', '  partitions: 0']))).toEqual([
      { path: 'queues.orders.ordering.partitions', message: 'partitions must be at least 1', line: 11 },
    ]);
  });

  it('refuses ordering on a stream queue, with the line', () => {
    const found = issues(yaml(['type: stream', 'ordering: { key: "{customerId}", partitions: 4 }']));
    expect(found).toContainEqual({ path: 'queues.orders.ordering', message: "ordering is not supported on stream queues ('orders'): streams are for replay, not jobs", line: 8 });
  });

  it('refuses a key that is neither {field} nor a header name', () => {
    const found = issues(yaml(['type: quorum', DLX, 'ordering: { key: "{a b}", partitions: 4 }']));
    expect(found.map((i) => i.path)).toEqual(['queues.orders.ordering.key']);
    expect(found[0]?.message).toContain('must be {field}');
  });

  it('needs a quorum queue with a dead-letter target, and names it', () => {
    const found = issues(yaml(['type: classic', 'ordering: { key: "{customerId}", partitions: 4 }']));
    expect(found.map((i) => i.path).filter((p) => p.startsWith('queues.orders')).sort()).toEqual(['queues.orders.deadLetter', 'queues.orders.type']);
  });

  it('refuses names the expansion would clash with', () => {
    const found = issues(yaml(['type: quorum', DLX, 'ordering: { key: "{customerId}", partitions: 2 }']).replace('  dead: { type: quorum }', '  dead: { type: quorum }\n  orders.p1: { type: classic }'));
    expect(found.map((i) => i.message)).toContain("ordered queue 'orders' expands into queue 'orders.p1', which queues: already declares");
  });

  it('refuses in-place retries that could outlast the consumer timeout', () => {
    const found = issues(
      yaml(['type: quorum', DLX, 'retry: slow', 'ordering: { key: "{customerId}", partitions: 2 }'], [
        'retryPolicies:',
        '  slow: { attempts: 5, backoff: [10m] }',
        'consumers:',
        '  orders: { queue: orders, handler: echo-task, timeout: 1m }',
      ]),
    );
    expect(found.map((i) => i.path)).toEqual(['queues.orders.retry']);
    expect(found[0]?.message).toContain('consumer_timeout');
  });
});
