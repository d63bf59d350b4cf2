/**
 * Sign-in, server-side sessions and request safety, through the real Worker and D1: a new session id
 * at every sign-in, one 401 for every wrong credential, audit entries without the client address,
 * brute-force limits that end with their window, CSRF and cross-site refusals, sign-out, the session
 * list, idle and absolute expiry. Time is simulated by moving timestamps back in D1.
 */
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clientHash } from "../workers/client-hash.ts";
import { sha256Hex } from "../workers/hash.ts";
import { BASE, PASSWORD, api, signIn, signUp, sql, type Agent } from "./helpers.ts";

const IP = "203.0.113.7";
const HOUR = 3600_000;
const tokenOf = (cookie: string) => cookie.slice(cookie.indexOf("=") + 1);
const clientHashOf = (ip: string) => clientHash(env.SESSION_SECRET, new Request(BASE, { headers: { "cf-connecting-ip": ip } }));
const sessionStatus = async (agent: Agent) => (await api("/auth/session", { as: agent })).status;
const sessionIdOf = (agent: Agent) => sha256Hex(tokenOf(agent.cookie));
async function setSession(agent: Agent, column: "last_seen_at" | "expires_at", value: number) {
  await sql(`UPDATE sessions SET ${column} = ? WHERE id = ?`, value, await sessionIdOf(agent));
}

// Each test starts with fresh attempt counters, except where it builds them up itself.
beforeEach(async () => {
  await sql(`DELETE FROM rate_limits`);
});

describe("sign-in", () => {
  let user: Agent;
  beforeAll(async () => {
    user = await signUp();
  });

  it("starts a new session with a new id at every sign-in: a cookie presented is never reused", async () => {
    const first = await signIn(user.email, PASSWORD, { cookie: user.cookie });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ user: { id: user.userId, email: user.email }, workspaces: [{ id: user.workspaceId, role: "owner" }] });
    const second = await signIn(user.email, PASSWORD, { cookie: first.agent!.cookie });
    const tokens = [user, first.agent!, second.agent!].map((a) => tokenOf(a.cookie));
    expect(new Set(tokens).size).toBe(3);
    expect(first.agent!.csrf).not.toBe(second.agent!.csrf);
    for (const agent of [user, first.agent!, second.agent!]) expect(await sessionStatus(agent)).toBe(200);

    // D1 holds the SHA-256 of each token, never the token itself.
    const ids = (await sql<{ id: string }>(`SELECT id FROM sessions WHERE user_id = ?`, user.userId)).map((r) => r.id);
    expect(ids.sort()).toEqual((await Promise.all(tokens.map(sha256Hex))).sort());
    for (const token of tokens) expect(ids).not.toContain(token);
  });

  it("accepts the email in any case and with surrounding spaces", async () => {
    expect((await signIn(`  ${user.email.toUpperCase()} `)).status).toBe(200);
  });

  it("answers a wrong password and an unknown email with the same 401 body", async () => {
    const wrong = await signIn(user.email, "not the password at all");
    const unknown = await signIn(`nobody-${crypto.randomUUID()}@example.com`);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: "invalid_credentials", message: "Wrong email or password" } });
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it("refuses malformed credentials with 400 naming the field", async () => {
    for (const [body, field] of [
      [{ email: "x", password: PASSWORD }, "email"],
      [{ email: user.email, password: 42 }, "password"],
      [{ email: user.email, password: "x".repeat(10_000) }, "password"],
      [{ email: [user.email], password: PASSWORD }, "email"],
      [{ password: PASSWORD }, "email"],
    ] as const) {
      const { status, body: answer } = await api("/auth/signin", { body });
      expect(status).toBe(400);
      expect(answer.error.message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it("audits success and failure with the actor and a keyed hash of the client address, never the address", async () => {
    const since = Date.now();
    const headers = { "cf-connecting-ip": IP };
    const stranger = `nobody-${crypto.randomUUID()}@example.com`;
    expect((await signIn(user.email, PASSWORD, headers)).status).toBe(200);
    expect((await signIn(user.email, "a wrong password here", headers)).status).toBe(401);
    expect((await signIn(stranger, PASSWORD, headers)).status).toBe(401);

    const entries = await sql<Record<string, any>>(`SELECT * FROM audit_log WHERE at >= ? AND action LIKE 'auth.signin%' ORDER BY at, rowid`, since);
    const hash = await clientHashOf(IP);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entries.map(({ action, actor_user_id, client_hash, detail }) => ({ action, actor_user_id, client_hash, detail }))).toEqual([
      { action: "auth.signin", actor_user_id: user.userId, client_hash: hash, detail: null },
      { action: "auth.signin_failed", actor_user_id: user.userId, client_hash: hash, detail: JSON.stringify({ known: true }) },
      { action: "auth.signin_failed", actor_user_id: null, client_hash: hash, detail: JSON.stringify({ known: false }) },
    ]);
    for (const table of ["audit_log", "sessions", "rate_limits", "users"]) {
      const dump = JSON.stringify(await sql(`SELECT * FROM ${table}`));
      expect(dump, table).not.toContain(IP);
      expect(dump, table).not.toContain(PASSWORD);
      expect(dump, table).not.toContain(stranger);
    }
  });
});

describe("brute-force limits", () => {
  let victim: Agent;
  beforeAll(async () => {
    victim = await signUp();
  });

  it("refuses the 11th attempt on one account within 15 minutes with 429 and Retry-After, even with the right password", async () => {
    for (let i = 1; i <= 10; i++) expect((await signIn(victim.email, `wrong password number ${i}`)).status).toBe(401);
    const blocked = await signIn(victim.email, "wrong password number 11");
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe("too_many_attempts");
    const retryAfter = Number(blocked.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect((await signIn(victim.email)).status).toBe(429);
    // The limit is the account's: another address does not get around it.
    expect((await signIn(victim.email, PASSWORD, { "cf-connecting-ip": "198.51.100.9" })).status).toBe(429);

    // Fifteen minutes later the window is over: the lock-out was short.
    await sql(`UPDATE rate_limits SET window_start = window_start - ?`, 15 * 60_000);
    expect((await signIn(victim.email)).status).toBe(200);
  });

  it("limits one client address across accounts (50 attempts per 15 minutes), not other addresses", async () => {
    const ip = "198.51.100.77";
    for (let i = 0; i < 2; i++) expect((await signIn(`guess-${i}-${crypto.randomUUID()}@example.com`, PASSWORD, { "cf-connecting-ip": ip })).status).toBe(401);
    const key = `signin:client:${await clientHashOf(ip)}`;
    expect(await sql(`SELECT count FROM rate_limits WHERE key = ?`, key)).toEqual([{ count: 2 }]);
    // Simulate 48 more guesses at other accounts from the same address.
    await sql(`UPDATE rate_limits SET count = 50 WHERE key = ?`, key);
    const blocked = await signIn(victim.email, PASSWORD, { "cf-connecting-ip": ip });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await signIn(victim.email, PASSWORD, { "cf-connecting-ip": "198.51.100.78" })).status).toBe(200);
  });
});

describe("sessions", () => {
  let user: Agent;
  beforeAll(async () => {
    user = await signUp();
  });

  it("answers GET /auth/session with the user, workspaces and CSRF token, and 401 without a cookie", async () => {
    const { status, body } = await api("/auth/session", { as: user });
    expect(status).toBe(200);
    expect(body).toMatchObject({ user: { id: user.userId, email: user.email }, csrfToken: user.csrf, workspaces: [{ id: user.workspaceId }] });
    const anonymous = await api("/auth/session");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe("unauthenticated");
  });

  it("refuses a tampered, truncated, overlong or unprefixed cookie with 401", async () => {
    const token = tokenOf(user.cookie);
    const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
    for (const cookie of [
      `__Host-wc_session=${flipped}`,
      `__Host-wc_session=${token.slice(0, -1)}`,
      `__Host-wc_session=${token}${"A".repeat(64)}`,
      `__Host-wc_session=`,
      `wc_session=${token}`,
      `__Secure-wc_session=${token}`,
    ]) {
      expect((await api("/auth/session", { headers: { cookie } })).status, cookie).toBe(401);
    }
    expect(await sessionStatus(user)).toBe(200);
  });

  it("refuses a state-changing request without the session's CSRF token: missing, wrong or another session's", async () => {
    const other = await signIn(user.email);
    for (const csrf of [undefined, "", "0".repeat(64), other.agent!.csrf, user.csrf.toUpperCase()]) {
      const headers: Record<string, string> = { cookie: user.cookie };
      if (csrf !== undefined) headers["x-csrf-token"] = csrf;
      const { status, body } = await api("/auth/signout", { method: "POST", headers });
      expect(status, String(csrf)).toBe(403);
      expect(body.error.code).toBe("csrf_token_invalid");
    }
    expect(await sessionStatus(user)).toBe(200);
  });

  it("refuses state-changing requests from another site, even with cookie and CSRF token", async () => {
    for (const headers of <Record<string, string>[]>[
      { origin: "https://evil.example" },
      { origin: "null" },
      { origin: "http://wechatting.test" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
    ]) {
      const { status, body } = await api("/auth/signout", { as: user, method: "POST", headers });
      expect(status, JSON.stringify(headers)).toBe(403);
      expect(body.error.code).toBe("cross_site_request");
    }
    // Sign-in and sign-up too: another site cannot sign a browser into an account.
    const signin = await api("/auth/signin", { body: { email: user.email, password: PASSWORD }, headers: { origin: "https://evil.example" } });
    expect(signin.status).toBe(403);
    // Reading is not refused: a GET changes nothing.
    expect((await api("/auth/session", { as: user, headers: { "sec-fetch-site": "cross-site" } })).status).toBe(200);
    expect((await api("/auth/session", { as: user, method: "GET", headers: { "sec-fetch-site": "same-origin", origin: BASE } })).status).toBe(200);
  });

  it("signs out: the cookie is cleared and the session ends", async () => {
    const { agent } = await signIn(user.email);
    const response = await api("/auth/signout", { as: agent!, method: "POST" });
    expect(response.status).toBe(200);
    const cleared = response.headers.getSetCookie().find((c) => c.startsWith("__Host-wc_session="));
    expect(cleared).toMatch(/^__Host-wc_session=;/);
    expect(cleared).toMatch(/Max-Age=0/i);
    expect(await sessionStatus(agent!)).toBe(401);
    expect(await sql(`SELECT id FROM sessions WHERE id = ?`, await sessionIdOf(agent!))).toEqual([]);
    expect(await sessionStatus(user)).toBe(200);
  });

  it("signs out everywhere else: the current session stays, every other one ends", async () => {
    const person = await signUp();
    const [a, b] = [(await signIn(person.email)).agent!, (await signIn(person.email)).agent!];
    expect((await api("/auth/signout-all", { as: a, method: "POST" })).status).toBe(200);
    expect(await sessionStatus(a)).toBe(200);
    expect(await sessionStatus(b)).toBe(401);
    expect(await sessionStatus(person)).toBe(401);
    expect(await sessionStatus(user)).toBe(200);
  });

  it("lists the user's active sessions with the current one flagged, and revokes one by id", async () => {
    const person = await signUp();
    const laptop = (await signIn(person.email, PASSWORD, { "user-agent": "Laptop browser" })).agent!;
    const { status, body } = await api("/auth/sessions", { as: laptop });
    expect(status).toBe(200);
    expect(body.sessions).toHaveLength(2);
    const current = body.sessions.filter((s: { current: boolean }) => s.current);
    expect(current).toEqual([expect.objectContaining({ id: await sessionIdOf(laptop), userAgent: "Laptop browser" })]);
    const other = body.sessions.find((s: { current: boolean }) => !s.current);
    expect(other.id).toBe(await sessionIdOf(person));
    for (const s of body.sessions) expect(s.expiresAt).toBeGreaterThan(s.lastSeenAt);

    expect((await api(`/auth/sessions/${other.id}`, { as: laptop, method: "DELETE" })).status).toBe(200);
    expect(await sessionStatus(person)).toBe(401);
    expect(await sessionStatus(laptop)).toBe(200);
    expect((await api(`/auth/sessions/${other.id}`, { as: laptop, method: "DELETE" })).status).toBe(404);
    expect((await api(`/auth/sessions/not-a-session-id`, { as: laptop, method: "DELETE" })).status).toBe(400);
    expect((await api("/auth/sessions", { as: laptop })).body.sessions).toHaveLength(1);
  });

  it("ends a session after 24 hours without use, and counts idle time from the last use", async () => {
    const { agent } = await signIn(user.email);
    await setSession(agent!, "last_seen_at", Date.now() - 23 * HOUR);
    const before = Date.now();
    expect(await sessionStatus(agent!)).toBe(200);
    const [row] = await sql<{ last_seen_at: number }>(`SELECT last_seen_at FROM sessions WHERE id = ?`, await sessionIdOf(agent!));
    expect(row!.last_seen_at).toBeGreaterThanOrEqual(before);

    await setSession(agent!, "last_seen_at", Date.now() - 24 * HOUR - 1000);
    expect(await sessionStatus(agent!)).toBe(401);
    expect((await api("/auth/signout", { as: agent!, method: "POST" })).status).toBe(401);
  });

  it("ends a session at its absolute expiry however recently it was used, and stops listing it", async () => {
    const { agent } = await signIn(user.email);
    await setSession(agent!, "expires_at", Date.now() - 1000);
    expect(await sessionStatus(agent!)).toBe(401);
    const ids = (await api("/auth/sessions", { as: user })).body.sessions.map((s: { id: string }) => s.id);
    expect(ids).not.toContain(await sessionIdOf(agent!));
  });

  it("ends a deactivated user's sessions and refuses their sign-in", async () => {
    const person = await signUp();
    await sql(`UPDATE users SET status = 'deactivated' WHERE id = ?`, person.userId);
    expect(await sessionStatus(person)).toBe(401);
    expect((await api("/me", { as: person })).status).toBe(401);
    const signin = await signIn(person.email);
    expect(signin.status).toBe(403);
    expect(signin.body.error.code).toBe("account_deactivated");
    expect(signin.headers.getSetCookie()).toEqual([]);
    expect((await signIn(person.email, "a wrong password here")).status).toBe(401);
  });
});
