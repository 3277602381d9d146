import { parseTopology } from '../config/load-topology.ts';

/** A small gateway: llm.jobs feeds a work queue (with a 5s retry tier) and an internal audit tap; llm.dlx feeds llm.dead. */
export const TEST_TOPOLOGY = parseTopology(
  `version: 1
exchanges:
  llm.jobs: { type: topic }
  llm.dlx: { type: direct }
  llm.audit: { type: fanout, internal: true }
  tasks: { type: direct, alternateExchange: tasks.unrouted }
  tasks.unrouted: { type: fanout }
  llm.results: { type: fanout }
  fan: { type: fanout }
queues:
  llm.standard: { type: quorum, deadLetter: { exchange: llm.dlx, routingKey: llm.dead }, retry: r }
  llm.realtime: { type: quorum, deadLetter: { exchange: llm.dlx, routingKey: llm.dead } }
  tasks.default: { deadLetter: { exchange: llm.dlx, routingKey: llm.dead } }
  tasks.unrouted: { type: classic }
  llm.dead: { type: quorum }
  llm.jobs.log: { type: stream }
  llm.results.log: { type: stream }
bindings:
  - { source: llm.jobs, queue: llm.standard, routingKey: "llm.standard.#" }
  - { source: llm.jobs, queue: llm.realtime, routingKey: "llm.realtime.#" }
  - { source: llm.jobs, exchange: llm.audit, routingKey: "llm.#" }
  - { source: llm.audit, queue: llm.jobs.log }
  - { source: llm.dlx, queue: llm.dead, routingKey: llm.dead }
  - { source: tasks, queue: tasks.default, routingKey: default }
  - { source: tasks.unrouted, queue: tasks.unrouted }
  - { source: llm.results, queue: llm.results.log }
  - { source: fan, queue: llm.realtime }
  - { source: fan, queue: tasks.default }
retryPolicies:
  r: { attempts: 3, backoff: [5s] }
routes:
  chat: { exchange: llm.jobs, routingKey: "llm.{priority}.chat", schema: chat-completion, defaults: { priority: standard } }
  task: { exchange: tasks, routingKey: default, schema: task }
consumers:
  std: { queue: llm.standard, handler: chat-completion, results: { exchange: llm.results } }
`,
  'test-topology.yaml',
  { checkHandlers: false, env: {} },
).topology;
