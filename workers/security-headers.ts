/**
 * @module
 * Security headers on every response the Worker produces, errors and 404s included (OWASP ASVS 5.0
 * V3.4). The CSP allows only this origin's scripts and styles (no inline code), images and media also
 * from https (Meta's CDN serves message attachments), and no framing, plugins or foreign form targets.
 *
 * Static assets are served by the platform before the Worker runs (wrangler.toml `[assets]`), so they
 * need the same values from a `_headers` file: SECURITY_HEADERS is exported for that.
 */
import { createMiddleware } from "hono/factory";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https:",
  "media-src 'self' https:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  // Older browsers ignore frame-ancestors; X-Frame-Options covers them against clickjacking.
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
};

/** Two years, as the HSTS preload list asks; sent only over https, where browsers honour it. */
export const STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains";

const HTTP_HEADERS = Object.entries(SECURITY_HEADERS);
const HTTPS_HEADERS: [string, string][] = [...HTTP_HEADERS, ["Strict-Transport-Security", STRICT_TRANSPORT_SECURITY]];

export const securityHeaders = () =>
  createMiddleware(async (c, next) => {
    await next();
    // Set after the handler, so no route can forget or weaken them. Hono's c.header would copy the
    // finished response once per header; it is copied only when its headers are immutable (a
    // response from fetch() or from another object).
    const headers = c.req.url.startsWith("https:") ? HTTPS_HEADERS : HTTP_HEADERS;
    try {
      for (const [name, value] of headers) c.res.headers.set(name, value);
    } catch {
      c.res = new Response(c.res.body, c.res);
      for (const [name, value] of headers) c.res.headers.set(name, value);
    }
  });
