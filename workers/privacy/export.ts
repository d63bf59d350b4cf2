/**
 * @module
 * The user's data export (GDPR Arts. 15, 20): a JSON bundle of everything we hold about them, each
 * section with a description of its fields. The job is built in steps — one page of one section
 * per step, written with the job's new position in one D1 batch — by whoever holds its lease: the
 * request's `waitUntil` first, the scheduled run if that was cut short. A restart resumes where
 * the last committed step left off; chunks live in D1 until the export expires.
 */
import { and, asc, eq, gt, gte, inArray, isNull, lt, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { auditStatement } from "../audit.ts";
import {
  auditLog,
  channels,
  consentRecords,
  contacts,
  conversations,
  exportChunks,
  exportJobs,
  memberships,
  messages,
  policyAcceptances,
  rightsRequests,
  sessions,
  userPrivacy,
  users,
  workspaces,
} from "../db/schema.ts";
import { closeRequest, newRequest } from "./requests.ts";

export type ExportJob = typeof exportJobs.$inferSelect;

export const EXPORT_FORMAT = "wechatting-export/1";
/** Exports are kept this long, then erased by the scheduled run. */
export const EXPORT_KEEP_MS = 7 * 24 * 3600_000;
const LEASE_MS = 2 * 60_000;
const PAGE = 200;
/** Rows of bulky sections (message bodies) per chunk, far below D1's 2 MB per value. */
const MESSAGE_PAGE = 100;

type Page = { items: unknown[]; next: string | null };
type Scope = { db: ReturnType<typeof drizzle>; userId: string; owned: string[] };
type Section = { name: string; description: string; fields: Record<string, string>; load: (scope: Scope, after: string | null) => Promise<Page> };

const single = async (items: unknown[]): Promise<Page> => ({ items, next: null });

/** Keyset paging over one text key. */
async function byKey<T>(rows: (limit: number, after: SQL | undefined) => Promise<T[]>, key: SQLiteColumn, pick: (row: T) => string, after: string | null, limit = PAGE): Promise<Page> {
  const items = await rows(limit, after ? gt(key, after) : undefined);
  return { items, next: items.length === limit ? pick(items.at(-1)!) : null };
}

const inOwned = (column: SQLiteColumn, owned: string[]) => inArray(column, owned.length ? owned : [""]);

const SECTIONS: Section[] = [
  {
    name: "profile",
    description: "Your account as you gave it to us",
    fields: {
      id: "Account id",
      email: "Sign-in and contact address",
      emailVerifiedAt: "When you confirmed the address (ms since 1970, UTC)",
      name: "Your name",
      phone: "Your phone number (E.164), if given",
      adultConfirmedAt: "When you confirmed being 18 or older",
      status: "active or deactivated",
      createdAt: "When the account was created",
      updatedAt: "Last change",
      password: "Not exported: we hold only a one-way hash of it",
    },
    load: async ({ db, userId }) => {
      const { passwordHash: _, ...profile } = (await db.select().from(users).where(eq(users.id, userId)).get())!;
      return single([profile]);
    },
  },
  {
    name: "privacySettings",
    description: "Your restriction of processing and objection switches",
    fields: { processingRestrictedAt: "Since when processing is restricted (null: not restricted)", analyticsObjectionAt: "Since when you object to analytics (null: no objection)" },
    load: async ({ db, userId }) => single(await db.select().from(userPrivacy).where(eq(userPrivacy.userId, userId))),
  },
  {
    name: "policyAcceptances",
    description: "Privacy-policy versions you accepted",
    fields: { version: "Policy version", acceptedAt: "When you accepted it" },
    load: async ({ db, userId }) => single(await db.select({ version: policyAcceptances.version, acceptedAt: policyAcceptances.acceptedAt }).from(policyAcceptances).where(eq(policyAcceptances.userId, userId))),
  },
  {
    name: "consents",
    description: "Your cookie and analytics choices, each one as recorded",
    fields: { analytics: "Analytics allowed", preferences: "Preference cookies allowed", policyVersion: "Policy version shown", recordedAt: "When you chose" },
    load: async ({ db, userId }) =>
      single(await db.select({ analytics: consentRecords.analytics, preferences: consentRecords.preferences, policyVersion: consentRecords.policyVersion, recordedAt: consentRecords.recordedAt }).from(consentRecords).where(eq(consentRecords.subject, `u:${userId}`))),
  },
  {
    name: "sessions",
    description: "Your signed-in sessions (the secret tokens are only ever in your browser)",
    fields: { id: "Start of the token's SHA-256", createdAt: "Signed in", lastSeenAt: "Last request", expiresAt: "Ends at the latest", userAgent: "Browser as it named itself", clientHash: "Keyed hash of the network address (the address is not stored)" },
    load: async ({ db, userId }) =>
      single((await db.select().from(sessions).where(eq(sessions.userId, userId))).map(({ userId: _, ...s }) => ({ ...s, id: s.id.slice(0, 12) }))),
  },
  {
    name: "memberships",
    description: "Workspaces you belong to and your role in each",
    fields: { workspaceId: "Workspace id", name: "Workspace name", role: "owner, admin or agent", createdAt: "Member since" },
    load: async ({ db, userId }) =>
      single(await db.select({ workspaceId: memberships.workspaceId, name: workspaces.name, role: memberships.role, createdAt: memberships.createdAt }).from(memberships).innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId)).where(eq(memberships.userId, userId))),
  },
  {
    name: "ownedWorkspaces",
    description: "Workspaces you own, with their connected channels (access tokens are never exported)",
    fields: { id: "Workspace id", name: "Name", createdAt: "Created", channels: "Connected accounts: kind, Meta account id, name, handle, status, dates" },
    load: async ({ db, owned }) => {
      const list = await db.select().from(workspaces).where(inOwned(workspaces.id, owned));
      const chans = await db
        .select({ id: channels.id, workspaceId: channels.workspaceId, kind: channels.kind, externalId: channels.externalId, name: channels.name, handle: channels.handle, status: channels.status, connectedAt: channels.connectedAt, disconnectedAt: channels.disconnectedAt })
        .from(channels)
        .where(inOwned(channels.workspaceId, owned));
      return single(list.map((w) => ({ ...w, channels: chans.filter((c) => c.workspaceId === w.id) })));
    },
  },
  {
    name: "contacts",
    description: "Customers who wrote to the workspaces you own",
    fields: { id: "Contact id", workspaceId: "Workspace", channelId: "Channel", identity: "Meta's id for the customer (BSUID, wa_id, IGSID or PSID)", waId: "WhatsApp number", bsuid: "WhatsApp business-scoped user id", name: "Profile name", username: "Instagram username", updatedAt: "Last change" },
    load: ({ db, owned }, after) =>
      byKey((limit, cursor) => db.select().from(contacts).where(and(inOwned(contacts.workspaceId, owned), cursor)).orderBy(asc(contacts.id)).limit(limit), contacts.id, (c) => c.id, after),
  },
  {
    name: "conversations",
    description: "Conversations in the workspaces you own",
    fields: { id: "Conversation id", workspaceId: "Workspace", channelId: "Channel", contactId: "Contact", lastMessageAt: "Latest message (Meta's time)", lastMessagePreview: "Preview of the latest message", messageCount: "Messages received or sent" },
    load: ({ db, owned }, after) =>
      byKey(
        (limit, cursor) =>
          db
            .select({ id: conversations.id, workspaceId: conversations.workspaceId, channelId: conversations.channelId, contactId: conversations.contactId, lastMessageAt: conversations.lastMessageAt, lastMessagePreview: conversations.lastMessagePreview, messageCount: conversations.messageCount })
            .from(conversations)
            .where(and(inOwned(conversations.workspaceId, owned), cursor))
            .orderBy(asc(conversations.id))
            .limit(limit),
        conversations.id,
        (c) => c.id,
        after,
      ),
  },
  {
    name: "messages",
    description: "Messages of those conversations",
    fields: { conversationId: "Conversation", seq: "Arrival order", externalId: "Meta's message id", direction: "in (from the customer) or out", type: "Message type", text: "Text", body: "The whole message as normalised from Meta", timestamp: "Meta's time", status: "Delivery status", reactions: "Reactions", deletedAt: "When the sender deleted it" },
    load: async ({ db, owned }, after) => {
      const [conversationId, seq] = after ? [after.slice(0, after.lastIndexOf("|")), Number(after.slice(after.lastIndexOf("|") + 1))] : [null, 0];
      const rows = await db
        .select({ conversationId: messages.conversationId, seq: messages.seq, externalId: messages.externalId, direction: messages.direction, type: messages.type, text: messages.text, body: messages.body, timestamp: messages.timestamp, status: messages.status, reactions: messages.reactions, deletedAt: messages.deletedAt })
        .from(messages)
        .where(
          and(
            inOwned(messages.workspaceId, owned),
            conversationId === null ? undefined : or(gt(messages.conversationId, conversationId), and(eq(messages.conversationId, conversationId), gt(messages.seq, seq))),
          ),
        )
        .orderBy(asc(messages.conversationId), asc(messages.seq))
        .limit(MESSAGE_PAGE);
      const last = rows.at(-1);
      return { items: rows, next: rows.length === MESSAGE_PAGE && last ? `${last.conversationId}|${last.seq}` : null };
    },
  },
  {
    name: "auditEntries",
    description: "Security log entries about you or made by you",
    fields: { id: "Entry id", workspaceId: "Workspace, if any", action: "What happened", targetType: "What it concerned", at: "When", detail: "Details (never passwords, tokens or addresses)" },
    load: ({ db, userId }, after) =>
      byKey(
        (limit, cursor) =>
          db
            .select({ id: auditLog.id, workspaceId: auditLog.workspaceId, action: auditLog.action, targetType: auditLog.targetType, at: auditLog.at, detail: auditLog.detail })
            .from(auditLog)
            .where(and(or(eq(auditLog.actorUserId, userId), and(eq(auditLog.targetType, "user"), eq(auditLog.targetId, userId))), cursor))
            .orderBy(asc(auditLog.id))
            .limit(limit),
        auditLog.id,
        (a) => a.id,
        after,
      ),
  },
  {
    name: "rightsRequests",
    description: "Your privacy requests and how they ended",
    fields: { kind: "access, erasure, restriction, objection…", status: "received, in_progress, completed, refused or cancelled", receivedAt: "Received", dueAt: "Due (one month)", completedAt: "Closed", outcome: "Result" },
    load: async ({ db, userId }) =>
      single(await db.select({ kind: rightsRequests.kind, status: rightsRequests.status, receivedAt: rightsRequests.receivedAt, dueAt: rightsRequests.dueAt, completedAt: rightsRequests.completedAt, outcome: rightsRequests.outcome }).from(rightsRequests).where(and(eq(rightsRequests.subjectType, "user"), eq(rightsRequests.subjectId, userId)))),
  },
];

/** Records an access request and its export job (the caller starts it with `advanceExport`). */
export async function requestExport(env: Cloudflare.Env, userId: string, now = Date.now()): Promise<ExportJob> {
  const db = drizzle(env.DB);
  const request = newRequest({ kind: "access", subjectType: "user", subjectId: userId, source: "self_service", status: "in_progress" }, now);
  const job: ExportJob = {
    id: `ex_${crypto.randomUUID()}`,
    userId,
    requestId: request.id,
    status: "pending",
    section: 0,
    cursor: null,
    chunks: 0,
    bytes: 0,
    leaseUntil: null,
    createdAt: now,
    readyAt: null,
    expiresAt: now + EXPORT_KEEP_MS,
  };
  await db.batch([
    db.insert(rightsRequests).values(request),
    db.insert(exportJobs).values(job),
    auditStatement(env.DB, { action: "privacy.export_requested", actorUserId: userId, targetType: "export", targetId: job.id }, now),
  ]);
  return job;
}

/**
 * Builds the export until it is ready or `budgetMs` is spent. Only the lease holder writes, and each
 * step commits its chunk and the job's new position together (the chunk's key is its position, so
 * even a writer whose lease was taken over cannot add a chunk twice).
 */
export async function advanceExport(env: Cloudflare.Env, jobId: string, options: { now?: number; budgetMs?: number; maxSteps?: number } = {}): Promise<ExportJob | null> {
  const db = drizzle(env.DB);
  const now = options.now ?? Date.now();
  const started = Date.now();
  const [claimed] = await db
    .update(exportJobs)
    .set({ leaseUntil: now + LEASE_MS })
    .where(and(eq(exportJobs.id, jobId), eq(exportJobs.status, "pending"), or(isNull(exportJobs.leaseUntil), lt(exportJobs.leaseUntil, now))))
    .returning();
  if (!claimed) return null;
  let job = claimed;
  const owned = (await db.select({ id: memberships.workspaceId }).from(memberships).where(and(eq(memberships.userId, job.userId), eq(memberships.role, "owner")))).map((m) => m.id);
  const scope: Scope = { db, userId: job.userId, owned };
  for (let step = 0; step < (options.maxSteps ?? Infinity) && Date.now() - started < (options.budgetMs ?? 20_000); step++) {
    const section = SECTIONS[job.section];
    if (!section) {
      await db.batch([
        db.update(exportJobs).set({ status: "ready", readyAt: now, leaseUntil: null }).where(eq(exportJobs.id, job.id)),
        closeRequest(env.DB, job.requestId, { status: "completed", outcome: "Export ready for download", receipt: { exportId: job.id, sections: SECTIONS.length, bytes: job.bytes } }, now),
        auditStatement(env.DB, { action: "privacy.export_ready", actorUserId: job.userId, targetType: "export", targetId: job.id, detail: { bytes: job.bytes } }, now),
      ]);
      return { ...job, status: "ready", readyAt: now, leaseUntil: null };
    }
    const page = await section.load(scope, job.cursor);
    const data = JSON.stringify({ section: section.name, items: page.items });
    const next = { section: page.next === null ? job.section + 1 : job.section, cursor: page.next, chunks: job.chunks + 1, bytes: job.bytes + data.length };
    await db.batch([
      db.insert(exportChunks).values({ jobId: job.id, seq: job.chunks, data }),
      db.update(exportJobs).set(next).where(and(eq(exportJobs.id, job.id), eq(exportJobs.chunks, job.chunks))),
    ]);
    job = { ...job, ...next };
  }
  await db.update(exportJobs).set({ leaseUntil: null }).where(eq(exportJobs.id, job.id));
  return job;
}

/** Pending exports nobody is building (their request ended early): the scheduled run resumes them. */
export async function resumeExports(env: Cloudflare.Env, now: number): Promise<number> {
  const pending = await drizzle(env.DB)
    .select({ id: exportJobs.id })
    .from(exportJobs)
    .where(and(eq(exportJobs.status, "pending"), or(isNull(exportJobs.leaseUntil), lt(exportJobs.leaseUntil, now))))
    .limit(20);
  for (const { id } of pending) await advanceExport(env, id, { now });
  return pending.length;
}

/** The bundle as a stream: a header describing every section, then the chunks in order. */
export function exportStream(db: D1Database, job: ExportJob): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const description = Object.fromEntries(SECTIONS.map((s) => [s.name, { description: s.description, fields: s.fields }]));
  const header = JSON.stringify({ format: EXPORT_FORMAT, exportId: job.id, generatedAt: job.readyAt, sections: description }).slice(0, -1);
  let seq = 0;
  return new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode(`${header},"data":[`));
    },
    async pull(controller) {
      const rows = await drizzle(db)
        .select({ seq: exportChunks.seq, data: exportChunks.data })
        .from(exportChunks)
        .where(and(eq(exportChunks.jobId, job.id), gte(exportChunks.seq, seq)))
        .orderBy(asc(exportChunks.seq))
        .limit(20);
      for (const row of rows) controller.enqueue(encoder.encode(`${row.seq === 0 ? "" : ","}${row.data}`));
      seq += rows.length;
      if (rows.length < 20) {
        controller.enqueue(encoder.encode("]}"));
        controller.close();
      }
    },
  });
}
