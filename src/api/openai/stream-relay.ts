import { isTerminal } from '../status/job-status.ts';
import type { JobStatusView } from '../status/job-status.ts';
import type { FeedItem, JobFeed } from './job-feed.ts';
import { fromJobFailure, OpenAiError } from './openai-error.ts';

const encoder = new TextEncoder();
/** How long a stream waits for the worker's `done` after the job's `succeeded` event arrived first. */
const DONE_GRACE_MS = 500;

/** An SSE `data:` frame. */
export function sseData(value: unknown): Uint8Array {
  return encoder.encode(`data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`);
}

/** The SSE frame that ends a stream with an error: the openai SDKs raise an APIError on `data: {"error": …}`. */
export function sseError(err: OpenAiError): Uint8Array {
  return sseData(err.body());
}

/** The last failure of a job view (the error of its latest attempt). */
export function lastError(view: JobStatusView): { class: string; message: string } | undefined {
  for (let i = view.attempts.length - 1; i >= 0; i--) {
    const e = view.attempts[i]?.error;
    if (e !== undefined) return e;
  }
  return undefined;
}

/**
 * The chunks of a completion that arrives whole (the worker's live chunks
 * were lost, or a result read back): one chunk with the whole message per
 * choice, one with the finish reasons, and the usage chunk when asked for.
 */
export function chunksOfCompletion(result: unknown, includeUsage: boolean): unknown[] {
  const r = (result ?? {}) as { id?: string; created?: number; model?: string; system_fingerprint?: string; choices?: { index: number; message?: Record<string, unknown>; finish_reason?: string | null; logprobs?: unknown }[]; usage?: unknown };
  const base = { id: r.id ?? '', object: 'chat.completion.chunk', created: r.created ?? Math.floor(Date.now() / 1000), model: r.model ?? '', system_fingerprint: r.system_fingerprint ?? null };
  const choices = r.choices ?? [];
  const out: unknown[] = [];
  out.push({
    ...base,
    choices: choices.map((c) => {
      const m = c.message ?? {};
      const delta: Record<string, unknown> = { role: 'assistant', content: m.content ?? null };
      if (Array.isArray(m.tool_calls)) delta.tool_calls = (m.tool_calls as Record<string, unknown>[]).map((t, index) => ({ index, ...t }));
      if (m.refusal != null) delta.refusal = m.refusal;
      return { index: c.index, delta, logprobs: c.logprobs ?? null, finish_reason: null };
    }),
    usage: null,
  });
  out.push({ ...base, choices: choices.map((c) => ({ index: c.index, delta: {}, logprobs: null, finish_reason: c.finish_reason ?? 'stop' })), usage: null });
  if (includeUsage && r.usage !== undefined) out.push({ ...base, choices: [], usage: r.usage });
  return out;
}

/** A provider chunk as the client gets it: the usage-only chunk is dropped unless the client asked for usage. */
function forClient(chunk: unknown, includeUsage: boolean): unknown | undefined {
  if (includeUsage) return chunk;
  const c = chunk as { choices?: unknown[]; usage?: unknown };
  if (Array.isArray(c.choices) && c.choices.length === 0) return undefined;
  if (c.usage != null) return { ...c, usage: null };
  return chunk;
}

/** Options of {@link relayStream}. */
export interface RelayOptions {
  jobId: string;
  feed: JobFeed;
  /** The item that started the stream (a chunk, or a whole result). */
  first: FeedItem;
  deadline: number;
  includeUsage: boolean;
  /** Called once when the stream ends, however it ends. */
  onEnd: (outcome: 'done' | 'error' | 'aborted') => void;
}

/** One buffer of several frames (a single one as it is). */
function joined(frames: Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0] as Uint8Array;
  let size = 0;
  for (const f of frames) size += f.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/**
 * The body of a streamed answer: the provider's chunks in order as the
 * worker relays them, then `[DONE]`. The frames of the items that are there
 * together (a worker's batch) go out in one write. What can't be relayed honestly ends the
 * stream with an error frame naming the job (its result stays readable at
 * GET /v1/jobs/{id}): a new run of the job after part of the answer was sent
 * (a retry, or a redelivery after a worker died), a lost chunk, a job that
 * failed for good, the wait limit. A run that fails before sending anything
 * is retried invisibly.
 */
export function relayStream(o: RelayOptions): ReadableStream<Uint8Array> {
  let run: string | undefined;
  let nextSeq = 0;
  let attempt = 0;
  let sent = false;
  let ended = false;
  /** Live chunks are useless (the first ones were lost): the stream waits for the whole answer. */
  let wholeOnly = false;
  /** Frames of the items handled since the last write. */
  let pending: Uint8Array[] = [];

  return new ReadableStream<Uint8Array>({
    start: (controller) => {
      const write = (): void => {
        if (pending.length === 0) return;
        const frames = pending;
        pending = [];
        controller.enqueue(joined(frames));
      };
      const end = (outcome: 'done' | 'error' | 'aborted', frame?: Uint8Array): void => {
        if (ended) return;
        ended = true;
        o.feed.close();
        try {
          if (frame !== undefined) pending.push(frame);
          if (outcome === 'done') pending.push(sseData('[DONE]'));
          write();
          controller.close();
        } catch {
          // The client is gone already.
        }
        o.onEnd(outcome);
      };
      const interrupted = (why: string): void =>
        end('error', sseError(new OpenAiError(502, 'stream_interrupted', `${why}; the answer so far is incomplete and the job goes on: its result will be at GET /v1/jobs/${o.jobId} (or follow GET /v1/jobs/${o.jobId}/events)`, { jobId: o.jobId })));
      const whole = (result: unknown): void => {
        for (const c of chunksOfCompletion(result, o.includeUsage)) pending.push(sseData(c));
        end('done');
      };

      /** Handles one item; true when the stream ended. */
      const handle = (item: FeedItem): boolean => {
        if (item.kind === 'chunk' || item.kind === 'done') {
          // Nothing went out yet: a final answer is sent whole, whatever became of the live chunks.
          if (item.kind === 'done' && !sent) {
            whole(item.result);
            return true;
          }
          if (wholeOnly) return false;
          if (run !== item.run) {
            if (sent) {
              interrupted(`attempt ${attempt} of job ${o.jobId} stopped after part of the answer and the job is running again (attempt ${item.attempt})`);
              return true;
            }
            run = item.run;
            attempt = item.attempt;
            nextSeq = 0;
          }
          if (item.seq !== nextSeq) {
            if (!sent) {
              // The start of the answer was lost before anything went out: wait for the whole answer instead.
              wholeOnly = true;
              return false;
            }
            interrupted(`part of the answer of job ${o.jobId} was lost on the way`);
            return true;
          }
          nextSeq++;
          if (item.kind === 'done') {
            if (sent) end('done');
            else whole(item.result);
            return true;
          }
          const out = forClient(item.chunk, o.includeUsage);
          if (out !== undefined) {
            pending.push(sseData(out));
            sent = true;
          }
          return false;
        }
        const view = item.view;
        if (view.status === 'retrying' && sent) {
          interrupted(`attempt ${attempt} of job ${o.jobId} failed after part of the answer (${lastError(view)?.class ?? 'error'}); the job is retried`);
          return true;
        }
        if (!isTerminal(view.status)) return false;
        if (view.status !== 'succeeded') {
          end('error', sseError(fromJobFailure(o.jobId, view.status, lastError(view))));
          return true;
        }
        if (!sent) {
          whole(view.result);
          return true;
        }
        return false;
      };

      let graceUntil: number | undefined;
      /** Handles `item` and every item already there after it; true when the stream ended. */
      const handleReady = (item: FeedItem): boolean => {
        for (let it: FeedItem | undefined = item; it !== undefined; it = o.feed.poll()) {
          if (handle(it)) return true;
          // The job succeeded (its event came first): the worker's `done` is on its way.
          if (it.kind === 'view' && it.view.status === 'succeeded') graceUntil ??= Date.now() + DONE_GRACE_MS;
        }
        write();
        return false;
      };

      void (async () => {
        if (handleReady(o.first)) return;
        for (;;) {
          const deadline = graceUntil === undefined ? o.deadline : Math.min(graceUntil, o.deadline);
          const item = await o.feed.next(deadline);
          if (ended) return;
          // The client left (nobody reads this frame) or the replica is shutting down: either way the stream must not
          // end as if the answer were complete.
          if (item === 'aborted') return end('aborted', sseError(new OpenAiError(503, 'stream_interrupted', `this API replica stopped relaying the answer (shutting down); the job goes on: its result will be at GET /v1/jobs/${o.jobId}`, { jobId: o.jobId })));
          if (item === 'timeout') {
            if (graceUntil !== undefined && Date.now() >= graceUntil) return interrupted(`the end of the answer of job ${o.jobId} did not arrive`);
            return end('error', sseError(new OpenAiError(504, 'job_timeout', `job ${o.jobId} did not finish within the wait limit; it goes on: GET /v1/jobs/${o.jobId}`, { jobId: o.jobId })));
          }
          if (handleReady(item)) return;
        }
      })().catch(() => end('error'));
    },
    cancel: () => {
      if (ended) return;
      ended = true;
      o.feed.close();
      o.onEnd('aborted');
    },
  });
}
