/**
 * @module
 * The tools a workspace needs to answer its own customers' requests (we are its processor, GDPR
 * Art. 28(3)(e)): find a contact across channels, export everything about them, erase them from D1
 * and every Durable Object, or restrict them. Each action is audited and recorded as a rights
 * request whose receipt names categories and counts, never the person.
 */
import { and, asc, eq, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { drizzle } from "drizzle-orm/d1";
import { auditStatement } from "../audit.ts";
import { eraseConversations } from "../channels/disconnect.ts";
import { channels, contactRestrictions, contacts, conversations, messages, rightsRequests } from "../db/schema.ts";
import { purgeQuarantineMentioning } from "./quarantine.ts";
import { completedRequest } from "./requests.ts";

export type Contact = typeof contacts.$inferSelect;
const SEARCH_LIMIT = 50;

/** The conversation a contact belongs to: the mirror names contacts `ct_<conversation id>`. */
const conversationOfContact = (contactId: string) => contactId.slice("ct_".length);

/** True when the workspace restricted this contact: no outbound message may reach them. */
export async function isContactRestricted(db: D1Database, contactId: string): Promise<boolean> {
  return (await drizzle(db).select({ id: contactRestrictions.contactId }).from(contactRestrictions).where(eq(contactRestrictions.contactId, contactId)).get()) !== undefined;
}

/** `column` contains `text` literally: `%` and `_` typed by the admin are not wildcards. */
const contains = (column: SQLiteColumn, text: string): SQL =>
  sql`${column} LIKE ${`%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`} ESCAPE '\\'`;

/** Contacts matching a name or username (part of it) or an exact wa_id, BSUID, IGSID or PSID. */
export async function searchContacts(db: D1Database, workspaceId: string, q: string) {
  const d = drizzle(db);
  const rows = await d
    .select({ contact: contacts, kind: channels.kind, restrictedAt: contactRestrictions.restrictedAt })
    .from(contacts)
    .innerJoin(channels, eq(channels.id, contacts.channelId))
    .leftJoin(contactRestrictions, eq(contactRestrictions.contactId, contacts.id))
    .where(
      and(
        eq(contacts.workspaceId, workspaceId),
        or(contains(contacts.name, q), contains(contacts.username, q), eq(contacts.waId, q), eq(contacts.identity, q), eq(contacts.bsuid, q)),
      ),
    )
    .orderBy(asc(contacts.name), asc(contacts.id))
    .limit(SEARCH_LIMIT);
  return rows.map((r) => ({ ...contactView(r.contact), channelKind: r.kind, restricted: r.restrictedAt !== null }));
}

const contactView = (c: Contact) => ({
  id: c.id,
  channelId: c.channelId,
  identity: c.identity,
  waId: c.waId,
  bsuid: c.bsuid,
  name: c.name,
  username: c.username,
  conversationId: conversationOfContact(c.id),
  updatedAt: c.updatedAt,
});

export function findContact(db: D1Database, workspaceId: string, contactId: string) {
  return drizzle(db).select().from(contacts).where(and(eq(contacts.id, contactId), eq(contacts.workspaceId, workspaceId))).get();
}

/** Everything the workspace holds about one contact: profile, conversation and messages (D1 mirror). */
export async function exportContact(env: Cloudflare.Env, contact: Contact, actorUserId: string, now = Date.now()) {
  const db = drizzle(env.DB);
  const conversationId = conversationOfContact(contact.id);
  const [conversation, rows] = await Promise.all([
    db.select().from(conversations).where(eq(conversations.id, conversationId)).get(),
    db.select().from(messages).where(eq(messages.conversationId, conversationId)).orderBy(asc(messages.timestamp), asc(messages.seq)),
  ]);
  const request = completedRequest(
    { kind: "contact_access", subjectType: "contact", subjectId: contact.id, workspaceId: contact.workspaceId, source: "workspace_admin", outcome: "Export delivered to the workspace", receipt: { messages: rows.length } },
    now,
  );
  await db.batch([
    db.insert(rightsRequests).values(request),
    auditStatement(env.DB, { action: "privacy.contact_exported", workspaceId: contact.workspaceId, actorUserId, targetType: "contact", targetId: contact.id, detail: { messages: rows.length } }, now),
  ]);
  return {
    format: "wechatting-contact-export/1",
    exportedAt: now,
    contact: contactView(contact),
    conversation: conversation ? { id: conversation.id, channelId: conversation.channelId, lastMessageAt: conversation.lastMessageAt, messageCount: conversation.messageCount } : null,
    messages: rows.map(({ workspaceId: _, rev: __, ...m }) => m),
  };
}

/** Erases a contact and their conversation everywhere; answers with the deletion receipt. */
export async function eraseContact(env: Cloudflare.Env, contact: Contact, actorUserId: string, now = Date.now()) {
  const erased = await eraseConversations(env, [conversationOfContact(contact.id)]);
  const quarantined = await purgeQuarantineMentioning(env.DB, [contact.identity, contact.waId, contact.bsuid].filter((id): id is string => !!id));
  const receipt = {
    erasedAt: now,
    categories: ["contact_profile", "conversation_index", "messages", "media_references", "receipts", "restriction_flag", "quarantined_payloads"],
    conversationsErased: erased.conversations,
    messagesErased: erased.messages,
    quarantinedPayloadsErased: quarantined,
    places: ["d1", "durable_object"],
  };
  // The ledger keeps the request, not the person: the contact id pointed at rows that are gone.
  const request = completedRequest(
    { kind: "contact_erasure", subjectType: "contact", subjectId: null, workspaceId: contact.workspaceId, source: "workspace_admin", outcome: "Contact erased", receipt },
    now,
  );
  const db = drizzle(env.DB);
  await db.batch([
    db.insert(rightsRequests).values(request),
    auditStatement(env.DB, { action: "privacy.contact_erased", workspaceId: contact.workspaceId, actorUserId, targetType: "rights_request", targetId: request.id, detail: { messagesErased: erased.messages } }, now),
  ]);
  return { requestId: request.id, ...receipt };
}

/** Restricts (kept, hidden from agents, never messaged) or lifts the restriction, at once. */
export async function setContactRestriction(env: Cloudflare.Env, contact: Contact, restricted: boolean, actorUserId: string, now = Date.now()) {
  const db = drizzle(env.DB);
  const change = restricted
    ? db.insert(contactRestrictions).values({ contactId: contact.id, workspaceId: contact.workspaceId, restrictedAt: now, restrictedBy: actorUserId }).onConflictDoNothing()
    : db.delete(contactRestrictions).where(eq(contactRestrictions.contactId, contact.id));
  const request = completedRequest(
    { kind: "contact_restriction", subjectType: "contact", subjectId: contact.id, workspaceId: contact.workspaceId, source: "workspace_admin", outcome: restricted ? "Restricted" : "Restriction lifted" },
    now,
  );
  await db.batch([
    change,
    db.insert(rightsRequests).values(request),
    auditStatement(env.DB, { action: restricted ? "privacy.contact_restricted" : "privacy.contact_unrestricted", workspaceId: contact.workspaceId, actorUserId, targetType: "contact", targetId: contact.id }, now),
  ]);
  return { restricted, requestId: request.id };
}
