/**
 * @module
 * Meta's signed_request callbacks. Deauthorize (a user or business removed our app) marks every
 * channel granted by that Meta (or Instagram) user revoked and destroys its token at once; Data
 * Deletion records a deletion request and answers with its status page and confirmation code.
 */
import { Hono, type Context } from "hono";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { endChannel } from "../channels/store.ts";
import { channels } from "../db/schema.ts";
import { errorResponse } from "../http-error.ts";
import { sha256Hex } from "../hash.ts";
import { verifySignedRequest, type SignedRequest } from "../meta/signed-request.ts";
import { deletionStatusPath, processMetaDeletionNow, recordMetaDeletion } from "../privacy/meta-deletion.ts";

const MAX_FORM_BYTES = 16 * 1024;

/** The secrets a signed_request may be signed with: the Meta app's, and the Instagram app's. */
export function callbackSecrets(env: Cloudflare.Env): string[] {
  return [env.META_APP_SECRET, env.META_APP_SECRET_PREVIOUS, env.INSTAGRAM_APP_SECRET].filter((s): s is string => !!s);
}

export async function readSignedRequest(request: Request): Promise<string | null> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_FORM_BYTES) return null;
  // Decoded by hand: .text() on a form body makes workerd warn that it may not be text.
  const text = new TextDecoder().decode(await request.arrayBuffer());
  if (text.length > MAX_FORM_BYTES) return null;
  return new URLSearchParams(text).get("signed_request");
}

type CallbackContext = Context<{ Bindings: Cloudflare.Env }>;

/** The verified signed_request of a callback, or the JSON refusal to answer with. */
async function verifiedCallback(c: CallbackContext): Promise<{ ok: true; request: SignedRequest } | { ok: false; response: Response }> {
  const signedRequest = await readSignedRequest(c.req.raw);
  if (!signedRequest) return { ok: false, response: errorResponse(c, 400, "missing_signed_request", "The form field signed_request is missing") };
  const verdict = await verifySignedRequest(signedRequest, callbackSecrets(c.env));
  if (!verdict.ok) return { ok: false, response: errorResponse(c, verdict.problem === "invalid_signature" ? 401 : 400, verdict.problem, "The signed_request was refused") };
  return verdict;
}

export const metaCallbacks = new Hono<{ Bindings: Cloudflare.Env }>()
  .post("/deauthorize", async (c) => {
    const verified = await verifiedCallback(c);
    if (!verified.ok) return verified.response;
    const granted = await drizzle(c.env.DB).select().from(channels).where(eq(channels.metaUserId, verified.request.userId));
    for (const channel of granted) {
      if (channel.status === "revoked" || channel.status === "disconnected") continue;
      await endChannel(c.env, channel, "revoked", {
        action: "channel.revoked_by_meta",
        actorUserId: null,
        detail: { via: "deauthorize_callback" },
      });
    }
    return c.json({ ok: true, revoked: granted.length }, 200);
  })
  /**
   * Data Deletion Request Callback: recorded once per (user, issued_at) — Meta's repeats get the same
   * code — and answered at once with the status page; the deletion itself runs after the response.
   */
  .post("/data-deletion", async (c) => {
    const verified = await verifiedCallback(c);
    if (!verified.ok) return verified.response;
    const { userId, issued_at } = verified.request;
    const dedupeKey = await sha256Hex(`meta-deletion\n${userId}\n${issued_at}`);
    const request = await recordMetaDeletion(c.env, { metaUserId: userId, source: "meta_callback", dedupeKey });
    c.executionCtx.waitUntil(processMetaDeletionNow(c.env, request.id));
    const code = request.confirmationCode!;
    return c.json({ url: `${new URL(c.req.url).origin}${deletionStatusPath(code)}`, confirmation_code: code }, 200);
  });
