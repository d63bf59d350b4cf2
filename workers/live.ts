/**
 * @module
 * Real time for browsers. Conversations announce list changes to their workspace's Inbox object once
 * D1 holds them; browsers connect with a short-lived, single-use ticket (jose, purpose `ws-ticket`)
 * bound to the member, the workspace and — for a conversation socket — the conversation.
 */
import { consumeToken, issueToken, verifyToken } from "./auth/signed-link.ts";
import type { MirrorBatch } from "./mirror.ts";

export const TICKET_TTL_SECONDS = 60;

const inboxOf = (env: Cloudflare.Env, workspaceId: string) => env.INBOX.get(env.INBOX.idFromName(workspaceId));

/** Tells each workspace's live inbox which conversations changed. Never throws: live is best effort, D1 is the record. */
export async function announce(env: Cloudflare.Env, batches: readonly MirrorBatch[]): Promise<void> {
  const byWorkspace = new Map<string, Map<string, number>>();
  for (const { conversation } of batches) {
    const changes = byWorkspace.get(conversation.workspaceId) ?? new Map<string, number>();
    changes.set(conversation.id, Math.max(changes.get(conversation.id) ?? 0, conversation.rev));
    byWorkspace.set(conversation.workspaceId, changes);
  }
  await Promise.all([...byWorkspace].map(([workspaceId, changes]) => publish(env, workspaceId, [...changes].map(([id, rev]) => ({ id, rev })))));
}

/** Announces list changes made outside a conversation (a contact renamed): browsers refetch those entries. */
export async function publishConversations(env: Cloudflare.Env, workspaceId: string, conversationIds: readonly string[]): Promise<void> {
  if (conversationIds.length === 0) return;
  const rows = await env.DB.prepare(`SELECT id, content_rev AS rev FROM conversations WHERE workspace_id = ?1 AND id IN (SELECT value FROM json_each(?2))`)
    .bind(workspaceId, JSON.stringify(conversationIds))
    .all<{ id: string; rev: number }>();
  await publish(env, workspaceId, rows.results);
}

async function publish(env: Cloudflare.Env, workspaceId: string, changes: { id: string; rev: number }[]): Promise<void> {
  try {
    await inboxOf(env, workspaceId).publish(changes);
  } catch (error) {
    console.warn(`live inbox of ${workspaceId} missed an announcement`, error);
  }
}

export type TicketScope = { userId: string; workspaceId: string; conversationId: string | null };

export function issueTicket(env: Cloudflare.Env, scope: TicketScope): Promise<string> {
  return issueToken(env.SESSION_SECRET, {
    purpose: "ws-ticket",
    subject: scope.userId,
    data: { workspaceId: scope.workspaceId, conversationId: scope.conversationId ?? "" },
    ttlSeconds: TICKET_TTL_SECONDS,
  });
}

/**
 * True when the ticket is valid, unused and issued to this member for exactly this socket. It is
 * spent only then, so someone else presenting it cannot burn it.
 */
export async function redeemTicket(env: Cloudflare.Env, ticket: string, expected: TicketScope): Promise<boolean> {
  const verdict = await verifyToken(env.SESSION_SECRET, ticket, "ws-ticket");
  if (!verdict.ok) return false;
  const { data, sub } = verdict.claims;
  if (sub !== expected.userId || data?.workspaceId !== expected.workspaceId || (data.conversationId || null) !== expected.conversationId) return false;
  return consumeToken(env.DB, verdict.claims);
}

/** Closes every live connection of a member in a workspace (removed, or role changed). */
export async function disconnectMember(env: Cloudflare.Env, workspaceId: string, userId: string, reason: string): Promise<void> {
  try {
    await inboxOf(env, workspaceId).disconnectMember(userId, reason);
  } catch (error) {
    // The member's requests are refused anyway (membership is read on every request); sockets close at the next check.
    console.warn(`could not close live connections of ${userId} in ${workspaceId}`, error);
  }
}

/** Closes every live connection of a user in every workspace (account deactivated). */
export async function disconnectUser(env: Cloudflare.Env, userId: string, reason: string): Promise<void> {
  const { results } = await env.DB.prepare(`SELECT workspace_id FROM memberships WHERE user_id = ?1`).bind(userId).all<{ workspace_id: string }>();
  await Promise.all(results.map((m) => disconnectMember(env, m.workspace_id, userId, reason)));
}

export function watchConversation(env: Cloudflare.Env, workspaceId: string, userId: string, conversationId: string): Promise<void> {
  return inboxOf(env, workspaceId).watch(userId, conversationId);
}
