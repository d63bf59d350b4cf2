/**
 * @module
 * Withdrawing a channel: our access revoked at Meta, the token destroyed, ingestion stopped and,
 * when asked, the history erased from D1 and from every conversation Durable Object. Used by the
 * disconnect route and by account erasure (workers/privacy/account-erasure.ts).
 */
import { eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { contactRestrictions, contacts, conversations, messages } from "../db/schema.ts";
import { graphClient } from "../meta/graph-client.ts";
import { openSecret } from "../vault/vault.ts";
import { endChannel, type Channel } from "./store.ts";

/** D1 statements per batch stay far below its limits; DO erasures are awaited one by one. */
const CHUNK = 50;

/**
 * Withdraws our access at Meta the way each product defines it: WhatsApp unsubscribes the app from
 * the WABA, a Page (and an Instagram account reached through it) unsubscribes the app from the Page,
 * an Instagram Login grant is revoked.
 */
function revokeAtMeta(env: Cloudflare.Env, channel: Channel, token: string) {
  const graph = graphClient(env);
  if (channel.kind === "whatsapp" && channel.wabaId) return graph.unsubscribeApp(token, channel.wabaId);
  if (channel.kind === "messenger") return graph.unsubscribePage(token, channel.externalId);
  if (channel.pageId) return graph.unsubscribePage(token, channel.pageId);
  return graph.revokePermissions(token);
}

/**
 * Disconnects a channel. Meta is asked on a best-effort basis: consent is withdrawn here whatever
 * Meta answers, and the token destroyed. True when Meta confirmed the revocation.
 */
export async function disconnectChannel(
  env: Cloudflare.Env,
  channel: Channel,
  audit: { action: string; actorUserId: string | null; detail?: Record<string, string | number | boolean | null> },
): Promise<boolean> {
  const token = await openSecret(env, { workspaceId: channel.workspaceId, channelId: channel.id, purpose: "access_token" });
  const revoked = token.ok ? (await revokeAtMeta(env, channel, token.plaintext)).ok : false;
  await endChannel(env, channel, "disconnected", { ...audit, detail: { ...audit.detail, revokedAtMeta: revoked } });
  return revoked;
}

/**
 * Erases conversations everywhere they are held: each Durable Object's storage first (so nothing
 * can mirror them back), then their D1 rows and contacts (contact id = `ct_<conversation id>`).
 * Idempotent: erasing an erased conversation changes nothing.
 */
export async function eraseConversations(env: Cloudflare.Env, ids: readonly string[]): Promise<{ conversations: number; messages: number }> {
  const db = drizzle(env.DB);
  let messageCount = 0;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    for (const id of chunk) await env.CONVERSATION.get(env.CONVERSATION.idFromString(id)).erase();
    const contactIds = chunk.map((id) => `ct_${id}`);
    const [deletedMessages] = await db.batch([
      db.delete(messages).where(inArray(messages.conversationId, chunk)).returning({ seq: messages.seq }),
      db.delete(conversations).where(inArray(conversations.id, chunk)),
      db.delete(contacts).where(inArray(contacts.id, contactIds)),
      db.delete(contactRestrictions).where(inArray(contactRestrictions.contactId, contactIds)),
    ]);
    messageCount += deletedMessages.length;
  }
  return { conversations: ids.length, messages: messageCount };
}

/** Erases a channel's conversations: every Durable Object's storage, then their D1 mirror. */
export async function deleteChannelHistory(env: Cloudflare.Env, channel: Pick<Channel, "id">): Promise<number> {
  const db = drizzle(env.DB);
  const rows = await db.select({ id: conversations.id }).from(conversations).where(eq(conversations.channelId, channel.id));
  await eraseConversations(env, rows.map((r) => r.id));
  await db.delete(contacts).where(eq(contacts.channelId, channel.id));
  return rows.length;
}
