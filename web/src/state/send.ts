/**
 * @module
 * Sending: the message shows at once as pending under its idempotency key, and the API's answer (or
 * its refusal, in words) replaces it. A retry reuses the key, so the server never sends it twice.
 */
import { api, ApiError, ok } from "../api/client.ts";
import type { Message, SendBody } from "../api/contract.ts";
import { messageOf } from "../ui/form.tsx";
import { upsertMessage } from "./thread.ts";

const bodies = new Map<string, SendBody>();

function pendingMessage(body: SendBody): Message {
  const now = Date.now();
  const type = body.kind === "media" ? body.media!.type : "text";
  return {
    seq: Number.MAX_SAFE_INTEGER,
    externalId: `local:${body.idempotencyKey}`,
    clientKey: body.idempotencyKey,
    direction: "out",
    type,
    timestamp: now,
    arrivedAt: now,
    text: body.text ?? body.media?.caption ?? (body.template ? `Template “${body.template.name}”` : null),
    content: {
      externalId: `local:${body.idempotencyKey}`,
      direction: "out",
      type,
      timestamp: now,
      text: body.text ?? body.media?.caption ?? null,
      media: null,
      attachments: [],
      location: null,
      contacts: [],
      reply: null,
      order: null,
      system: null,
      referral: null,
      context: body.replyTo ? { replyTo: body.replyTo, story: null, forwarded: false, frequentlyForwarded: false, referredProduct: null } : null,
      errors: [],
      unsupportedType: null,
      echo: null,
      standby: false,
    },
    status: "pending",
    error: null,
    reactions: [],
    deleted: false,
    deletedAt: null,
  };
}

/** Resolves to the API's error code when the send was refused (e.g. "window_closed"). */
export async function send(workspaceId: string, conversationId: string, body: SendBody): Promise<string | null> {
  bodies.set(body.idempotencyKey, body);
  const local = pendingMessage(body);
  if (body.kind !== "reaction") upsertMessage(conversationId, local);
  try {
    const { message } = await ok(
      api.POST("/workspaces/{workspaceId}/conversations/{id}/messages", { params: { path: { workspaceId, id: conversationId } }, body }),
    );
    if (body.kind !== "reaction") upsertMessage(conversationId, { ...message, clientKey: body.idempotencyKey });
    return null;
  } catch (error) {
    const code = error instanceof ApiError ? error.code : "network";
    if (body.kind !== "reaction") {
      upsertMessage(conversationId, { ...local, status: "failed", error: { code, title: null, message: messageOf(error), details: null } });
    }
    return code;
  }
}

export function retry(workspaceId: string, conversationId: string, clientKey: string) {
  const body = bodies.get(clientKey);
  return body ? send(workspaceId, conversationId, body) : Promise.resolve(null);
}

export const canRetry = (clientKey: string | null | undefined) => !!clientKey && bodies.has(clientKey);

export const newKey = () => crypto.randomUUID();
