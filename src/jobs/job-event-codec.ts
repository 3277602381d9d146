import { jobEventSchema, jobStatusSchema, type JobEvent } from './job-event.ts';

/** AMQP `type` of a job-events message carrying a JSON array of events (the API coalesces its `queued` events). */
export const JOB_EVENT_BATCH_TYPE = 'job.batch';
/** AMQP `type` of the marker an API replica appends to the stream to learn when its replay has caught up. */
export const INDEX_MARKER_TYPE = 'warren.index-marker';

const STATUSES: ReadonlySet<string> = new Set(jobStatusSchema.options);

/**
 * The common, simple event (the API's `queued` with its payload text, a
 * worker's `running`): only primitive fields, checked by hand. Anything else (errors, results, usage,
 * unexpected types) goes through the zod schema. Every API replica decodes
 * every event of the stream, so this keeps the tail cheap under load.
 */
function simpleEvent(item: unknown): JobEvent | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const o = item as Record<string, unknown>;
  if (typeof o.jobId !== 'string' || o.jobId === '' || typeof o.status !== 'string' || !STATUSES.has(o.status) || typeof o.at !== 'string') return undefined;
  if (o.attempt !== undefined && !(typeof o.attempt === 'number' && Number.isInteger(o.attempt) && o.attempt >= 0)) return undefined;
  for (const k in o) {
    if (k === 'jobId' || k === 'status' || k === 'at' || k === 'attempt') continue;
    if ((k === 'route' || k === 'queue' || k === 'source' || k === 'owner' || k === 'payload') && typeof o[k] === 'string') continue;
    if (k === 'payloadBytes' && Number.isInteger(o[k]) && (o[k] as number) >= 0) continue;
    return undefined;
  }
  const e: JobEvent = { jobId: o.jobId, status: o.status as JobEvent['status'], at: o.at, attempt: (o.attempt as number | undefined) ?? 0 };
  if (typeof o.route === 'string') e.route = o.route;
  if (typeof o.queue === 'string') e.queue = o.queue;
  if (typeof o.source === 'string') e.source = o.source;
  if (typeof o.owner === 'string') e.owner = o.owner;
  if (typeof o.payload === 'string') e.payload = o.payload;
  if (typeof o.payloadBytes === 'number') e.payloadBytes = o.payloadBytes;
  return e;
}

/** Result of decoding one job-events message. */
export interface DecodedEvents {
  events: JobEvent[];
  /** Entries that were not valid job events (skipped, never fatal). */
  invalid: number;
}

/**
 * Decodes a job-events stream message: one JobEvent object (what
 * createJobEventPublisher writes) or an array of them (`job.batch`).
 */
export function decodeJobEvents(content: Buffer): DecodedEvents {
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch {
    return { events: [], invalid: 1 };
  }
  const items = Array.isArray(raw) ? raw : [raw];
  const events: JobEvent[] = [];
  let invalid = 0;
  for (const item of items) {
    const simple = simpleEvent(item);
    if (simple !== undefined) {
      events.push(simple);
      continue;
    }
    const parsed = jobEventSchema.safeParse(item);
    if (parsed.success) events.push(parsed.data);
    else invalid++;
  }
  return { events, invalid };
}
