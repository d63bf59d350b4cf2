/**
 * @module
 * A workspace's conversations: the filtered list, one conversation, its messages and notes, and its
 * workflow (status, assignee, labels, read marks). Every query filters by the workspace the member
 * is acting in (see auth/workspace-access.ts), so another tenant's conversation is a 404.
 *
 * The conversation's Durable Object owns its state; D1 holds the mirror lists are read from. Changes
 * made here go through the DO and are written to D1 before the answer, so the next list read shows them.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, eq, gt, isNull, lte, or, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Context } from "hono";
import { requirePermission, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { channels, contactProfiles, contactRestrictions, contacts, conversationReads, conversations, conversationStatuses, memberships } from "../db/schema.ts";
import { can } from "../permissions.ts";
import type { Refusal } from "../../durable-objects/conversation.ts";
import { Direction, Product } from "../events.ts";
import { errorResponse } from "../http-error.ts";
import { Cursor, Limit, WorkspaceParam, errorDoc, errorResponses, jsonBody } from "../api-schemas.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { TimeIdCursor, newestFirst, olderThan, page } from "../keyset.ts";
import { announce } from "../live.ts";
import { Message, Note, messageView } from "../message-view.ts";
import { writeMirror, type MirrorBatch } from "../mirror.ts";
import { SendWindow, sendWindow } from "../send-window.ts";
import { validationHook } from "../validation.ts";
import { effectiveStatus } from "../workflow.ts";

export const ConversationStatus = z.enum(conversationStatuses).openapi("ConversationStatus");
const Label = z.string().trim().min(1).max(40).regex(/^[^\u0000-\u001f]+$/, "labels cannot contain control characters");

export const ConversationSummary = z
  .object({
    id: z.string().openapi({ description: "Conversation id (its Durable Object id)" }),
    channel: z.object({ id: z.string(), kind: Product, name: z.string() }),
    contact: z.object({
      id: z.string(),
      identity: z.string().openapi({ description: "BSUID when Meta sent one, else wa_id / IGSID / PSID" }),
      waId: z.string().nullable(),
      bsuid: z.string().nullable(),
      name: z.string().nullable().openapi({ description: "The name an admin gave the contact, else the one Meta reports" }),
      username: z.string().nullable(),
    }),
    lastMessageAt: z.number().int().openapi({ description: "Meta timestamp of the newest message, epoch ms" }),
    lastMessagePreview: z.string().nullable(),
    lastDirection: Direction.nullable(),
    messageCount: z.number().int(),
    status: ConversationStatus.openapi({ description: "A snooze that ran out reads as open" }),
    snoozedUntil: z.number().int().nullable(),
    assigneeId: z.string().nullable(),
    labels: z.array(z.string()),
    unreadCount: z.number().int().openapi({ description: "Customer messages the calling member has not read" }),
    window: SendWindow,
    rev: z.number().int().openapi({ description: "The conversation revision D1 holds" }),
  })
  .openapi("ConversationSummary");
export type ConversationSummary = z.infer<typeof ConversationSummary>;

export const ConversationParams = WorkspaceParam.extend({
  id: z.string().regex(/^[0-9a-f]{64}$/, "not a conversation id").openapi({ description: "Conversation id" }),
});

const ListQuery = z.object({
  limit: Limit,
  cursor: Cursor,
  channelId: z.string().max(128).optional(),
  status: ConversationStatus.optional(),
  assignee: z.string().max(64).optional().openapi({ description: "`me`, `unassigned` or a member's user id" }),
  unread: z.enum(["true", "false"]).optional().openapi({ description: "`true`: only conversations with unread customer messages" }),
  label: Label.optional(),
});

const MessageCursor = z.object({ t: z.number().int(), s: z.number().int() });

const WorkflowPatch = z
  .object({
    status: ConversationStatus.optional(),
    snoozedUntil: z.number().int().positive().optional().openapi({ description: "Required with status `snoozed`: when it reopens (epoch ms)" }),
    assigneeId: z.string().max(64).nullable().optional().openapi({ description: "A member's user id, or null to unassign" }),
    labels: z.array(Label).max(20).optional().openapi({ description: "Replaces the labels" }),
  })
  .refine((p) => Object.keys(p).length > 0, "nothing to change: give status, snoozedUntil, assigneeId or labels")
  .refine((p) => p.status !== "snoozed" || p.snoozedUntil !== undefined, { message: "snoozedUntil is required to snooze", path: ["snoozedUntil"] })
  .refine((p) => p.snoozedUntil === undefined || p.status === "snoozed", { message: "snoozedUntil only goes with status snoozed", path: ["snoozedUntil"] });

/** What a conversation's object may answer instead of doing what was asked (see {@link refusalResponse}). */
export const refusalResponses = {
  409: errorDoc("The channel cannot send (needs reconnection, disconnected)"),
  422: errorDoc("Meta would refuse this (window closed, unknown target); the message says what is allowed instead"),
  502: errorDoc("Meta answered something unexpected"),
  503: errorDoc("Meta or the vault is unavailable right now; nothing was sent, try again"),
};

const summaryResponse = { description: "The conversation", content: { "application/json": { schema: ConversationSummary } } };

/** The list's SELECT, shared by the list and single-conversation reads. */
function summaries(c: Context<WorkspaceEnv>, ...conditions: (SQL | undefined)[]) {
  const db = drizzle(c.env.DB);
  return db
    .select({
      conversation: conversations,
      contact: contacts,
      displayName: contactProfiles.displayName,
      channel: { id: channels.id, kind: channels.kind, name: channels.name },
      inboundSeen: conversationReads.inboundSeen,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .innerJoin(channels, eq(channels.id, conversations.channelId))
    .leftJoin(contactProfiles, eq(contactProfiles.contactId, contacts.id))
    .leftJoin(conversationReads, and(eq(conversationReads.conversationId, conversations.id), eq(conversationReads.userId, c.var.user.id)))
    .where(and(eq(conversations.workspaceId, c.var.workspaceId), ...conditions));
}

type SummaryRow = Awaited<ReturnType<ReturnType<typeof summaries>["all"]>>[number];

function toSummary(row: SummaryRow, now: number): ConversationSummary {
  const { conversation: cv, contact, channel } = row;
  return {
    id: cv.id,
    channel,
    contact: {
      id: contact.id,
      identity: contact.identity,
      waId: contact.waId,
      bsuid: contact.bsuid,
      name: row.displayName ?? contact.name,
      username: contact.username,
    },
    lastMessageAt: cv.lastMessageAt,
    lastMessagePreview: cv.lastMessagePreview,
    lastDirection: cv.lastDirection,
    messageCount: cv.messageCount,
    ...effectiveStatus(cv.status, cv.snoozedUntil, now),
    assigneeId: cv.assigneeId,
    labels: cv.labels,
    unreadCount: Math.max(0, cv.inboundCount - (row.inboundSeen ?? 0)),
    window: sendWindow({ product: channel.kind, lastInboundAt: cv.lastInboundAt, freeEntryUntil: cv.freeEntryUntil }, now),
    rev: cv.contentRev,
  };
}

function statusFilter(status: z.infer<typeof ConversationStatus> | undefined, now: number): SQL | undefined {
  const snoozeOver = and(eq(conversations.status, "snoozed"), lte(conversations.snoozedUntil, now));
  if (status === "open") return or(eq(conversations.status, "open"), snoozeOver);
  if (status === "snoozed") return and(eq(conversations.status, "snoozed"), gt(conversations.snoozedUntil, now));
  return status ? eq(conversations.status, status) : undefined;
}

function assigneeFilter(assignee: string | undefined, userId: string): SQL | undefined {
  if (assignee === undefined) return undefined;
  if (assignee === "unassigned") return isNull(conversations.assigneeId);
  return eq(conversations.assigneeId, assignee === "me" ? userId : assignee);
}

/** The conversation, if it belongs to the member's workspace. */
export async function conversationOf(c: Context<WorkspaceEnv>, id: string) {
  return drizzle(c.env.DB)
    .select({ id: conversations.id, channelId: conversations.channelId, contactId: conversations.contactId, inboundCount: conversations.inboundCount })
    .from(conversations)
    .where(and(eq(conversations.id, id), eq(conversations.workspaceId, c.var.workspaceId)))
    .get();
}

export const conversationStub = (env: Cloudflare.Env, id: string) => env.CONVERSATION.get(env.CONVERSATION.idFromString(id));

/** Writes what a DO call changed to D1 before answering, then tells the live inboxes. */
export async function mirrorNow(env: Cloudflare.Env, batch: MirrorBatch | null): Promise<void> {
  if (!batch) return;
  await writeMirror(env.DB, [batch]);
  await announce(env, [batch]);
}

export function refusalResponse(c: Context, refusal: Refusal) {
  return errorResponse(c, refusal.status, refusal.code, refusal.message);
}

export const conversationRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

conversationRoutes.use("/workspaces/:workspaceId/conversations", requirePermission("conversations.read"));
conversationRoutes.use("/workspaces/:workspaceId/conversations/*", requirePermission("conversations.read"));

conversationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/conversations",
    summary: "The workspace's conversations, newest activity first, filtered",
    request: { params: WorkspaceParam, query: ListQuery },
    responses: {
      200: {
        description: "A page of conversations",
        content: { "application/json": { schema: z.object({ conversations: z.array(ConversationSummary), nextCursor: z.string().nullable() }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { limit, cursor, channelId, status, assignee, unread, label } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, TimeIdCursor) : undefined;
    if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
    const now = Date.now();
    const rows = await summaries(
      c,
      // Restricted contacts are kept but hidden from those who do not manage contacts.
      can(c.var.role, "contacts.manage") ? undefined : sql`NOT EXISTS (SELECT 1 FROM ${contactRestrictions} WHERE ${contactRestrictions.contactId} = ${conversations.contactId})`,
      channelId ? eq(conversations.channelId, channelId) : undefined,
      statusFilter(status, now),
      assigneeFilter(assignee, c.var.user.id),
      unread === "true" ? sql`${conversations.inboundCount} > coalesce(${conversationReads.inboundSeen}, 0)` : undefined,
      label ? sql`EXISTS (SELECT 1 FROM json_each(${conversations.labels}) WHERE value = ${label})` : undefined,
      olderThan(conversations.lastMessageAt, conversations.id, after),
    )
      .orderBy(...newestFirst(conversations.lastMessageAt, conversations.id))
      .limit(limit + 1);
    const { items, nextCursor } = page(rows, limit, (r) => ({ t: r.conversation.lastMessageAt, id: r.conversation.id }));
    return c.json({ conversations: items.map((row) => toSummary(row, now)), nextCursor }, 200);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/conversations/{id}",
    summary: "One conversation: its list entry, workflow state and send window",
    request: { params: ConversationParams },
    responses: { 200: summaryResponse, ...errorResponses },
  }),
  async (c) => {
    const row = await summaries(c, eq(conversations.id, c.req.valid("param").id)).get();
    if (!row) return errorResponse(c, 404, "not_found", "No such conversation");
    return c.json(toSummary(row, Date.now()), 200);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/workspaces/{workspaceId}/conversations/{id}",
    summary: "Change status (open, pending, snoozed until, resolved), assignee or labels",
    description: "A resolved or snoozed conversation reopens by itself when the customer writes again.",
    request: { params: ConversationParams, body: jsonBody(WorkflowPatch) },
    responses: { 200: summaryResponse, ...refusalResponses, ...errorResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    if (!(await conversationOf(c, id))) return errorResponse(c, 404, "not_found", "No such conversation");
    if (patch.assigneeId) {
      const member = await drizzle(c.env.DB)
        .select({ userId: memberships.userId })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, c.var.workspaceId), eq(memberships.userId, patch.assigneeId)))
        .get();
      if (!member) return errorResponse(c, 422, "unknown_assignee", `${patch.assigneeId} is not a member of this workspace`);
    }
    if (patch.snoozedUntil !== undefined && patch.snoozedUntil <= Date.now()) {
      return errorResponse(c, 400, "invalid_request", "snoozedUntil: must be in the future");
    }
    const result = await conversationStub(c.env, id).updateWorkflow(patch);
    if (!result.ok) return refusalResponse(c, result);
    await mirrorNow(c.env, result.mirror);
    const row = await summaries(c, eq(conversations.id, id)).get();
    return c.json(toSummary(row!, Date.now()), 200);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/conversations/{id}/read",
    summary: "Mark the conversation read for me, and tell Meta the customer's messages were read",
    description: "Meta is told with WhatsApp's read receipt or the Messenger/Instagram `mark_seen` action. If Meta cannot be reached the member's own read mark still counts (`meta` says what happened).",
    request: { params: ConversationParams },
    responses: {
      200: {
        description: "Read",
        content: {
          "application/json": {
            schema: z.object({ unreadCount: z.literal(0), meta: z.object({ ok: z.boolean(), message: z.string().nullable() }) }),
          },
        },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const conversation = await conversationOf(c, id);
    if (!conversation) return errorResponse(c, 404, "not_found", "No such conversation");
    const now = Date.now();
    await drizzle(c.env.DB)
      .insert(conversationReads)
      .values({ conversationId: id, userId: c.var.user.id, workspaceId: c.var.workspaceId, inboundSeen: conversation.inboundCount, readAt: now })
      .onConflictDoUpdate({
        target: [conversationReads.conversationId, conversationReads.userId],
        set: { inboundSeen: sql`max(${conversationReads.inboundSeen}, excluded.inbound_seen)`, readAt: now },
      });
    const meta = await conversationStub(c.env, id).markRead();
    return c.json({ unreadCount: 0 as const, meta: meta.ok ? { ok: true, message: null } : { ok: false, message: meta.message } }, 200);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/conversations/{id}/messages",
    summary: "A conversation's messages in display order (Meta time, then arrival)",
    description: "Without a cursor: the newest page. `nextCursor` pages backwards to older messages.",
    request: { params: ConversationParams, query: z.object({ limit: Limit, cursor: Cursor }) },
    responses: {
      200: {
        description: "A page of messages, oldest first",
        content: { "application/json": { schema: z.object({ messages: z.array(Message), nextCursor: z.string().nullable() }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const before = cursor ? decodeCursor(cursor, MessageCursor) : undefined;
    if (before === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
    if (!(await conversationOf(c, id))) return errorResponse(c, 404, "not_found", `No conversation ${id}`);
    const history = await conversationStub(c.env, id).history({ limit, ...(before ? { before: { timestamp: before.t, seq: before.s } } : {}) });
    return c.json(
      {
        messages: history.messages.map(messageView),
        nextCursor: history.next ? encodeCursor({ t: history.next.timestamp, s: history.next.seq }) : null,
      },
      200,
    );
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/conversations/{id}/notes",
    summary: "Private notes on the conversation (members only, never sent to the customer)",
    request: { params: ConversationParams },
    responses: { 200: { description: "Notes, oldest first", content: { "application/json": { schema: z.object({ notes: z.array(Note) }) } } }, ...errorResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await conversationOf(c, id))) return errorResponse(c, 404, "not_found", "No such conversation");
    return c.json({ notes: await conversationStub(c.env, id).notes() }, 200);
  },
);

conversationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/conversations/{id}/notes",
    summary: "Add a private note",
    request: { params: ConversationParams, body: jsonBody(z.object({ text: z.string().trim().min(1).max(4000) })) },
    responses: { 201: { description: "The note", content: { "application/json": { schema: Note } } }, ...refusalResponses, ...errorResponses },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await conversationOf(c, id))) return errorResponse(c, 404, "not_found", "No such conversation");
    const result = await conversationStub(c.env, id).addNote(c.var.user.id, c.req.valid("json").text);
    if (!result.ok) return refusalResponse(c, result);
    await mirrorNow(c.env, result.mirror);
    return c.json(result.note, 201);
  },
);
