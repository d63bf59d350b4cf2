/**
 * @module
 * Revocation from Meta's side: the Deauthorize Callback (a user or business removed our app). It
 * marks every channel granted by that Meta (or Instagram) user revoked and destroys its token at once.
 */
import { Hono } from "hono";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { endChannel } from "../channels/store.ts";
import { channels } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";
import { verifySignedRequest } from "../meta/signed-request.ts";

const MAX_FORM_BYTES = 16 * 1024;

/** The secrets a signed_request may be signed with: the Meta app's, and the Instagram app's. */
export function callbackSecrets(env: Cloudflare.Env): string[] {
  return [env.META_APP_SECRET, env.META_APP_SECRET_PREVIOUS, env.INSTAGRAM_APP_SECRET].filter((s): s is string => !!s);
}

export async function readSignedRequest(request: Request): Promise<string | null> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_FORM_BYTES) return null;
  const text = await request.text();
  if (text.length > MAX_FORM_BYTES) return null;
  return new URLSearchParams(text).get("signed_request");
}

export const metaCallbacks = new Hono<{ Bindings: Cloudflare.Env }>().post("/deauthorize", async (c) => {
  const signedRequest = await readSignedRequest(c.req.raw);
  if (!signedRequest) return errorResponse(c, 400, "missing_signed_request", "The form field signed_request is missing");
  const verdict = await verifySignedRequest(signedRequest, callbackSecrets(c.env));
  if (!verdict.ok) return errorResponse(c, verdict.problem === "invalid_signature" ? 401 : 400, verdict.problem, "The signed_request was refused");
  const granted = await drizzle(c.env.DB).select().from(channels).where(eq(channels.metaUserId, verdict.request.userId));
  for (const channel of granted) {
    if (channel.status === "revoked" || channel.status === "disconnected") continue;
    await endChannel(c.env, channel, "revoked", {
      action: "channel.revoked_by_meta",
      actorUserId: null,
      detail: { via: "deauthorize_callback" },
    });
  }
  return c.json({ ok: true, revoked: granted.length }, 200);
});
