import { describe, expect, it } from 'vitest';
import { durationSchema, formatDuration, parseDuration } from './duration.ts';

describe('durations', () => {
  it('parses units and bare milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration(250)).toBe(250);
  });

  it('rejects nonsense', () => {
    expect(parseDuration('10 minutes')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
    expect(parseDuration(-5)).toBeUndefined();
    const r = durationSchema.safeParse('soon');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe("invalid duration 'soon' (use e.g. 500ms, 10s, 1m, 2h, 7d)");
  });

  it('formats compactly for wait-queue names', () => {
    expect(formatDuration(1_000)).toBe('1s');
    expect(formatDuration(60_000)).toBe('1m');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(86_400_000)).toBe('1d');
  });
});
