import type { Principal } from './auth/authenticator.ts';
import type { BodyBudget } from './http/body-budget.ts';

/** Hono environment of the API: what middleware puts on the context. */
export interface ApiEnv {
  Variables: {
    /** Set by the auth middleware on every protected path. */
    principal: Principal;
    /** The warren route a request targets, when known (metrics label). */
    warrenRoute: string;
    /** The API's in-flight body budget, read by withBodyLimit (set by createApp on /v1/*). */
    bodyBudget: BodyBudget;
  };
}
