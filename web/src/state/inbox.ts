/**
 * @module
 * The conversation list of the current workspace: filters, keyset pages, and live changes applied
 * in place (a changed conversation is re-read and moved to where its new activity puts it).
 */
import { signal } from "@preact/signals";
import { api, ok } from "../api/client.ts";
import type { ConversationSummary } from "../api/types.ts";
import { startRead } from "./read-order.ts";

export type { ConversationSummary };
export type Filters = { status: string; channelId: string; assignee: string; unread: boolean; label: string };
export const NO_FILTERS: Filters = { status: "open", channelId: "", assignee: "", unread: false, label: "" };

export const filters = signal<Filters>(NO_FILTERS);
export const conversations = signal<ConversationSummary[]>([]);
export const listState = signal<{ loading: boolean; error: string | null; nextCursor: string | null }>({ loading: true, error: null, nextCursor: null });

const PAGE = 100;

const query = (f: Filters, cursor?: string) => ({
  limit: PAGE,
  ...(f.status ? { status: f.status as ConversationSummary["status"] } : {}),
  ...(f.channelId ? { channelId: f.channelId } : {}),
  ...(f.assignee ? { assignee: f.assignee } : {}),
  ...(f.unread ? { unread: "true" as const } : {}),
  ...(f.label ? { label: f.label } : {}),
  ...(cursor ? { cursor } : {}),
});

const readPage = (workspaceId: string, cursor?: string) =>
  ok(api.GET("/workspaces/{workspaceId}/conversations", { params: { path: { workspaceId }, query: query(filters.value, cursor) } }));

let generation = 0;

/** The read (see read-order.ts) whose copy of each conversation the list shows. */
const shownRead = new Map<string, number>();
const superseded = (id: string, read: number) => (shownRead.get(id) ?? 0) > read;

const byActivity = (a: ConversationSummary, b: ConversationSummary) =>
  b.lastMessageAt - a.lastMessageAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export async function loadConversations(workspaceId: string, more = false): Promise<void> {
  const mine = more ? generation : ++generation;
  const cursor = more ? listState.value.nextCursor ?? undefined : undefined;
  if (more && !cursor) return;
  listState.value = { ...listState.value, loading: true, error: null };
  try {
    const read = startRead();
    const page = await readPage(workspaceId, cursor);
    if (mine !== generation) return;
    const fresh = page.conversations.filter((c) => !superseded(c.id, read));
    for (const c of fresh) shownRead.set(c.id, read);
    // A first page replaces the list, except what reads started after it showed: the page may hold
    // an older copy, or miss a conversation that has just moved up into its range.
    const last = page.conversations.at(-1);
    const inRange = (c: ConversationSummary) => !page.nextCursor || !last || byActivity(c, last) <= 0;
    const kept = more ? conversations.value : conversations.value.filter((c) => superseded(c.id, read) && inRange(c));
    const list = new Map(kept.map((c) => [c.id, c]));
    for (const c of fresh) list.set(c.id, c);
    conversations.value = [...list.values()].sort(byActivity);
    listState.value = { loading: false, error: null, nextCursor: page.nextCursor };
  } catch (e) {
    if (mine === generation) listState.value = { ...listState.value, loading: false, error: (e as Error).message };
  }
}

/**
 * Reads again what may have changed while live updates were not arriving (a socket just opened, a
 * resume that was too far behind, polling while the socket is down). A list of one page is simply
 * reloaded; a longer one, or one still growing, gets the newest page merged in, so an agent scrolled
 * far down keeps their place (what gained activity has moved to the top anyway; a row further down
 * that changed otherwise is current again once opened or on the next reload).
 */
export async function refreshConversations(workspaceId: string, userId: string): Promise<void> {
  if (conversations.value.length <= PAGE && !listState.value.loading) return loadConversations(workspaceId);
  const mine = generation;
  try {
    const read = startRead();
    const page = await readPage(workspaceId);
    if (mine !== generation) return;
    for (const summary of page.conversations) applySummary(summary, userId, read);
  } catch {
    // The next refresh, or the next live event, reads it again.
  }
}

function matches(c: ConversationSummary, f: Filters, userId: string): boolean {
  if (f.status && c.status !== f.status) return false;
  if (f.channelId && c.channel.id !== f.channelId) return false;
  if (f.assignee === "me" && c.assigneeId !== userId) return false;
  if (f.assignee === "unassigned" && c.assigneeId !== null) return false;
  if (f.assignee && f.assignee !== "me" && f.assignee !== "unassigned" && c.assigneeId !== f.assignee) return false;
  if (f.unread && !c.unreadCount) return false;
  if (f.label && !c.labels?.includes(f.label)) return false;
  return true;
}

/**
 * Puts a fresh summary where it belongs (newest activity first), or drops it when filtered out.
 * `read`: the number {@link startRead} gave the request that answered it.
 */
export function applySummary(summary: ConversationSummary, userId: string, read: number) {
  if (superseded(summary.id, read)) return;
  shownRead.set(summary.id, read);
  const rest = conversations.value.filter((c) => c.id !== summary.id);
  if (!matches(summary, filters.value, userId)) {
    conversations.value = rest;
    return;
  }
  const at = rest.findIndex((c) => byActivity(summary, c) < 0);
  rest.splice(at === -1 ? rest.length : at, 0, summary);
  conversations.value = rest;
}

export async function refreshConversation(workspaceId: string, id: string, userId: string): Promise<ConversationSummary | null> {
  try {
    const read = startRead();
    const summary = await ok(api.GET("/workspaces/{workspaceId}/conversations/{id}", { params: { path: { workspaceId, id } } }));
    applySummary(summary, userId, read);
    return summary;
  } catch {
    return null;
  }
}
