import { parseDuration } from '../../config/duration.ts';
import { ApiError } from '../api-error.ts';

/** Parses `?wait=30s` (or milliseconds); undefined when absent, 400 when invalid or above `maxMs`. */
export function parseWait(value: string | undefined, maxMs: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  if (ms === undefined) throw new ApiError(400, 'INVALID_WAIT', `wait must be a duration such as 500ms, 30s or 2m, got '${value.slice(0, 50)}'`);
  if (ms > maxMs) throw new ApiError(400, 'INVALID_WAIT', `wait may be at most ${Math.round(maxMs / 1000)}s`);
  return ms;
}
