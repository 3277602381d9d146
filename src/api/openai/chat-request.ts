import type { OpenAiConfig } from '../../config/openai-schema.ts';
import type { Topology } from '../../config/topology-schema.ts';
import type { CompiledRoute, RouteCatalog } from '../../jobs/route-catalog.ts';
import { estimateChatTokens } from '../../llm/estimate-tokens.ts';
import { mayPublishRoute, type Principal } from '../auth/authenticator.ts';
import { OpenAiError } from './openai-error.ts';

const PRIORITIES: ReadonlySet<string> = new Set(['realtime', 'standard', 'batch']);
/** Tokens providers count for priming the reply, on top of the messages. */
const REPLY_PRIMER_TOKENS = 3;

/** A front-door request resolved to its job: route, payload, how to answer. */
export interface ChatRequest {
  route: CompiledRoute;
  /** The job payload: the client's body with the provider's model name and a priority. */
  payload: Record<string, unknown>;
  stream: boolean;
  /** The client asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** Tokens reserved against the key's daily budget until the job reports usage. */
  reservedTokens: number;
}

/** What resolving needs from the app. */
export interface ChatRequestDeps {
  openai: OpenAiConfig;
  routes: RouteCatalog;
  consumers: Topology['consumers'];
}

/** True when every consumer of `route` relays streams (and there is at least one). */
export function routeCanStream(consumers: Topology['consumers'], route: string): boolean {
  const of = Object.values(consumers).filter((c) => c.route === route);
  return of.length > 0 && of.every((c) => c.streaming);
}

/**
 * Checks a chat completion body against the front door's rules and maps it to
 * a job: the model must be in the alias map (400 `model_not_found`), the key
 * must be granted its route (403), `n` at most `maxN`, and `stream: true` only
 * on a route whose consumers stream. Priority: the `x-warren-priority` header,
 * then the body's `priority`, then the key's default, then the model's. The
 * rest of the body is validated by the route's schema when the job is built.
 */
export function resolveChatRequest(deps: ChatRequestDeps, principal: Principal, body: unknown, priorityHeader: string | undefined): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OpenAiError(400, 'invalid_request', 'the request body must be a JSON object', { param: null });
  const b = body as Record<string, unknown>;
  const alias = b.model;
  if (typeof alias !== 'string' || alias === '') throw new OpenAiError(400, 'missing_model', 'model is required', { param: 'model' });
  const entry = Object.hasOwn(deps.openai.models, alias) ? deps.openai.models[alias] : undefined;
  if (entry === undefined) {
    const known = Object.keys(deps.openai.models).slice(0, 20).join(', ');
    throw new OpenAiError(400, 'model_not_found', `The model '${alias.slice(0, 200)}' does not exist here; GET /v1/models lists the models you may use (${known || 'none configured'})`, { param: 'model' });
  }
  const routeName = entry.route ?? deps.openai.route;
  const route = deps.routes.get(routeName);
  if (route === undefined) throw new OpenAiError(500, 'route_missing', `model '${alias}' maps to route '${routeName}', which is not configured`);
  if (!mayPublishRoute(principal, route.name)) throw new OpenAiError(403, 'model_not_permitted', `this API key may not use model '${alias}' (route '${route.name}')`, { param: 'model' });

  const n = b.n;
  if (typeof n === 'number' && n > deps.openai.maxN) throw new OpenAiError(400, 'n_too_large', `n may be at most ${deps.openai.maxN} here, got ${n}`, { param: 'n' });
  const stream = b.stream === true;
  if (stream && !routeCanStream(deps.consumers, route.name)) {
    throw new OpenAiError(400, 'stream_not_supported', `model '${alias}' runs on route '${route.name}', whose consumers don't stream (streaming: true in topology.yaml); send stream: false`, { param: 'stream' });
  }
  if (priorityHeader !== undefined && !PRIORITIES.has(priorityHeader)) {
    throw new OpenAiError(400, 'invalid_priority', `x-warren-priority must be realtime, standard or batch, got '${priorityHeader.slice(0, 50)}'`, { param: 'x-warren-priority' });
  }
  const priority = priorityHeader ?? (typeof b.priority === 'string' ? b.priority : undefined) ?? deps.openai.keys[principal.name]?.priority ?? entry.priority;
  const payload: Record<string, unknown> = { ...b, model: entry.model ?? alias };
  if (priority !== undefined) payload.priority = priority;
  const options = b.stream_options;
  const includeUsage = typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true;
  // The estimate counts ~4 tokens of framing per message; providers also count ~3 for the reply's primer.
  // Each of `n` choices is a completion of its own.
  const cap = typeof b.max_completion_tokens === 'number' ? b.max_completion_tokens : typeof b.max_tokens === 'number' ? b.max_tokens : 0;
  const choices = typeof n === 'number' && n > 1 ? n : 1;
  const reservedTokens = estimateChatTokens(payload) + REPLY_PRIMER_TOKENS + cap * (choices - 1);
  return { route, payload, stream, includeUsage, reservedTokens };
}
