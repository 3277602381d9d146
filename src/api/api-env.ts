import type { Principal } from './auth/authenticator.ts';

/** Hono environment of the API: what middleware puts on the context. */
export interface ApiEnv {
  Variables: {
    /** Set by the auth middleware on every protected path. */
    principal: Principal;
    /** The warren route a request targets, when known (metrics label). */
    warrenRoute: string;
  };
}
