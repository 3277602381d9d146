import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.ts';
import { apiLimitsFromConfig, checkApiLimits } from './api-limits-env.ts';
import { DEFAULT_API_LIMITS } from './app-context.ts';

describe('API limits from the configuration', () => {
  it('reads counts and sizes; unset variables keep the defaults', () => {
    const limits = apiLimitsFromConfig(loadConfig({ WARREN_API_BATCHES_PER_KEY: '2', WARREN_API_BODY_BUDGET: '64MiB', WARREN_API_MAX_HEADER_BYTES: '8192', WARREN_API_STREAMS_PER_KEY: ' ' }));
    expect(limits).toMatchObject({ maxBatchesPerKey: 2, bodyBudgetBytes: 64 * 1024 * 1024, maxPublishHeaderBytes: 8192, maxStreamsPerKey: DEFAULT_API_LIMITS.maxStreamsPerKey });
    expect({ ...DEFAULT_API_LIMITS, ...apiLimitsFromConfig(loadConfig({})) }).toEqual(DEFAULT_API_LIMITS);
  });

  it('names the variable of an invalid value', () => {
    expect(() => loadConfig({ WARREN_API_STREAMS_PER_KEY: 'lots' })).toThrow(/WARREN_API_STREAMS_PER_KEY/);
    expect(() => loadConfig({ WARREN_API_BATCHES_PER_KEY: '0' })).toThrow(/WARREN_API_BATCHES_PER_KEY/);
    expect(() => loadConfig({ WARREN_API_BODY_BUDGET: '10 parsecs' })).toThrow(/WARREN_API_BODY_BUDGET/);
  });

  it('refuses a per-key budget a full batch could never fit in, and a total below one share', () => {
    expect(() => checkApiLimits(DEFAULT_API_LIMITS)).not.toThrow();
    expect(() => checkApiLimits({ ...DEFAULT_API_LIMITS, bodyBudgetPerKeyBytes: 1024 * 1024 })).toThrow(/WARREN_API_BODY_BUDGET_PER_KEY/);
    expect(() => checkApiLimits({ ...DEFAULT_API_LIMITS, bodyBudgetBytes: 20 * 1024 * 1024 })).toThrow(/below one key's share/);
    expect(() => checkApiLimits({ ...DEFAULT_API_LIMITS, maxPublishHeaderBytes: 64 * 1024 })).toThrow(/WARREN_API_MAX_HEADER_BYTES/);
  });
});
