import { describe, expect, it } from 'vitest';
import { openAiSchema } from '../../config/openai-schema.ts';
import { topologySchema } from '../../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../../jobs/payload-schemas.ts';
import { compileRoutes } from '../../jobs/route-catalog.ts';
import { ANONYMOUS, type Principal } from '../auth/authenticator.ts';
import { resolveChatRequest } from './chat-request.ts';
import { OpenAiError } from './openai-error.ts';

const topology = topologySchema.parse({
  version: 1,
  exchanges: { jobs: { type: 'topic' } },
  queues: { q: { type: 'classic' }, p: { type: 'classic' } },
  routes: {
    chat: { exchange: 'jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } },
    plain: { exchange: 'jobs', routingKey: 'plain', schema: 'chat-completion' },
  },
  consumers: {
    c: { queue: 'q', handler: 'chat-completion', route: 'chat', streaming: true },
    p: { queue: 'p', handler: 'chat-completion', route: 'plain' },
  },
});
const deps = {
  openai: openAiSchema.parse({ maxN: 2, models: { small: { model: 'gpt-4o-mini', priority: 'batch' }, other: { route: 'plain' } }, keys: { app: { priority: 'realtime' } } }),
  routes: compileRoutes(topology, BUILTIN_PAYLOAD_SCHEMAS),
  consumers: topology.consumers,
};
const app: Principal = { ...ANONYMOUS, name: 'app' };
const body = (extra: Record<string, unknown> = {}) => ({ model: 'small', messages: [{ role: 'user', content: 'hello world' }], ...extra });

function refusal(fn: () => unknown): OpenAiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OpenAiError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('resolveChatRequest', () => {
  it('maps the alias to its route and provider model, priority: header, body, key, model', () => {
    const r = resolveChatRequest(deps, ANONYMOUS, body(), undefined);
    expect(r.route.name).toBe('chat');
    expect(r.payload).toMatchObject({ model: 'gpt-4o-mini', priority: 'batch' });
    expect(resolveChatRequest(deps, app, body(), undefined).payload.priority).toBe('realtime');
    expect(resolveChatRequest(deps, app, body({ priority: 'standard' }), undefined).payload.priority).toBe('standard');
    expect(resolveChatRequest(deps, app, body({ priority: 'standard' }), 'batch').payload.priority).toBe('batch');
    expect(refusal(() => resolveChatRequest(deps, app, body(), 'llm.#')).param).toBe('x-warren-priority');
  });

  it('refuses unknown models, n over the maximum, and stream on a route whose consumers do not stream', () => {
    expect(refusal(() => resolveChatRequest(deps, app, body({ model: 'gpt-9' }), undefined)).code).toBe('model_not_found');
    expect(refusal(() => resolveChatRequest(deps, app, body({ n: 3 }), undefined)).code).toBe('n_too_large');
    expect(refusal(() => resolveChatRequest(deps, app, body({ model: 'other', stream: true }), undefined)).code).toBe('stream_not_supported');
    expect(resolveChatRequest(deps, app, body({ stream: true, stream_options: { include_usage: true } }), undefined)).toMatchObject({ stream: true, includeUsage: true });
    const noGrant: Principal = { ...app, grants: new Set(['plain']) };
    expect(refusal(() => resolveChatRequest(deps, noGrant, body(), undefined)).status).toBe(403);
  });

  it('reserves the prompt estimate, the reply primer and every completion cap', () => {
    const one = resolveChatRequest(deps, app, body({ max_tokens: 50 }), undefined).reservedTokens;
    const two = resolveChatRequest(deps, app, body({ max_tokens: 50, n: 2 }), undefined).reservedTokens;
    expect(two - one).toBe(50);
    expect(one).toBeGreaterThan(50);
  });
});
