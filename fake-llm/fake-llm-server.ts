import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  chatCompletionBody,
  chatCompletionEvents,
  chatRequestSchema,
  estimatePromptTokens,
  estimateTextTokens,
  lastUserText,
  limitCompletion,
  nextCompletionId,
  type ChatRequest,
  type Completion,
} from './chat-completion-body.ts';
import { parseFakeLlmConfig, type FakeLlmConfig, type FakeLlmConfigInput } from './fake-llm-config.ts';
import { createFakeLlmStats, type FakeLlmStats } from './fake-llm-stats.ts';
import { MarkerSyntaxError, parseMarkers, stripMarkers, type Fault, type FaultVariant, type MarkerDirectives } from './markers.ts';
import { openAiErrorBody } from './openai-error-body.ts';
import { createSlidingWindowLimiter, type SlidingWindowLimiter } from './sliding-window-limiter.ts';
import { createOldestFirst } from '../src/util/oldest-first.ts';
import { planAnswer } from './answer-plan.ts';

/** What a custom `reply` function gets to build the assistant's text. */
export interface ReplyContext {
  model: string;
  request: ChatRequest;
  /** Last user message with the markers removed. */
  prompt: string;
}

/** Options of {@link createFakeLlmServer}: the behaviour config plus where to listen. */
export type FakeLlmServerOptions = FakeLlmConfigInput & {
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** Builds the assistant's text. @default echoes the prompt: `fake-llm reply to: "<prompt>"` */
  reply?: (ctx: ReplyContext) => string;
  /** Random source for jitter and failure rates (tests pass a seeded one). @default Math.random */
  random?: () => number;
};

/** A running fake OpenAI-compatible server. */
export interface FakeLlmServer {
  /** Base URL for the openai SDK's `baseURL`, ending in `/v1`. */
  url: string;
  /** `http://host:port`, without `/v1`. */
  origin: string;
  port: number;
  /** Stops listening, ends hanging requests and closes every connection. */
  close(): Promise<void>;
  /** A copy of the counters. */
  stats(): FakeLlmStats;
  /** Zeroes the counters (gauges of requests still in flight are kept). */
  resetStats(): void;
  /** Changes part of the behaviour at run time; returns the whole new config. Throws on invalid values. */
  setConfig(patch: FakeLlmConfigInput): FakeLlmConfig;
  /** The config in force. */
  config(): FakeLlmConfig;
}

/** How an error answer is built. */
interface ErrorOptions {
  model: string;
  variant?: FaultVariant | undefined;
  /** Sent as `retry-after` (seconds, rounded up) and `retry-after-ms`. */
  retryAfterMs?: number | undefined;
  promptTokens?: number;
  headers?: Record<string, string>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
// Bounded memory for `[[fail-first:N]]` bookkeeping; the oldest keys go first.
const MAX_FAIL_FIRST_KEYS = 50_000;
const DEFAULT_RETRY_AFTER_MS = 1000;

/**
 * Starts a fake OpenAI-compatible server (`POST /v1/chat/completions`, `GET /v1/models`) with
 * latency, failure injection (config or `[[…]]` markers in the last user message), its own RPM
 * limit and counters. Built on node:http with keep-alive and no per-request allocation beyond the
 * body, so thousands of concurrent requests cost timers, not CPU.
 */
export async function createFakeLlmServer(options: FakeLlmServerOptions = {}): Promise<FakeLlmServer> {
  const { host = '127.0.0.1', port = 0, reply, random = Math.random, ...configInput } = options;
  let config = parseFakeLlmConfig(configInput);
  let limiter = makeLimiter(config);
  const stats = createFakeLlmStats();
  const failFirstSeen = new Map<string, number>();
  const evictOldestFailFirst = createOldestFirst(failFirstSeen);
  const openResponses = new Set<ServerResponse>();

  const replyText = reply ?? ((ctx: ReplyContext) => `fake-llm reply to: "${ctx.prompt.slice(0, 200)}"`);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug in the fake must show up in the test that hit it, as a 500 with the reason.
      if (!res.headersSent) sendJson(res, 500, { error: { message: `fake-llm internal error: ${String(err)}`, type: 'server_error', param: null, code: null } });
    });
  });
  // Keep idle client sockets open longer than clients keep them (undici: 4 s, agents: 5-60 s).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (req.method === 'GET' && (path === '/healthz' || path === '/health')) {
      sendJson(res, 200, { ok: true });
      return;
    }
    if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions')) {
      await chatCompletion(req, res);
      return;
    }
    if (!authorized(req)) {
      sendError(res, 401, { model: '' });
      return;
    }
    if (req.method === 'GET' && (path === '/v1/models' || path === '/models')) {
      sendJson(res, 200, { object: 'list', data: config.models.map(modelObject) });
      return;
    }
    const modelPath = /^\/(?:v1\/)?models\/(.+)$/.exec(path);
    if (req.method === 'GET' && modelPath?.[1] !== undefined) {
      const id = decodeURIComponent(modelPath[1]);
      if (config.models.includes(id) || !config.strictModels) sendJson(res, 200, modelObject(id));
      else sendError(res, 404, { model: id });
      return;
    }
    sendJson(res, 404, { error: { message: `Unknown request URL: ${req.method ?? ''} ${path}. (fake LLM)`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
  }

  function authorized(req: IncomingMessage): boolean {
    if (config.apiKey === undefined) return true;
    return req.headers.authorization === `Bearer ${config.apiKey}`;
  }

  async function chatCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = stats.current;
    s.requests++;
    s.inFlight++;
    if (s.inFlight > s.maxConcurrent) s.maxConcurrent = s.inFlight;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let hanging = false;
    // One place that closes the books for this request, whichever way it ends.
    const settle = (): void => {
      if (settled) return;
      settled = true;
      s.inFlight--;
      if (hanging) s.hanging--;
      if (timer) clearTimeout(timer);
      openResponses.delete(res);
    };
    openResponses.add(res);
    res.on('close', () => {
      if (!res.writableFinished && !settled) s.aborted++;
      settle();
    });
    const answer = (status: number, write: () => void): void => {
      if (settled || res.destroyed) return;
      stats.answered(status);
      write();
      settle();
    };

    if (!authorized(req)) {
      // Refused before the body is read, as the real service does.
      answer(401, () => sendError(res, 401, { model: '' }));
      req.resume();
      return;
    }
    const raw = await readBody(req);
    if (raw === undefined) {
      answer(413, () => sendJson(res, 413, { error: { message: 'Request body too large. (fake LLM)', type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    let request: ChatRequest;
    try {
      const parsed = chatRequestSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        answer(400, () => sendJson(res, 400, { error: { message: `Invalid chat completion request: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''} (fake LLM)`, type: 'invalid_request_error', param: issue?.path.join('.') ?? null, code: null } }));
        return;
      }
      request = parsed.data;
    } catch {
      answer(400, () => sendJson(res, 400, { error: { message: 'We could not parse the JSON body of your request. (fake LLM)', type: 'invalid_request_error', param: null, code: null } }));
      return;
    }

    const model = request.model;
    const prompt = lastUserText(request);
    const promptTokens = estimatePromptTokens(request);
    let directives: MarkerDirectives;
    try {
      directives = parseMarkers(prompt);
    } catch (err) {
      if (!(err instanceof MarkerSyntaxError)) throw err;
      answer(400, () => sendJson(res, 400, { error: { message: err.message, type: 'invalid_request_error', param: 'messages', code: err.code } }));
      return;
    }

    const now = Date.now();
    // Own rate limit first: like the real service, a limited request is refused at once and
    // does not reach the model.
    if (limiter) {
      const admitted = limiter.tryAcquire(now);
      if (!admitted.ok) {
        s.rpmRejected++;
        answer(429, () => sendError(res, 429, { model, retryAfterMs: admitted.retryAfterMs, headers: rateLimitHeaders(now) }));
        return;
      }
    }
    const outage = config.outage;
    if (outage) {
      if (outage.untilMs === undefined || now < outage.untilMs) {
        const retryAfter = outage.retryAfterMs ?? (outage.status === 429 || outage.status === 503 ? DEFAULT_RETRY_AFTER_MS : undefined);
        answer(outage.status, () => sendError(res, outage.status, { model, retryAfterMs: retryAfter }));
        return;
      }
      config = { ...config, outage: null };
    }

    const fault = pickFault(directives, model, prompt);
    const delay = directives.delayMs ?? config.latencyMs + (config.jitterMs > 0 ? Math.floor(random() * (config.jitterMs + 1)) : 0);

    const respond = (): void => {
      if (fault?.kind === 'hang') {
        // Held until the client gives up (its timeout) or the server closes.
        hanging = true;
        s.hanging++;
        return;
      }
      if (fault?.kind === 'status') {
        // null: the marker asked for no Retry-After at all (`retry-after=none`).
        const retryAfter = fault.retryAfterMs === null ? undefined : (fault.retryAfterMs ?? (fault.status === 429 ? DEFAULT_RETRY_AFTER_MS : undefined));
        answer(fault.status, () => sendError(res, fault.status, { model, variant: fault.variant, retryAfterMs: retryAfter, promptTokens }));
        return;
      }
      const completion = buildCompletion(fault?.kind === 'content-filter', request, model, prompt, promptTokens);
      s.promptTokens += completion.promptTokens;
      s.completionTokens += completion.completionTokens;
      answer(200, () => {
        const headers = { ...rateLimitHeaders(Date.now()), 'openai-processing-ms': String(delay) };
        if (request.stream === true) {
          const events = chatCompletionEvents(nextCompletionId(), model, completion, request.stream_options?.include_usage === true, config.streamChunks, config.shape);
          const cut = cutsThisOne(directives, model, prompt);
          // A cut stream goes out event by event (at least 1 ms apart), so the client has read part of it when the connection drops.
          const gap = Math.max(directives.chunkDelayMs ?? config.streamChunkDelayMs, cut ? 1 : 0);
          const stopAt = cut ? Math.max(1, Math.floor(events.length / 2)) : events.length;
          if (gap === 0) {
            const body = events.join('');
            res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
          } else {
            // One event per `gap` ms; a client that goes away stops the rest (the response's close ends the request's books).
            res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
            let i = 0;
            const next = (): void => {
              if (res.destroyed) return;
              if (i >= stopAt) {
                res.destroy();
                return;
              }
              res.write(events[i++]);
              if (i >= events.length) res.end();
              else setTimeout(next, gap).unref();
            };
            next();
          }
        } else {
          sendJson(res, 200, chatCompletionBody(nextCompletionId(), model, completion, config.shape), headers);
        }
      });
    };

    if (delay > 0) timer = setTimeout(respond, delay);
    else respond();
  }

  /** `[[cut-first:N]]`: true for the first N streamed requests with this model and message (counted like fail-first). */
  function cutsThisOne(directives: MarkerDirectives, model: string, prompt: string): boolean {
    if (directives.cutFirst === undefined) return false;
    const key = `cut\u0000${model}\u0000${prompt}`;
    const seen = failFirstSeen.get(key) ?? 0;
    if (seen >= directives.cutFirst) return false;
    failFirstSeen.set(key, seen + 1);
    return true;
  }

  function pickFault(directives: MarkerDirectives, model: string, prompt: string): Fault | undefined {
    if (directives.failFirst) {
      const key = `${model}\u0000${prompt}`;
      const seen = failFirstSeen.get(key) ?? 0;
      if (seen < directives.failFirst.count) {
        if (seen === 0 && failFirstSeen.size >= MAX_FAIL_FIRST_KEYS) {
          evictOldestFailFirst();
        }
        failFirstSeen.set(key, seen + 1);
        return directives.failFirst.fault;
      }
    }
    if (directives.fault) return directives.fault;
    if (config.strictModels && !config.models.includes(model)) return { kind: 'status', status: 404 };
    if (config.failures.length > 0) {
      const r = random();
      let acc = 0;
      for (const f of config.failures) {
        acc += f.rate;
        if (r < acc) {
          if ('mode' in f) return { kind: f.mode };
          return { kind: 'status', status: f.status, ...(f.variant ? { variant: f.variant } : {}), ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }) };
        }
      }
    }
    return undefined;
  }

  function buildCompletion(filtered: boolean, request: ChatRequest, model: string, prompt: string, promptTokens: number): Completion {
    if (filtered) return { content: null, finishReason: 'content_filter', promptTokens, completionTokens: 0 };
    const plan = planAnswer(request, replyText({ model, request, prompt: stripMarkers(prompt) }));
    if (plan.toolCalls !== undefined) {
      const tokens = plan.toolCalls.reduce((n, t) => n + estimateTextTokens(t.name + t.arguments), 0);
      return { content: null, finishReason: 'tool_calls', promptTokens, completionTokens: tokens, toolCalls: plan.toolCalls };
    }
    const limited = limitCompletion(request, plan.content ?? '');
    return { content: limited.content, finishReason: limited.finishReason, promptTokens, completionTokens: estimateTextTokens(limited.content) };
  }

  function rateLimitHeaders(now: number): Record<string, string> {
    if (!limiter) return {};
    return {
      'x-ratelimit-limit-requests': String(limiter.limit),
      'x-ratelimit-remaining-requests': String(limiter.remaining(now)),
      'x-ratelimit-reset-requests': `${limiter.resetInMs(now)}ms`,
    };
  }

  function sendError(res: ServerResponse, status: number, e: ErrorOptions): void {
    const headers: Record<string, string> = { ...e.headers };
    if (e.retryAfterMs !== undefined) {
      headers['retry-after'] = String(Math.ceil(e.retryAfterMs / 1000));
      headers['retry-after-ms'] = String(Math.round(e.retryAfterMs));
    }
    const ctx = { model: e.model, promptTokens: e.promptTokens ?? 0, contextWindow: config.contextWindow };
    sendJson(res, status, openAiErrorBody(status, e.variant, ctx), headers);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept backlog: benchmarks open hundreds of connections at once.
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${urlHost}:${address.port}`;

  return {
    url: `${origin}/v1`,
    origin,
    port: address.port,
    stats: () => stats.snapshot(),
    resetStats: () => {
      stats.reset();
      failFirstSeen.clear();
    },
    config: () => config,
    setConfig(patch) {
      const next = parseFakeLlmConfig({ ...config, ...patch });
      if (next.rpm !== config.rpm || next.rpmWindowMs !== config.rpmWindowMs) limiter = makeLimiter(next);
      config = next;
      return config;
    },
    async close() {
      for (const res of openResponses) res.destroy();
      openResponses.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function makeLimiter(config: FakeLlmConfig): SlidingWindowLimiter | undefined {
  return config.rpm > 0 ? createSlidingWindowLimiter(config.rpm, config.rpmWindowMs) : undefined;
}

function modelObject(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'warren-fake-llm' };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

/** The request body as text, or undefined when it exceeds the size limit. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
