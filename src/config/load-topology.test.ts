import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TopologyError } from '../errors/index.ts';
import { loadTopology, parseTopology, type LoadOptions } from './load-topology.ts';

/** Parses YAML and returns the TopologyError it throws (fails the test when it doesn't throw). */
function failure(yaml: string, options: LoadOptions = {}): TopologyError {
  try {
    parseTopology(yaml, 'topology.yaml', { checkHandlers: false, env: {}, ...options });
  } catch (err) {
    if (err instanceof TopologyError) return err;
    throw err;
  }
  throw new Error('expected the topology to be rejected');
}

describe('parseTopology', () => {
  it('loads a valid file with defaults and interpolated env', () => {
    const { topology } = parseTopology(
      ['version: 1', 'connection:', '  vhost: ${VHOST:-/}', '  management: ${MGMT}', 'queues:', '  work: {}'].join('\n'),
      'topology.yaml',
      { env: { MGMT: 'http://u:p@rabbit:15672' }, checkHandlers: false },
    );
    expect(topology.connection.vhost).toBe('/');
    expect(topology.connection.management).toBe('http://u:p@rabbit:15672');
    expect(topology.queues.work).toMatchObject({ type: 'classic', durable: true, autoDelete: false });
    expect(topology.jobEvents).toMatchObject({ exchange: 'warren.events', stream: 'warren.events.log' });
  });

  it('reports an unknown key at the key, with its YAML path', () => {
    const err = failure(['version: 1', 'queues:', '  llm.realtime:', '    type: quorum', '    deadLeter: { exchange: dlx }'].join('\n'));
    expect(err.code).toBe('TOPOLOGY_INVALID');
    expect(err.issues).toEqual([{ path: 'queues.llm.realtime.deadLeter', message: "unknown key 'deadLeter'", file: 'topology.yaml', line: 5, column: 5 }]);
    expect(err.message).toBe("topology is invalid:\n  - topology.yaml:5:5: queues.llm.realtime.deadLeter: unknown key 'deadLeter'");
  });

  it('names every unknown key of one object', () => {
    const err = failure(['version: 1', 'exchanges:', '  jobs: { type: topic, durabel: true, autodelete: false }'].join('\n'));
    expect(err.message).toBe("topology is invalid:\n  - topology.yaml:3:24: exchanges.jobs.durabel: unknown keys 'durabel', 'autodelete'");
  });

  it('reports a variable without default, at the value', () => {
    const err = failure(['version: 1', 'connection:', '  urls: ["${WARREN_AMQP_URL}"]', '  management: http://localhost:15672'].join('\n'));
    expect(err.message).toBe(
      "topology is invalid:\n  - topology.yaml:3:10: connection.urls.0: environment variable 'WARREN_AMQP_URL' is not set and has no default (write ${WARREN_AMQP_URL:-default} to give one)",
    );
  });

  it('treats an empty variable like a missing one', () => {
    const err = failure(['version: 1', 'providers:', '  openai:', '    baseURL: https://api.openai.com/v1', '    apiKey: ${OPENAI_API_KEY}'].join('\n'), { env: { OPENAI_API_KEY: '' } });
    expect(err.issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual(['5:13 providers.openai.apiKey']);
  });

  it('reports YAML syntax errors with their position and code TOPOLOGY_SYNTAX', () => {
    const err = failure(['version: 1', 'queues:', '  work: { type: classic', 'bindings: []'].join('\n'));
    expect(err.code).toBe('TOPOLOGY_SYNTAX');
    expect(err.issues[0]).toMatchObject({ file: 'topology.yaml', line: 4, column: 1 });
    expect(err.message.split('\n')[0]).toBe('topology is invalid:');
    expect(err.message.split('\n')[1]).toMatch(/^ {2}- topology\.yaml:4:1: YAML syntax error: /);
  });

  it('rejects a duplicated key as a syntax error', () => {
    const err = failure(['version: 1', 'queues:', '  work: {}', '  work: {}'].join('\n'));
    expect(err.code).toBe('TOPOLOGY_SYNTAX');
    expect(err.message).toBe('topology is invalid:\n  - topology.yaml:4:3: YAML syntax error: Map keys must be unique');
  });

  it('explains wrong types and enum values', () => {
    const err = failure(['version: 1', 'queues:', '  work: { type: lazy, maxLength: many }'].join('\n'));
    expect(err.message).toBe(
      [
        'topology is invalid (2 problems):',
        '  - topology.yaml:3:17: queues.work.type: must be one of "classic", "quorum", "stream"',
        '  - topology.yaml:3:34: queues.work.maxLength: Invalid input: expected number, received string',
      ].join('\n'),
    );
  });

  it('requires version 1', () => {
    const err = failure('queues: {}\n');
    expect(err.message).toBe('topology is invalid:\n  - topology.yaml:1:1: version: is required (expected 1)');
  });

  it('reports env and reference problems of one file at once, env problems first', () => {
    const err = failure(
      [
        'version: 1',
        'connection:',
        '  vhost: ${VHOST}',
        'exchanges:',
        '  jobs: { type: topic }',
        'queues:',
        '  work: { retry: nope }',
        'bindings:',
        '  - { source: job, queue: work, routingKey: "a.#" }',
      ].join('\n'),
    );
    expect(err.message).toBe(
      [
        'topology is invalid (3 problems):',
        "  - topology.yaml:3:10: connection.vhost: environment variable 'VHOST' is not set and has no default (write ${VHOST:-default} to give one)",
        "  - topology.yaml:7:18: queues.work.retry: queue 'work' uses unknown retry policy 'nope'",
        "  - topology.yaml:9:15: bindings.0.source: binding 0 refers to unknown exchange 'job'",
      ].join('\n'),
    );
  });
});

describe('loadTopology', () => {
  it('names a missing file', () => {
    expect(() => loadTopology('/nonexistent/topology.yaml')).toThrow(
      "topology is invalid:\n  - /nonexistent/topology.yaml: can't read topology file: ENOENT: no such file or directory, open '/nonexistent/topology.yaml'",
    );
  });

  it('checks handlers in consumers/ beside the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-load-'));
    const file = join(dir, 'topology.yaml');
    writeFileSync(file, ['version: 1', 'queues:', '  work: {}', 'consumers:', '  w: { queue: work, handler: summarize }'].join('\n'));
    expect(() => loadTopology(file, { env: {} })).toThrow(
      `topology is invalid:\n  - ${file}:5:30: consumers.w.handler: consumer 'w' names handler 'summarize' but no file consumers/summarize.ts (or .js) exists`,
    );
    const loaded = loadTopology(file, { env: {}, checkHandlers: false });
    expect(loaded).toMatchObject({ file, consumersDir: join(dir, 'consumers') });
    rmSync(dir, { recursive: true, force: true });
  });
});
