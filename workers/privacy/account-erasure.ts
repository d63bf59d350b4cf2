/**
 * @module
 * "Delete my account": planned (which workspaces go, stay or block), then the account is
 * deactivated at once — sessions revoked, channels of the workspaces that go with it disconnected
 * at Meta with their tokens destroyed — and erased by the scheduled run once the grace period is
 * over, always within 30 days of the request. Until then the user may cancel.
 */
import { and, asc, eq, inArray, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditStatement } from "../audit.ts";
import { endAllSessions } from "../auth/session.ts";
import { disconnectChannel, eraseConversations } from "../channels/disconnect.ts";
import {
  auditLog,
  channelEvents,
  channelSecrets,
  channels,
  consentRecords,
  contactRestrictions,
  contacts,
  conversations,
  devMailbox,
  exportChunks,
  exportJobs,
  invitations,
  memberships,
  policyAcceptances,
  quarantine,
  retentionPolicies,
  rightsRequests,
  sessions,
  userPrivacy,
  users,
  workspaceKeys,
  workspaces,
} from "../db/schema.ts";
import { closeRequest, newRequest, type RightsRequest } from "./requests.ts";
import { disconnectUser } from "../live.ts";

const DAY_MS = 24 * 3600_000;
/** The grace period never reaches the 30 days within which erasure is promised. */
const MAX_GRACE_DAYS = 29;
/** Conversations erased per step, so one workspace of any size is erased in bounded steps. */
const CONVERSATIONS_PER_STEP = 200;

export type WorkspaceRef = { id: string; name: string };
export type DeletionPlan = {
  /** Workspaces the user alone belongs to: erased with the account. */
  deleted: WorkspaceRef[];
  /** Workspaces the user leaves; they stay with their other members and owners. */
  kept: WorkspaceRef[];
  /** Workspaces the user alone owns but others use: ownership must be transferred first. */
  blockers: (WorkspaceRef & { reason: string })[];
};

export function graceDays(env: Cloudflare.Env): number {
  const days = Number.parseInt(env.ERASURE_GRACE_DAYS ?? "7", 10);
  return Number.isFinite(days) ? Math.min(Math.max(days, 0), MAX_GRACE_DAYS) : 7;
}

export async function planAccountDeletion(db: D1Database, userId: string): Promise<DeletionPlan> {
  const d = drizzle(db);
  const mine = await d
    .select({ id: workspaces.id, name: workspaces.name, role: memberships.role })
    .from(memberships)
    .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
    .where(eq(memberships.userId, userId))
    .orderBy(workspaces.name);
  const others = mine.length
    ? await d
        .select({ workspaceId: memberships.workspaceId, role: memberships.role })
        .from(memberships)
        .where(and(inArray(memberships.workspaceId, mine.map((w) => w.id)), ne(memberships.userId, userId)))
    : [];
  const plan: DeletionPlan = { deleted: [], kept: [], blockers: [] };
  for (const { id, name, role } of mine) {
    const rest = others.filter((m) => m.workspaceId === id);
    if (rest.length === 0) plan.deleted.push({ id, name });
    else if (role !== "owner" || rest.some((m) => m.role === "owner")) plan.kept.push({ id, name });
    else plan.blockers.push({ id, name, reason: `You are the only owner and ${rest.length} other member(s) use it: make one of them an owner first` });
  }
  return plan;
}

/**
 * Deactivates the account at once and schedules its erasure. The caller has checked the password
 * and that the plan has no blockers.
 */
export async function deactivateAccount(env: Cloudflare.Env, userId: string, plan: DeletionPlan, now = Date.now()): Promise<RightsRequest> {
  const db = drizzle(env.DB);
  const request = newRequest(
    { kind: "erasure", subjectType: "user", subjectId: userId, source: "self_service", notBefore: now + graceDays(env) * DAY_MS },
    now,
  );
  await db.batch([
    db.insert(rightsRequests).values(request),
    db.update(users).set({ status: "deactivated", updatedAt: now }).where(eq(users.id, userId)),
    auditStatement(env.DB, {
      action: "privacy.account_deactivated",
      actorUserId: userId,
      targetType: "user",
      targetId: userId,
      detail: { requestId: request.id, eraseAfter: request.notBefore, workspacesDeleted: plan.deleted.length },
    }, now),
  ]);
  await endAllSessions(env.DB, userId);
  // Revoked sessions stop new tickets; the sockets already open are closed here.
  await disconnectUser(env, userId, "account deactivated");
  await disconnectLiveChannels(env, plan.deleted, userId);
  return request;
}

/** Withdraws our access at Meta for every still-live channel of these workspaces (idempotent). */
async function disconnectLiveChannels(env: Cloudflare.Env, workspaceRefs: WorkspaceRef[], userId: string): Promise<void> {
  if (workspaceRefs.length === 0) return;
  const live = await drizzle(env.DB)
    .select()
    .from(channels)
    .where(and(inArray(channels.workspaceId, workspaceRefs.map((w) => w.id)), inArray(channels.status, ["active", "needs_reconnection"])));
  for (const channel of live) {
    await disconnectChannel(env, channel, { action: "channel.disconnected", actorUserId: userId, detail: { via: "account_deletion" } });
  }
}

/** The erasure of this user still waiting for its grace period to end, if any. */
export function pendingErasure(db: D1Database, userId: string) {
  return drizzle(db)
    .select()
    .from(rightsRequests)
    .where(
      and(
        eq(rightsRequests.kind, "erasure"),
        eq(rightsRequests.subjectType, "user"),
        eq(rightsRequests.subjectId, userId),
        eq(rightsRequests.status, "received"),
      ),
    )
    .get();
}

/** Reactivates the account; disconnected channels stay disconnected (consent was withdrawn). */
export async function cancelAccountDeletion(env: Cloudflare.Env, userId: string, request: RightsRequest, now = Date.now()): Promise<void> {
  const db = drizzle(env.DB);
  await db.batch([
    closeRequest(env.DB, request.id, { status: "cancelled", outcome: "Cancelled by the user during the grace period" }, now),
    db.update(users).set({ status: "active", updatedAt: now }).where(eq(users.id, userId)),
    auditStatement(env.DB, { action: "privacy.account_deletion_cancelled", actorUserId: userId, targetType: "user", targetId: userId }, now),
  ]);
}

/**
 * Erases a workspace and everything in it. Resumable: conversations go in bounded steps (each
 * idempotent), and the remaining rows in one batch at the end, so a crash leaves either the whole
 * workspace row set or none of it.
 */
export async function eraseWorkspace(env: Cloudflare.Env, workspaceId: string): Promise<{ conversations: number; messages: number }> {
  const db = drizzle(env.DB);
  const total = { conversations: 0, messages: 0 };
  for (;;) {
    const rows = await db
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.workspaceId, workspaceId))
      .limit(CONVERSATIONS_PER_STEP);
    if (rows.length === 0) break;
    const erased = await eraseConversations(env, rows.map((r) => r.id));
    total.conversations += erased.conversations;
    total.messages += erased.messages;
  }
  // Webhooks for its accounts that arrived after they were disconnected wait in quarantine: they go too.
  const accounts = (await db.select({ externalId: channels.externalId, wabaId: channels.wabaId, pageId: channels.pageId }).from(channels).where(eq(channels.workspaceId, workspaceId)))
    .flatMap((a) => [a.externalId, a.wabaId, a.pageId])
    .filter((id): id is string => !!id);
  await db.batch([
    db.delete(quarantine).where(and(eq(quarantine.reason, "unknown_account"), inArray(quarantine.accountId, accounts.length ? accounts : [""]))),
    db.delete(contacts).where(eq(contacts.workspaceId, workspaceId)),
    db.delete(contactRestrictions).where(eq(contactRestrictions.workspaceId, workspaceId)),
    db.delete(channelSecrets).where(eq(channelSecrets.workspaceId, workspaceId)),
    db.delete(workspaceKeys).where(eq(workspaceKeys.workspaceId, workspaceId)),
    db.delete(channelEvents).where(eq(channelEvents.workspaceId, workspaceId)),
    db.delete(channels).where(eq(channels.workspaceId, workspaceId)),
    db.delete(invitations).where(eq(invitations.workspaceId, workspaceId)),
    db.delete(memberships).where(eq(memberships.workspaceId, workspaceId)),
    db.delete(retentionPolicies).where(eq(retentionPolicies.workspaceId, workspaceId)),
    db.delete(auditLog).where(eq(auditLog.workspaceId, workspaceId)),
    db.delete(workspaces).where(eq(workspaces.id, workspaceId)),
  ]);
  return total;
}

/**
 * The scheduled half of an account erasure. The plan is made again: a workspace that gained
 * members during the grace period passes to its longest-standing member instead of blocking a
 * deadline the law sets. The user's own rows go in one final batch with the request's receipt.
 */
export async function eraseAccount(env: Cloudflare.Env, request: RightsRequest, now = Date.now()): Promise<void> {
  const userId = request.subjectId!;
  const db = drizzle(env.DB);
  const user = await db.select({ email: users.email }).from(users).where(eq(users.id, userId)).get();
  const plan = await planAccountDeletion(env.DB, userId);
  // Normally done at deactivation already; this covers a deactivation that stopped half-way.
  await disconnectLiveChannels(env, plan.deleted, userId);
  const erased = { conversations: 0, messages: 0 };
  for (const workspace of plan.deleted) {
    const result = await eraseWorkspace(env, workspace.id);
    erased.conversations += result.conversations;
    erased.messages += result.messages;
  }
  for (const workspace of plan.blockers) {
    const heir = await db
      .select({ userId: memberships.userId })
      .from(memberships)
      .where(and(eq(memberships.workspaceId, workspace.id), ne(memberships.userId, userId)))
      .orderBy(asc(memberships.createdAt))
      .get();
    if (!heir) continue;
    await db.batch([
      db.update(memberships).set({ role: "owner" }).where(and(eq(memberships.workspaceId, workspace.id), eq(memberships.userId, heir.userId))),
      auditStatement(env.DB, { action: "member.role_changed", workspaceId: workspace.id, targetType: "user", targetId: heir.userId, detail: { to: "owner", via: "owner_erased" } }, now),
    ]);
  }
  const jobs = await db.select({ id: exportJobs.id }).from(exportJobs).where(eq(exportJobs.userId, userId));
  const receipt = {
    requestId: request.id,
    erasedAt: now,
    categories: ["profile", "credentials", "sessions", "memberships", "consents", "policy_acceptances", "exports", "workspaces_owned_alone"],
    workspacesErased: plan.deleted.length,
    workspacesLeft: plan.kept.length + plan.blockers.length,
    conversationsErased: erased.conversations,
    messagesErased: erased.messages,
    auditEntriesAnonymised: true,
  };
  await db.batch([
    db.delete(memberships).where(eq(memberships.userId, userId)),
    db.delete(sessions).where(eq(sessions.userId, userId)),
    db.delete(policyAcceptances).where(eq(policyAcceptances.userId, userId)),
    db.delete(userPrivacy).where(eq(userPrivacy.userId, userId)),
    db.delete(consentRecords).where(eq(consentRecords.subject, `u:${userId}`)),
    db.delete(exportChunks).where(inArray(exportChunks.jobId, jobs.map((j) => j.id))),
    db.delete(exportJobs).where(eq(exportJobs.userId, userId)),
    ...(user
      ? [db.delete(invitations).where(eq(invitations.email, user.email)), db.delete(devMailbox).where(eq(devMailbox.to, user.email))]
      : []),
    // The log keeps what happened, not who: the actor becomes anonymous, the client hash goes.
    db.update(auditLog).set({ actorUserId: null, clientHash: null }).where(eq(auditLog.actorUserId, userId)),
    db.update(auditLog).set({ targetId: null }).where(and(eq(auditLog.targetType, "user"), eq(auditLog.targetId, userId))),
    db.delete(users).where(eq(users.id, userId)),
    closeRequest(env.DB, request.id, { status: "completed", outcome: "Account erased", receipt }, now),
    auditStatement(env.DB, { action: "privacy.account_erased", targetType: "rights_request", targetId: request.id, detail: { workspacesErased: plan.deleted.length, messagesErased: erased.messages } }, now),
  ]);
}
