/**
 * @module
 * Meta's `signed_request` (Deauthorize and Data Deletion callbacks): `<sig>.<payload>`, both
 * base64url without padding, where sig = HMAC-SHA256(app secret, the payload *as received*).
 * The algorithm is checked before anything else is trusted, the HMAC compared in constant time
 * (`crypto.subtle.verify`), and requests issued too far from now are refused.
 */
import { z } from "@hono/zod-openapi";

const Payload = z.looseObject({
  algorithm: z.string(),
  issued_at: z.number().int(),
  user_id: z.union([z.string(), z.number()]).transform(String).optional(),
  profile_id: z.union([z.string(), z.number()]).transform(String).optional(),
});
export type SignedRequest = z.infer<typeof Payload> & { userId: string };

/** Meta's callbacks arrive within seconds; a day of slack still refuses replays of old captures. */
const MAX_AGE_S = 24 * 3600;
const MAX_SKEW_S = 5 * 60;

const decoder = new TextDecoder();

function base64urlDecode(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  try {
    return Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

export type SignedRequestProblem = "malformed" | "unsupported_algorithm" | "invalid_signature" | "stale";

export async function verifySignedRequest(
  signedRequest: string,
  secrets: readonly string[],
  now = Date.now(),
): Promise<{ ok: true; request: SignedRequest } | { ok: false; problem: SignedRequestProblem }> {
  const parts = signedRequest.split(".");
  if (parts.length !== 2) return { ok: false, problem: "malformed" };
  const [encodedSig, payload] = parts as [string, string];
  const signature = base64urlDecode(encodedSig);
  const json = base64urlDecode(payload);
  if (!signature || !json || signature.length !== 32) return { ok: false, problem: "malformed" };
  let parsed: z.infer<typeof Payload>;
  try {
    const result = Payload.safeParse(JSON.parse(decoder.decode(json)));
    if (!result.success) return { ok: false, problem: "malformed" };
    parsed = result.data;
  } catch {
    return { ok: false, problem: "malformed" };
  }
  if (parsed.algorithm.toUpperCase() !== "HMAC-SHA256") return { ok: false, problem: "unsupported_algorithm" };
  const message = new TextEncoder().encode(payload);
  let valid = false;
  for (const secret of secrets) {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    if (await crypto.subtle.verify("HMAC", key, signature, message)) valid = true;
  }
  if (!valid) return { ok: false, problem: "invalid_signature" };
  const age = now / 1000 - parsed.issued_at;
  if (age > MAX_AGE_S || age < -MAX_SKEW_S) return { ok: false, problem: "stale" };
  const userId = parsed.user_id ?? parsed.profile_id;
  if (!userId) return { ok: false, problem: "malformed" };
  return { ok: true, request: { ...parsed, userId } };
}
