/** Outcome of {@link runLimited}: what finished, what failed, what never started. */
export interface LimitedRun<T> {
  done: T[];
  failed: { item: T; error: unknown }[];
  notStarted: T[];
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. After the first
 * failure no new call starts; calls already running are allowed to finish, so
 * the caller can say exactly which items happened.
 */
export async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<LimitedRun<T>> {
  const result: LimitedRun<T> = { done: [], failed: [], notStarted: [] };
  let next = 0;
  let stopped = false;
  async function worker(): Promise<void> {
    while (!stopped && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
        result.done.push(item);
      } catch (error) {
        result.failed.push({ item, error });
        stopped = true;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  result.notStarted = items.slice(next);
  return result;
}
