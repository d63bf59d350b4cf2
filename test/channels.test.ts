/**
 * Connecting, checking and revoking channels end to end: the real Worker, real D1 and vault, and
 * the Graph API simulator standing in for Meta.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { verifySignedRequest } from "../workers/meta/signed-request.ts";
import { CHANNEL_HEALTH_CRON } from "../workers/channels/health.ts";
import worker from "../workers/index.ts";
import deauthorizeVector from "./fixtures/meta/meta-deauthorize-callback.json";
import wranglerToml from "../wrangler.toml?raw";
import { finishEmbeddedSignup, useGraphSimulator } from "./graph-simulator.ts";
import { dumpD1, signedRequest } from "./privacy-helpers.ts";
import { BASE, api, call, postWebhook, signUp, sql, type Agent } from "./helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

const graph = useGraphSimulator();

const REDIRECT = "https://wechatting.test/channels/callback";

const connectWhatsApp = (owner: Agent) => finishEmbeddedSignup(graph, owner);

async function oauthState(owner: Agent, kind: "messenger" | "instagram") {
  return (await api(`/workspaces/${owner.workspaceId}/channels/oauth/state`, { as: owner, body: { kind } })).body.state as string;
}

function deauthorize(signed: string) {
  return call(
    new Request(`${BASE}/webhooks/meta/deauthorize`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ signed_request: signed }),
    }),
  );
}

async function runHealthCheck(at = Date.now()) {
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: CHANNEL_HEALTH_CRON }), env);
}

describe("channels", () => {
  let owner: Agent;
  beforeEach(async () => {
    for (const table of ["channels", "channel_secrets", "conversations", "messages", "contacts"]) await sql(`DELETE FROM ${table}`);
    owner = await signUp();
  });

  it("connects WhatsApp through Embedded Signup: code exchanged, app subscribed, number registered, token sealed", async () => {
    const { status, body } = await connectWhatsApp(owner);
    expect(status).toBe(201);
    expect(body.channels).toEqual([
      expect.objectContaining({ kind: "whatsapp", externalId: "200000000000001", status: "active", handle: expect.stringContaining("555"), problem: null }),
    ]);
    const state = graph.sim.snapshot();
    expect(state.subscriptions.whatsapp.map((s) => s.wabaId)).toContain("100000000000001");
    expect(state.registrations.map((r) => r.phoneNumberId)).toContain("200000000000001");
    const token = state.tokens.find((t) => t.type !== "PAGE" && t.valid)!.value;
    expect(await dumpD1()).not.toContain(token);
    expect(JSON.stringify(body)).not.toContain(token);
    // Only where Meta's API defines it as a parameter: debug_token's input_token (app token in the header).
    const inUrls = graph.requests.filter((r) => r.url.includes(token)).map((r) => new URL(r.url).pathname.split("/").pop());
    expect(new Set(inUrls)).toEqual(new Set(["debug_token"]));
    expect(graph.requests.filter((r) => r.headers.authorization === `Bearer ${token}`).length).toBeGreaterThanOrEqual(3);
    const listed = await api(`/workspaces/${owner.workspaceId}/channels`, { as: owner });
    expect(listed.body.channels).toHaveLength(1);
    const audit = await sql(`SELECT action FROM audit_log WHERE workspace_id = ? AND action = 'channel.connected'`, owner.workspaceId);
    expect(audit).toHaveLength(1);
  });

  it("validates a manual WhatsApp token at Meta before saving anything", async () => {
    const good = graph.sim.mintToken({ type: "SYSTEM_USER" });
    const expired = graph.sim.mintToken({ type: "SYSTEM_USER", expiresIn: -10 });
    const noScope = graph.sim.mintToken({ type: "SYSTEM_USER", scopes: ["whatsapp_business_management"] });
    const path = `/workspaces/${owner.workspaceId}/channels/whatsapp/manual`;
    const attempt = (accessToken: string) => api(path, { as: owner, body: { phoneNumberId: "200000000000002", wabaId: "100000000000002", accessToken } });

    const refused = await attempt(expired.token);
    expect(refused.status).toBe(502);
    expect(refused.body.error.message).toMatch(/token/i);
    expect(refused.body.error.message).not.toContain(expired.token);
    const lacking = await attempt(noScope.token);
    expect(lacking.status).toBe(502);
    expect(lacking.body.error.message).toContain("whatsapp_business_messaging");
    expect(await sql(`SELECT id FROM channels`)).toEqual([]);
    expect(await sql(`SELECT channel_id FROM channel_secrets`)).toEqual([]);

    const ok = await attempt(good.token);
    expect(ok.status).toBe(201);
    expect(ok.body.channels[0]).toMatchObject({ kind: "whatsapp", externalId: "200000000000002" });
    expect(await dumpD1()).not.toContain(good.token);
  });

  it("translates a Meta outage or rate limit into a clear error and saves nothing", async () => {
    graph.sim.addFault({ pathPattern: "oauth/access_token", code: 4, times: 1 });
    const { status, body } = await connectWhatsApp(owner);
    expect(status).toBe(502);
    expect(body.error.code).toBe("meta_rate_limited");
    expect(body.error.message.length).toBeGreaterThan(20);
    expect(await sql(`SELECT id FROM channels`)).toEqual([]);
  });

  it("connects Facebook Pages and their linked Instagram accounts with a session-bound state", async () => {
    const { code } = graph.sim.createCode({ kind: "facebook_login", redirectUri: REDIRECT });
    const state = await oauthState(owner, "messenger");
    const { status, body } = await api(`/workspaces/${owner.workspaceId}/channels/messenger/connect`, {
      as: owner,
      body: { code, state, redirectUri: REDIRECT },
    });
    expect(status).toBe(201);
    const kinds = body.channels.map((c: { kind: string; externalId: string }) => `${c.kind}:${c.externalId}`);
    expect(kinds).toEqual(expect.arrayContaining(["messenger:300000000000001", "instagram:17840000000000001"]));
    expect(graph.sim.snapshot().subscriptions.pages.map((p) => p.pageId)).toContain("300000000000001");
  });

  it("refuses an OAuth state from another session or workspace", async () => {
    const other = await signUp();
    const foreignState = await oauthState(other, "messenger");
    const { code } = graph.sim.createCode({ kind: "facebook_login", redirectUri: REDIRECT });
    const { status, body } = await api(`/workspaces/${owner.workspaceId}/channels/messenger/connect`, {
      as: owner,
      body: { code, state: foreignState, redirectUri: REDIRECT },
    });
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_state");
    const wrongFlow = await oauthState(owner, "instagram");
    expect((await api(`/workspaces/${owner.workspaceId}/channels/messenger/connect`, { as: owner, body: { code, state: wrongFlow, redirectUri: REDIRECT } })).status).toBe(400);
  });

  it("connects Instagram with Instagram Login and records when the long-lived token expires", async () => {
    const { code } = graph.sim.createCode({ kind: "instagram_login", redirectUri: REDIRECT });
    const state = await oauthState(owner, "instagram");
    const { status, body } = await api(`/workspaces/${owner.workspaceId}/channels/instagram/connect`, {
      as: owner,
      body: { code, state, redirectUri: REDIRECT },
    });
    expect(status).toBe(201);
    const channel = body.channels[0];
    expect(channel).toMatchObject({ kind: "instagram", externalId: "17840000000000001", expiresSoon: false });
    expect(channel.tokenExpiresAt - Date.now()).toBeGreaterThan(55 * 24 * 3600_000);
  });

  it("lets only owners and admins connect or disconnect channels", async () => {
    await sql(`INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, 'agent', 0)`, owner.workspaceId, (await signUp()).userId);
    const agent = await signUp();
    await sql(`INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, 'agent', 0)`, owner.workspaceId, agent.userId);
    const asAgent = { ...agent, workspaceId: owner.workspaceId };
    expect((await api(`/workspaces/${owner.workspaceId}/channels`, { as: asAgent })).status).toBe(200);
    expect((await api(`/workspaces/${owner.workspaceId}/channels/oauth/state`, { as: asAgent, body: { kind: "instagram" } })).status).toBe(403);
  });

  it("refuses an account another workspace has connected", async () => {
    expect((await connectWhatsApp(owner)).status).toBe(201);
    const rival = await signUp();
    const { status, body } = await connectWhatsApp(rival);
    expect(status).toBe(409);
    expect(body.error.message).toContain("another workspace");
  });

  it("disconnects: revokes at Meta, destroys the token, stops ingesting, keeps the history; reconnecting keeps it too", async () => {
    const channel = (await connectWhatsApp(owner)).body.channels[0];
    expect((await postWebhook(whatsappPost([inbound("15557770001", "wamid.BEFORE_DISCONNECT", Date.UTC(2026, 5, 1))]))).status).toBe(200);
    const { status, body } = await api(`/workspaces/${owner.workspaceId}/channels/${channel.id}`, { as: owner, method: "DELETE" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ revokedAtMeta: true, deletedConversations: 0, channel: { status: "disconnected" } });
    expect(graph.sim.snapshot().subscriptions.whatsapp.filter((w) => w.wabaId === "100000000000001")).toEqual([]);
    expect(await sql(`SELECT channel_id FROM channel_secrets WHERE channel_id = ?`, channel.id)).toEqual([]);
    const after = await (await postWebhook(whatsappPost([inbound("15557770001", "wamid.AFTER_DISCONNECT", Date.UTC(2026, 5, 2))]))).json<{ quarantined: number; stored: number }>();
    expect(after).toMatchObject({ stored: 0, quarantined: 1 });
    expect(await sql(`SELECT count(*) AS n FROM conversations WHERE channel_id = ?`, channel.id)).toEqual([{ n: 1 }]);

    const again = await connectWhatsApp(owner);
    expect(again.body.channels[0].id).toBe(channel.id);
    const list = await api(`/workspaces/${owner.workspaceId}/conversations`, { as: owner });
    expect(list.body.conversations).toHaveLength(1);
  });

  it("disconnects with history deleted: conversations leave D1 and their Durable Objects", async () => {
    const channel = (await connectWhatsApp(owner)).body.channels[0];
    await postWebhook(whatsappPost([inbound("15557770002", "wamid.TO_DELETE", Date.UTC(2026, 5, 1), "delete-me-marker")]));
    const [conversation] = await sql<{ id: string }>(`SELECT id FROM conversations WHERE channel_id = ?`, channel.id);
    const { body } = await api(`/workspaces/${owner.workspaceId}/channels/${channel.id}?history=delete`, { as: owner, method: "DELETE" });
    expect(body.deletedConversations).toBe(1);
    expect(await sql(`SELECT count(*) AS n FROM messages WHERE conversation_id = ?`, conversation!.id)).toEqual([{ n: 0 }]);
    const stub = env.CONVERSATION.get(env.CONVERSATION.idFromString(conversation!.id));
    expect((await stub.history({ limit: 10 })).messages).toEqual([]);
    expect(await dumpD1()).not.toContain("delete-me-marker");
  });

  it("revokes every channel the Meta user granted when Meta calls the Deauthorize Callback", async () => {
    const { code } = graph.sim.createCode({ kind: "facebook_login", redirectUri: REDIRECT });
    const state = await oauthState(owner, "messenger");
    await api(`/workspaces/${owner.workspaceId}/channels/messenger/connect`, { as: owner, body: { code, state, redirectUri: REDIRECT } });
    const [granted] = await sql<{ meta_user_id: string }>(`SELECT meta_user_id FROM channels WHERE kind = 'messenger'`);
    const payload = { algorithm: "HMAC-SHA256", issued_at: Math.floor(Date.now() / 1000), user_id: granted!.meta_user_id };

    const tampered = (await signedRequest(payload)).replace(/^./, (ch) => (ch === "A" ? "B" : "A"));
    expect((await deauthorize(tampered)).status).toBe(401);
    const stale = await signedRequest({ ...payload, issued_at: payload.issued_at - 3 * 24 * 3600 });
    expect((await deauthorize(stale)).status).toBe(400);
    const otherAlgorithm = await signedRequest({ ...payload, algorithm: "HMAC-SHA1" });
    expect((await deauthorize(otherAlgorithm)).status).toBe(400);
    expect(await sql(`SELECT DISTINCT status FROM channels`)).toEqual([{ status: "active" }]);

    const response = await deauthorize(await signedRequest(payload));
    expect(response.status).toBe(200);
    expect(await sql(`SELECT DISTINCT status FROM channels`)).toEqual([{ status: "revoked" }]);
    expect(await sql(`SELECT channel_id FROM channel_secrets`)).toEqual([]);
    expect((await sql(`SELECT action FROM audit_log WHERE action = 'channel.revoked_by_meta'`)).length).toBeGreaterThanOrEqual(2);
  });

  it("verifies Meta's deauthorize test vector with its own secret", async () => {
    const verdict = await verifySignedRequest(deauthorizeVector.signed_request, [deauthorizeVector.app_secret_for_test], deauthorizeVector.decoded_payload.issued_at * 1000);
    expect(verdict).toMatchObject({ ok: true, request: { userId: "1000000000000001" } });
    expect(await verifySignedRequest(deauthorizeVector.signed_request, ["another-secret"], deauthorizeVector.decoded_payload.issued_at * 1000)).toEqual({
      ok: false,
      problem: "invalid_signature",
    });
  });

  it("marks a channel needs-reconnection in the daily check when Meta says its token expired", async () => {
    const channel = (await connectWhatsApp(owner)).body.channels[0];
    const token = graph.sim.snapshot().tokens.find((t) => t.valid && t.type !== "PAGE")!.value;
    graph.sim.expireToken(token);
    await sql(`UPDATE channels SET health_checked_at = 0 WHERE id = ?`, channel.id);
    await runHealthCheck();
    const [row] = await sql<{ status: string; health_problem: string }>(`SELECT status, health_problem FROM channels WHERE id = ?`, channel.id);
    expect(row).toMatchObject({ status: "needs_reconnection", health_problem: expect.stringMatching(/expired|no longer valid/i) });
    // Ingestion goes on while it waits to be reconnected.
    const stored = await (await postWebhook(whatsappPost([inbound("15557770003", "wamid.WHILE_NEEDS_RECONNECT", Date.UTC(2026, 5, 1))]))).json();
    expect(stored).toMatchObject({ stored: 1 });
    // Reconnecting brings it back.
    expect((await connectWhatsApp(owner)).body.channels[0]).toMatchObject({ id: channel.id, status: "active", problem: null });
  });

  it("refreshes an Instagram token in the daily check when it expires within 7 days", async () => {
    const { code } = graph.sim.createCode({ kind: "instagram_login", redirectUri: REDIRECT });
    const state = await oauthState(owner, "instagram");
    const channel = (await api(`/workspaces/${owner.workspaceId}/channels/instagram/connect`, { as: owner, body: { code, state, redirectUri: REDIRECT } })).body.channels[0];
    const soon = Date.now() + 3 * 24 * 3600_000;
    await sql(`UPDATE channels SET health_checked_at = 0, connected_at = ?, token_expires_at = ? WHERE id = ?`, Date.now() - 50 * 24 * 3600_000, soon, channel.id);
    await sql(`UPDATE channel_secrets SET expires_at = ? WHERE channel_id = ?`, soon, channel.id);
    const listed = await api(`/workspaces/${owner.workspaceId}/channels`, { as: owner });
    expect(listed.body.channels[0].expiresSoon).toBe(true);
    await runHealthCheck();
    const after = await api(`/workspaces/${owner.workspaceId}/channels`, { as: owner });
    expect(after.body.channels[0]).toMatchObject({ status: "active", expiresSoon: false });
    expect(graph.requests.some((r) => r.url.includes("refresh_access_token"))).toBe(true);
  });

  it("runs the health check on the cron configured in wrangler.toml", () => {
    expect(JSON.parse(/^crons = (\[.*\])$/m.exec(wranglerToml)![1]!)).toContain(CHANNEL_HEALTH_CRON);
  });
});
