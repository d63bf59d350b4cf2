/**
 * @module
 * `/webhooks/meta`: one callback URL for WhatsApp, Instagram and Messenger.
 *
 * GET answers Meta's verification handshake. POST reads the raw body once, verifies
 * `X-Hub-Signature-256` over those exact bytes, and acknowledges with 200 only after every item is
 * durable (in its conversation's Durable Object, or in D1 for account events and quarantine).
 */
import { Hono } from "hono";
import { errorResponse } from "../http-error.ts";
import { ingest } from "../ingest.ts";
import { normalizeWebhook } from "../meta/normalize.ts";
import { timingSafeEqualString, verifyWebhookSignature } from "../webhook-signature.ts";

/** Meta documents WhatsApp payloads of up to 3 MB; the default leaves headroom above that. */
export const DEFAULT_WEBHOOK_MAX_BYTES = 4 * 1024 * 1024;

const SIGNATURE_MESSAGES = {
  missing_signature: "The X-Hub-Signature-256 header is missing",
  malformed_signature: "The X-Hub-Signature-256 header is not of the form sha256=<64 hex digits>",
  invalid_signature: "The X-Hub-Signature-256 signature does not match the body",
} as const;

class BodyTooLarge extends Error {}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Reads at most `limit` bytes, so an oversized chunked body is refused without buffering it all. */
async function readBody(request: Request, limit: number): Promise<ArrayBuffer> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw new BodyTooLarge();
  // A declared length bounds the body (the runtime refuses more), so one native read is safe.
  if (Number.isFinite(declared)) return request.arrayBuffer();
  if (!request.body) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0]!.slice().buffer;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body.buffer;
}

export const webhooks = new Hono<{ Bindings: Cloudflare.Env }>()
  .get("/meta", async (c) => {
    const mode = c.req.query("hub.mode");
    const token = c.req.query("hub.verify_token") ?? "";
    const challenge = c.req.query("hub.challenge") ?? "";
    if (mode === "subscribe" && challenge !== "" && (await timingSafeEqualString(token, c.env.META_VERIFY_TOKEN))) {
      return c.text(challenge, 200);
    }
    return errorResponse(c, 403, "verification_failed", "hub.mode must be subscribe and hub.verify_token must match");
  })
  .post("/meta", async (c) => {
    const limit = Number(c.env.WEBHOOK_MAX_BYTES) || DEFAULT_WEBHOOK_MAX_BYTES;
    let raw: ArrayBuffer;
    try {
      raw = await readBody(c.req.raw, limit);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        return errorResponse(c, 413, "payload_too_large", `Webhook bodies are limited to ${limit} bytes`);
      }
      // The sender went away mid-body (or sent less than it declared): there is nothing to store,
      // and Meta delivers again what it did not see acknowledged.
      return errorResponse(c, 400, "unreadable_body", "The request body ended before it was complete");
    }
    const secrets = [c.env.META_APP_SECRET, c.env.META_APP_SECRET_PREVIOUS].filter((s): s is string => !!s);
    const check = await verifyWebhookSignature(c.req.header("x-hub-signature-256"), raw, secrets);
    if (!check.ok) return errorResponse(c, 401, check.problem, SIGNATURE_MESSAGES[check.problem]);

    let body: unknown;
    try {
      body = JSON.parse(UTF8.decode(raw));
    } catch {
      return errorResponse(c, 400, "invalid_json", "The body is signed but is not UTF-8 JSON");
    }
    try {
      const report = await ingest(c.env, normalizeWebhook(body), {
        arrivedAt: Date.now(),
        waitUntil: (p) => c.executionCtx.waitUntil(p),
      });
      return c.json(report, 200);
    } catch (error) {
      console.error("webhook not durable; Meta will retry", error);
      return errorResponse(c, 503, "not_durable", "The events could not be stored; retry later");
    }
  });
