/**
 * @module
 * Meta's Data Deletion Request Callback (and the same request received by email, entered by an
 * operator): recorded once per request with an unguessable confirmation code, then processed —
 * the channels that person granted lose their token and the link to them, and the conversations
 * of contacts Meta knows by that id are erased from D1 and their Durable Objects.
 */
import { eq, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditStatement } from "../audit.ts";
import { eraseConversations } from "../channels/disconnect.ts";
import { endChannel } from "../channels/store.ts";
import { channels, contacts, rightsRequests } from "../db/schema.ts";
import { purgeQuarantineMentioning } from "./quarantine.ts";
import { claimRequest, closeRequest, confirmationCode, newRequest, type RightsRequest } from "./requests.ts";

export const deletionStatusPath = (code: string) => `/privacy/deletion/${code}`;

/** Records a deletion request for a Meta id; a repeat with the same `dedupeKey` returns the first. */
export async function recordMetaDeletion(
  env: Cloudflare.Env,
  input: { metaUserId: string; source: "meta_callback" | "operator"; dedupeKey: string | null },
  now = Date.now(),
): Promise<RightsRequest> {
  const db = drizzle(env.DB);
  const request = newRequest(
    { kind: "meta_deletion", subjectType: "meta_user", subjectId: input.metaUserId, source: input.source, confirmationCode: confirmationCode(), dedupeKey: input.dedupeKey },
    now,
  );
  const [inserted] = await db.insert(rightsRequests).values(request).onConflictDoNothing().returning();
  if (!inserted) return (await db.select().from(rightsRequests).where(eq(rightsRequests.dedupeKey, input.dedupeKey!)).get())!;
  await auditStatement(env.DB, { action: "privacy.meta_deletion_received", targetType: "rights_request", targetId: request.id, detail: { source: input.source } }, now);
  return inserted;
}

/** Carries out a claimed Meta deletion request and closes it with its receipt. Idempotent. */
export async function processMetaDeletion(env: Cloudflare.Env, request: RightsRequest, now = Date.now()): Promise<void> {
  const metaUserId = request.subjectId;
  const db = drizzle(env.DB);
  let channelsRevoked = 0;
  let contactsErased = 0;
  let messagesErased = 0;
  let quarantinedPayloadsErased = 0;
  if (metaUserId) {
    for (const channel of await db.select().from(channels).where(eq(channels.metaUserId, metaUserId))) {
      if (channel.status === "active" || channel.status === "needs_reconnection") {
        await endChannel(env, channel, "revoked", { action: "channel.revoked_by_meta", actorUserId: null, detail: { via: "data_deletion_request" } }, now);
        channelsRevoked++;
      }
      await db.update(channels).set({ metaUserId: null }).where(eq(channels.id, channel.id));
    }
    const known = await db
      .select({ id: contacts.id })
      .from(contacts)
      .where(or(eq(contacts.identity, metaUserId), eq(contacts.bsuid, metaUserId), eq(contacts.waId, metaUserId)));
    contactsErased = known.length;
    messagesErased = (await eraseConversations(env, known.map((c) => c.id.slice("ct_".length)))).messages;
    quarantinedPayloadsErased = await purgeQuarantineMentioning(env.DB, [metaUserId]);
  }
  const receipt = {
    requestId: request.id,
    erasedAt: now,
    categories: ["channel_tokens", "meta_user_link", "contact_profiles", "messages", "media_references", "quarantined_payloads"],
    channelsRevoked,
    contactsErased,
    messagesErased,
    quarantinedPayloadsErased,
  };
  const found = channelsRevoked + contactsErased > 0;
  await drizzle(env.DB).batch([
    closeRequest(env.DB, request.id, { status: "completed", outcome: found ? "Data deleted" : "We held no data for this id", receipt, clearSubject: true }, now),
    auditStatement(env.DB, { action: "privacy.meta_deletion_completed", targetType: "rights_request", targetId: request.id, detail: { channelsRevoked, contactsErased, messagesErased } }, now),
  ]);
}

/** Processes one request now if nobody else is (the callback's `waitUntil`); the daily run is the backstop. */
export async function processMetaDeletionNow(env: Cloudflare.Env, id: string, now = Date.now()): Promise<void> {
  const claimed = await claimRequest(env.DB, id, now);
  if (claimed) await processMetaDeletion(env, claimed, now);
}
