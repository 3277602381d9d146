/**
 * The abort side of one running job. The AbortSignal is created only when the
 * handler (or its LLM call) asks for it: a fast job that never looks at
 * `ctx.signal` costs no AbortController and no listeners (measurable at
 * thousands of jobs per second). Aborting before the signal exists still
 * yields an already-aborted signal when it is asked for later. A class, not a
 * closure bundle: one small object per job on the hot path.
 */
export class JobControl {
  #controller: AbortController | undefined;
  #reason: Error | undefined;
  #reject: ((err: Error) => void) | undefined;

  /** The job's AbortSignal (made on first use). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** Aborts the job: its signal fires and {@link run} rejects with `reason` at once. */
  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(reason);
  }

  /** Runs `handler(job, ctx)`; rejects with the abort reason as soon as the job is aborted, whatever the handler does. */
  run<J, C, T>(handler: (job: J, ctx: C) => Promise<T> | T, job: J, ctx: C): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#reason) {
        reject(this.#reason);
        return;
      }
      // A handler that ignores its signal still loses the race: its slot and its delivery move on.
      this.#reject = reject;
      let p: Promise<T>;
      try {
        p = Promise.resolve(handler(job, ctx));
      } catch (err) {
        p = Promise.reject(err as Error);
      }
      p.then(resolve, reject);
    });
  }
}

/** Creates the control of one job. */
export function createJobControl(): JobControl {
  return new JobControl();
}
