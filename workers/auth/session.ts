/**
 * @module
 * Server-side sessions. The browser holds a 256-bit random token in a `__Host-` cookie; D1 holds
 * only its SHA-256, so a leaked database cannot be replayed as cookies. Sessions end at an absolute
 * expiry or after an idle timeout, and a new one is created at every sign-in.
 */
import { and, eq, gt, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import type { Context } from "hono";
import { sessions, users } from "../db/schema.ts";
import { clientHash } from "../client-hash.ts";
import { base64url, hmacHex, sha256Hex } from "../hash.ts";

/** Sent as `__Host-wc_session`: hono adds the prefix (and enforces Secure, Path=/, no Domain). */
export const SESSION_COOKIE = "wc_session";
export const SESSION_MAX_AGE_MS = 14 * 24 * 3600_000;
export const SESSION_IDLE_MS = 24 * 3600_000;
/** lastSeenAt is refreshed at most this often, so reading pages does not write D1 on every request. */
const TOUCH_EVERY_MS = 5 * 60_000;

export type SessionUser = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;

/** The per-session CSRF token: derived, so nothing extra is stored and it dies with the session. */
export function csrfTokenFor(secret: string, sessionId: string): Promise<string> {
  return hmacHex(secret, `csrf\n${sessionId}`);
}

/** Any route context of this Worker, whatever variables its middleware set. */
// `any`: Context is invariant in its variables, and these helpers use none of them.
type Ctx = Context<{ Bindings: Cloudflare.Env; Variables: any }>;

export async function startSession(c: Ctx, userId: string, now = Date.now()): Promise<Session> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const session: Session = {
    id: await sha256Hex(token),
    userId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_MAX_AGE_MS,
    userAgent: c.req.header("user-agent")?.slice(0, 256) ?? null,
    clientHash: await clientHash(c.env.SESSION_SECRET, c.req.raw),
  };
  await drizzle(c.env.DB).insert(sessions).values(session);
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "Lax",
    maxAge: SESSION_MAX_AGE_MS / 1000,
    prefix: "host",
  });
  return session;
}

/** The valid session and its active user for this request's cookie, or null. */
export async function currentSession(c: Ctx, now = Date.now()): Promise<{ session: Session; user: SessionUser } | null> {
  const token = getCookie(c, SESSION_COOKIE, "host");
  if (!token || token.length > 64) return null;
  const db = drizzle(c.env.DB);
  const row = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, await sha256Hex(token)), gt(sessions.expiresAt, now)))
    .get();
  if (!row || row.user.status !== "active" || row.session.lastSeenAt + SESSION_IDLE_MS <= now) return null;
  if (now - row.session.lastSeenAt > TOUCH_EVERY_MS) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, row.session.id));
    row.session.lastSeenAt = now;
  }
  return row;
}

export async function endSession(c: Ctx, sessionId: string): Promise<void> {
  await drizzle(c.env.DB).delete(sessions).where(eq(sessions.id, sessionId));
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, prefix: "host" });
}

/** Revokes every session of a user, or every one but `keep` (the one making the request). */
export async function endAllSessions(db: D1Database, userId: string, keep?: string): Promise<void> {
  await drizzle(db)
    .delete(sessions)
    .where(and(eq(sessions.userId, userId), keep ? ne(sessions.id, keep) : undefined));
}
