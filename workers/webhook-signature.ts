/**
 * @module
 * Verifies Meta's `X-Hub-Signature-256` header: HMAC-SHA256 of the exact raw request bytes, keyed by
 * the app secret. The bytes are never re-serialised: Meta signs its own escaped wire form
 * (`\u00e4`, `\/`), and any JSON round trip changes it.
 */

import { toHex } from "./hash.ts";

const SIGNATURE_PATTERN = /^sha256=([0-9a-f]{64})$/i;

export type SignatureCheck =
  | { ok: true; secretIndex: number }
  | { ok: false; problem: "missing_signature" | "malformed_signature" | "invalid_signature" };

const keyCache = new Map<string, Promise<CryptoKey>>();

/** Imported once per isolate and secret: importKey costs more than the HMAC of a typical body. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * Checks the header against every configured secret (current first, then the one being rotated out).
 * `crypto.subtle.verify` compares in constant time.
 */
export async function verifyWebhookSignature(
  header: string | null | undefined,
  body: ArrayBuffer,
  secrets: readonly string[],
): Promise<SignatureCheck> {
  if (!header) return { ok: false, problem: "missing_signature" };
  const match = SIGNATURE_PATTERN.exec(header.trim());
  if (!match?.[1]) return { ok: false, problem: "malformed_signature" };
  const signature = hexToBytes(match[1]);
  for (const [secretIndex, secret] of secrets.entries()) {
    if (await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, body)) return { ok: true, secretIndex };
  }
  return { ok: false, problem: "invalid_signature" };
}

/** `sha256=<hex>` for a body: what Meta sends, and what the simulator and tests sign with. */
export async function signWebhookBody(body: BufferSource, secret: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), body));
  return `sha256=${toHex(mac)}`;
}

/** Constant-time string equality (for the verify token and bearer tokens). */
export async function timingSafeEqualString(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  // Hash both sides first so the comparison never leaks the length of the secret.
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}
