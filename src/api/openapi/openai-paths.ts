import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { chatCompletionPayloadSchema } from '../../jobs/payload-schemas.ts';

const openAiErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
      job_id: z.string().optional().meta({ description: 'The job behind the answer (504, failed jobs, interrupted streams): GET /v1/jobs/{id} has its result.' }),
    }),
  })
  .meta({ id: 'OpenAiError' });
const modelSchema = z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() }).meta({ id: 'OpenAiModel' });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const err = (description: string) => json(openAiErrorSchema, description);
const secured = [{ bearer: [] as string[] }];

/** The OpenAI-compatible front door (served when topology.yaml has `openai:`); docs/openai-front-door.md. */
export function registerOpenAiPaths(r: OpenAPIHono['openAPIRegistry']): void {
  r.registerPath({
    method: 'post',
    path: '/v1/chat/completions',
    tags: ['openai'],
    summary: 'OpenAI-compatible chat completion, run as a job through the queue',
    description:
      'The OpenAI request body (model from the alias map in topology.yaml `openai.models`); answered with the provider\'s completion when the job ends, or streamed as server-sent events with `stream: true`. Errors in OpenAI\'s shape. Header `x-warren-job-id` names the job.',
    security: secured,
    request: {
      headers: z.object({ 'x-warren-priority': z.enum(['realtime', 'standard', 'batch']).optional().meta({ description: "The job's priority; default: the key's, then the model's." }) }),
      body: { content: { 'application/json': { schema: chatCompletionPayloadSchema } } },
    },
    responses: {
      200: { description: 'The chat.completion as the provider returned it, or (stream: true) its chunks as text/event-stream ending in [DONE].', content: { 'application/json': { schema: z.object({}).loose() }, 'text/event-stream': { schema: z.string() } } },
      400: err('Invalid body (unknown fields are named), unknown model, n over the maximum, stream on a route that does not stream, invalid tool JSON Schema; or the provider refused the request for good (its code).'),
      401: err('Missing or invalid API key.'),
      403: err("The key may not use the model's route."),
      429: err('A per-key budget (requests per minute, tokens per day, cost per month) is used up, see Retry-After; or the provider kept rate-limiting the job.'),
      502: err('The provider failed for good.'),
      503: err('The queue is full or the broker is away (Retry-After); nothing was queued.'),
      504: err('The job did not finish within `openai.waitTimeout`; it goes on, `job_id` names it.'),
    },
  });
  r.registerPath({ method: 'get', path: '/v1/models', tags: ['openai'], summary: 'Models (aliases) this key may use', security: secured, responses: { 200: json(z.object({ object: z.literal('list'), data: z.array(modelSchema) }), 'The models.') } });
  r.registerPath({
    method: 'get',
    path: '/v1/models/{model}',
    tags: ['openai'],
    summary: 'One model (alias)',
    security: secured,
    request: { params: z.object({ model: z.string() }) },
    responses: { 200: json(modelSchema, 'The model.'), 404: err('Not a model this key may use.') },
  });
}
