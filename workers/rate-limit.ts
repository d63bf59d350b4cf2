/**
 * @module
 * Fixed-window attempt counters in D1 (`rate_limits`), for sign-in and password reset, per account and
 * per client address.
 *
 * Windows are short (e.g. 15 minutes) and fixed, never extended by further attempts: an attacker who
 * hammers an account can block its sign-ins for at most one window, so the limit cannot be turned into
 * a lasting lock-out of the real user, while guessing stays capped at `limit` tries per window.
 */

export type RateLimit = { limit: number; windowSeconds: number };
export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * One statement, so concurrent requests cannot both read a count and both pass: insert the first hit,
 * otherwise either start a new window (the old one is over) or add one to the current count. SQLite
 * evaluates every SET expression against the row as it was before the update.
 */
const HIT = `
INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
ON CONFLICT (key) DO UPDATE SET
  window_start = CASE WHEN rate_limits.window_start <= ?2 - ?3 THEN ?2 ELSE rate_limits.window_start END,
  count = CASE WHEN rate_limits.window_start <= ?2 - ?3 THEN 1 ELSE rate_limits.count + 1 END
RETURNING window_start, count`;

/** Counts one attempt under `key` and says whether it is within the limit of the current window. */
export async function hit(db: D1Database, key: string, { limit, windowSeconds }: RateLimit, now = Date.now()): Promise<RateLimitVerdict> {
  const windowMs = windowSeconds * 1000;
  const row = await db.prepare(HIT).bind(key, now, windowMs).first<{ window_start: number; count: number }>();
  if (!row) throw new Error("rate_limits upsert returned no row");
  if (row.count <= limit) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((row.window_start + windowMs - now) / 1000)) };
}

/** Forgets the attempts under `key` (e.g. the account's counter after a successful sign-in). */
export async function reset(db: D1Database, key: string): Promise<void> {
  await db.prepare(`DELETE FROM rate_limits WHERE key = ?1`).bind(key).run();
}

/** Deletes counters whose window started before `before` (epoch ms): their keys name accounts and clients. */
export async function purgeRateLimits(db: D1Database, before: number): Promise<void> {
  await db.prepare(`DELETE FROM rate_limits WHERE window_start < ?1`).bind(before).run();
}
