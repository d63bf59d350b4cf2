/**
 * @module
 * Cloudflare Pages Functions for the inbox: the API and Meta's webhooks stay on the Pages origin
 * (same-origin cookies, CSRF and CSP 'self' hold unchanged) and are forwarded, untouched, to the
 * Worker through the `API` service binding (web/wrangler.toml). No request leaves Cloudflare.
 */
export type ForwardContext = { request: Request; env: { API: { fetch(request: Request): Promise<Response> } } };

export const forward = ({ request, env }: ForwardContext) => env.API.fetch(request);
