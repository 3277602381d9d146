import { describe, expect, it } from 'vitest';
import { legacyRetentionWarning, retentionWarning } from './retention-check.ts';

const week = 7 * 86_400_000;
const config = { stream: 'warren.events.log', maxAgeMs: week, maxLengthBytes: 20_000_000_000 };

describe('retention check', () => {
  it('warns when maxLengthBytes holds less than maxAge at the rate the history shows, naming the size that would do', () => {
    // 10 GB an hour: 20 GB lasts two hours.
    const w = retentionWarning(config, { bytes: 10_000_000_000, minTs: 0, maxTs: 3_600_000 });
    expect(w?.message).toMatch(/keeps about 2\.0 h of job status, less than jobEvents\.maxAge \(7\.0 days\): raise maxLengthBytes to at least 1680\.0 GB/);
    expect(w?.details).toMatchObject({ neededBytes: 1_680_000_000_000 });
  });

  it('stays quiet when the size holds maxAge, or the history is too short to tell a rate', () => {
    expect(retentionWarning(config, { bytes: 100_000_000, minTs: 0, maxTs: 3_600_000 })).toBeUndefined();
    expect(retentionWarning(config, { bytes: 10_000_000_000, minTs: 0, maxTs: 60_000 })).toBeUndefined();
    expect(retentionWarning(config, { bytes: 0, minTs: undefined, maxTs: undefined })).toBeUndefined();
  });

  it('counts the per-message overhead along with the bodies', () => {
    const bodies = { bytes: 20_000_000, minTs: 0, maxTs: 3_600_000 };
    const small = { ...config, maxLengthBytes: 20_000_000 * 24 * 7 };
    expect(retentionWarning(small, bodies)).toBeUndefined();
    expect(retentionWarning(small, { ...bodies, messages: 100_000 })).toBeDefined();
  });

  it('warns about retention arguments an older warren declared below the configuration', () => {
    expect(legacyRetentionWarning({ 'x-queue-type': 'stream', 'x-max-length-bytes': 1_000_000_000, 'x-max-age': '604800s' }, config)?.message).toMatch(
      /declared with x-max-length-bytes 1\.0 GB \(configured 20\.0 GB\); the broker keeps the lower/,
    );
    expect(legacyRetentionWarning({ 'x-max-age': '1D' }, config)?.message).toMatch(/x-max-age 24\.0 h \(configured 7\.0 days\)/);
    expect(legacyRetentionWarning({ 'x-queue-type': 'stream' }, config)).toBeUndefined();
    expect(legacyRetentionWarning({ 'x-max-length-bytes': 50_000_000_000, 'x-max-age': '30D' }, config)).toBeUndefined();
  });
});
