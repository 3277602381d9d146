import { abortableSleep, PermanentJobError, TransientJobError, type JobHandler, type TaskPayload } from 'warren';

/** What the echo task returns. */
export interface EchoResult {
  type: string;
  echo: Record<string, unknown>;
  attempt: number;
  redelivered: boolean;
  /** Id of the follow-up job published for `then`, if any. */
  followUp?: string;
}

/**
 * A plain task handler: echoes its input back. A few input fields make it
 * misbehave on purpose, for demos and tests of the disposition table:
 * `sleepMs` (work that honours the abort signal), `fail: "permanent"`
 * (dead-letter now), `fail: "transient"` (retry; `retryAfterMs` optional),
 * `fail: "crash"` (an unclassified error), and `failUntilAttempt: n`
 * (transient failures until attempt n succeeds), `failUntil: "<ISO time>"` (fails for
 * good until then: a broken dependency someone fixes). `then: {route, payload}`
 * publishes a follow-up job through `ctx.publish`.
 */
const echoTask: JobHandler<TaskPayload, EchoResult> = async (job, ctx) => {
  const input = job.payload.input;
  if (typeof input.sleepMs === 'number' && input.sleepMs > 0) await abortableSleep(input.sleepMs, ctx.signal);
  // `failUntil` (an ISO time): fails for good until then, like a dependency that is down until someone fixes it.
  if (typeof input.failUntil === 'string' && Date.now() < Date.parse(input.failUntil)) {
    throw new PermanentJobError(`echo-task is told to fail until ${input.failUntil}`);
  }
  if (typeof input.failUntilAttempt === 'number' && job.attempt < input.failUntilAttempt) {
    throw new TransientJobError(`not yet: attempt ${job.attempt} of ${input.failUntilAttempt}`);
  }
  switch (input.fail) {
    case 'permanent':
      throw new PermanentJobError(typeof input.message === 'string' ? input.message : 'echo-task asked to fail for good');
    case 'transient':
      throw new TransientJobError('echo-task asked to fail for now', typeof input.retryAfterMs === 'number' ? { retryAfterMs: input.retryAfterMs } : {});
    case 'crash':
      throw new Error(typeof input.message === 'string' ? input.message : 'echo-task crashed');
    default:
      break;
  }
  const then = input.then as { route?: unknown; payload?: unknown } | undefined;
  const followUp = typeof then?.route === 'string' ? await ctx.publish(then.route, then.payload) : undefined;
  return { type: job.payload.type, echo: input, attempt: job.attempt, redelivered: job.redelivered, ...(followUp === undefined ? {} : { followUp }) };
};

export default echoTask;
