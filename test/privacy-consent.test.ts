/**
 * Cookies, consent and the privacy policy: essential cookies only until opt-in, choices recorded
 * server-side with policy version and time (for visitors too), withdrawal as easy as consent,
 * aggregated first-party analytics only with consent, and policy versions users must accept.
 */
import { describe, expect, it } from "vitest";
import { POLICY_VERSION } from "../workers/privacy-policy.ts";
import { BASE, api, call, signUp, sql } from "./helpers.ts";

const consentCookie = (headers: Headers) => headers.getSetCookie().find((c) => c.startsWith("__Host-wc_consent="));

describe("cookie consent and analytics", () => {
  it("sets no cookie and records no analytics before a visitor opts in", async () => {
    const consent = await api("/consent");
    expect(consent.body).toEqual({ essential: true, analytics: false, preferences: false, policyVersion: POLICY_VERSION, recordedAt: null });
    expect(consent.headers.getSetCookie()).toEqual([]);
    const before = await sql(`SELECT count(*) AS n FROM analytics_daily`);
    const refused = await api("/analytics", { body: { event: "page.viewed" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({ code: "analytics_refused", message: "Not recorded: analytics were not consented to" });
    expect(refused.headers.getSetCookie()).toEqual([]);
    expect(await sql(`SELECT count(*) AS n FROM analytics_daily`)).toEqual(before);
  });

  it("records a visitor's choice with policy version and time under an essential consent cookie; withdrawing is one call too", async () => {
    const given = await api("/consent", { method: "PUT", body: { analytics: true, preferences: false } });
    expect(given.status).toBe(200);
    expect(given.body).toMatchObject({ analytics: true, preferences: false, policyVersion: POLICY_VERSION });
    const cookie = consentCookie(given.headers)!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
    const id = cookie.split(";")[0]!.split("=")[1]!;
    const visitor = { cookie: `__Host-wc_consent=${id}` };
    expect(await sql(`SELECT analytics, preferences, policy_version FROM consent_records WHERE subject = ?`, `c:${id}`)).toEqual([
      { analytics: 1, preferences: 0, policy_version: POLICY_VERSION },
    ]);

    expect((await api("/analytics", { headers: visitor, body: { event: "signup.viewed" } })).status).toBe(204);
    expect((await api("/analytics", { headers: visitor, body: { event: "signup.viewed" } })).status).toBe(204);
    const day = new Date().toISOString().slice(0, 10);
    expect(await sql(`SELECT * FROM analytics_daily WHERE event = 'signup.viewed'`)).toEqual([{ day, event: "signup.viewed", count: 2 }]);

    const withdrawn = await api("/consent", { method: "PUT", headers: visitor, body: { analytics: false, preferences: false } });
    expect(withdrawn.body.analytics).toBe(false);
    expect((await api("/analytics", { headers: visitor, body: { event: "signup.viewed" } })).status).toBe(403);
    expect(await sql(`SELECT count(*) AS n FROM consent_records WHERE subject = ?`, `c:${id}`)).toEqual([{ n: 2 }]);
  });

  it("keeps a signed-in user's choice on their account, with CSRF protection", async () => {
    const user = await signUp();
    const noCsrf = await api("/consent", { method: "PUT", headers: { cookie: user.cookie }, body: { analytics: true, preferences: true } });
    expect(noCsrf.status).toBe(403);
    const crossSite = await api("/consent", { method: "PUT", headers: { origin: "https://evil.example" }, body: { analytics: true, preferences: true } });
    expect(crossSite.status).toBe(403);
    const saved = await api("/consent", { as: user, method: "PUT", body: { analytics: true, preferences: true } });
    expect(consentCookie(saved.headers)).toBeUndefined();
    expect(await sql(`SELECT count(*) AS n FROM consent_records WHERE subject = ?`, `u:${user.userId}`)).toEqual([{ n: 1 }]);
    expect((await api("/consent", { as: user })).body).toMatchObject({ analytics: true, preferences: true });
  });

  it("asks again when the policy changed since the choice was made", async () => {
    const user = await signUp();
    await api("/consent", { as: user, method: "PUT", body: { analytics: true, preferences: true } });
    await sql(`UPDATE consent_records SET policy_version = '2020-01-01' WHERE subject = ?`, `u:${user.userId}`);
    expect((await api("/consent", { as: user })).body).toMatchObject({ analytics: false, recordedAt: null });
    expect((await api("/analytics", { as: user, body: { event: "inbox.opened" } })).status).toBe(403);
  });

  it("refuses an event name that could carry an identifier", async () => {
    const { status, body } = await api("/analytics", { body: { event: "user ana@example.com opened" } });
    expect(status).toBe(400);
    expect(body.error.message).toContain("event");
  });
});

describe("privacy policy", () => {
  it("is served at /privacy as HTML with its Last updated date, under the strict CSP", async () => {
    const response = await call(new Request(`${BASE}/privacy`));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const html = await response.text();
    expect(html).toContain(`Last updated: <time datetime="${POLICY_VERSION}">${POLICY_VERSION}</time>`);
    expect(html).not.toMatch(/<script|style=/);
  });

  it("makes a user accept a newly published version at their next visit, and records the acceptance", async () => {
    const user = await signUp();
    expect((await api("/me", { as: user })).body.policyAcceptanceRequired).toBe(false);
    // As if POLICY_VERSION had just been raised: the user's acceptance is of an older version.
    await sql(`UPDATE policy_acceptances SET version = '2020-01-01' WHERE user_id = ?`, user.userId);
    expect((await api("/me", { as: user })).body.policyAcceptanceRequired).toBe(true);
    expect((await api("/me/policy-acceptance", { as: user, body: { version: "2020-01-01" } })).status).toBe(400);
    expect((await api("/me/policy-acceptance", { as: user, body: { version: POLICY_VERSION } })).status).toBe(200);
    expect((await api("/me", { as: user })).body.policyAcceptanceRequired).toBe(false);
    const rows = await sql<{ version: string; accepted_at: number }>(`SELECT version, accepted_at FROM policy_acceptances WHERE user_id = ? ORDER BY version`, user.userId);
    expect(rows.map((r) => r.version)).toEqual(["2020-01-01", POLICY_VERSION]);
  });
});
