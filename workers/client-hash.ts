/**
 * @module
 * A keyed hash of the client's network address, for rate-limit keys, sessions and the audit log:
 * requests from one address can be grouped, but the address itself is never stored, and without
 * SESSION_SECRET the hash cannot be reversed by hashing all 2^32 IPv4 addresses.
 */
import { hmacHex } from "./hash.ts";

/**
 * Cloudflare sets `CF-Connecting-IP` on every request and overwrites any value a client sends, so in
 * production it is the address. `X-Forwarded-For` (client-controlled) is only a fallback for local
 * runs behind a proxy; "unknown" keeps requests without either in one group instead of failing.
 */
function clientAddress(request: Request): string {
  const direct = request.headers.get("cf-connecting-ip")?.trim();
  if (direct) return direct.toLowerCase();
  const firstHop = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return firstHop ? firstHop.toLowerCase() : "unknown";
}

/** Hex HMAC-SHA256 of the client address; the label keeps it apart from other uses of the secret. */
export async function clientHash(secret: string, request: Request): Promise<string> {
  // Fail closed: with an empty key the hash of an IPv4 address could be reversed by trying them all.
  if (!secret || secret.length < 16) throw new Error("SESSION_SECRET is not configured (16+ characters)");
  return hmacHex(secret, `client-address\n${clientAddress(request)}`);
}
