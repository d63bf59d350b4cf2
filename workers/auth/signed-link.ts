/**
 * @module
 * Short-lived signed tokens for links and tickets (email verification, password reset, invitations,
 * email change, WebSocket tickets): compact JWS, HS256 only, keyed by a key derived from SESSION_SECRET.
 *
 * The audience is the purpose, so a token minted for one flow is refused by every other; the algorithm
 * allow-list refuses `alg: none` and any asymmetric algorithm whatever the header claims. Single use is
 * enforced in D1 (`used_tokens`), not in the token: `consumeToken` after every other check passes.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { hmacHex } from "../hash.ts";

export const TOKEN_PURPOSES = ["verify-email", "reset-password", "invite", "ws-ticket", "change-email", "oauth-state", "export-download"] as const;
export type TokenPurpose = (typeof TOKEN_PURPOSES)[number];

export type TokenClaims = {
  /** The purpose. */
  aud: TokenPurpose;
  /** Whom the token is about (a user id, an invitation id). */
  sub: string;
  /** Random id: what `consumeToken` records. */
  jti: string;
  /** Seconds since the epoch, as in every JWT. */
  iat: number;
  exp: number;
  data?: Record<string, string>;
};

export type TokenVerdict = { ok: true; claims: TokenClaims } | { ok: false; reason: "expired" | "invalid" | "wrong_purpose" };

const ISSUER = "wechatting";
/** Links are meant to be short-lived; a week covers the longest (invitations). */
const MAX_TTL_SECONDS = 7 * 24 * 3600;

const keys = new Map<string, Promise<Uint8Array>>();

/**
 * A key of its own, derived from SESSION_SECRET with a label, so the same secret can also key CSRF
 * tokens and client-address hashes without any of those values ever being a valid link signature.
 */
function linkKey(secret: string): Promise<Uint8Array> {
  if (!secret || secret.length < 16) throw new Error("SESSION_SECRET is not configured (16+ characters)");
  let key = keys.get(secret);
  if (!key) {
    key = hmacHex(secret, "signed-link\nv1").then((hex) => new TextEncoder().encode(hex));
    keys.set(secret, key);
  }
  return key;
}

/** A compact JWS for `purpose`, valid `ttlSeconds` from `now` (epoch ms). */
export async function issueToken(
  secret: string,
  input: { purpose: TokenPurpose; subject: string; data?: Record<string, string>; ttlSeconds: number; now?: number },
): Promise<string> {
  const { purpose, subject, data, ttlSeconds } = input;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  return new SignJWT(data ? { data } : {})
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER)
    .setAudience(purpose)
    .setSubject(subject)
    .setJti(crypto.randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(await linkKey(secret));
}

const isStringRecord = (value: unknown): value is Record<string, string> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");

/** Checks signature, algorithm, issuer, purpose and expiry (at `now`, epoch ms). Never throws for a bad token. */
export async function verifyToken(secret: string, token: string, purpose: TokenPurpose, options: { now?: number } = {}): Promise<TokenVerdict> {
  const key = await linkKey(secret);
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: purpose,
      requiredClaims: ["sub", "jti", "iat", "exp"],
      currentDate: new Date(options.now ?? Date.now()),
    });
    const { aud, sub, jti, iat, exp, data } = payload;
    if (aud !== purpose || !sub || typeof jti !== "string" || !jti || (data !== undefined && !isStringRecord(data))) {
      return { ok: false, reason: "invalid" };
    }
    return { ok: true, claims: { aud, sub, jti, iat: iat!, exp: exp!, ...(data ? { data } : {}) } };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === "aud") return { ok: false, reason: "wrong_purpose" };
    return { ok: false, reason: "invalid" };
  }
}

/**
 * Marks a verified token as used. One INSERT decides the race: of two requests presenting the same
 * link at once, exactly one inserts the row. False when the token had been used already.
 */
export async function consumeToken(db: D1Database, claims: Pick<TokenClaims, "jti" | "exp">, now = Date.now()): Promise<boolean> {
  const result = await db
    .prepare(`INSERT INTO used_tokens (jti, used_at, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (jti) DO NOTHING`)
    .bind(claims.jti, now, claims.exp * 1000)
    .run();
  return result.meta.changes === 1;
}
