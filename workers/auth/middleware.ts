/**
 * @module
 * `requireSession`: the request must carry a valid session cookie; a state-changing request must
 * also carry the session's CSRF token in `X-CSRF-Token` (the cross-site check runs before it, see
 * workers/request-origin.ts).
 */
import { createMiddleware } from "hono/factory";
import { errorResponse } from "../http-error.ts";
import { timingSafeEqualString } from "../webhook-signature.ts";
import { csrfTokenFor, currentSession, type Session, type SessionUser } from "./session.ts";

export type AuthEnv = { Bindings: Cloudflare.Env; Variables: { session: Session; user: SessionUser } };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const requireSession = () =>
  createMiddleware<AuthEnv>(async (c, next) => {
    const current = await currentSession(c);
    if (!current) return errorResponse(c, 401, "unauthenticated", "Sign in first");
    if (!SAFE_METHODS.has(c.req.method)) {
      const presented = c.req.header("x-csrf-token") ?? "";
      const expected = await csrfTokenFor(c.env.SESSION_SECRET, current.session.id);
      if (!(await timingSafeEqualString(presented, expected))) {
        return errorResponse(c, 403, "csrf_token_invalid", "The X-CSRF-Token header is missing or wrong");
      }
    }
    c.set("session", current.session);
    c.set("user", current.user);
    await next();
  });
