import { describe, expect, it } from "vitest";
import { clientHash } from "../workers/client-hash.ts";
import { hmacHex } from "../workers/hash.ts";

const SECRET = "test-session-secret-0123456789abcdef";
const from = (headers: Record<string, string>) => new Request("https://wechatting.test/", { headers });

describe("client address hash", () => {
  it("is the hex HMAC-SHA256 of CF-Connecting-IP under SESSION_SECRET, never the address", async () => {
    const hash = await clientHash(SECRET, from({ "cf-connecting-ip": "203.0.113.7" }));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(await hmacHex(SECRET, "client-address\n203.0.113.7"));
    expect(hash).not.toContain("203");
  });

  it("is stable for one address and differs across addresses and secrets", async () => {
    const a = await clientHash(SECRET, from({ "cf-connecting-ip": "2001:DB8::1" }));
    expect(await clientHash(SECRET, from({ "cf-connecting-ip": "2001:db8::1" }))).toBe(a);
    expect(await clientHash(SECRET, from({ "cf-connecting-ip": "2001:db8::2" }))).not.toBe(a);
    expect(await clientHash("another-secret-0123456789", from({ "cf-connecting-ip": "2001:db8::1" }))).not.toBe(a);
  });

  it("prefers CF-Connecting-IP, falls back to the first X-Forwarded-For hop, then to 'unknown'", async () => {
    const expected = (address: string) => hmacHex(SECRET, `client-address\n${address}`);
    expect(await clientHash(SECRET, from({ "cf-connecting-ip": "198.51.100.1", "x-forwarded-for": "192.0.2.9" }))).toBe(
      await expected("198.51.100.1"),
    );
    expect(await clientHash(SECRET, from({ "x-forwarded-for": " 192.0.2.9 , 10.0.0.1" }))).toBe(await expected("192.0.2.9"));
    expect(await clientHash(SECRET, from({}))).toBe(await expected("unknown"));
  });

  it("fails closed without a usable SESSION_SECRET", async () => {
    await expect(clientHash("", from({ "cf-connecting-ip": "203.0.113.7" }))).rejects.toThrow(/SESSION_SECRET/);
  });
});
