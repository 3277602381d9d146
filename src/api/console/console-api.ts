import type { ConsoleSession } from './console-session.ts';

/** The JSON API the console reads and acts through: the same app, called in-process with the session's key. */
export interface ConsoleApi {
  /** A request to the API as the session's key; the API's own authentication, scopes and per-key rules apply. */
  request(session: ConsoleSession, path: string, init?: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<Response>;
  /** GET and parse; `error` is the API's `{code, message}` for a non-2xx answer. */
  json<T>(session: ConsoleSession, path: string, init?: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<{ ok: true; status: number; body: T } | { ok: false; status: number; error: { code: string; message: string } }>;
}

/**
 * Calls the API in-process (Hono's `app.request`): the console never reads the
 * status index or the DLQ around the API, so a key sees in the console exactly
 * what it would get from `GET /v1/jobs` with a bearer header, no more.
 */
export function createConsoleApi(fetchApi: (path: string, init: RequestInit) => Response | Promise<Response>): ConsoleApi {
  const request: ConsoleApi['request'] = (session, path, init = {}) => {
    const headers: Record<string, string> = {};
    if (session.key !== '') headers['authorization'] = `Bearer ${session.key}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return Promise.resolve(
      fetchApi(path, {
        method: init.method ?? 'GET',
        headers,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        ...(init.signal === undefined ? {} : { signal: init.signal }),
      }),
    );
  };
  return {
    request,
    async json(session, path, init) {
      const res = await request(session, path, init);
      const text = await res.text();
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (res.ok) return { ok: true, status: res.status, body: body as never };
      const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      return { ok: false, status: res.status, error: { code: typeof e?.code === 'string' ? e.code : `HTTP_${res.status}`, message: typeof e?.message === 'string' ? e.message : text.slice(0, 300) } };
    },
  };
}
