/**
 * @module
 * Agents answering customers: messages (text, media, templates), reactions, media upload and download,
 * and a channel's WhatsApp templates. The conversation's object decides and orders every send; the
 * route checks who asks and writes the result to D1 before answering.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { WorkspaceEnv } from "../auth/workspace-access.ts";
import { jsonBody, errorResponses } from "../api-schemas.ts";
import { errorResponse } from "../http-error.ts";
import { Message, messageView } from "../message-view.ts";
import { ExternalId, OutboundContent } from "../meta/send.ts";
import { validationHook } from "../validation.ts";
import { ConversationParams, conversationOf, conversationStub, mirrorNow, refusalResponse, refusalResponses } from "./conversations.ts";

const SendBody = z.intersection(
  OutboundContent,
  z.object({
    idempotencyKey: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,128}$/, "8–128 letters, digits, - or _ (a fresh random value per message; the same value on retries)")
      .openapi({ description: "Chosen by the client per message: sending again with the same key never sends twice" }),
    replyTo: ExternalId.optional().openapi({ description: "Quote this message (its Meta id); not with reactions" }),
    humanAgent: z.boolean().optional().openapi({ description: "Messenger/Instagram after 24 h: a person is answering (HUMAN_AGENT tag, up to 7 days)" }),
  }),
);

const messageResponse = (description: string) => ({ description, content: { "application/json": { schema: z.object({ message: Message }) } } });

export const sendingRoutes = new OpenAPIHono<WorkspaceEnv>({ defaultHook: validationHook });

sendingRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/conversations/{id}/messages",
    summary: "Send a message or a reaction to the customer",
    description:
      "Text, media (a `mediaId` from the upload route), templates (WhatsApp) and reactions. A message is answered at once as `pending` " +
      "(202) and becomes `sent` when Meta returns its id; retryable failures are retried with backoff, permanent ones end as `failed` with " +
      "Meta's code and what to do. A send Meta would refuse (window closed…) is refused here with 422 and what is allowed instead. " +
      "A reaction is sent at once and answers the message it reacts to (200).",
    request: { params: ConversationParams, body: jsonBody(SendBody) },
    responses: {
      200: messageResponse("Reaction sent: the message reacted to, with its reactions"),
      202: messageResponse("Accepted: the message as it stands (pending, or as far as it got if this key was used before)"),
      ...refusalResponses,
      ...errorResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { idempotencyKey, replyTo, humanAgent, ...content } = c.req.valid("json");
    if (!(await conversationOf(c, id))) return errorResponse(c, 404, "not_found", "No such conversation");
    const stub = conversationStub(c.env, id);
    if (content.kind === "reaction") {
      if (replyTo) return errorResponse(c, 400, "invalid_request", "replyTo: reactions cannot quote a message");
      const result = await stub.react({ idempotencyKey, target: content.targetExternalId, emoji: content.emoji, sentBy: c.var.user.id });
      if (!result.ok) return refusalResponse(c, result);
      await mirrorNow(c.env, result.mirror);
      return c.json({ message: messageView(result.message) }, 200);
    }
    const result = await stub.send({ idempotencyKey, content, replyTo: replyTo ?? null, humanAgent: humanAgent ?? false, sentBy: c.var.user.id });
    if (!result.ok) return refusalResponse(c, result);
    await mirrorNow(c.env, result.mirror);
    return c.json({ message: messageView(result.message) }, 202);
  },
);

