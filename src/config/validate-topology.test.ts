import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTopologyIssue, TopologyError } from '../errors/index.ts';
import { parseTopology } from './load-topology.ts';
import { topologySchema } from './topology-schema.ts';
import { topicPatternProblem, validateTopology } from './validate-topology.ts';

const BASE = `version: 1
exchanges:
  llm.jobs: { type: topic }
  llm.dlx: { type: direct }
  docs: { type: headers }
queues:
  llm.realtime:
    type: quorum
    deadLetter: { exchange: llm.dlx, routingKey: dead }
  llm.dead: { type: quorum }
bindings:
  - { source: llm.jobs, queue: llm.realtime, routingKey: "llm.realtime.#" }
  - { source: llm.dlx, queue: llm.dead, routingKey: dead }
`;

/** The formatted problems (`file:line:col: path: message`) of a topology text, or [] when it is valid. */
function problems(yaml: string, consumersDir?: string): string[] {
  try {
    parseTopology(yaml, 'topology.yaml', { env: {}, ...(consumersDir === undefined ? { checkHandlers: false } : { consumersDir }) });
    return [];
  } catch (err) {
    if (err instanceof TopologyError) return err.issues.map(formatTopologyIssue);
    throw err;
  }
}

describe('validateTopology through the loader (exact messages and positions)', () => {
  it('accepts the base fixture', () => {
    expect(problems(BASE)).toEqual([]);
  });

  it('refuses a checkpoint stream that is the events stream or a declared queue', () => {
    const same = problems(`${BASE}jobEvents: { stream: ev.log, checkpointStream: ev.log }\n`);
    expect(same).toHaveLength(1);
    expect(same[0]).toMatch(/jobEvents\.checkpointStream: must differ from jobEvents\.stream \('ev\.log'\)$/);
    const declared = problems(`${BASE}jobEvents: { checkpointStream: llm.dead }\n`);
    expect(declared).toHaveLength(1);
    expect(declared[0]).toMatch(/jobEvents\.checkpointStream: 'llm\.dead' is managed by warren for job-history checkpoints; don't declare it under queues$/);
  });

  it('names a binding to an unknown exchange', () => {
    expect(problems(`${BASE}  - { source: llm.job, queue: llm.dead }\n`)).toEqual(["topology.yaml:14:15: bindings.2.source: binding 2 refers to unknown exchange 'llm.job'"]);
  });

  it('names a binding to an unknown queue and an unknown destination exchange', () => {
    expect(problems(`${BASE}  - { source: llm.jobs, queue: llm.nope }\n  - { source: llm.jobs, exchange: nowhere }\n`)).toEqual([
      "topology.yaml:14:32: bindings.2.queue: binding 2 refers to unknown queue 'llm.nope'",
      "topology.yaml:15:35: bindings.3.exchange: binding 3 refers to unknown exchange 'nowhere'",
    ]);
  });

  it('names an unknown dead-letter exchange', () => {
    // llm.dead stops being anyone's dead-letter queue too, so its own missing DLX is reported with it.
    expect(problems(BASE.replace('deadLetter: { exchange: llm.dlx, routingKey: dead }', 'deadLetter: { exchange: llm.dlq, routingKey: dead }'))).toEqual([
      "topology.yaml:9:29: queues.llm.realtime.deadLetter.exchange: queue 'llm.realtime' dead-letters to unknown exchange 'llm.dlq'",
      "topology.yaml:10:21: queues.llm.dead.type: quorum queue 'llm.dead' has no deadLetter target: add deadLetter.exchange so failed and over-limit messages are kept",
    ]);
  });

  it('names an unknown retry policy', () => {
    expect(problems(BASE.replace('  llm.dead: { type: quorum }', '  llm.dead: { type: quorum }\n  tasks: { retry: fast }'))).toEqual([
      "topology.yaml:11:19: queues.tasks.retry: queue 'tasks' uses unknown retry policy 'fast'",
    ]);
  });

  it('names a consumer whose handler file is missing, and accepts it once the file exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-validate-'));
    const yaml = `${BASE}consumers:\n  realtime: { queue: llm.realtime, handler: chat-completion }\n`;
    expect(problems(yaml, dir)).toEqual([
      "topology.yaml:15:45: consumers.realtime.handler: consumer 'realtime' names handler 'chat-completion' but no file consumers/chat-completion.ts (or .js) exists",
    ]);
    writeFileSync(join(dir, 'chat-completion.ts'), 'export default async () => ({});\n');
    expect(problems(yaml, dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects invalid topic patterns', () => {
    expect(problems(BASE.replace('routingKey: "llm.realtime.#"', 'routingKey: "llm.real*.#"'))).toEqual([
      "topology.yaml:12:58: bindings.0.routingKey: routing pattern 'llm.real*.#': '*' and '#' must stand alone between dots (found 'real*')",
    ]);
    expect(problems(BASE.replace('routingKey: "llm.realtime.#"', 'routingKey: "llm..#"'))).toEqual([
      "topology.yaml:12:58: bindings.0.routingKey: routing pattern 'llm..#' has an empty word (two dots in a row, or a leading/trailing dot)",
    ]);
  });

  it('rejects a quorum queue without a dead-letter target unless it is a dead-letter queue itself', () => {
    expect(problems(BASE.replace('  llm.dead: { type: quorum }', '  llm.dead: { type: quorum }\n  llm.standard: { type: quorum }'))).toEqual([
      "topology.yaml:11:25: queues.llm.standard.type: quorum queue 'llm.standard' has no deadLetter target: add deadLetter.exchange so failed and over-limit messages are kept",
    ]);
  });

  it('rejects a consumer timeout that is not below the broker consumer_timeout', () => {
    const yaml = `${BASE}connection:\n  consumerTimeout: 30m\nconsumers:\n  slow: { queue: llm.realtime, handler: h, timeout: 45m }\n`;
    expect(problems(yaml)).toEqual([
      "topology.yaml:17:53: consumers.slow.timeout: consumer 'slow': timeout 2700000ms is not below the broker's consumer_timeout 1800000ms; the broker would close the channel mid-job",
    ]);
  });

  it('reports several problems at once, each with its position', () => {
    const yaml = `${BASE}  - { source: nope, queue: llm.dead }
  - { source: docs, queue: llm.dead, routingKey: x }
  - { source: llm.dlx, queue: llm.dead, routingKey: "dead.*" }
queues2: {}
`;
    // The unknown top-level key is a schema error: it stops the reference checks, so it comes alone.
    expect(problems(yaml)).toEqual(["topology.yaml:17:1: queues2: unknown key 'queues2'"]);
    expect(problems(yaml.replace('queues2: {}\n', ''))).toEqual([
      "topology.yaml:14:15: bindings.2.source: binding 2 refers to unknown exchange 'nope'",
      'topology.yaml:15:5: bindings.3: binding 3 on headers exchange \'docs\' needs headers: {match, values}',
      "topology.yaml:15:50: bindings.3.routingKey: binding 3: headers exchanges ignore routingKey; use headers instead",
      "topology.yaml:16:53: bindings.4.routingKey: binding 4: direct exchange 'llm.dlx' matches keys literally; 'dead.*' contains a wildcard (use a topic exchange)",
    ]);
  });
});

describe('validateTopology (paths and messages)', () => {
  const parse = (input: Record<string, unknown>) => topologySchema.parse({ version: 1, ...input });

  it('checks queue settings against the queue type', () => {
    const t = parse({
      exchanges: { dlx: { type: 'fanout' } },
      queues: {
        c: { type: 'classic', deliveryLimit: 3, deadLetterStrategy: 'at-least-once', overflow: 'reject-publish' },
        s: { type: 'stream', messageTtl: '1m', retention: { maxAge: '1d' } },
        q: { type: 'quorum', deadLetter: { exchange: 'dlx' }, maxPriority: 5, deadLetterStrategy: 'at-least-once' },
      },
    });
    expect(validateTopology(t)).toEqual([
      { path: ['queues', 'c', 'deliveryLimit'], message: "deliveryLimit is only supported on quorum queues ('c' is classic)" },
      { path: ['queues', 'c', 'deadLetterStrategy'], message: "deadLetterStrategy is only supported on quorum queues ('c' is classic)" },
      { path: ['queues', 's', 'messageTtl'], message: "messageTtl is not supported on stream queues ('s')" },
      { path: ['queues', 'q', 'deadLetterStrategy'], message: "deadLetterStrategy at-least-once needs overflow: reject-publish on queue 'q' (RabbitMQ falls back to at-most-once otherwise)" },
      { path: ['queues', 'q', 'maxPriority'], message: "maxPriority is only supported on classic queues ('q' is quorum)" },
    ]);
  });

  it('allows the built-in exchanges without declaring them, but reserves amq.* names', () => {
    const t = parse({ exchanges: { 'amq.mine': { type: 'direct' } }, queues: { a: {} }, bindings: [{ source: 'amq.topic', queue: 'a', routingKey: '#' }] });
    expect(validateTopology(t)).toEqual([{ path: ['exchanges', 'amq.mine'], message: "exchange names starting with 'amq.' are reserved by RabbitMQ" }]);
  });

  it('checks routes and consumers references', () => {
    const t = parse({
      queues: { a: {} },
      routes: { r: { exchange: 'missing', routingKey: 'x.{bad-name}', schema: 'task' } },
      consumers: { c: { queue: 'a', handler: 'h', route: 'nope', provider: 'none', prefetch: 2, concurrency: 5, onError: { auth: { route: 'gone' } } } },
    });
    expect(validateTopology(t, { schemaNames: ['chat-completion'] })).toEqual([
      { path: ['routes', 'r', 'exchange'], message: "route 'r' publishes to unknown exchange 'missing'" },
      { path: ['routes', 'r', 'schema'], message: "route 'r' uses unknown payload schema 'task' (known: chat-completion)" },
      { path: ['routes', 'r', 'routingKey'], message: "route 'r': invalid placeholder '{bad-name}'" },
      { path: ['consumers', 'c', 'route'], message: "consumer 'c' names unknown route 'nope'" },
      { path: ['consumers', 'c', 'provider'], message: "consumer 'c' names unknown provider 'none'" },
      { path: ['consumers', 'c', 'concurrency'], message: "consumer 'c': concurrency 5 exceeds prefetch 2 (extra slots could never be filled)" },
      { path: ['consumers', 'c', 'onError', 'auth', 'route'], message: "consumer 'c' sends 'auth' errors to unknown route 'gone'" },
    ]);
  });

  it('topicPatternProblem accepts words, * and # and rejects the rest', () => {
    expect(topicPatternProblem('llm.*.chat')).toBeUndefined();
    expect(topicPatternProblem('#')).toBeUndefined();
    expect(topicPatternProblem('')).toBeUndefined();
    expect(topicPatternProblem('.llm')).toBe("routing pattern '.llm' has an empty word (two dots in a row, or a leading/trailing dot)");
    expect(topicPatternProblem('llm.#x')).toBe("routing pattern 'llm.#x': '*' and '#' must stand alone between dots (found '#x')");
  });
});
