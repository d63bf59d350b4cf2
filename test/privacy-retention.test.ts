/**
 * The daily retention run: a workspace's message retention policy (off by default, dry-run preview)
 * reaching the Durable Objects and the D1 mirror, expired sessions, old quarantine and raw receipts,
 * and the run's safety: overlapping runs and a crashed run never erase twice or half.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { claimDue } from "../workers/privacy/requests.ts";
import { RETENTION_CRON, runRetention } from "../workers/privacy/retention.ts";
import wranglerToml from "../wrangler.toml?raw";
import { PASSWORD, api, conversationOf, demoMember, postOk, seedDemoWorkspace, signUp, sql, type Agent } from "./helpers.ts";
import { DAY, dumpConversationObject, runRetentionCron } from "./privacy-helpers.ts";
import { echo, inbound, reaction, whatsappPost } from "./wa-builders.ts";

let owner: Agent;
const policy = (as: Agent, path = "") => api(`/workspaces/${as.workspaceId}/retention${path}`, { as });
const setPolicy = (as: Agent, keepDays: number | null) => api(`/workspaces/${as.workspaceId}/retention`, { as, method: "PUT", body: { keepDays } });

beforeEach(async () => {
  for (const table of ["conversations", "messages", "contacts", "retention_policies", "rights_requests", "job_leases"]) await sql(`DELETE FROM ${table}`);
  await seedDemoWorkspace();
  owner = await demoMember("owner");
});

describe("message retention policy", () => {
  it("is off by default, set by owners and admins only (at least 7 days), audited", async () => {
    expect((await policy(owner)).body).toEqual({ keepDays: null });
    const tooShort = await setPolicy(owner, 3);
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.error.message).toContain("keepDays");
    const agent = await demoMember("agent");
    expect((await setPolicy(agent, 30)).status).toBe(403);
    expect((await setPolicy(owner, 30)).body).toEqual({ keepDays: 30 });
    expect((await policy(owner)).body).toEqual({ keepDays: 30 });
    expect(await sql(`SELECT action FROM audit_log WHERE action = 'privacy.retention_policy_set' AND actor_user_id = ?`, owner.userId)).toHaveLength(1);
    expect((await setPolicy(owner, null)).body).toEqual({ keepDays: null });
  });

  it("previews what it would delete without deleting anything", async () => {
    const now = Date.now();
    await postOk(whatsappPost([inbound("15552000001", "wamid.RET_OLD_1", now - 40 * DAY), inbound("15552000001", "wamid.RET_OLD_2", now - 35 * DAY), inbound("15552000002", "wamid.RET_NEW", now - DAY)]));
    const { status, body } = await policy(owner, "/preview?keepDays=30");
    expect(status).toBe(200);
    expect(body).toMatchObject({ keepDays: 30, messages: 2, conversations: 1 });
    expect((await policy(owner, "/preview?keepDays=60")).body).toMatchObject({ messages: 0 });
    expect(await sql(`SELECT count(*) AS n FROM messages`)).toEqual([{ n: 3 }]);
  });

  it("deletes older messages and their receipts in each Durable Object and in the D1 mirror; keeps the rest", async () => {
    const now = Date.now();
    await postOk(
      whatsappPost([
        inbound("15552000003", "wamid.RET_A_OLD", now - 40 * DAY, "old-retention-text"),
        reaction("15552000003", "wamid.RET_A_REACT", "wamid.RET_A_OLD", now - 39 * DAY, "👍"),
        inbound("15552000003", "wamid.RET_A_NEW", now - 2 * DAY, "new-retention-text"),
        inbound("15552000004", "wamid.RET_B_OLD", now - 50 * DAY, "only-old-text"),
        echo("15552000004", "wamid.RET_B_ECHO", now - 49 * DAY),
      ]),
    );
    // Without a policy nothing goes (4 messages: the reaction is a receipt, not a message).
    await runRetentionCron(now - 1000);
    expect(await sql(`SELECT count(*) AS n FROM messages`)).toEqual([{ n: 4 }]);
    await setPolicy(owner, 30);
    await runRetentionCron(now);

    const a = conversationOf("whatsapp", "15552000003");
    const b = conversationOf("whatsapp", "15552000004");
    expect(await sql(`SELECT external_id FROM messages ORDER BY external_id`)).toEqual([{ external_id: "wamid.RET_A_NEW" }]);
    const objectA = await dumpConversationObject(a);
    expect(objectA).toContain("new-retention-text");
    expect(objectA).not.toContain("old-retention-text");
    expect(objectA).not.toContain("wamid.RET_A_OLD");
    expect(await dumpConversationObject(b)).not.toContain("only-old-text");
    expect(await sql(`SELECT last_message_preview FROM conversations WHERE id = ?`, b)).toEqual([{ last_message_preview: null }]);
    const [run] = await sql<{ detail: string }>(`SELECT detail FROM audit_log WHERE action = 'cron.retention' ORDER BY at DESC LIMIT 1`);
    expect(JSON.parse(run!.detail)).toMatchObject({ messagesPruned: 3 });

    // Idempotent: a second run finds nothing more to delete.
    await runRetentionCron(now + 60_000);
    const [second] = await sql<{ detail: string }>(`SELECT detail FROM audit_log WHERE action = 'cron.retention' ORDER BY at DESC LIMIT 1`);
    expect(JSON.parse(second!.detail)).toMatchObject({ messagesPruned: 0 });
    expect(await sql(`SELECT count(*) AS n FROM messages`)).toEqual([{ n: 1 }]);
  });
});

describe("sweeps", () => {
  it("deletes expired sessions, quarantine older than 30 days and raw account events older than 90 days", async () => {
    const now = Date.now();
    const user = await signUp();
    await sql(`UPDATE sessions SET expires_at = ? WHERE user_id = ?`, now - 1, user.userId);
    const idle = await signUp();
    await sql(`UPDATE sessions SET last_seen_at = ? WHERE user_id = ?`, now - 2 * DAY, idle.userId);
    const fresh = await signUp();
    for (const [id, at] of [["q-old", now - 31 * DAY], ["q-new", now - DAY]] as const) {
      await sql(
        `INSERT INTO quarantine (id, dedupe_key, received_at, reason, detail, payload) VALUES (?, ?, ?, 'unknown_account', 'test', '{"secret":"payload"}')`,
        id,
        id,
        at,
      );
    }
    for (const [id, at] of [["e-old", now - 91 * DAY], ["e-new", now - 89 * DAY]] as const) {
      await sql(
        `INSERT INTO channel_events (id, dedupe_key, workspace_id, channel_id, field, event, timestamp, payload, received_at) VALUES (?, ?, 'ws', 'ch', 'account_update', 'X', ?, '{}', ?)`,
        id,
        id,
        at,
        at,
      );
    }
    await runRetentionCron(now);
    expect(await sql(`SELECT user_id FROM sessions WHERE user_id IN (?, ?, ?)`, user.userId, idle.userId, fresh.userId)).toEqual([{ user_id: fresh.userId }]);
    expect(await sql(`SELECT id FROM quarantine WHERE id LIKE 'q-%'`)).toEqual([{ id: "q-new" }]);
    expect(await sql(`SELECT id FROM channel_events WHERE id LIKE 'e-%'`)).toEqual([{ id: "e-new" }]);
  });

  it("runs on the cron configured in wrangler.toml", () => {
    expect(JSON.parse(/^crons = (\[.*\])$/m.exec(wranglerToml)![1]!)).toContain(RETENTION_CRON);
  });
});

describe("safety", () => {
  it("lets only one of two overlapping runs work, and erases an account exactly once", async () => {
    const user = await signUp();
    await api("/me/deletion", { as: user, body: { password: PASSWORD } });
    const at = Date.now() + 8 * DAY;
    const [first, second] = await Promise.all([runRetention(env, at), runRetention(env, at)]);
    expect([first.skipped, second.skipped].sort()).toEqual([false, true]);
    expect(first.accountsErased + second.accountsErased).toBe(1);
    expect(await sql(`SELECT * FROM users WHERE id = ?`, user.userId)).toEqual([]);
    expect(await sql(`SELECT count(*) AS n FROM audit_log WHERE action = 'privacy.account_erased'`)).toEqual([{ n: 1 }]);
    // The lease is released: the next run works again.
    expect((await runRetention(env, at + 60_000)).skipped).toBe(false);
  });

  it("leaves a request claimed by a crashed run alone until its claim expires, then finishes it", async () => {
    const user = await signUp();
    await api("/me/deletion", { as: user, body: { password: PASSWORD } });
    const at = Date.now() + 8 * DAY;
    expect(await claimDue(env.DB, ["erasure"], at, 10)).toHaveLength(1); // the run that crashed after claiming
    expect((await runRetention(env, at + 60_000)).accountsErased).toBe(0);
    expect(await sql(`SELECT status FROM users WHERE id = ?`, user.userId)).toEqual([{ status: "deactivated" }]);
    expect((await runRetention(env, at + 11 * 60_000)).accountsErased).toBe(1);
    expect(await sql(`SELECT status FROM rights_requests WHERE subject_id = ? AND kind = 'erasure'`, user.userId)).toEqual([{ status: "completed" }]);
  });
});
