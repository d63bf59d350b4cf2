/**
 * @module
 * Refuses state-changing requests that a browser sends on behalf of another site (CSRF), before any
 * session or CSRF token is looked at. Browsers mark every request with `Sec-Fetch-Site`, and every
 * cross-origin POST with `Origin`; a page of another site cannot forge or remove either. Requests
 * carrying neither come from scripts or old browsers and are left to the per-session CSRF token.
 *
 * Mount on /api/* only: Meta's webhooks come from another site by definition.
 */
import { createMiddleware } from "hono/factory";
import { errorResponse } from "./http-error.ts";

/** Everything but these may change state (including methods a router does not know). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** `none`: the user typed the URL or used a bookmark; `same-site` is refused, a sibling subdomain is not us. */
const ALLOWED_FETCH_SITES = new Set(["same-origin", "none"]);

/** Why the request looks cross-site, or null. `Origin: null` (sandboxed frames, some redirects) counts as foreign. */
function crossSiteProblem(request: Request): string | null {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && !ALLOWED_FETCH_SITES.has(site.toLowerCase())) return `Sec-Fetch-Site is ${site}`;
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== new URL(request.url).origin) return `Origin ${origin} is not this site`;
  return null;
}

export const requestOrigin = () =>
  createMiddleware(async (c, next) => {
    if (!SAFE_METHODS.has(c.req.method)) {
      const problem = crossSiteProblem(c.req.raw);
      if (problem) return errorResponse(c, 403, "cross_site_request", `Refused a ${c.req.method} from another site (${problem})`);
    }
    await next();
  });
