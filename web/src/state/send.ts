/**
 * @module
 * Sending: the message shows at once as pending under its idempotency key, and the API's answer (or
 * its refusal, in words) replaces it. A retry reuses the key, so the server never sends it twice.
 */
import { api, ApiError, ok } from "../api/client.ts";
import type { Message, SendBody } from "../api/types.ts";
import { messageOf } from "../ui/form.tsx";
import { track } from "./consent.ts";
import { upsertMessage } from "./thread.ts";

const bodies = new Map<string, SendBody>();

const previewOf = (body: SendBody) =>
  body.kind === "text" ? body.text : body.kind === "media" ? body.caption ?? null : body.kind === "template" ? `Template “${body.name}”` : null;

function pendingMessage(body: SendBody): Message {
  const now = Date.now();
  const type = body.kind === "media" ? body.mediaType : body.kind === "template" ? "template" : "text";
  const externalId = `local:${body.idempotencyKey}`;
  return {
    seq: Number.MAX_SAFE_INTEGER,
    rev: 0,
    externalId,
    idempotencyKey: body.idempotencyKey,
    sentBy: null,
    direction: "out",
    type,
    timestamp: now,
    arrivedAt: now,
    text: previewOf(body),
    content: {
      externalId,
      direction: "out",
      type,
      timestamp: now,
      text: previewOf(body),
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
  track(`send.${body.kind}`);
  const local = pendingMessage(body);
  if (body.kind !== "reaction") upsertMessage(conversationId, local);
  try {
    const { message } = await ok(
      api.POST("/workspaces/{workspaceId}/conversations/{id}/messages", { params: { path: { workspaceId, id: conversationId } }, body }),
    );
    upsertMessage(conversationId, message as Message);
    return null;
  } catch (error) {
    const code = error instanceof ApiError ? error.code : "network";
    if (body.kind !== "reaction") {
      upsertMessage(conversationId, { ...local, status: "failed", error: { code: 0, title: refusalTitle(code), details: messageOf(error) } });
    }
    return code;
  }
}

export function retry(workspaceId: string, conversationId: string, key: string) {
  const body = bodies.get(key);
  return body ? send(workspaceId, conversationId, body) : Promise.resolve(null);
}

export const canRetry = (key: string | null | undefined) => !!key && bodies.has(key);

/** Refusals before Meta is called carry the API's code, not Meta's: named so failureText can advise. */
const refusalTitle = (code: string) => code;

export const newKey = () => crypto.randomUUID();
