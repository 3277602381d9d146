/**
 * The start-up check that the job-events stream keeps what `maxAge` promises:
 * at the rate the history shows, when would `maxLengthBytes` cut it sooner?
 */

/** The retention configured for the job-events stream. */
export interface RetentionConfig {
  stream: string;
  /** topology `jobEvents.maxAge`, ms. */
  maxAgeMs: number;
  /** topology `jobEvents.maxLengthBytes`. */
  maxLengthBytes: number;
}

/** Bytes a stream message costs beyond its body (record header, AMQP properties, the signature header): measured on RabbitMQ 3.10. */
export const MESSAGE_OVERHEAD_BYTES = 200;
/** History shorter than this says too little about the rate. */
const MIN_SPAN_MS = 10 * 60_000;
const MIN_BYTES = 1024 * 1024;

function human(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48 ? `${(h / 24).toFixed(1)} days` : h >= 1 ? `${h.toFixed(1)} h` : `${Math.round(ms / 60_000)} min`;
}

function gb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

/** A warning when `maxLengthBytes` will cut the history shorter than `maxAge` at the observed rate; undefined when it holds or the history is too short to tell. */
export function retentionWarning(
  config: RetentionConfig,
  history: { bytes: number; messages?: number; minTs: number | undefined; maxTs: number | undefined },
): { message: string; details: Record<string, unknown> } | undefined {
  if (history.minTs === undefined || history.maxTs === undefined) return undefined;
  const span = history.maxTs - history.minTs;
  const bytes = history.bytes + (history.messages ?? 0) * MESSAGE_OVERHEAD_BYTES;
  if (span < MIN_SPAN_MS || bytes < MIN_BYTES) return undefined;
  const perMs = bytes / span;
  const holdsMs = config.maxLengthBytes / perMs;
  if (holdsMs >= config.maxAgeMs) return undefined;
  const needed = Math.ceil(perMs * config.maxAgeMs);
  return {
    message:
      `at the rate the job history shows (${gb(perMs * 3_600_000)}/h), jobEvents.maxLengthBytes (${gb(config.maxLengthBytes)}) keeps about ${human(holdsMs)} of job status, ` +
      `less than jobEvents.maxAge (${human(config.maxAgeMs)}): raise maxLengthBytes to at least ${gb(needed)} (disk) or lower maxAge, so status, results and Idempotency-Keys last as long as maxAge says`,
    details: { stream: config.stream, bytesPerHour: Math.round(perMs * 3_600_000), holdsMs: Math.round(holdsMs), maxAgeMs: config.maxAgeMs, neededBytes: needed },
  };
}

/**
 * A warning when the stream was declared (by an older warren) with retention
 * arguments lower than the configuration: RabbitMQ keeps the lower of the
 * argument and warren's policy, and arguments can't change without deleting
 * the stream. Undefined when nothing is lower.
 */
export function legacyRetentionWarning(args: Record<string, unknown>, config: RetentionConfig): { message: string; details: Record<string, unknown> } | undefined {
  const bytes = typeof args['x-max-length-bytes'] === 'number' ? args['x-max-length-bytes'] : undefined;
  const age = typeof args['x-max-age'] === 'string' ? ageMs(args['x-max-age']) : undefined;
  const low: string[] = [];
  if (bytes !== undefined && bytes < config.maxLengthBytes) low.push(`x-max-length-bytes ${gb(bytes)} (configured ${gb(config.maxLengthBytes)})`);
  if (age !== undefined && age < config.maxAgeMs) low.push(`x-max-age ${human(age)} (configured ${human(config.maxAgeMs)})`);
  if (low.length === 0) return undefined;
  return {
    message:
      `stream '${config.stream}' was declared with ${low.join(' and ')}; the broker keeps the lower of that and warren's retention policy. ` +
      `To get the configured retention, delete the stream (its history goes with it) and run warren topology apply`,
    details: { stream: config.stream, arguments: { 'x-max-length-bytes': bytes, 'x-max-age': args['x-max-age'] } },
  };
}

const AGE_UNIT_MS: Record<string, number> = { Y: 31_536_000_000, M: 2_592_000_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 };

function ageMs(value: string): number | undefined {
  const m = /^(\d+)(Y|M|D|h|m|s)$/.exec(value.trim());
  return m ? Number(m[1]) * (AGE_UNIT_MS[m[2] as string] as number) : undefined;
}
