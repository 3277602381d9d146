import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Authenticator, Principal } from '../auth/authenticator.ts';

/** Name of the cookie that carries the console's API key. */
export const SESSION_COOKIE = 'warren_console';
/** Header every console action must carry: the page's CSRF token. */
export const CSRF_HEADER = 'x-warren-csrf';
/** How long a console login lasts. */
const SESSION_SECONDS = 12 * 60 * 60;

/** Who is using the console, and with which key (sent on to the JSON API, never shown). */
export interface ConsoleSession {
  principal: Principal;
  /** The API key ('' when the API runs without keys). */
  key: string;
  /** Token the page sends back on actions (see {@link csrfTokenFor}). */
  csrf: string;
}

/**
 * The CSRF token of a key: a digest of it. A page of another site can neither
 * read it (same-origin policy) nor derive it (it would need the key), and every
 * replica computes the same one, so nothing is stored server-side.
 */
export function csrfTokenFor(key: string): string {
  return createHash('sha256').update('warren-console-csrf\0').update(key).digest('base64url');
}

/**
 * The session of a request: the key from the HttpOnly cookie, authenticated
 * like a bearer key. Undefined when there is none or it is no longer valid.
 */
export function sessionOf(c: Context, auth: Authenticator): ConsoleSession | undefined {
  if (auth.open) {
    const principal = auth.authenticate('');
    return principal === undefined ? undefined : { principal, key: '', csrf: csrfTokenFor('') };
  }
  const key = getCookie(c, SESSION_COOKIE);
  if (key === undefined || key === '' || key.length > 1024) return undefined;
  const principal = auth.authenticate(key);
  return principal === undefined ? undefined : { principal, key, csrf: csrfTokenFor(key) };
}

/** Stores the key in the session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends it), only under /console. */
export function startSession(c: Context, key: string): void {
  setCookie(c, SESSION_COOKIE, key, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/console',
    secure: new URL(c.req.url).protocol === 'https:',
    maxAge: SESSION_SECONDS,
  });
}

/** Forgets the session cookie. */
export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/console' });
}

/** True unless the browser marked the request cross-site (`Sec-Fetch-Site`) or it names another `Origin` host. */
export function isSameOriginRequest(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  // A privacy setting can make a browser send `Origin: null`; then only its own same-origin mark counts.
  if (origin === 'null') return site === 'same-origin';
  // Host only: behind a TLS-terminating proxy the scheme the API sees differs from the browser's.
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host === (c.req.header('host') ?? new URL(c.req.url).host);
}

/**
 * True when an action request comes from a console page: the CSRF header
 * matches the session's token, and the browser did not mark it cross-site
 * (`Sec-Fetch-Site`, `Origin`), whichever it sends.
 */
export function isSameSiteAction(c: Context, session: ConsoleSession): boolean {
  const token = c.req.header(CSRF_HEADER) ?? '';
  const expected = Buffer.from(session.csrf);
  const given = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  return isSameOriginRequest(c) && c.req.header('sec-fetch-site') !== 'none';
}
