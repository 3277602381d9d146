import { describe, expect, it } from 'vitest';
import { apiLimitsFromEnv, checkApiLimits } from './api-limits-env.ts';
import { DEFAULT_API_LIMITS } from './app-context.ts';

describe('API limits from the environment', () => {
  it('reads counts and sizes, and leaves unset variables to the defaults', () => {
    expect(apiLimitsFromEnv({ WARREN_API_BATCHES_PER_KEY: '2', WARREN_API_BODY_BUDGET: '64MiB', WARREN_API_MAX_HEADER_BYTES: '8192', WARREN_API_STREAMS_PER_KEY: ' ' })).toEqual({
      maxBatchesPerKey: 2,
      bodyBudgetBytes: 64 * 1024 * 1024,
      maxPublishHeaderBytes: 8192,
    });
    expect(apiLimitsFromEnv({})).toEqual({});
  });

  it('names the variable of an invalid value', () => {
    expect(() => apiLimitsFromEnv({ WARREN_API_STREAMS_PER_KEY: 'lots' })).toThrow(/WARREN_API_STREAMS_PER_KEY='lots' is not valid/);
    expect(() => apiLimitsFromEnv({ WARREN_API_BATCHES_PER_KEY: '0' })).toThrow(/WARREN_API_BATCHES_PER_KEY/);
    expect(() => apiLimitsFromEnv({ WARREN_API_BODY_BUDGET: '10 parsecs' })).toThrow(/WARREN_API_BODY_BUDGET='10 parsecs'/);
  });

  it('refuses a per-key budget a full batch could never fit in, and a total below one share', () => {
    expect(() => checkApiLimits(DEFAULT_API_LIMITS)).not.toThrow();
    expect(() => checkApiLimits({ ...DEFAULT_API_LIMITS, bodyBudgetPerKeyBytes: 1024 * 1024 })).toThrow(/WARREN_API_BODY_BUDGET_PER_KEY/);
    expect(() => checkApiLimits({ ...DEFAULT_API_LIMITS, bodyBudgetBytes: 20 * 1024 * 1024 })).toThrow(/below one key's share/);
    expect(() => checkApiLimits({ ...DEFAULT_API_LIMITS, maxPublishHeaderBytes: 64 * 1024 })).toThrow(/WARREN_API_MAX_HEADER_BYTES/);
  });
});
