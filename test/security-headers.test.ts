import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { errorResponse } from "../workers/http-error.ts";
import { CONTENT_SECURITY_POLICY, securityHeaders } from "../workers/security-headers.ts";
import { BASE, call } from "./helpers.ts";

const app = new Hono()
  .use(securityHeaders())
  .get("/json", (c) => c.json({ ok: true }))
  .get("/html", (c) => c.html("<p>hi</p>"))
  .get("/redirect", () => Response.redirect("https://wechatting.test/elsewhere", 302))
  .get("/socket", () => {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    server.accept();
    return new Response(null, { status: 101, webSocket: client });
  })
  .get("/boom", () => {
    throw new Error("boom");
  })
  .notFound((c) => errorResponse(c, 404, "not_found", "nothing here"))
  .onError((_, c) => errorResponse(c, 500, "internal_error", "oops"));

const EXPECTED = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; media-src 'self' https:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
};

const headersOf = (response: Response) => Object.fromEntries(Object.keys(EXPECTED).map((name) => [name, response.headers.get(name)]));

describe("security headers", () => {
  it("uses the strict CSP: own scripts and styles only, no framing, no plugins, no base or foreign form targets", () => {
    expect(CONTENT_SECURITY_POLICY).toBe(EXPECTED["content-security-policy"]);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it("are on every response: JSON, HTML, an immutable redirect, a 404 and a 500", async () => {
    for (const path of ["/json", "/html", "/redirect", "/nowhere", "/boom"]) {
      const response = await app.request(`https://wechatting.test${path}`);
      expect(headersOf(response), path).toEqual(EXPECTED);
    }
    expect((await app.request("https://wechatting.test/boom")).status).toBe(500);
  });

  it("leave a WebSocket upgrade working while adding them", async () => {
    const response = await app.request("https://wechatting.test/socket", { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(101);
    expect(response.webSocket).not.toBeNull();
    expect(headersOf(response)).toEqual(EXPECTED);
  });

  it("add HSTS for two years with subdomains over https only", async () => {
    const https = await app.request("https://wechatting.test/json");
    expect(https.headers.get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains");
    const http = await app.request("http://localhost:8787/json");
    expect(http.headers.get("strict-transport-security")).toBeNull();
    expect(headersOf(http)).toEqual(EXPECTED);
  });

  it("are on the Worker's own answers too (a 404 and the webhook handshake)", async () => {
    for (const path of ["/api/no-such-route", `/webhooks/meta?hub.mode=subscribe&hub.verify_token=${env.META_VERIFY_TOKEN}&hub.challenge=42`]) {
      const response = await call(new Request(`${BASE}${path}`));
      expect(headersOf(response), path).toEqual(EXPECTED);
      expect(response.headers.get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains");
    }
  });
});

describe("static assets", () => {
  it("carry the same security headers through web/public/_headers", async () => {
    const { default: file } = await import("../web/public/_headers?raw");
    const { SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY } = await import("../workers/security-headers.ts");
    const declared = Object.fromEntries(
      file
        .split("\n")
        .filter((line) => line.startsWith("  "))
        .map((line) => [line.trim().slice(0, line.trim().indexOf(":")), line.trim().slice(line.trim().indexOf(":") + 1).trim()]),
    );
    expect(declared).toEqual({ ...SECURITY_HEADERS, "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY });
  });
});
