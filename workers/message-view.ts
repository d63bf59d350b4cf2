/**
 * @module
 * A message as the API and the live sockets show it: one shape for `GET …/messages`, WebSocket frames
 * and the web app's typed client.
 */
import { z } from "@hono/zod-openapi";
import type { StoredMessage } from "../durable-objects/conversation.ts";
import { DeliveryStatus, Direction, MessageContent, MessageType, MetaError } from "./events.ts";

/** Delivery as an agent sees it: `pending` until Meta returns an id, then Meta's statuses. */
export const MessageStatus = z.enum(["pending", ...DeliveryStatus.options]).openapi("MessageStatus");

export const Message = z
  .object({
    seq: z.number().int().openapi({ description: "Gap-free arrival sequence within the conversation" }),
    rev: z.number().int().openapi({ description: "The conversation revision that last changed this message" }),
    externalId: z.string().openapi({ description: "Meta's id (wamid / mid); `out:<idempotencyKey>` until Meta returns one" }),
    direction: Direction,
    type: MessageType,
    timestamp: z.number().int().openapi({ description: "Meta's timestamp, epoch ms (for our sends: when the agent sent it)" }),
    arrivedAt: z.number().int(),
    text: z.string().nullable(),
    content: MessageContent,
    status: MessageStatus.nullable(),
    error: MetaError.nullable().openapi({ description: "Why delivery failed: Meta's code, what happened and what to do" }),
    reactions: z.array(z.object({ actor: Direction, emoji: z.string(), timestamp: z.number().int() })),
    deleted: z.boolean(),
    deletedAt: z.number().int().nullable(),
    sentBy: z.string().nullable().openapi({ description: "The member who sent it from WeChatting" }),
    idempotencyKey: z.string().nullable(),
  })
  .openapi("Message");
export type Message = z.infer<typeof Message>;

export const Note = z
  .object({
    id: z.number().int(),
    rev: z.number().int(),
    authorId: z.string(),
    text: z.string(),
    createdAt: z.number().int(),
  })
  .openapi("Note", { description: "A private note: seen by members only, never sent to the customer" });
export type Note = z.infer<typeof Note>;

export function messageView(m: StoredMessage): Message {
  return {
    seq: m.seq,
    rev: m.rev,
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
    sentBy: m.sentBy,
    idempotencyKey: m.clientKey,
  };
}
