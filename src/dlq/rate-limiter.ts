/** Spaces out operations to at most `perSecond`, without bursts after a pause. */
export interface RateLimiter {
  /** Resolves when the next operation may start; rejects with the signal's reason when aborted. */
  take(signal?: AbortSignal): Promise<void>;
}

/** Parses `500/s`, `30/m`, `30/min`, `2000/h` or a bare number (per second). Returns undefined when invalid. */
export function parseRate(input: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute|h|hour))?\s*$/.exec(input);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const perSecond = unit.startsWith('h') ? n / 3600 : unit.startsWith('m') ? n / 60 : n;
  return perSecond > 0 ? perSecond : undefined;
}

/** Creates a limiter; `perSecond` undefined means unlimited. */
export function createRateLimiter(perSecond: number | undefined, now: () => number = () => performance.now()): RateLimiter {
  if (perSecond === undefined) return { take: async () => undefined };
  const gap = 1000 / perSecond;
  let next = 0;
  return {
    async take(signal) {
      const t = now();
      const slot = Math.max(t, next);
      next = slot + gap;
      const wait = slot - t;
      if (wait < 1) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, wait);
        function done(): void {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
        function onAbort(): void {
          clearTimeout(timer);
          reject(signal?.reason);
        }
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
