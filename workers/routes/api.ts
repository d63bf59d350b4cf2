/**
 * @module
 * The read API. Each route's zod schema validates the request, types the handler and the
 * `hono/client` of the web app, and generates the OpenAPI 3.1 document at `/api/openapi.json`.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bearerAuth } from "../bearer-auth.ts";
import { channels, contacts, conversations, quarantine } from "../db/schema.ts";
import { DeliveryStatus, Direction, MessageContent, MetaError, MessageType, Product, QuarantineReason } from "../events.ts";
import { ErrorBody, errorResponse } from "../http-error.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";

const Limit = z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size (1–200)" });
const Cursor = z.string().max(512).optional().openapi({ description: "`nextCursor` of the previous page" });

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

const QuarantinedItem = z
  .object({
    id: z.string(),
    receivedAt: z.number().int(),
    reason: QuarantineReason,
    detail: z.string(),
    object: z.string().nullable(),
    field: z.string().nullable(),
    accountId: z.string().nullable(),
    payload: z.unknown(),
  })
  .openapi("QuarantinedItem");

const errors = {
  400: { description: "Invalid request", content: { "application/json": { schema: ErrorBody } } },
  401: { description: "Missing or wrong bearer token", content: { "application/json": { schema: ErrorBody } } },
};

const listConversations = createRoute({
  method: "get",
  path: "/conversations",
  summary: "Conversations, newest activity first",
  security: [{ bearer: [] }],
  request: { query: z.object({ limit: Limit, cursor: Cursor, channelId: z.string().max(128).optional() }) },
  responses: {
    200: {
      description: "A page of conversations",
      content: {
        "application/json": {
          schema: z.object({ conversations: z.array(ConversationSummary), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errors,
  },
});

const listMessages = createRoute({
  method: "get",
  path: "/conversations/{id}/messages",
  summary: "A conversation's messages in display order (Meta time, then arrival)",
  description: "Without a cursor: the newest page. `nextCursor` pages backwards to older messages.",
  security: [{ bearer: [] }],
  request: {
    params: z.object({ id: z.string().regex(/^[0-9a-f]{64}$/).openapi({ description: "Conversation id" }) }),
    query: z.object({ limit: Limit, cursor: Cursor }),
  },
  responses: {
    200: {
      description: "A page of messages, oldest first",
      content: {
        "application/json": { schema: z.object({ messages: z.array(Message), nextCursor: z.string().nullable() }) },
      },
    },
    404: { description: "No such conversation", content: { "application/json": { schema: ErrorBody } } },
    ...errors,
  },
});

const listQuarantine = createRoute({
  method: "get",
  path: "/quarantine",
  summary: "Signed webhook items that could not be understood or routed, newest first",
  security: [{ bearer: [] }],
  request: { query: z.object({ limit: Limit, cursor: Cursor, reason: QuarantineReason.optional() }) },
  responses: {
    200: {
      description: "A page of quarantined items",
      content: {
        "application/json": { schema: z.object({ items: z.array(QuarantinedItem), nextCursor: z.string().nullable() }) },
      },
    },
    ...errors,
  },
});

const ConversationCursor = z.object({ t: z.number().int(), id: z.string() });
const MessageCursor = z.object({ t: z.number().int(), s: z.number().int() });

export const api = new OpenAPIHono<{ Bindings: Cloudflare.Env }>({
  defaultHook: (result, c) => {
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.join(".") || result.target;
      return errorResponse(c, 400, "invalid_request", `${where}: ${issue?.message ?? "invalid"}`);
    }
  },
});

api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
api.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "WeChatting API",
    version: "0.1.0",
    description: "Unified inbox for WhatsApp Business, Instagram and Messenger.",
  },
});

api.use("/conversations/*", bearerAuth());
api.use("/conversations", bearerAuth());
api.use("/quarantine", bearerAuth());

api.openapi(listConversations, async (c) => {
  const { limit, cursor, channelId } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, ConversationCursor) : undefined;
  if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
  const db = drizzle(c.env.DB);
  const rows = await db
    .select({ conversation: conversations, contact: contacts, channel: { id: channels.id, kind: channels.kind, name: channels.name } })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .innerJoin(channels, eq(channels.id, conversations.channelId))
    .where(
      and(
        channelId ? eq(conversations.channelId, channelId) : undefined,
        after
          ? or(
              lt(conversations.lastMessageAt, after.t),
              and(eq(conversations.lastMessageAt, after.t), lt(conversations.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(conversations.lastMessageAt), desc(conversations.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return c.json(
    {
      conversations: page.map(({ conversation: cv, contact, channel }) => ({
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
      nextCursor:
        rows.length > limit && last ? encodeCursor({ t: last.conversation.lastMessageAt, id: last.conversation.id }) : null,
    },
    200,
  );
});

api.openapi(listMessages, async (c) => {
  const { id } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const before = cursor ? decodeCursor(cursor, MessageCursor) : undefined;
  if (before === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
  const known = await drizzle(c.env.DB)
    .select({ id: conversations.id })
    .from(conversations)
    .where(eq(conversations.id, id))
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

const QuarantineCursor = z.object({ t: z.number().int(), id: z.string() });

api.openapi(listQuarantine, async (c) => {
  const { limit, cursor, reason } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, QuarantineCursor) : undefined;
  if (after === null) return errorResponse(c, 400, "invalid_cursor", "cursor is not a cursor this API issued");
  const rows = await drizzle(c.env.DB)
    .select()
    .from(quarantine)
    .where(
      and(
        reason ? eq(quarantine.reason, reason) : undefined,
        after
          ? or(lt(quarantine.receivedAt, after.t), and(eq(quarantine.receivedAt, after.t), lt(quarantine.id, after.id)))
          : undefined,
      ),
    )
    .orderBy(desc(quarantine.receivedAt), desc(quarantine.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return c.json(
    {
      items: page.map(({ dedupeKey: _, payload, ...row }) => ({ ...row, payload: JSON.parse(payload) as unknown })),
      nextCursor: rows.length > limit && last ? encodeCursor({ t: last.receivedAt, id: last.id }) : null,
    },
    200,
  );
});
