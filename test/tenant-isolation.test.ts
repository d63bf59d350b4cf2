/**
 * Walks every route of the OpenAPI document: without a session each answers 401, and a signed-in
 * member of another workspace pointed at this workspace's resources gets 404 everywhere. A route
 * added later is walked too, and must be classified below or this test fails.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { OPERATOR_KEY, api, conversationOf, demoMember, postOk, seedDemoWorkspace, signUp, type Agent } from "./helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

/** Reached without a session (the request itself proves who is asking, or nothing is revealed). */
const PUBLIC = new Set([
  "POST /auth/signup",
  "POST /auth/signin",
  "POST /auth/password-reset",
  "POST /auth/password-reset/confirm",
  "POST /auth/verify-email",
  "GET /openapi.json",
  // Privacy: the visitor's own consent and analytics; cancelling a deletion proves itself with the password.
  "GET /consent",
  "PUT /consent",
  "POST /analytics",
  "POST /privacy/account-deletion/cancel",
]);
/** Cross-tenant operations, behind the operator key only. */
const OPERATOR = new Set(["GET /quarantine", "POST /operator/vault/rotate", "POST /operator/deletion-requests"]);

type Operation = { method: string; path: string };

async function operations(): Promise<Operation[]> {
  const { body } = await api("/openapi.json");
  return Object.entries(body.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
  );
}

describe("tenant isolation, by construction", () => {
  let victim: Agent;
  let attacker: Agent;
  let ids: Record<string, string>;

  beforeAll(async () => {
    await seedDemoWorkspace();
    victim = await demoMember("owner");
    attacker = await signUp();
    await postOk(whatsappPost([inbound("15559990001", "wamid.TENANT_1", Date.UTC(2026, 3, 1))]));
    const invitation = await api(`/workspaces/${victim.workspaceId}/invitations`, {
      as: victim,
      body: { email: "someone@example.com", role: "agent" },
    });
    const session = await api("/auth/sessions", { as: victim });
    ids = {
      workspaceId: victim.workspaceId,
      id: conversationOf("whatsapp", "15559990001"),
      userId: victim.userId,
      invitationId: invitation.body.id,
    };
    ids.sessionId = session.body.sessions[0].id;
  });

  it("classifies every route of the API", async () => {
    for (const { method, path } of await operations()) {
      const key = `${method} ${path}`;
      const known =
        PUBLIC.has(key) ||
        OPERATOR.has(key) ||
        path.startsWith("/workspaces/{workspaceId}") ||
        ["/auth/", "/me", "/workspaces", "/invitations/"].some((prefix) => path.startsWith(prefix));
      expect(known, key).toBe(true);
    }
  });

  it("answers 401 to every non-public route without a session or operator key", async () => {
    for (const { method, path } of await operations()) {
      if (PUBLIC.has(`${method} ${path}`)) continue;
      const url = fill(path, ids);
      const { status, body } = await api(url, { method, body: method === "GET" || method === "DELETE" ? undefined : {} });
      expect(status, `${method} ${url}`).toBe(401);
      expect(body.error.code, `${method} ${url}`).toMatch(/^(unauthenticated|unauthorized)$/);
    }
  });

  it("answers 404 to a member of another workspace on every route of this workspace", async () => {
    const scoped = (await operations()).filter((o) => o.path.startsWith("/workspaces/{workspaceId}"));
    expect(scoped.length).toBeGreaterThanOrEqual(9);
    for (const { method, path } of scoped) {
      const url = fill(path, ids);
      const { status } = await api(url, { as: attacker, method, body: method === "GET" || method === "DELETE" ? undefined : { name: "x", role: "owner", email: "a@example.com" } });
      expect(status, `${method} ${url}`).toBe(404);
    }
    // Nothing changed on the victim's side.
    const members = await api(`/workspaces/${victim.workspaceId}/members`, { as: victim });
    expect(members.body.members.map((m: { userId: string }) => m.userId)).toContain(victim.userId);
    const stillThere = await env.DB.prepare(`SELECT revoked_at FROM invitations WHERE id = ?`).bind(ids.invitationId).first();
    expect(stillThere).toEqual({ revoked_at: null });
  });

  it("lets nobody revoke another user's session", async () => {
    const { status } = await api(`/auth/sessions/${ids.sessionId}`, { as: attacker, method: "DELETE" });
    expect(status).toBe(404);
    expect((await api("/auth/session", { as: victim })).status).toBe(200);
  });

  it("keeps the operator route closed to signed-in users, even owners", async () => {
    expect((await api("/quarantine", { as: victim })).status).toBe(401);
    expect((await api("/quarantine", { bearer: OPERATOR_KEY })).status).toBe(200);
  });
});

function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name] ?? values.id;
    if (!value) throw new Error(`no value for {${name}}`);
    return encodeURIComponent(value);
  });
}
