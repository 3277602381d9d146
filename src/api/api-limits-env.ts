import type { WarrenConfig } from '../config/env-settings.ts';
import { WarrenError } from '../errors/index.ts';
import type { ApiLimits } from './app-context.ts';

/**
 * The API limits the configuration sets (declared once in src/config/env-settings.ts,
 * WARREN_API_*); each answers 429 with Retry-After when reached.
 */
export function apiLimitsFromConfig(config: Pick<WarrenConfig, 'apiBatchesPerKey' | 'apiBatchBytesPerSecond' | 'apiStreamsPerKey' | 'apiBodyBudget' | 'apiBodyBudgetPerKey' | 'apiMaxHeaderBytes'>): Partial<ApiLimits> {
  return {
    maxBatchesPerKey: config.apiBatchesPerKey,
    batchBytesPerSecondPerKey: config.apiBatchBytesPerSecond,
    maxStreamsPerKey: config.apiStreamsPerKey,
    bodyBudgetBytes: config.apiBodyBudget,
    bodyBudgetPerKeyBytes: config.apiBodyBudgetPerKey,
    maxPublishHeaderBytes: config.apiMaxHeaderBytes,
  };
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
