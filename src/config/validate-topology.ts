import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from './topology-schema.ts';
import { validateOrdering } from './validate-ordering.ts';

/** A semantic problem: a path into the topology object and a message. */
export interface SemanticIssue {
  path: (string | number)[];
  message: string;
}

/** Options for cross-reference validation. */
export interface ValidateOptions {
  /** Folder handler modules live in; when given, consumers naming a missing file are errors. */
  consumersDir?: string;
  /** Payload schema names that exist (built-in plus `consumers/schemas/*`); when given, unknown names are errors. */
  schemaNames?: readonly string[];
}

const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/** The built-in exchanges every vhost has: they may be referenced without being declared. */
export const BUILTIN_EXCHANGES = new Set(['', 'amq.direct', 'amq.topic', 'amq.fanout', 'amq.headers', 'amq.match']);

/** Checks a topic binding key: words separated by dots; `*` and `#` only as whole words. */
export function topicPatternProblem(key: string): string | undefined {
  if (key === '') return undefined;
  for (const word of key.split('.')) {
    if (word === '') return `routing pattern '${key}' has an empty word (two dots in a row, or a leading/trailing dot)`;
    if (word !== '*' && word !== '#' && /[*#]/.test(word)) {
      return `routing pattern '${key}': '*' and '#' must stand alone between dots (found '${word}')`;
    }
  }
  return undefined;
}

/**
 * Cross-reference and broker-rule checks that a schema alone can't express.
 * Returns every problem at once; the caller maps paths to file positions.
 */
export function validateTopology(t: Topology, options: ValidateOptions = {}): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const exchangeExists = (n: string) => BUILTIN_EXCHANGES.has(n) || n in t.exchanges;

  for (const [exName, ex] of Object.entries(t.exchanges)) {
    if (ex.alternateExchange !== undefined && !exchangeExists(ex.alternateExchange)) {
      add(['exchanges', exName, 'alternateExchange'], `exchange '${exName}' names unknown alternate exchange '${ex.alternateExchange}'`);
    }
    if (exName.startsWith('amq.')) add(['exchanges', exName], `exchange names starting with 'amq.' are reserved by RabbitMQ`);
  }

  // A queue bound to some queue's dead-letter exchange is the end of the line: it needs no DLX itself.
  const dlxNames = new Set(Object.values(t.queues).flatMap((q) => (q.deadLetter ? [q.deadLetter.exchange] : [])));
  const deadLetterQueues = new Set(t.bindings.filter((b) => dlxNames.has(b.source) && b.queue !== undefined).map((b) => b.queue as string));

  for (const [qName, q] of Object.entries(t.queues)) {
    const at = (...p: (string | number)[]) => ['queues', qName, ...p];
    if (qName.startsWith('amq.')) add(at(), `queue names starting with 'amq.' are reserved by RabbitMQ`);
    if (q.deadLetter !== undefined && !exchangeExists(q.deadLetter.exchange)) {
      add(at('deadLetter', 'exchange'), `queue '${qName}' dead-letters to unknown exchange '${q.deadLetter.exchange}'`);
    }
    if (q.type === 'quorum' && q.deadLetter === undefined && !deadLetterQueues.has(qName)) {
      add(at('type'), `quorum queue '${qName}' has no deadLetter target: add deadLetter.exchange so failed and over-limit messages are kept`);
    }
    if (q.type !== 'quorum') {
      if (q.deliveryLimit !== undefined) add(at('deliveryLimit'), `deliveryLimit is only supported on quorum queues ('${qName}' is ${q.type})`);
      if (q.deadLetterStrategy !== undefined) add(at('deadLetterStrategy'), `deadLetterStrategy is only supported on quorum queues ('${qName}' is ${q.type})`);
    }
    if (q.deadLetterStrategy === 'at-least-once' && q.overflow !== 'reject-publish') {
      add(at('deadLetterStrategy'), `deadLetterStrategy at-least-once needs overflow: reject-publish on queue '${qName}' (RabbitMQ falls back to at-most-once otherwise)`);
    }
    if (q.type !== 'classic' && q.maxPriority !== undefined) add(at('maxPriority'), `maxPriority is only supported on classic queues ('${qName}' is ${q.type})`);
    if (q.type !== 'stream' && q.retention !== undefined) add(at('retention'), `retention is only supported on stream queues ('${qName}' is ${q.type})`);
    if (q.type === 'stream') {
      for (const key of ['deadLetter', 'messageTtl', 'maxLength', 'overflow', 'retry'] as const) {
        if (q[key] !== undefined) add(at(key), `${key} is not supported on stream queues ('${qName}')`);
      }
      if (!q.durable) add(at('durable'), `stream queues must be durable ('${qName}')`);
    }
    if (q.type === 'quorum' && !q.durable) add(at('durable'), `quorum queues must be durable ('${qName}')`);
    if (q.type === 'quorum' && q.overflow === 'drop-head' && q.deadLetterStrategy === 'at-least-once') {
      add(at('overflow'), `overflow drop-head conflicts with at-least-once dead-lettering on '${qName}'`);
    }
    if (q.retry !== undefined && !(q.retry in t.retryPolicies)) {
      add(at('retry'), `queue '${qName}' uses unknown retry policy '${q.retry}'`);
    }
  }

  t.bindings.forEach((b, i) => {
    const at = (...p: (string | number)[]) => ['bindings', i, ...p];
    const source = t.exchanges[b.source];
    if (!exchangeExists(b.source)) add(at('source'), `binding ${i} refers to unknown exchange '${b.source}'`);
    if (b.source === '') add(at('source'), `the default exchange can't have bindings`);
    if ((b.queue === undefined) === (b.exchange === undefined)) {
      add(at(), `binding ${i} needs exactly one destination: queue or exchange`);
    }
    if (b.queue !== undefined && !(b.queue in t.queues)) add(at('queue'), `binding ${i} refers to unknown queue '${b.queue}'`);
    if (b.exchange !== undefined && !exchangeExists(b.exchange)) add(at('exchange'), `binding ${i} refers to unknown exchange '${b.exchange}'`);
    const type = source?.type;
    if (type === 'headers') {
      if (b.headers === undefined) add(at(), `binding ${i} on headers exchange '${b.source}' needs headers: {match, values}`);
      if (b.routingKey !== undefined) add(at('routingKey'), `binding ${i}: headers exchanges ignore routingKey; use headers instead`);
    } else if (type !== undefined && b.headers !== undefined) {
      add(at('headers'), `binding ${i}: headers match only works on a headers exchange ('${b.source}' is ${type})`);
    }
    if (type === 'fanout' && b.routingKey !== undefined && b.routingKey !== '') {
      add(at('routingKey'), `binding ${i}: fanout exchange '${b.source}' ignores routing keys; remove routingKey`);
    }
    if (type === 'topic' && b.routingKey !== undefined) {
      const problem = topicPatternProblem(b.routingKey);
      if (problem !== undefined) add(at('routingKey'), problem);
    }
    if (type === 'direct' && b.routingKey !== undefined && /[*#]/.test(b.routingKey)) {
      add(at('routingKey'), `binding ${i}: direct exchange '${b.source}' matches keys literally; '${b.routingKey}' contains a wildcard (use a topic exchange)`);
    }
  });

  for (const [pName, p] of Object.entries(t.retryPolicies)) {
    p.backoff.forEach((ms, i) => {
      if (ms < 1) add(['retryPolicies', pName, 'backoff', i], `backoff tiers must be at least 1ms`);
    });
  }

  for (const [rName, r] of Object.entries(t.routes)) {
    if (!exchangeExists(r.exchange)) add(['routes', rName, 'exchange'], `route '${rName}' publishes to unknown exchange '${r.exchange}'`);
    if (options.schemaNames !== undefined && !options.schemaNames.includes(r.schema)) {
      add(['routes', rName, 'schema'], `route '${rName}' uses unknown payload schema '${r.schema}' (known: ${options.schemaNames.join(', ')})`);
    }
    for (const m of r.routingKey.matchAll(/\{([^}]*)\}/g)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[1] ?? '')) add(['routes', rName, 'routingKey'], `route '${rName}': invalid placeholder '{${m[1] ?? ''}}'`);
    }
  }

  if (t.openai !== undefined) {
    const o = t.openai;
    const routeOk = (r: string, path: (string | number)[]) => {
      if (!(r in t.routes)) add(path, `openai names unknown route '${r}'`);
    };
    routeOk(o.route, ['openai', 'route']);
    for (const [alias, m] of Object.entries(o.models)) if (m.route !== undefined) routeOk(m.route, ['openai', 'models', alias, 'route']);
  }

  for (const [cName, c] of Object.entries(t.consumers)) {
    const at = (...p: (string | number)[]) => ['consumers', cName, ...p];
    if (!(c.queue in t.queues)) add(at('queue'), `consumer '${cName}' reads unknown queue '${c.queue}'`);
    else if (t.queues[c.queue]?.type === 'stream') add(at('queue'), `consumer '${cName}' can't work a stream queue ('${c.queue}'); streams are for replay, not jobs`);
    if (c.route !== undefined && !(c.route in t.routes)) add(at('route'), `consumer '${cName}' names unknown route '${c.route}'`);
    if (c.provider !== undefined && !(c.provider in t.providers)) add(at('provider'), `consumer '${cName}' names unknown provider '${c.provider}'`);
    if (c.concurrency !== undefined && c.concurrency > c.prefetch) {
      add(at('concurrency'), `consumer '${cName}': concurrency ${c.concurrency} exceeds prefetch ${c.prefetch} (extra slots could never be filled)`);
    }
    if (c.timeout >= t.connection.consumerTimeout) {
      add(at('timeout'), `consumer '${cName}': timeout ${c.timeout}ms is not below the broker's consumer_timeout ${t.connection.consumerTimeout}ms; the broker would close the channel mid-job`);
    }
    if (c.results !== undefined && !exchangeExists(c.results.exchange)) add(at('results', 'exchange'), `consumer '${cName}' publishes results to unknown exchange '${c.results.exchange}'`);
    for (const [cls, d] of Object.entries(c.onError)) {
      if (typeof d === 'object' && !(d.route in t.routes)) add(at('onError', cls, 'route'), `consumer '${cName}' sends '${cls}' errors to unknown route '${d.route}'`);
    }
    if (options.consumersDir !== undefined) {
      const base = join(options.consumersDir, c.handler);
      if (!HANDLER_EXTENSIONS.some((ext) => existsSync(base + ext))) {
        add(at('handler'), `consumer '${cName}' names handler '${c.handler}' but no file consumers/${c.handler}.ts (or .js) exists`);
      }
    }
  }

  issues.push(...validateOrdering(t));

  if (t.jobEvents.stream in t.queues) add(['jobEvents', 'stream'], `'${t.jobEvents.stream}' is managed by warren for job events; don't declare it under queues`);
  if (t.jobEvents.checkpointStream in t.queues) add(['jobEvents', 'checkpointStream'], `'${t.jobEvents.checkpointStream}' is managed by warren for job-history checkpoints; don't declare it under queues`);
  if (t.jobEvents.checkpointStream === t.jobEvents.stream) add(['jobEvents', 'checkpointStream'], `must differ from jobEvents.stream ('${t.jobEvents.stream}')`);
  if (t.jobEvents.exchange in t.exchanges) add(['jobEvents', 'exchange'], `'${t.jobEvents.exchange}' is managed by warren for job events; don't declare it under exchanges`);

  return issues;
}
