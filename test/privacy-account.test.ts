/**
 * Our users' rights, end to end through the Worker: the request ledger, the export (bundle, field
 * descriptions, signed link, resumable), restriction and objection switches, and "delete my
 * account" (plan, re-authentication, deactivation, cancellation, erasure by the scheduled run).
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { memberships, users } from "../workers/db/schema.ts";
import { drizzle } from "drizzle-orm/d1";
import { eq } from "drizzle-orm";
import { advanceExport } from "../workers/privacy/export.ts";
import { finishEmbeddedSignup, useGraphSimulator } from "./graph-simulator.ts";
import { BASE, PASSWORD, api, call, mailsTo, postWebhook, signIn, signUp, sql, type Agent } from "./helpers.ts";
import { DAY, runRetentionCron } from "./privacy-helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

const graph = useGraphSimulator();

async function connectWhatsApp(owner: Agent) {
  const response = await finishEmbeddedSignup(graph, owner);
  expect(response.status).toBe(201);
  return response.body.channels[0] as { id: string };
}

async function join(agent: Agent, workspaceId: string, role: "owner" | "admin" | "agent") {
  await drizzle(env.DB).insert(memberships).values({ workspaceId, userId: agent.userId, role, createdAt: Date.now() });
}

async function download(url: string) {
  const response = await call(new Request(url));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

beforeEach(async () => {
  for (const table of ["channels", "channel_secrets", "conversations", "messages", "contacts"]) await sql(`DELETE FROM ${table}`);
});

describe("rights requests and switches", () => {
  it("records restriction and objection as completed requests due one month later, effective at once", async () => {
    const user = await signUp();
    const { status, body } = await api("/me/privacy", { as: user, method: "PUT", body: { processingRestricted: true, analyticsObjection: true } });
    expect(status).toBe(200);
    expect(body).toEqual({ processingRestricted: true, analyticsObjection: true });
    const { body: ledger } = await api("/me/rights-requests", { as: user });
    expect(ledger.requests.map((r: { kind: string }) => r.kind).sort()).toEqual(["objection", "restriction"]);
    for (const r of ledger.requests) {
      expect(r.status).toBe("completed");
      const due = new Date(r.receivedAt);
      due.setUTCMonth(due.getUTCMonth() + 1);
      expect(r.dueAt).toBe(due.getTime());
    }
    // Immediate effect: analytics are refused even with consent.
    await api("/consent", { as: user, method: "PUT", body: { analytics: true, preferences: false } });
    const refused = await api("/analytics", { as: user, body: { event: "inbox.opened" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("object");
    await api("/me/privacy", { as: user, method: "PUT", body: { analyticsObjection: false, processingRestricted: false } });
    expect((await api("/analytics", { as: user, body: { event: "inbox.opened" } })).status).toBe(204);
  });

  it("refuses unknown switches with a clear error and changes nothing", async () => {
    const user = await signUp();
    const { status, body } = await api("/me/privacy", { as: user, method: "PUT", body: { sellMyData: true } });
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
    expect((await api("/me/rights-requests", { as: user })).body.requests).toEqual([]);
  });
});

describe("data export", () => {
  it("builds a JSON bundle of everything about the user, with field descriptions, downloadable through a signed expiring link", async () => {
    const owner = await signUp({ name: "Export Owner", phone: "+14155550199" });
    await connectWhatsApp(owner);
    await postWebhook(whatsappPost([inbound("15551230001", "wamid.EXPORT_1", Date.UTC(2026, 5, 1), "export-me-text")]));
    const started = await api("/me/exports", { as: owner, body: {} });
    expect(started.status).toBe(202);
    const { body } = await api("/me/exports", { as: owner });
    const job = body.exports[0];
    expect(job).toMatchObject({ status: "ready", downloadUrl: expect.stringContaining("/api/privacy/exports/") });

    const file = await download(job.downloadUrl);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-disposition")).toContain("attachment");
    const bundle = JSON.parse(file.text);
    expect(bundle.format).toBe("wechatting-export/1");
    expect(Object.keys(bundle.sections)).toEqual(
      expect.arrayContaining(["profile", "memberships", "ownedWorkspaces", "contacts", "conversations", "messages", "consents", "sessions", "auditEntries", "policyAcceptances"]),
    );
    for (const section of Object.values(bundle.sections) as { description: string; fields: Record<string, string> }[]) {
      expect(section.description.length).toBeGreaterThan(5);
      expect(Object.keys(section.fields).length).toBeGreaterThan(0);
    }
    const items = (name: string) => bundle.data.filter((d: { section: string }) => d.section === name).flatMap((d: { items: unknown[] }) => d.items);
    expect(items("profile")).toEqual([expect.objectContaining({ name: "Export Owner", email: owner.email, phone: "+14155550199" })]);
    expect(items("messages")).toEqual([expect.objectContaining({ text: "export-me-text" })]);
    expect(items("contacts")).toEqual([expect.objectContaining({ waId: "15551230001" })]);
    expect(items("ownedWorkspaces")[0].channels).toEqual([expect.objectContaining({ kind: "whatsapp", externalId: "200000000000001" })]);
    expect(items("sessions").length).toBeGreaterThan(0);
    expect(items("auditEntries").map((a: { action: string }) => a.action)).toContain("privacy.export_requested");
    // Never a secret: no password hash, no token ciphertext, no token.
    const [user] = await sql<{ password_hash: string }>(`SELECT password_hash FROM users WHERE id = ?`, owner.userId);
    expect(file.text).not.toContain(user!.password_hash);
    const tokens = graph.sim.snapshot().tokens.map((t) => t.value);
    for (const token of tokens) expect(file.text).not.toContain(token);
    expect(file.text).not.toMatch(/ciphertext|passwordHash|access_token/);

    const actions = (await sql<{ action: string }>(`SELECT action FROM audit_log WHERE actor_user_id = ? ORDER BY at`, owner.userId)).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(["privacy.export_requested", "privacy.export_ready", "privacy.export_downloaded"]));
    const { body: ledger } = await api("/me/rights-requests", { as: owner });
    expect(ledger.requests).toEqual([expect.objectContaining({ kind: "access", status: "completed" })]);
  });

  it("refuses a tampered, foreign or expired link", async () => {
    const owner = await signUp();
    await api("/me/exports", { as: owner, body: {} });
    const url = new URL((await api("/me/exports", { as: owner })).body.exports[0].downloadUrl);
    const tampered = new URL(url);
    tampered.searchParams.set("token", `${url.searchParams.get("token")}x`);
    expect((await download(tampered.href)).status).toBe(400);
    const other = await signUp();
    await api("/me/exports", { as: other, body: {} });
    const otherId = (await api("/me/exports", { as: other })).body.exports[0].id;
    expect((await download(url.href.replace(/exports\/[^/]+\//, `exports/${otherId}/`))).status).toBe(400);
    await sql(`UPDATE export_jobs SET expires_at = 0 WHERE user_id = ?`, owner.userId);
    const expired = await download(url.href);
    expect(expired.status).toBe(410);
    expect(JSON.parse(expired.text).error.code).toBe("export_expired");
  });

  it("survives a restart: a job cut short is resumed by the scheduled run from its last committed step", async () => {
    const owner = await signUp();
    const { exportJobs } = await import("../workers/db/schema.ts");
    const { requestExport } = await import("../workers/privacy/export.ts");
    const job = await requestExport(env, owner.userId);
    const partial = await advanceExport(env, job.id, { maxSteps: 3 });
    expect(partial).toMatchObject({ status: "pending", chunks: 3 });
    // A crashed builder: its lease is still held, so nobody else writes until it expires.
    await drizzle(env.DB).update(exportJobs).set({ leaseUntil: Date.now() + 60_000 }).where(eq(exportJobs.id, job.id));
    expect(await advanceExport(env, job.id)).toBeNull();
    await runRetentionCron(Date.now() + 5 * 60_000);
    const [row] = await sql<{ status: string; chunks: number }>(`SELECT status, chunks FROM export_jobs WHERE id = ?`, job.id);
    expect(row!.status).toBe("ready");
    const seqs = await sql<{ seq: number }>(`SELECT seq FROM export_chunks WHERE job_id = ? ORDER BY seq`, job.id);
    expect(seqs.map((s) => s.seq)).toEqual([...Array(row!.chunks).keys()]);
    const url = (await api("/me/exports", { as: owner })).body.exports[0].downloadUrl;
    const bundle = JSON.parse((await download(url)).text);
    expect(bundle.data.filter((d: { section: string }) => d.section === "profile")).toHaveLength(1);
  });

  it("erases finished exports once they expire", async () => {
    const owner = await signUp();
    await api("/me/exports", { as: owner, body: {} });
    await runRetentionCron(Date.now() + 8 * DAY);
    expect(await sql(`SELECT status FROM export_jobs WHERE user_id = ?`, owner.userId)).toEqual([{ status: "expired" }]);
    expect(await sql(`SELECT count(*) AS n FROM export_chunks WHERE job_id IN (SELECT id FROM export_jobs WHERE user_id = ?)`, owner.userId)).toEqual([{ n: 0 }]);
  });
});

describe("delete my account", () => {
  it("previews which workspaces go, stay or block, and refuses while the user is the only owner of a shared one", async () => {
    const user = await signUp();
    const shared = await signUp();
    await join(user, shared.workspaceId, "agent");
    const { body: plan } = await api("/me/deletion", { as: user });
    expect(plan).toMatchObject({ graceDays: 7, deleted: [{ id: user.workspaceId }], kept: [{ id: shared.workspaceId }], blockers: [] });

    const colleague = await signUp();
    await join(colleague, user.workspaceId, "admin");
    const { body: blocked } = await api("/me/deletion", { as: user });
    expect(blocked.blockers).toEqual([expect.objectContaining({ id: user.workspaceId, reason: expect.stringContaining("owner") })]);
    const refused = await api("/me/deletion", { as: user, body: { password: PASSWORD } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("ownership_transfer_required");
    expect(await sql(`SELECT status FROM users WHERE id = ?`, user.userId)).toEqual([{ status: "active" }]);
  });

  it("needs the password, then deactivates at once: sessions revoked, channels disconnected at Meta with tokens destroyed", async () => {
    const owner = await signUp();
    const channel = await connectWhatsApp(owner);
    const wrong = await api("/me/deletion", { as: owner, body: { password: "not the password at all" } });
    expect(wrong.status).toBe(401);
    expect(await sql(`SELECT status FROM users WHERE id = ?`, owner.userId)).toEqual([{ status: "active" }]);

    const { status, body } = await api("/me/deletion", { as: owner, body: { password: PASSWORD } });
    expect(status).toBe(202);
    expect(body.request).toMatchObject({ kind: "erasure", status: "received" });
    expect(body.request.notBefore - body.request.receivedAt).toBe(7 * DAY);
    expect((await api("/auth/session", { as: owner })).status).toBe(401);
    expect((await signIn(owner.email)).status).toBe(403);
    expect(await sql(`SELECT status FROM channels WHERE id = ?`, channel.id)).toEqual([{ status: "disconnected" }]);
    expect(await sql(`SELECT * FROM channel_secrets WHERE channel_id = ?`, channel.id)).toEqual([]);
    expect(graph.sim.snapshot().subscriptions.whatsapp.filter((w) => w.wabaId === "100000000000001")).toEqual([]);
    expect((await mailsTo(owner.email))[0]!.subject).toContain("will be deleted");
  });

  it("can be cancelled during the grace period with email and password", async () => {
    const user = await signUp();
    await api("/me/deletion", { as: user, body: { password: PASSWORD } });
    const cancel = (password: string) => api("/privacy/account-deletion/cancel", { body: { email: user.email, password } });
    expect((await cancel("wrong password for sure")).status).toBe(401);
    expect((await cancel(PASSWORD)).status).toBe(200);
    expect((await signIn(user.email)).status).toBe(200);
    expect((await cancel(PASSWORD)).status).toBe(401);
    await runRetentionCron(Date.now() + 8 * DAY);
    expect(await sql(`SELECT status FROM users WHERE id = ?`, user.userId)).toEqual([{ status: "active" }]);
    const [request] = await sql<{ status: string }>(`SELECT status FROM rights_requests WHERE subject_id = ? AND kind = 'erasure'`, user.userId);
    expect(request!.status).toBe("cancelled");
  });

  it("is erased by the scheduled run after the grace period (not before): own workspace gone, shared ones stay, log anonymised", async () => {
    const user = await signUp({ name: "Leaving User" });
    const channel = await connectWhatsApp(user);
    await postWebhook(whatsappPost([inbound("15551230002", "wamid.LEAVING_1", Date.UTC(2026, 5, 1), "leaving-text")]));
    const shared = await signUp();
    await join(user, shared.workspaceId, "admin");
    await api("/me/deletion", { as: user, body: { password: PASSWORD } });

    await runRetentionCron(Date.now() + 6 * DAY);
    expect(await sql(`SELECT status FROM users WHERE id = ?`, user.userId)).toEqual([{ status: "deactivated" }]);

    await runRetentionCron(Date.now() + 7 * DAY + 60_000);
    expect(await sql(`SELECT * FROM users WHERE id = ?`, user.userId)).toEqual([]);
    expect(await sql(`SELECT * FROM workspaces WHERE id = ?`, user.workspaceId)).toEqual([]);
    expect(await sql(`SELECT * FROM channels WHERE id = ?`, channel.id)).toEqual([]);
    expect(await sql(`SELECT count(*) AS n FROM messages WHERE workspace_id = ?`, user.workspaceId)).toEqual([{ n: 0 }]);
    expect(await sql(`SELECT id FROM workspaces WHERE id = ?`, shared.workspaceId)).toEqual([{ id: shared.workspaceId }]);
    expect(await sql(`SELECT * FROM memberships WHERE user_id = ?`, user.userId)).toEqual([]);
    expect(await sql(`SELECT * FROM audit_log WHERE actor_user_id = ? OR target_id = ?`, user.userId, user.userId)).toEqual([]);
    const [request] = await sql<{ status: string; receipt: string; completed_at: number; received_at: number }>(
      `SELECT status, receipt, completed_at, received_at FROM rights_requests WHERE subject_id = ? AND kind = 'erasure'`,
      user.userId,
    );
    expect(request!.status).toBe("completed");
    expect(request!.completed_at - request!.received_at).toBeLessThan(30 * DAY);
    expect(JSON.parse(request!.receipt)).toMatchObject({ workspacesErased: 1, workspacesLeft: 1, messagesErased: 1 });
    expect(request!.receipt).not.toContain("Leaving User");
    expect(await drizzle(env.DB).select().from(users).where(eq(users.email, user.email))).toEqual([]);
  });

  it("always erases within 30 days, whatever grace period is configured", async () => {
    const user = await signUp();
    const response = await call(
      new Request(`${BASE}/api/me/deletion`, {
        method: "POST",
        headers: { cookie: user.cookie, "x-csrf-token": user.csrf, origin: BASE, "content-type": "application/json" },
        body: JSON.stringify({ password: PASSWORD }),
      }),
      Object.assign({}, env, { ERASURE_GRACE_DAYS: "90" }),
    );
    const { request } = await response.json<{ request: { notBefore: number; receivedAt: number } }>();
    expect(request.notBefore - request.receivedAt).toBe(29 * DAY);
  });
});
