/**
 * @module
 * A workspace's conversations and their messages. Every query filters by the workspace the member
 * is acting in (see auth/workspace-access.ts), so another tenant's conversation is a 404.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { requirePermission, type WorkspaceEnv } from "../auth/workspace-access.ts";
import { channels, contacts, conversations } from "../db/schema.ts";
import { DeliveryStatus, Direction, MessageContent, MetaError, MessageType, Product } from "../events.ts";
import { errorResponse } from "../http-error.ts";
import { Cursor, Limit, WorkspaceParam, errorResponses } from "../api-schemas.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { TimeIdCursor, newestFirst, olderThan, page } from "../keyset.ts";
import { validationHook } from "../validation.ts";


const ConversationSummary = z
  .object({
    id: z.string().openapi({ description: "Conversation id (its Durable Object id)" }),
    channel: z.object({ id: z.string(), kind: Product, name: z.string() }),
    contact: z.object({
      id: z.string(),
      identity: z.string().openapi({ description: "BSUID when Meta sent one, else wa_id / IGSID / PSID" }),
      waId: z.string().nullable(),
      bsuid: z.string().nullable(),
      name: z.string().nullable(),
      username: z.string().nullable(),
    }),
    lastMessageAt: z.number().int().openapi({ description: "Meta timestamp of the newest message, epoch ms" }),
    lastMessagePreview: z.string().nullable(),
    lastDirection: Direction.nullable(),
    messageCount: z.number().int(),
  })
  .openapi("ConversationSummary");

const Message = z
  .object({
    seq: z.number().int().openapi({ description: "Gap-free arrival sequence within the conversation" }),
    externalId: z.string().openapi({ description: "Meta's id (wamid / mid)" }),
    direction: Direction,
    type: MessageType,
    timestamp: z.number().int().openapi({ description: "Meta's timestamp, epoch ms" }),
    arrivedAt: z.number().int(),
    text: z.string().nullable(),
    content: MessageContent,
    status: DeliveryStatus.nullable(),
    error: MetaError.nullable(),
    reactions: z.array(z.object({ actor: Direction, emoji: z.string(), timestamp: z.number().int() })),
    deleted: z.boolean(),
    deletedAt: z.number().int().nullable(),
  })
  .openapi("Message");

const listConversations = createRoute({
  method: "get",
  path: "/workspaces/{workspaceId}/conversations",
  summary: "The workspace's conversations, newest activity first",
  request: { params: WorkspaceParam, query: z.object({ limit: Limit, cursor: Cursor, channelId: z.string().max(128).optional() }) },
  responses: {
    200: {
      description: "A page of conversations",
      content: {
        "application/json": {
          schema: z.object({ conversations: z.array(ConversationSummary), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const listMessages = createRoute({
  method: "get",
  path: "/workspaces/{workspaceId}/conversations/{id}/messages",
  summary: "A conversation's messages in display order (Meta time, then arrival)",
  description: "Without a cursor: the newest page. `nextCursor` pages backwards to older messages.",
  request: {
    params: WorkspaceParam.extend({ id: z.string().regex(/^[0-9a-f]{64}$/).openapi({ description: "Conversation id" }) }),
    query: z.object({ limit: Limit, cursor: Cursor }),
  },
  responses: {
    200: {
      description: "A page of messages, oldest first",
      content: {
        "application/json": { schema: z.object({ messages: z.array(Message), nextCursor: z.string().nullable() }) },
      },
    },
    ...errorResponses,
  },
});

const MessageCursor = z.object({ t: z.number().int(), s: z.number().int() });

export const conversationRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

conversationRoutes.use("/workspaces/:workspaceId/conversations", requirePermission("conversations.read"));
conversationRoutes.use("/workspaces/:workspaceId/conversations/*", requirePermission("conversations.read"));

conversationRoutes.openapi(listConversations, async (c) => {
  const { limit, cursor, channelId } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, TimeIdCursor) : undefined;
  if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
  const db = drizzle(c.env.DB);
  const rows = await db
    .select({ conversation: conversations, contact: contacts, channel: { id: channels.id, kind: channels.kind, name: channels.name } })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .innerJoin(channels, eq(channels.id, conversations.channelId))
    .where(
      and(
        eq(conversations.workspaceId, c.var.workspaceId),
        channelId ? eq(conversations.channelId, channelId) : undefined,
        olderThan(conversations.lastMessageAt, conversations.id, after),
      ),
    )
    .orderBy(...newestFirst(conversations.lastMessageAt, conversations.id))
    .limit(limit + 1);
  const { items, nextCursor } = page(rows, limit, (r) => ({ t: r.conversation.lastMessageAt, id: r.conversation.id }));
  return c.json(
    {
      conversations: items.map(({ conversation: cv, contact, channel }) => ({
        id: cv.id,
        channel,
        contact: {
          id: contact.id,
          identity: contact.identity,
          waId: contact.waId,
          bsuid: contact.bsuid,
          name: contact.name,
          username: contact.username,
        },
        lastMessageAt: cv.lastMessageAt,
        lastMessagePreview: cv.lastMessagePreview,
        lastDirection: cv.lastDirection,
        messageCount: cv.messageCount,
      })),
      nextCursor,
    },
    200,
  );
});

conversationRoutes.openapi(listMessages, async (c) => {
  const { id } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const before = cursor ? decodeCursor(cursor, MessageCursor) : undefined;
  if (before === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
  const known = await drizzle(c.env.DB)
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.id, id), eq(conversations.workspaceId, c.var.workspaceId)))
    .get();
  if (!known) return errorResponse(c, 404, "not_found", `No conversation ${id}`);
  const stub = c.env.CONVERSATION.get(c.env.CONVERSATION.idFromString(id));
  const page = await stub.history({ limit, ...(before ? { before: { timestamp: before.t, seq: before.s } } : {}) });
  return c.json(
    {
      messages: page.messages.map((m) => ({
        seq: m.seq,
        externalId: m.content.externalId,
        direction: m.content.direction,
        type: m.content.type,
        timestamp: m.content.timestamp,
        arrivedAt: m.arrivedAt,
        text: m.content.text,
        content: m.content,
        status: m.status,
        error: m.error,
        reactions: m.reactions,
        deleted: m.deletedAt !== null,
        deletedAt: m.deletedAt,
      })),
      nextCursor: page.next ? encodeCursor({ t: page.next.timestamp, s: page.next.seq }) : null,
    },
    200,
  );
});

