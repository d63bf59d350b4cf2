/**
 * @module
 * The daily retention run (Cron Trigger): erases what is due — accounts past their grace period,
 * Meta deletion requests, messages past each workspace's retention policy (in the Durable Objects
 * and the D1 mirror), expired sessions and exports, old quarantined payloads and raw account
 * events — and writes the counts to the audit log.
 *
 * Safe to crash and to overlap: the run holds a lease (a second run at the same time does nothing),
 * requests are claimed one by one with leases of their own, every step is an idempotent delete,
 * and sweeps go in batches far below D1's limits. `now` is injectable for tests.
 */
import { and, countDistinct, count, eq, lt, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { audit } from "../audit.ts";
import { SESSION_IDLE_MS } from "../auth/session.ts";
import { exportJobs, messages, retentionPolicies } from "../db/schema.ts";
import { eraseAccount } from "./account-erasure.ts";
import { resumeExports } from "./export.ts";
import { processMetaDeletion } from "./meta-deletion.ts";
import { claimDue } from "./requests.ts";

/** wrangler.toml [triggers]. */
export const RETENTION_CRON = "15 3 * * *";
const DAY_MS = 24 * 3600_000;
export const QUARANTINE_KEEP_MS = 30 * DAY_MS;
export const CHANNEL_EVENTS_KEEP_MS = 90 * DAY_MS;
const RATE_LIMIT_KEEP_MS = DAY_MS;
/** Rows per DELETE statement and conversations per pruning step. */
const BATCH = 500;
const RUN_LEASE_MS = 15 * 60_000;
/** Requests claimed at a time, and how long a run keeps claiming (a Cron Trigger may run 15 minutes). */
const REQUESTS_PER_BATCH = 20;
const REQUESTS_BUDGET_MS = 8 * 60_000;

export type RetentionReport = {
  skipped: boolean;
  accountsErased: number;
  metaDeletions: number;
  failedRequests: number;
  messagesPruned: number;
  sessionsDeleted: number;
  exportsExpired: number;
  exportsResumed: number;
  quarantineDeleted: number;
  channelEventsDeleted: number;
  usedTokensDeleted: number;
  rateLimitsDeleted: number;
};

/** `DELETE … WHERE rowid IN (SELECT … LIMIT n)` until nothing is left: each statement is bounded. */
async function sweep(db: D1Database, table: string, where: string, ...params: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .prepare(`DELETE FROM "${table}" WHERE rowid IN (SELECT rowid FROM "${table}" WHERE ${where} LIMIT ${BATCH})`)
      .bind(...params)
      .run();
    total += result.meta.changes;
    if (result.meta.changes < BATCH) return total;
  }
}

async function claimRun(db: D1Database, owner: string, now: number): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO job_leases (name, owner, lease_until) VALUES ('retention', ?1, ?2)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until WHERE job_leases.lease_until < ?3
       RETURNING owner`,
    )
    .bind(owner, now + RUN_LEASE_MS, now)
    .first<{ owner: string }>();
  return row?.owner === owner;
}

/** Deletes messages older than `keepDays` in one workspace: each Durable Object, then the mirror. */
export async function pruneWorkspace(env: Cloudflare.Env, workspaceId: string, keepDays: number, now: number): Promise<number> {
  const cutoff = now - keepDays * DAY_MS;
  let pruned = 0;
  for (;;) {
    const { results } = await env.DB.prepare(
      `SELECT DISTINCT conversation_id AS id FROM messages WHERE workspace_id = ?1 AND timestamp < ?2 LIMIT ${BATCH}`,
    )
      .bind(workspaceId, cutoff)
      .all<{ id: string }>();
    for (const { id } of results) {
      const inObject = await env.CONVERSATION.get(env.CONVERSATION.idFromString(id)).pruneBefore(cutoff);
      const inMirror = await env.DB.prepare(`DELETE FROM messages WHERE conversation_id = ?1 AND timestamp < ?2`).bind(id, cutoff).run();
      pruned += Math.max(inObject.messages, inMirror.meta.changes);
    }
    if (results.length < BATCH) break;
  }
  // A conversation whose newest message is past retention must not keep it as its preview either.
  await env.DB.prepare(`UPDATE conversations SET last_message_preview = NULL WHERE workspace_id = ?1 AND last_message_at < ?2`).bind(workspaceId, cutoff).run();
  return pruned;
}

/** What a policy of `keepDays` would delete now (from the D1 mirror): the dry run admins see. */
export async function retentionPreview(db: D1Database, workspaceId: string, keepDays: number, now = Date.now()) {
  const cutoff = now - keepDays * DAY_MS;
  const row = await drizzle(db)
    .select({ messages: count(), conversations: countDistinct(messages.conversationId) })
    .from(messages)
    .where(and(eq(messages.workspaceId, workspaceId), lt(messages.timestamp, cutoff)))
    .get();
  return { keepDays, cutoff, messages: row?.messages ?? 0, conversations: row?.conversations ?? 0 };
}

export async function runRetention(env: Cloudflare.Env, now = Date.now()): Promise<RetentionReport> {
  const report: RetentionReport = {
    skipped: false,
    accountsErased: 0,
    metaDeletions: 0,
    failedRequests: 0,
    messagesPruned: 0,
    sessionsDeleted: 0,
    exportsExpired: 0,
    exportsResumed: 0,
    quarantineDeleted: 0,
    channelEventsDeleted: 0,
    usedTokensDeleted: 0,
    rateLimitsDeleted: 0,
  };
  const owner = crypto.randomUUID();
  if (!(await claimRun(env.DB, owner, now))) return { ...report, skipped: true };
  try {
    const started = Date.now();
    // Batch after batch until none is due or the budget is spent: a backlog must not outlast the deadline.
    while (Date.now() - started < REQUESTS_BUDGET_MS) {
      const batch = await claimDue(env.DB, ["erasure", "meta_deletion"], now, REQUESTS_PER_BATCH);
      if (batch.length === 0) break;
      for (const request of batch) {
        try {
          if (request.kind === "erasure") {
            await eraseAccount(env, request, now);
            report.accountsErased++;
          } else {
            await processMetaDeletion(env, request, now);
            report.metaDeletions++;
          }
        } catch (error) {
          // The claim expires and a later run resumes: every step is idempotent.
          console.error(`retention: ${request.kind} ${request.id} failed`, error);
          report.failedRequests++;
        }
      }
    }
    for (const policy of await drizzle(env.DB).select().from(retentionPolicies)) {
      report.messagesPruned += await pruneWorkspace(env, policy.workspaceId, policy.keepDays, now);
    }
    report.sessionsDeleted = await sweep(env.DB, "sessions", "expires_at < ?1 OR last_seen_at + ?2 <= ?1", now, SESSION_IDLE_MS);
    report.exportsResumed = await resumeExports(env, now);
    const db = drizzle(env.DB);
    for (const job of await db.select({ id: exportJobs.id }).from(exportJobs).where(and(lt(exportJobs.expiresAt, now), ne(exportJobs.status, "expired")))) {
      await sweep(env.DB, "export_chunks", "job_id = ?1", job.id);
      await db.update(exportJobs).set({ status: "expired", leaseUntil: null }).where(eq(exportJobs.id, job.id));
      report.exportsExpired++;
    }
    report.quarantineDeleted = await sweep(env.DB, "quarantine", "received_at < ?1", now - QUARANTINE_KEEP_MS);
    report.channelEventsDeleted = await sweep(env.DB, "channel_events", "received_at < ?1", now - CHANNEL_EVENTS_KEEP_MS);
    report.usedTokensDeleted = await sweep(env.DB, "used_tokens", "expires_at < ?1", now);
    report.rateLimitsDeleted = await sweep(env.DB, "rate_limits", "window_start < ?1", now - RATE_LIMIT_KEEP_MS);
    const { skipped: _, ...counts } = report;
    await audit(env.DB, { action: "cron.retention", detail: counts }, now);
    return report;
  } finally {
    await env.DB.prepare(`DELETE FROM job_leases WHERE name = 'retention' AND owner = ?1`).bind(owner).run();
  }
}
