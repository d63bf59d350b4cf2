/**
 * @module
 * The daily token check: each live channel's token is validated at Meta (debug_token), Instagram
 * Login tokens are refreshed before their 60 days run out, and a token Meta refuses (error 190, a
 * removed permission) marks the channel "needs reconnection" so sends are blocked visibly.
 */
import { and, asc, eq, inArray, lt, or, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { channels } from "../db/schema.ts";
import { graphClient } from "../meta/graph-client.ts";
import { openSecret, sealSecret } from "../vault/vault.ts";
import { markNeedsReconnection, type Channel } from "./store.ts";

/** wrangler.toml [triggers]: the daily channel token check. */
export const CHANNEL_HEALTH_CRON = "0 4 * * *";

/** Refresh Instagram tokens this long before they expire (Meta allows it once a token is 24 h old). */
export const REFRESH_BEFORE_MS = 7 * 24 * 3600_000;
const MIN_REFRESH_AGE_MS = 24 * 3600_000;
/** Channels per run; the cron runs daily and picks the least recently checked first. */
const BATCH = 200;

export type HealthReport = { checked: number; refreshed: number; needsReconnection: number };

export async function checkChannelHealth(env: Cloudflare.Env, now = Date.now()): Promise<HealthReport> {
  const db = drizzle(env.DB);
  const due = await db
    .select()
    .from(channels)
    .where(
      and(
        eq(channels.status, "active"),
        or(isNull(channels.healthCheckedAt), lt(channels.healthCheckedAt, now - 12 * 3600_000)),
      ),
    )
    .orderBy(asc(channels.healthCheckedAt))
    .limit(BATCH);
  const report: HealthReport = { checked: 0, refreshed: 0, needsReconnection: 0 };
  for (const channel of due) {
    report.checked++;
    const outcome = await checkOne(env, channel, now);
    if (outcome === "refreshed") report.refreshed++;
    if (outcome === "needs_reconnection") report.needsReconnection++;
  }
  return report;
}

async function checkOne(env: Cloudflare.Env, channel: Channel, now: number): Promise<"ok" | "refreshed" | "needs_reconnection" | "skipped"> {
  const ref = { workspaceId: channel.workspaceId, channelId: channel.id, purpose: "access_token" };
  const secret = await openSecret(env, ref);
  if (!secret.ok) {
    if (secret.error === "unavailable") return "skipped";
    await markNeedsReconnection(env, channel, "WeChatting holds no usable token for this channel. Reconnect it.");
    return "needs_reconnection";
  }
  const graph = graphClient(env);
  let token = secret.plaintext;
  let expiresAt = secret.expiresAt;
  let refreshed = false;
  if (channel.kind === "instagram" && !channel.pageId && expiresAt !== null && expiresAt - now < REFRESH_BEFORE_MS && now - (channel.connectedAt ?? 0) >= MIN_REFRESH_AGE_MS) {
    const renewed = await graph.refreshInstagramToken(token);
    if (renewed.ok) {
      token = renewed.data.accessToken;
      expiresAt = now + renewed.data.expiresIn * 1000;
      await sealSecret(env, { ...ref, plaintext: token, expiresAt });
      refreshed = true;
    } else if (renewed.error.reconnect) {
      await markNeedsReconnection(env, channel, renewed.error.userMessage);
      return "needs_reconnection";
    }
  }
  const debug = channel.kind === "instagram" && !channel.pageId ? await graph.instagramMe(token) : await graph.debugToken(token);
  if (!debug.ok) {
    if (!debug.error.reconnect) return "skipped"; // Meta unavailable or rate limited: try again tomorrow.
    await markNeedsReconnection(env, channel, debug.error.userMessage);
    return "needs_reconnection";
  }
  if ("isValid" in debug.data && !debug.data.isValid) {
    await markNeedsReconnection(env, channel, "Meta says the access token is no longer valid. Reconnect this channel to keep receiving and sending messages.");
    return "needs_reconnection";
  }
  if ("expiresAt" in debug.data && debug.data.expiresAt !== null) expiresAt = debug.data.expiresAt * 1000;
  await drizzle(env.DB)
    .update(channels)
    .set({ healthCheckedAt: now, healthProblem: null, tokenExpiresAt: expiresAt })
    .where(and(eq(channels.id, channel.id), inArray(channels.status, ["active"])));
  return refreshed ? "refreshed" : "ok";
}
