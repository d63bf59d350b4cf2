import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { requestOrigin } from "../workers/request-origin.ts";

const ORIGIN = "https://wechatting.test";
const app = new Hono().use(requestOrigin()).all("/thing", (c) => c.json({ done: c.req.method }));
const send = (method: string, headers: Record<string, string> = {}) => app.request(`${ORIGIN}/thing`, { method, headers });

describe("cross-site request refusal", () => {
  it("lets same-origin browser requests change state", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const response = await send(method, { origin: ORIGIN, "sec-fetch-site": "same-origin" });
      expect(response.status, method).toBe(200);
    }
  });

  it("lets requests without browser markers through (scripts; the CSRF token still applies)", async () => {
    expect((await send("POST")).status).toBe(200);
    expect((await send("POST", { "sec-fetch-site": "none" })).status).toBe(200);
  });

  it("refuses state-changing requests marked cross-site or same-site by Sec-Fetch-Site, with a JSON error", async () => {
    for (const site of ["cross-site", "same-site", "Cross-Site"]) {
      for (const method of ["POST", "PUT", "PATCH", "DELETE", "PURGE"]) {
        const response = await send(method, { "sec-fetch-site": site });
        expect(response.status, `${method} ${site}`).toBe(403);
        expect(await response.json()).toEqual({ error: { code: "cross_site_request", message: expect.stringContaining(site) } });
      }
    }
  });

  it("refuses an Origin of another site, scheme or port, and Origin: null", async () => {
    for (const origin of ["https://evil.example", "http://wechatting.test", "https://wechatting.test:8443", "https://sub.wechatting.test", "null"]) {
      const response = await send("POST", { origin });
      expect(response.status, origin).toBe(403);
    }
  });

  it("refuses a foreign Origin even when Sec-Fetch-Site claims same-origin", async () => {
    expect((await send("POST", { origin: "https://evil.example", "sec-fetch-site": "same-origin" })).status).toBe(403);
  });

  it("leaves reads alone: cross-site GET, HEAD and OPTIONS pass (they must not change state)", async () => {
    for (const method of ["GET", "HEAD", "OPTIONS"]) {
      const response = await send(method, { origin: "https://evil.example", "sec-fetch-site": "cross-site" });
      expect(response.status, method).toBe(200);
    }
  });
});
