import { z } from 'zod';
import { newJobId } from '../../jobs/job-id.ts';
import type { CompiledRoute } from '../../jobs/route-catalog.ts';
import { ApiError } from '../api-error.ts';
import { parseBatchBody } from '../http/batch-body.ts';
import { metaFor, type MetaTemplate } from '../http/request-meta.ts';
import { toApiError } from '../http/to-api-error.ts';
import { zodProblems } from '../http/validation-details.ts';
import { mapTimeSliced } from '../../util/time-sliced.ts';
import { batchModeSchema, type BatchMode } from './batch-mode.ts';
import { idempotentJobId } from './idempotency.ts';
import type { ApiJob, MessageMeta } from './job-submitter.ts';

/** A batch request, as plain data (it crosses to the batch thread as it is). */
export interface BatchRequest {
  /** Principal id of the calling key: an Idempotency-Key's job ids are scoped by it. */
  principalId: string;
  /** The Idempotency-Key header, already checked. */
  key: string | undefined;
  /** The `mode` query parameter, as sent. */
  queryMode: string | undefined;
  meta: MetaTemplate;
  maxItems: number;
}

/** A batch read and validated: each job built into its message, or the error that it is. */
export interface PreparedBatch {
  mode: BatchMode;
  items: (ApiJob | ApiError)[];
  /** Body bytes read. */
  bytes: number;
}

/** Builds one job's message (a JobSubmitter's prepareRouteJob, or the submit use case's prepare); throws when the job is invalid. */
export type PrepareJob = (route: CompiledRoute, payload: unknown, meta: MessageMeta, text: string | undefined) => ApiJob;

/** What {@link prepareBatch} works on. */
export interface PrepareBatchInput {
  /** The body's bytes as they arrive (null: no body). */
  source: AsyncIterable<Uint8Array> | null;
  route: CompiledRoute;
  request: BatchRequest;
  prepare: PrepareJob;
  /** Called with the body's size once it is read, before it is checked (the per-key byte rate is charged then). */
  onRead?: (bytes: number) => void;
  /** See ReadBatchOptions.sliceMs and restMs. */
  sliceMs?: number;
  restMs?: number;
}

/** A job of a batch that could not be built into a message: what was thrown. */
class PrepareFailure {
  constructor(readonly error: unknown) {}
}

/**
 * Step 1 of POST /v1/jobs/{route}/batch: reads the body from `source`, checks its
 * shape and mode, and validates and builds every job before anything is published
 * (ApiError 400 for the whole batch when the body or mode is wrong, or when a job is
 * invalid in all-or-nothing mode). Runs in the request's thread or in the batch thread.
 */
export async function prepareBatch(input: PrepareBatchInput): Promise<PreparedBatch> {
  const { route, request, prepare, sliceMs, restMs } = input;
  const { key, principalId, maxItems } = request;
  const bodySchema = z.union([
    z.array(z.unknown()).min(1).max(maxItems),
    z.object({ mode: batchModeSchema.optional(), jobs: z.array(z.unknown()).min(1).max(maxItems) }).strict(),
  ]);
  // Each job is validated and built into its message as soon as it is parsed (see ReadBatchOptions.mapItem);
  // its error, if any, is kept as thrown until the mode (which may come last in the body) is known.
  const prepareJob = (payload: unknown, text: string | undefined, i: number): ApiJob | PrepareFailure => {
    const id = key === undefined ? newJobId() : idempotentJobId(principalId, `route:${route.name}`, `${key}#${i}`);
    try {
      return prepare(route, payload, metaFor(request.meta, id), text);
    } catch (err) {
      return new PrepareFailure(err);
    }
  };
  const { value: body, itemBytes, bytes, mapped } = await parseBatchBody(input.source, { maxItems, mapItem: prepareJob, ...(sliceMs === undefined ? {} : { sliceMs }), ...(restMs === undefined ? {} : { restMs }) });
  input.onRead?.(bytes);
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    throw new ApiError(400, 'VALIDATION_FAILED', `a batch is a JSON array of jobs, or {"mode": "all-or-nothing" | "best-effort", "jobs": [...]}, with 1 to ${maxItems} jobs`, {
      details: zodProblems(parsed.error),
    });
  }
  const jobs = Array.isArray(parsed.data) ? parsed.data : parsed.data.jobs;
  const bodyMode = Array.isArray(parsed.data) ? undefined : parsed.data.mode;
  const fromQuery = request.queryMode === undefined ? undefined : batchModeSchema.safeParse(request.queryMode);
  if (fromQuery !== undefined && !fromQuery.success) {
    throw new ApiError(400, 'INVALID_MODE', "mode must be 'all-or-nothing' or 'best-effort'");
  }
  if (fromQuery?.data !== undefined && bodyMode !== undefined && fromQuery.data !== bodyMode) {
    throw new ApiError(400, 'INVALID_MODE', `mode is '${bodyMode}' in the body but '${fromQuery.data}' in the query`);
  }
  const mode: BatchMode = bodyMode ?? fromQuery?.data ?? 'all-or-nothing';

  // Validate everything before publishing anything (done while reading, unless the body was parsed whole).
  const built = mapped ? (jobs as (ApiJob | PrepareFailure)[]) : await mapTimeSliced(jobs, (payload, i) => prepareJob(payload, itemBytes?.[i]?.toString('utf8'), i));
  const items: (ApiJob | ApiError)[] = built.map((p, i) => (p instanceof PrepareFailure ? toApiError(p.error, { pathPrefix: mode === 'all-or-nothing' ? ['jobs', i] : [] }) : p));
  const invalid = items.flatMap((p, i) => (p instanceof ApiError ? [{ index: i, error: p }] : []));
  if (mode === 'all-or-nothing' && invalid.length > 0) {
    throw new ApiError(400, 'VALIDATION_FAILED', `${invalid.length} of ${jobs.length} jobs are invalid; nothing was published`, {
      details: invalid.flatMap(({ index, error }) =>
        Array.isArray(error.details) ? (error.details as object[]).map((d) => ({ index, ...d })) : [{ index, path: `jobs.${index}`, message: error.message, code: error.code }],
      ),
    });
  }
  return { mode, items, bytes };
}
