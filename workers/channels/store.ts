/**
 * @module
 * Saving, revoking and disconnecting channels. A channel's token is only ever stored sealed by the
 * vault; every state change is audited, and the webhook routing cache is cleared so ingestion
 * follows at once.
 */
import { and, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditStatement } from "../audit.ts";
import { channels, type ChannelKind, type ChannelStatus } from "../db/schema.ts";
import { channelDirectory } from "../channel-directory.ts";
import { destroySecret, sealSecret } from "../vault/vault.ts";

export type Channel = typeof channels.$inferSelect;

export type ConnectedAccount = {
  kind: ChannelKind;
  externalId: string;
  wabaId?: string | null;
  pageId?: string | null;
  name: string;
  handle: string | null;
  metaUserId: string | null;
  token: string;
  tokenExpiresAt: number | null;
};

export class ChannelConflict extends Error {}

/**
 * Why an account cannot be connected to this workspace (another one holds it), or null. Checked
 * before anything is done at Meta, so a refused connection subscribes and registers nothing.
 */
export async function connectionConflict(db: D1Database, workspaceId: string, kind: ChannelKind, externalId: string): Promise<string | null> {
  const holder = await drizzle(db)
    .select({ workspaceId: channels.workspaceId, status: channels.status })
    .from(channels)
    .where(and(eq(channels.kind, kind), eq(channels.externalId, externalId)))
    .get();
  const live = holder && holder.status !== "disconnected" && holder.status !== "revoked";
  return live && holder.workspaceId !== workspaceId ? `This ${kind} account is connected to another workspace` : null;
}

/**
 * Connects (or reconnects) an account to a workspace. Reconnecting an account the workspace had
 * keeps its channel id, and with it the conversation history; an account another workspace holds
 * is refused.
 */
export async function saveConnectedChannel(
  env: Cloudflare.Env,
  actor: { workspaceId: string; userId: string },
  account: ConnectedAccount,
  now = Date.now(),
): Promise<Channel> {
  const db = drizzle(env.DB);
  const conflict = await connectionConflict(env.DB, actor.workspaceId, account.kind, account.externalId);
  if (conflict) throw new ChannelConflict(conflict);
  const existing = await db
    .select()
    .from(channels)
    .where(and(eq(channels.kind, account.kind), eq(channels.externalId, account.externalId)))
    .get();
  const sameWorkspace = existing?.workspaceId === actor.workspaceId;
  if (existing && !sameWorkspace) {
    // The account moves to another workspace: the old channel keeps its history there, detached.
    await db
      .update(channels)
      .set({ externalId: `detached:${existing.id}:${existing.externalId}` })
      .where(eq(channels.id, existing.id));
  }
  const channel: Channel = {
    id: sameWorkspace ? existing.id : `ch_${crypto.randomUUID()}`,
    workspaceId: actor.workspaceId,
    kind: account.kind,
    externalId: account.externalId,
    wabaId: account.wabaId ?? null,
    pageId: account.pageId ?? null,
    name: account.name,
    handle: account.handle,
    status: "active",
    metaUserId: account.metaUserId,
    tokenExpiresAt: account.tokenExpiresAt,
    healthCheckedAt: now,
    healthProblem: null,
    sendPausedUntil: null,
    connectedAt: now,
    disconnectedAt: null,
    createdAt: sameWorkspace ? existing.createdAt : now,
  };
  // Seal first: if the vault is unavailable nothing is saved, and no token is ever stored in clear.
  await sealSecret(env, {
    workspaceId: channel.workspaceId,
    channelId: channel.id,
    purpose: "access_token",
    plaintext: account.token,
    expiresAt: account.tokenExpiresAt,
  });
  const { id: _, ...update } = channel;
  await db.batch([
    db.insert(channels).values(channel).onConflictDoUpdate({ target: channels.id, set: update }),
    auditStatement(env.DB, {
      action: sameWorkspace ? "channel.reconnected" : "channel.connected",
      workspaceId: channel.workspaceId,
      actorUserId: actor.userId,
      targetType: "channel",
      targetId: channel.id,
      detail: { kind: channel.kind, account: channel.externalId },
    }),
  ]);
  channelDirectory.clear();
  return channel;
}

/** Marks a channel and destroys its token at once (Meta revoked us, or the workspace withdrew consent). */
export async function endChannel(
  env: Cloudflare.Env,
  channel: Pick<Channel, "id" | "workspaceId">,
  status: Extract<ChannelStatus, "disconnected" | "revoked">,
  audit: { action: string; actorUserId: string | null; detail?: Record<string, string | number | boolean | null> },
  now = Date.now(),
): Promise<void> {
  await destroySecret(env, { channelId: channel.id });
  const db = drizzle(env.DB);
  await db.batch([
    db.update(channels).set({ status, disconnectedAt: now, tokenExpiresAt: null }).where(eq(channels.id, channel.id)),
    auditStatement(env.DB, {
      action: audit.action,
      workspaceId: channel.workspaceId,
      actorUserId: audit.actorUserId,
      targetType: "channel",
      targetId: channel.id,
      ...(audit.detail ? { detail: audit.detail } : {}),
    }),
  ]);
  channelDirectory.clear();
}

/** Meta refused the token: sends are blocked (visibly) until someone reconnects; ingestion goes on. */
export async function markNeedsReconnection(env: Cloudflare.Env, channel: Pick<Channel, "id" | "workspaceId">, problem: string): Promise<void> {
  const db = drizzle(env.DB);
  await db.batch([
    db
      .update(channels)
      .set({ status: "needs_reconnection", healthProblem: problem, healthCheckedAt: Date.now() })
      .where(and(eq(channels.id, channel.id), eq(channels.status, "active"))),
    auditStatement(env.DB, {
      action: "channel.needs_reconnection",
      workspaceId: channel.workspaceId,
      targetType: "channel",
      targetId: channel.id,
      detail: { problem },
    }),
  ]);
}

/** Every live channel of a WABA, revoked (WhatsApp's account_update is its deauthorize signal). */
export async function revokeWhatsAppAccount(env: Cloudflare.Env, wabaId: string, event: string): Promise<void> {
  const live = await drizzle(env.DB)
    .select()
    .from(channels)
    .where(and(eq(channels.kind, "whatsapp"), eq(channels.wabaId, wabaId), inArray(channels.status, ["active", "needs_reconnection"])));
  for (const channel of live) {
    await endChannel(env, channel, "revoked", { action: "channel.revoked_by_meta", actorUserId: null, detail: { via: "account_update", event } });
  }
}
