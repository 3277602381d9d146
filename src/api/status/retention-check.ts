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
