/**
 * @module
 * Agents answering customers: messages (text, media, templates), reactions, media upload and download,
 * and a channel's WhatsApp templates. The conversation's object decides and orders every send; the
 * route checks who asks and writes the result to D1 before answering.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { WorkspaceEnv } from "../auth/workspace-access.ts";
import { WorkspaceParam, errorDoc, errorResponses, jsonBody } from "../api-schemas.ts";
import { channelProblem, graphNode, openChannel } from "../channels/sender.ts";
import { errorResponse } from "../http-error.ts";
import { Message, messageView } from "../message-view.ts";
import { MessageTemplate, fetchInboundMedia, listTemplates, uploadMedia } from "../meta/media.ts";
import { ExternalId, MediaType, OutboundContent, type SendFailure } from "../meta/send.ts";
import { isContactRestricted } from "../privacy/contacts.ts";
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
    const conversation = await conversationOf(c, id);
    if (!conversation) return errorResponse(c, 404, "not_found", "No such conversation");
    // Visibly refused, never queued: a channel Meta no longer accepts cannot send anything.
    const problem = await channelProblem(c.env.DB, conversation.channelId);
    if (problem) return errorResponse(c, problem.status, problem.code, problem.message);
    if (await isContactRestricted(c.env.DB, conversation.contactId)) {
      return errorResponse(c, 409, "contact_restricted", "The workspace restricted processing for this contact: nothing can be sent to them until the restriction is lifted.");
    }
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


/** A failure at Meta as the API answers it: 503 when trying again may work, else 422 with Meta's reason. */
function failureResponse(c: Parameters<Parameters<typeof sendingRoutes.openapi>[1]>[0], failure: SendFailure) {
  return failure.retry === "never"
    ? errorResponse(c, 422, "meta_refused", `${failure.message}${failure.code ? ` (Meta code ${failure.code})` : ""}`)
    : errorResponse(c, 503, "meta_unavailable", failure.message);
}

const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

sendingRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{workspaceId}/conversations/{id}/media",
    summary: "Upload a file to send as media",
    description: "Multipart form with `file` and `mediaType` (image, video, audio, document, sticker). The file goes straight to Meta (WhatsApp media endpoint, Messenger/Instagram attachment upload); the answer's `mediaId` is then sent with `kind: \"media\"`. Nothing is stored here.",
    request: {
      params: ConversationParams,
      body: {
        required: true,
        content: { "multipart/form-data": { schema: z.object({ file: z.any().openapi({ type: "string", format: "binary" }), mediaType: MediaType }) } },
      },
    },
    responses: {
      201: { description: "Uploaded", content: { "application/json": { schema: z.object({ mediaId: z.string(), mediaType: MediaType }) } } },
      413: errorDoc("The file is larger than Meta accepts"),
      ...refusalResponses,
      ...errorResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const conversation = await conversationOf(c, id);
    if (!conversation) return errorResponse(c, 404, "not_found", "No such conversation");
    if (Number(c.req.header("content-length") ?? 0) > MAX_UPLOAD_BYTES) return errorResponse(c, 413, "too_large", "The file is larger than 100 MB, more than Meta accepts for any media");
    const { file, mediaType } = c.req.valid("form");
    if (!(file instanceof File) || file.size === 0) return errorResponse(c, 400, "invalid_request", "file: attach the file to send (multipart field `file`)");
    const opened = await openChannel(c.env, conversation.channelId);
    if (!opened.ok) return errorResponse(c, opened.refusal.status, opened.refusal.code, opened.refusal.message);
    const uploaded = await uploadMedia(c.env, opened.access.token, graphNode(opened.access.channel), file, mediaType);
    if (!uploaded.ok) return failureResponse(c, uploaded.failure);
    return c.json({ mediaId: uploaded.mediaId, mediaType }, 201);
  },
);

sendingRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/conversations/{id}/messages/{externalId}/media",
    summary: "The media of a customer's message, streamed from Meta",
    description: "Fetched from Meta on demand with the channel's token (WhatsApp) or from Meta's CDN (Messenger, Instagram) and streamed; never stored, so Instagram story media stays Meta's. `index` picks one of several attachments.",
    request: {
      params: ConversationParams.extend({ externalId: ExternalId }),
      query: z.object({ index: z.coerce.number().int().min(0).max(29).default(0) }),
    },
    responses: {
      200: { description: "The file, with its content type", content: { "application/octet-stream": { schema: z.any().openapi({ type: "string", format: "binary" }) } } },
      ...refusalResponses,
      ...errorResponses,
    },
  }),
  async (c) => {
    const { id, externalId } = c.req.valid("param");
    const { index } = c.req.valid("query");
    const conversation = await conversationOf(c, id);
    if (!conversation) return errorResponse(c, 404, "not_found", "No such conversation");
    const message = await conversationStub(c.env, id).message(externalId);
    const media = message?.content.media ?? message?.content.attachments[index] ?? null;
    const reference = media ? { id: "id" in media ? media.id : media.mediaId, url: media.url } : null;
    if (!message || !reference) return errorResponse(c, 404, "not_found", `No media in message ${externalId}`);
    const opened = await openChannel(c.env, conversation.channelId);
    if (!opened.ok) return errorResponse(c, opened.refusal.status, opened.refusal.code, opened.refusal.message);
    const fetched = await fetchInboundMedia(c.env, opened.access.token, opened.access.channel.kind, reference);
    if (!fetched.ok) return failureResponse(c, fetched.failure);
    return fetched.response as never;
  },
);

sendingRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{workspaceId}/channels/{channelId}/templates",
    summary: "A WhatsApp channel's message templates, with approval status and language",
    request: { params: WorkspaceParam.extend({ channelId: z.string().min(1).max(128) }) },
    responses: {
      200: { description: "Every template of the channel's WhatsApp Business Account", content: { "application/json": { schema: z.object({ templates: z.array(MessageTemplate) }) } } },
      ...refusalResponses,
      ...errorResponses,
    },
  }),
  async (c) => {
    const { channelId } = c.req.valid("param");
    if (!(await channelInWorkspace(c.env.DB, channelId, c.var.workspaceId))) return errorResponse(c, 404, "not_found", "No such channel");
    const opened = await openChannel(c.env, channelId);
    if (!opened.ok) return errorResponse(c, opened.refusal.status, opened.refusal.code, opened.refusal.message);
    const { channel, token } = opened.access;
    if (channel.kind !== "whatsapp" || !channel.wabaId) return errorResponse(c, 422, "templates_not_supported", "Only WhatsApp channels have message templates");
    const listed = await listTemplates(c.env, token, channel.wabaId);
    if (!listed.ok) return failureResponse(c, listed.failure);
    return c.json({ templates: listed.templates }, 200);
  },
);

async function channelInWorkspace(db: D1Database, channelId: string, workspaceId: string): Promise<boolean> {
  const row = await db.prepare(`SELECT 1 AS found FROM channels WHERE id = ?1 AND workspace_id = ?2`).bind(channelId, workspaceId).first();
  return row !== null;
}
