import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call } from "./helpers.ts";

const handshake = (params: Record<string, string>) =>
  call(new Request(`${BASE}/webhooks/meta?${new URLSearchParams(params)}`));

describe("GET /webhooks/meta (Meta's verification handshake)", () => {
  it("echoes hub.challenge verbatim as text/plain when the verify token matches", async () => {
    const response = await handshake({
      "hub.mode": "subscribe",
      "hub.challenge": "1158201444",
      "hub.verify_token": env.META_VERIFY_TOKEN,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await response.text()).toBe("1158201444");
  });

  it("refuses a wrong verify token with 403 and a JSON error", async () => {
    const response = await handshake({ "hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope" });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: { code: "verification_failed", message: expect.any(String) } });
  });

  it("refuses a mode other than subscribe, and a missing challenge or token", async () => {
    const token = env.META_VERIFY_TOKEN;
    for (const params of <Record<string, string>[]>[
      { "hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": token },
      { "hub.mode": "subscribe", "hub.verify_token": token },
      { "hub.mode": "subscribe", "hub.challenge": "1" },
      {},
    ]) {
      expect((await handshake(params)).status).toBe(403);
    }
  });

  it("refuses a token that only shares a prefix with the real one", async () => {
    const response = await handshake({
      "hub.mode": "subscribe",
      "hub.challenge": "1",
      "hub.verify_token": env.META_VERIFY_TOKEN.slice(0, -1),
    });
    expect(response.status).toBe(403);
  });
});
