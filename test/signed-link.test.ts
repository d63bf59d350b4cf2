import { env } from "cloudflare:workers";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { consumeToken, issueToken, verifyToken } from "../workers/auth/signed-link.ts";
import { hmacHex } from "../workers/hash.ts";
import { runRetention } from "../workers/privacy/retention.ts";

const SECRET = "test-session-secret-0123456789abcdef";
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const reset = (ttlSeconds = 1800, now = T0) =>
  issueToken(SECRET, { purpose: "reset-password", subject: "user-1", data: { pw: "abc" }, ttlSeconds, now });

/** The same key the module derives, written out, to sign tokens the module never would. */
const derivedKey = async () => new TextEncoder().encode(await hmacHex(SECRET, "signed-link\nv1"));
const claims = { iss: "wechatting", aud: "reset-password", sub: "user-1", jti: "j-1", iat: T0 / 1000, exp: T0 / 1000 + 60 };

describe("issuing a signed link token", () => {
  it("is a compact HS256 JWS with issuer, purpose as audience, subject, random jti, iat and exp", async () => {
    const token = await reset();
    expect(token.split(".")).toHaveLength(3);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256" });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ iss: "wechatting", aud: "reset-password", sub: "user-1", iat: T0 / 1000, exp: T0 / 1000 + 1800 });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(decodeJwt(await reset()).jti).not.toBe(payload.jti);
  });

  it("refuses lifetimes that are not a whole number of seconds from 1 s to 7 days", async () => {
    for (const ttl of [0, -1, 1.5, 7 * 24 * 3600 + 1, Number.NaN]) await expect(reset(ttl)).rejects.toThrow(RangeError);
  });

  it("fails closed without a usable SESSION_SECRET", async () => {
    await expect(issueToken("", { purpose: "invite", subject: "i", ttlSeconds: 60 })).rejects.toThrow(/SESSION_SECRET/);
  });
});

describe("verifying a signed link token", () => {
  it("returns the claims of a valid token for its purpose", async () => {
    const verdict = await verifyToken(SECRET, await reset(), "reset-password", { now: T0 + 60_000 });
    expect(verdict).toEqual({
      ok: true,
      claims: expect.objectContaining({ aud: "reset-password", sub: "user-1", data: { pw: "abc" }, exp: T0 / 1000 + 1800 }),
    });
  });

  it("says expired from the second of expiry on, and not a second before", async () => {
    const token = await reset(1800);
    expect(await verifyToken(SECRET, token, "reset-password", { now: T0 + 1799_000 })).toMatchObject({ ok: true });
    expect(await verifyToken(SECRET, token, "reset-password", { now: T0 + 1800_000 })).toEqual({ ok: false, reason: "expired" });
  });

  it("says wrong_purpose for a token minted for another flow (wrong audience)", async () => {
    const verdict = await verifyToken(SECRET, await reset(), "verify-email", { now: T0 });
    expect(verdict).toEqual({ ok: false, reason: "wrong_purpose" });
  });

  it("says invalid for a tampered payload, a tampered signature, another secret, or garbage", async () => {
    const [header, payload, signature] = (await reset()).split(".") as [string, string, string];
    const forged = btoa(JSON.stringify({ ...decodeJwt(`${header}.${payload}.${signature}`), sub: "admin" })).replace(/=+$/, "");
    const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
    const otherSecret = await issueToken("another-secret-0123456789", { purpose: "reset-password", subject: "user-1", ttlSeconds: 60, now: T0 });
    for (const token of [`${header}.${forged}.${signature}`, `${header}.${payload}.${flipped}`, otherSecret, "", "a.b.c", "not a token"]) {
      expect(await verifyToken(SECRET, token, "reset-password", { now: T0 }), token).toEqual({ ok: false, reason: "invalid" });
    }
  });

  it("refuses alg none, RS256 and HS512 tokens whatever they claim (algorithm allow-list)", async () => {
    const none = new UnsecuredJWT(claims).encode();
    const { privateKey } = await generateKeyPair("RS256");
    const rs256 = await new SignJWT(claims).setProtectedHeader({ alg: "RS256" }).sign(privateKey);
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: "HS512" }).sign(await derivedKey());
    for (const token of [none, rs256, hs512]) {
      expect(await verifyToken(SECRET, token, "reset-password", { now: T0 })).toEqual({ ok: false, reason: "invalid" });
    }
  });

  it("signs with a key derived from SESSION_SECRET, not the secret itself", async () => {
    const withRawSecret = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    const withDerivedKey = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(await derivedKey());
    expect(await verifyToken(SECRET, withRawSecret, "reset-password", { now: T0 })).toEqual({ ok: false, reason: "invalid" });
    expect(await verifyToken(SECRET, withDerivedKey, "reset-password", { now: T0 })).toMatchObject({ ok: true });
  });

  it("says invalid for a correctly signed token that lacks a jti, has another issuer or non-string data", async () => {
    const key = await derivedKey();
    const { jti: _, ...withoutJti } = claims;
    for (const payload of [withoutJti, { ...claims, iss: "someone-else" }, { ...claims, data: { n: 1 } }, { ...claims, aud: ["reset-password", "invite"] }]) {
      const token = await new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(key);
      expect(await verifyToken(SECRET, token, "reset-password", { now: T0 }), JSON.stringify(payload)).toEqual({ ok: false, reason: "invalid" });
    }
  });
});

describe("single use", () => {
  it("consumes a token once; replaying it is refused", async () => {
    const verdict = await verifyToken(SECRET, await reset(), "reset-password", { now: T0 });
    if (!verdict.ok) throw new Error("expected a valid token");
    expect(await consumeToken(env.DB, verdict.claims, T0)).toBe(true);
    expect(await consumeToken(env.DB, verdict.claims, T0 + 1000)).toBe(false);
  });

  it("lets exactly one of two simultaneous uses win", async () => {
    const results = await Promise.all([consumeToken(env.DB, { jti: "race-1", exp: 2e9 }), consumeToken(env.DB, { jti: "race-1", exp: 2e9 })]);
    expect(results.sort()).toEqual([false, true]);
  });

  it("keeps the used-token record until the token expires, then the scheduled retention run deletes it", async () => {
    await consumeToken(env.DB, { jti: "purge-old", exp: T0 / 1000 - 1 }, T0 - 5000);
    await consumeToken(env.DB, { jti: "purge-live", exp: T0 / 1000 + 60 }, T0);
    const report = await runRetention(env, T0);
    expect(report.usedTokensDeleted).toBeGreaterThanOrEqual(1);
    const { results } = await env.DB.prepare(`SELECT jti FROM used_tokens WHERE jti LIKE 'purge-%'`).all<{ jti: string }>();
    expect(results.map((r) => r.jti)).toEqual(["purge-live"]);
  });
});
