/**
 * The files `warren init` writes into a new project: a commented topology, one
 * handler with its payload schema, a tsconfig, a Dockerfile and compose file,
 * and a README snippet. Paths are relative to the target directory.
 */
export interface InitFile {
  path: string;
  content: string;
}

const TOPOLOGY = `# warren topology: exchanges, queues and bindings on RabbitMQ, the routes clients submit jobs to,
# and the consumers that run your handlers. Handlers and payload schemas are looked up in
# consumers/ beside this file. \`npx warren topology plan\` shows what would change on the broker;
# \`npx warren start all\` applies it and runs the API and workers.
# \${VAR} and \${VAR:-default} read the environment, so no secret lives in this file.
version: 1

connection:
  urls:
    - \${WARREN_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}
  management: \${WARREN_MANAGEMENT_URL:-http://guest:guest@127.0.0.1:15672}
  vhost: \${WARREN_VHOST:-/}

exchanges:
  jobs:     { type: direct }        # clients' jobs, routed by key
  jobs.dlx: { type: direct }        # dead letters (warren's workers publish here)

queues:
  summarize:
    type: quorum                    # replicated; at-least-once dead-lettering
    deadLetter: { exchange: jobs.dlx, routingKey: jobs.dead }
    deadLetterStrategy: at-least-once
    overflow: reject-publish        # a full queue refuses new jobs (the API answers 503) instead of dropping old ones
    maxLength: 10000
    deliveryLimit: 5                # a job that crashes its worker 5 times is dead-lettered
    retry: default                  # the retry policy below
  jobs.dead:
    type: quorum                    # the dead-letter queue: \`npx warren dlq list jobs.dead\`, \`npx warren dlq requeue jobs.dead\`
    deliveryLimit: 1000000

bindings:
  - { source: jobs, queue: summarize, routingKey: summarize }
  - { source: jobs.dlx, queue: jobs.dead, routingKey: jobs.dead }

retryPolicies:
  default: { attempts: 3, backoff: [2s, 20s] }   # a transient failure is retried twice, 2 s then 20 s later

# What clients submit to: POST /v1/jobs/summarize with a body the schema accepts.
routes:
  summarize:
    description: Summarize a text with the LLM.
    exchange: jobs
    routingKey: summarize
    schema: summarize               # consumers/schemas/summarize.ts

# The LLM provider handlers call through ctx.llm. Without OPENAI_API_KEY, \`warren start\` runs its
# built-in fake LLM on this address, so the project works before you have a key.
providers:
  default:
    baseURL: \${OPENAI_BASE_URL:-http://127.0.0.1:8787/v1}
    apiKey: \${OPENAI_API_KEY:-warren-fake-key}
    timeout: 60s
    limits: { rpm: 600 }

consumers:
  summarize:
    queue: summarize
    handler: summarize              # consumers/summarize.ts
    route: summarize
    provider: default
    prefetch: 10                    # jobs in flight per worker
    timeout: 1m
`;

const SCHEMA = `import { defineSchema, z } from 'warren';

/** The payload of a summarize job; the API rejects anything else with 400 and the field path. */
const summarize = defineSchema(
  z.object({
    text: z.string().min(1).max(100_000),
    maxWords: z.number().int().positive().max(500).default(50),
  }),
);

export type SummarizePayload = z.infer<typeof summarize>;
export default summarize;
`;

const HANDLER = `import { defineHandler, PermanentJobError } from 'warren';
import type { SummarizePayload } from './schemas/summarize.ts';

/** What a summarize job returns (GET /v1/jobs/:id shows it as \`result\`). */
export interface SummarizeResult {
  summary: string | null;
  model: string;
}

/**
 * One summarize job. Return to succeed; throw PermanentJobError to dead-letter now,
 * TransientJobError to retry; anything else is classified by warren (429 and 5xx retry,
 * 400 / 401 / content filter dead-letter).
 */
export default defineHandler<SummarizePayload, SummarizeResult>(async (job, ctx) => {
  if (job.payload.text.trim() === '') throw new PermanentJobError('nothing to summarize');
  const res = await ctx.llm.chatCompletion({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: \`Summarize in at most \${job.payload.maxWords} words.\` },
      { role: 'user', content: job.payload.text },
    ],
  });
  return { summary: res.choices[0]?.message.content ?? null, model: res.model };
});
`;

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "types": ["node"],
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "skipLibCheck": true
  },
  "include": ["consumers"]
}
`;

const DOCKERFILE = `# Your warren: the API and workers with this project's topology.yaml and handlers.
# Configuration comes from the environment (WARREN_* and OPENAI_* variables) only.
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production WARREN_API_HOST=0.0.0.0 WARREN_API_PORT=8080 WARREN_METRICS_HOST=0.0.0.0 WARREN_METRICS_PORT=9464
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json topology.yaml ./
COPY consumers ./consumers
USER node
EXPOSE 8080 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \\
  CMD ["node", "node_modules/warren/bin/healthcheck.js"]
STOPSIGNAL SIGTERM
# exec form: node is PID 1 and gets SIGTERM itself; warren drains within its shutdown deadline.
CMD ["node", "node_modules/warren/bin/warren.js", "start", "all"]
`;

const COMPOSE = `# RabbitMQ plus this project's warren (API on :8080, metrics on :9464).
#   docker compose up --build
services:
  rabbitmq:
    image: rabbitmq:3.13-management
    environment:
      RABBITMQ_DEFAULT_USER: warren
      RABBITMQ_DEFAULT_PASS: warren
    ports: ["5672:5672", "15672:15672"]
    healthcheck:
      test: ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
      interval: 10s
      retries: 12
  warren:
    build: .
    depends_on:
      rabbitmq: { condition: service_healthy }
    environment:
      WARREN_AMQP_URL: amqp://warren:warren@rabbitmq:5672
      WARREN_MANAGEMENT_URL: http://warren:warren@rabbitmq:15672
      WARREN_API_KEYS: \${WARREN_API_KEYS:?set WARREN_API_KEYS, e.g. change-me-0123456789:*:admin}
      OPENAI_API_KEY: \${OPENAI_API_KEY:-}
      OPENAI_BASE_URL: \${OPENAI_BASE_URL:-}
    ports: ["8080:8080", "9464:9464"]
    stop_grace_period: 40s
`;

const README = `## warren

Jobs for the LLM run through [warren](https://github.com/warren/warren): RabbitMQ queues described in
\`topology.yaml\`, handlers in \`consumers/\`, payload schemas in \`consumers/schemas/\`.

\`\`\`bash
npx warren start all                 # API on 127.0.0.1:8080 + workers (needs RabbitMQ on 5672)
npx warren publish summarize --data '{"text": "RabbitMQ is a message broker."}' --wait 30s
npx warren dlq list jobs.dead        # what failed for good, and why
npx tsc -p tsconfig.json             # type-check the handlers
docker compose up --build            # RabbitMQ + this project's image
\`\`\`

A new route: add a queue, a binding, a route and a consumer to \`topology.yaml\`, a handler
\`consumers/<name>.ts\` (\`export default defineHandler(async (job, ctx) => ...)\`) and, if it needs
one, a schema \`consumers/schemas/<name>.ts\`; \`npx warren topology plan\` shows the broker changes.
`;

/** The files, in the order `warren init` writes and lists them. */
export const INIT_FILES: readonly InitFile[] = [
  { path: 'topology.yaml', content: TOPOLOGY },
  { path: 'consumers/summarize.ts', content: HANDLER },
  { path: 'consumers/schemas/summarize.ts', content: SCHEMA },
  { path: 'tsconfig.json', content: TSCONFIG },
  { path: 'Dockerfile', content: DOCKERFILE },
  { path: 'docker-compose.yml', content: COMPOSE },
  { path: 'WARREN.md', content: README },
];

/** package.json of a project that has none yet. */
export function initPackageJson(name: string): string {
  const pkg = {
    name,
    private: true,
    type: 'module',
    scripts: { start: 'warren start all', typecheck: 'tsc -p tsconfig.json' },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}
