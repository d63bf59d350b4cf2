/**
 * @module
 * `requireSession`: the request must carry a valid session cookie; a state-changing request must
 * also carry the session's CSRF token in `X-CSRF-Token` (the cross-site check runs before it, see
 * workers/request-origin.ts).
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { errorResponse } from "../http-error.ts";
import { timingSafeEqualString } from "../webhook-signature.ts";
import { csrfTokenFor, currentSession, type Session, type SessionUser } from "./session.ts";

export type AuthEnv = { Bindings: Cloudflare.Env; Variables: { session: Session; user: SessionUser } };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A state-changing request with this session must carry its CSRF token: the refusal, or null. */
// `any`: Context is invariant in its variables, and this check uses none of them.
async function csrfRefusal(c: Context<{ Bindings: Cloudflare.Env; Variables: any }>, sessionId: string) {
  if (SAFE_METHODS.has(c.req.method)) return null;
  const presented = c.req.header("x-csrf-token") ?? "";
  const expected = await csrfTokenFor(c.env.SESSION_SECRET, sessionId);
  if (await timingSafeEqualString(presented, expected)) return null;
  return errorResponse(c, 403, "csrf_token_invalid", "The X-CSRF-Token header is missing or wrong");
}

export const requireSession = () =>
  createMiddleware<AuthEnv>(async (c, next) => {
    const current = await currentSession(c);
    if (!current) return errorResponse(c, 401, "unauthenticated", "Sign in first");
    const refused = await csrfRefusal(c, current.session.id);
    if (refused) return refused;
    c.set("session", current.session);
    c.set("user", current.user);
    await next();
  });

export type OptionalAuthEnv = { Bindings: Cloudflare.Env; Variables: { session?: Session; user?: SessionUser } };

/** For routes open to visitors too: sets the user when a session is presented (and then checks CSRF). */
export const optionalSession = () =>
  createMiddleware<OptionalAuthEnv>(async (c, next) => {
    const current = await currentSession(c);
    if (current) {
      const refused = await csrfRefusal(c, current.session.id);
      if (refused) return refused;
      c.set("session", current.session);
      c.set("user", current.user);
    }
    await next();
  });
