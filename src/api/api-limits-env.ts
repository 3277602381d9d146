import { z } from 'zod';
import { byteSizeSchema } from '../config/duration.ts';
import { WarrenError } from '../errors/index.ts';
import type { ApiLimits } from './app-context.ts';

const count = z.coerce.number().int().min(1).max(1_000_000);
const bytes = byteSizeSchema.pipe(z.number().int().min(1));

/**
 * The API limits an environment variable sets, in one place (defaults:
 * DEFAULT_API_LIMITS). Sizes take `1048576`, `16MiB` or `1GB`; each limit
 * answers 429 with Retry-After when reached.
 */
export const API_LIMIT_ENV = {
  /** Batch requests one API key may have in progress at once. @default 4 */
  WARREN_API_BATCHES_PER_KEY: { limit: 'maxBatchesPerKey', schema: count },
  /** Batch body bytes one API key may send per second (bursts up to one full batch). @default 2MiB */
  WARREN_API_BATCH_BYTES_PER_SECOND: { limit: 'batchBytesPerSecondPerKey', schema: bytes },
  /** SSE streams (GET /v1/jobs/{id}/events) one API key may have open at once. @default 100 */
  WARREN_API_STREAMS_PER_KEY: { limit: 'maxStreamsPerKey', schema: count },
  /** Request body bytes read and processed at once by the API, all keys together. @default 48MiB */
  WARREN_API_BODY_BUDGET: { limit: 'bodyBudgetBytes', schema: bytes },
  /** One key's share of WARREN_API_BODY_BUDGET (at least the 16 MiB a batch may be). @default 24MiB */
  WARREN_API_BODY_BUDGET_PER_KEY: { limit: 'bodyBudgetPerKeyBytes', schema: bytes },
  /** Max encoded size of the client headers of POST /v1/publish/{exchange} (400 beyond). @default 16KiB */
  WARREN_API_MAX_HEADER_BYTES: { limit: 'maxPublishHeaderBytes', schema: bytes },
} as const satisfies Record<string, { limit: keyof ApiLimits; schema: z.ZodType<number, unknown> }>;

/** The limits the environment sets; an invalid value is an error naming its variable. */
export function apiLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<ApiLimits> {
  const limits: Partial<ApiLimits> = {};
  for (const [name, { limit, schema }] of Object.entries(API_LIMIT_ENV)) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      throw new WarrenError('API_LIMIT_INVALID', `${name}='${raw.slice(0, 50)}' is not valid: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    limits[limit] = parsed.data;
  }
  return limits;
}

/** Refuses limits that contradict each other (a batch that could never get its body budget). */
export function checkApiLimits(limits: ApiLimits): void {
  const largest = Math.max(limits.maxBodyBytes, limits.maxBatchBodyBytes);
  if (limits.bodyBudgetPerKeyBytes < largest) {
    throw new WarrenError('API_LIMIT_INVALID', `the per-key body budget (${limits.bodyBudgetPerKeyBytes} bytes, WARREN_API_BODY_BUDGET_PER_KEY) is below the largest body a request may have (${largest} bytes): such requests would always get 429`);
  }
  if (limits.bodyBudgetBytes < limits.bodyBudgetPerKeyBytes) {
    throw new WarrenError('API_LIMIT_INVALID', `the body budget (${limits.bodyBudgetBytes} bytes, WARREN_API_BODY_BUDGET) is below one key's share of it (${limits.bodyBudgetPerKeyBytes} bytes, WARREN_API_BODY_BUDGET_PER_KEY)`);
  }
  // amqplib encodes a header table into a 64 KiB buffer, warren's own headers included.
  if (limits.maxPublishHeaderBytes > 60 * 1024) {
    throw new WarrenError('API_LIMIT_INVALID', `the publish header limit (${limits.maxPublishHeaderBytes} bytes, WARREN_API_MAX_HEADER_BYTES) must be at most 61440: larger header tables can't be encoded`);
  }
}
