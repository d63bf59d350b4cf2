/**
 * @module
 * Password policy and storage.
 *
 * Policy (NIST SP 800-63B-4, OWASP ASVS 5.0 V6.2): 12 to 256 characters counted as code points, no
 * composition rules, not a common password, not the user's own email or name.
 *
 * Storage: scrypt from `node:crypto`, not PBKDF2: Cloudflare's production runtime refuses PBKDF2 above
 * 100,000 iterations while local workerd accepts any count, so a PBKDF2 setting that passes every
 * local test can fail every real sign-in. scrypt is capped at N·r·p ≤ 2^20 there, and an isolate has
 * 128 MB, so the parameters are OWASP's scrypt row N=2^14, r=8, p=5: 16 MiB per hash (one eighth of the
 * isolate, and under Node's default `maxmem`) at the same cost class as the 2^15/8/3 row (32 MiB), which
 * would leave less room next to the rest of the Worker. The parameters travel with each hash
 * (`scrypt$N$r$p$salt$hash`) so they can be raised later: `verifyPassword` reports `needsRehash`.
 *
 * The pepper is applied first as HMAC-SHA256(pepper, password): the value scrypt sees is already keyed,
 * so a stolen database without the pepper secret cannot be attacked offline at all.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { COMMON_PASSWORDS } from "./common-passwords.ts";

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/** The parameters of new hashes. Pinned by test/password.test.ts: change them on purpose only. */
export const SCRYPT_PARAMS = { N: 2 ** 14, r: 8, p: 5, keyLength: 32, saltLength: 16 } as const;

/** Cloudflare's production cap (workerd limit-enforcer `DEFAULT_MAX_SCRYPT_COST`). */
export const SCRYPT_MAX_COST = 2 ** 20;
/** Largest scrypt working memory (128·N·r bytes) a stored hash may ask for: a quarter of the isolate. */
const SCRYPT_MAX_MEMORY = 32 * 1024 * 1024;

/**
 * NIST SP 800-63B asks verifiers to normalise with NFKC or NFKD, so the same password typed on two
 * keyboards (composed or decomposed accents, full-width digits) is the same password. Changing this
 * would invalidate every stored hash.
 */
const normalise = (password: string) => password.normalize("NFKC");

let blocklist: Set<string> | undefined;

/** Built on first use: most requests never check a password, and the list is 44k entries. */
function isCommon(password: string): boolean {
  blocklist ??= new Set(COMMON_PASSWORDS.split("\n"));
  return blocklist.has(password.toLowerCase());
}

/** Why a new password is refused, in words for the user, or null when it is acceptable. */
export function checkPasswordPolicy(password: string, context: { email?: string | null; name?: string | null } = {}): string | null {
  const normalised = normalise(password);
  const length = [...normalised].length;
  if (length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters`;
  if (isCommon(normalised)) return "This password is too common: choose another (a few unrelated words work well)";
  const lower = normalised.trim().toLowerCase();
  const email = context.email?.trim().toLowerCase();
  const personal = [email, email?.split("@")[0], context.name?.trim().toLowerCase()];
  if (personal.some((word) => word && normalise(word) === lower)) {
    return "Do not use your email address or your name as the password";
  }
  return null;
}

function pepperedInput(password: string, pepper: string): Buffer {
  // Fail closed: an empty or short pepper would silently weaken every hash written with it.
  if (!pepper || pepper.length < 16) throw new Error("PASSWORD_PEPPER is not configured (16+ characters)");
  return createHmac("sha256", pepper).update(normalise(password), "utf8").digest();
}

type Params = { N: number; r: number; p: number };

function derive(password: string, pepper: string, salt: Buffer, keyLength: number, { N, r, p }: Params): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: 2 * SCRYPT_MAX_MEMORY };
  const input = pepperedInput(password, pepper);
  return new Promise((resolve, reject) =>
    scrypt(input, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** `scrypt$N$r$p$<salt base64>$<hash base64>` with a fresh random salt. */
export async function hashPassword(password: string, pepper: string): Promise<string> {
  const { N, r, p, keyLength, saltLength } = SCRYPT_PARAMS;
  const salt = randomBytes(saltLength);
  const key = await derive(password, pepper, salt, keyLength, SCRYPT_PARAMS);
  return ["scrypt", N, r, p, salt.toString("base64"), key.toString("base64")].join("$");
}

const STORED_PATTERN = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** The parts of a stored hash, or null when it is malformed or asks for more than production allows. */
function parseStored(stored: string): (Params & { salt: Buffer; key: Buffer }) | null {
  const match = STORED_PATTERN.exec(stored);
  if (!match) return null;
  const [N, r, p] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  const salt = Buffer.from(match[4]!, "base64");
  const key = Buffer.from(match[5]!, "base64");
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || r < 1 || p < 1 || N * r * p > SCRYPT_MAX_COST || 128 * N * r > SCRYPT_MAX_MEMORY) return null;
  if (salt.length < 16 || key.length < 16 || key.length > 64) return null;
  return { N, r, p, salt, key };
}

export type PasswordCheck = { ok: boolean; needsRehash: boolean };

/**
 * Checks a password against a stored hash in constant time. `needsRehash` says the hash was made with
 * other parameters than the current ones: re-hash the (now known good) password and store it.
 */
export async function verifyPassword(password: string, stored: string, pepper: string): Promise<PasswordCheck> {
  const parsed = parseStored(stored);
  if (!parsed) return { ok: false, needsRehash: false };
  const key = await derive(password, pepper, parsed.salt, parsed.key.length, parsed);
  const ok = timingSafeEqual(key, parsed.key);
  const { N, r, p, keyLength } = SCRYPT_PARAMS;
  const current = parsed.N === N && parsed.r === r && parsed.p === p && parsed.key.length === keyLength;
  return { ok, needsRehash: ok && !current };
}
