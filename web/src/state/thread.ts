/**
 * @module
 * The open conversation: its summary, its messages in display order (Meta time, then arrival), the
 * private notes, and sends in flight. The newest page loads first; older pages load as the agent
 * scrolls up. Live events and send answers are merged by Meta id or the send's client key, so a
 * message never shows twice.
 */
import { signal } from "@preact/signals";
import { api, ok } from "../api/client.ts";
import { track } from "./consent.ts";
import { startRead } from "./read-order.ts";
import type { ConversationSummary, Message, Note } from "../api/types.ts";

export type { Message, Note };
export type ThreadState = {
  conversationId: string;
  summary: ConversationSummary | null;
  messages: Message[];
  notes: Note[];
  olderCursor: string | null;
  loading: boolean;
  error: string | null;
  /** externalId of the first message that was unread when the conversation was opened. */
  firstUnread: string | null;
};

export const thread = signal<ThreadState | null>(null);
const PAGE = 50;

const order = (a: Message, b: Message) => a.timestamp - b.timestamp || a.seq - b.seq;
const sameMessage = (a: Message, b: Message) =>
  a.externalId === b.externalId || (!!a.idempotencyKey && a.idempotencyKey === b.idempotencyKey);

/**
 * A copy older than the one shown is dropped: a send's answer or a refetched page can arrive after
 * the live frame that moved the message on (failed, delivered), and must not turn it back.
 * Revisions only grow within a conversation; local placeholders are 0, so any stored copy wins.
 */
export function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  const fresh = incoming.filter((n) => !current.some((m) => sameMessage(m, n) && m.rev > n.rev));
  const result = current.filter((m) => !fresh.some((n) => sameMessage(m, n)));
  result.push(...fresh);
  return result.sort(order);
}

function update(conversationId: string, change: (t: ThreadState) => Partial<ThreadState>) {
  const t = thread.value;
  if (t && t.conversationId === conversationId) thread.value = { ...t, ...change(t) };
}

const path = (workspaceId: string, id: string) => ({ params: { path: { workspaceId, id } } });

/**
 * Shows the conversation at once from its list entry (when it has one) while the newest page of
 * messages loads; the fresh detail (send window, workflow) follows without holding anything up.
 */
export async function openThread(workspaceId: string, id: string, listed: ConversationSummary | undefined): Promise<void> {
  track("conversation.open");
  thread.value = { conversationId: id, summary: listed ?? null, messages: [], notes: [], olderCursor: null, loading: true, error: null, firstUnread: null };
  // What frames and reads of an earlier visit said has been superseded by what D1 holds now.
  live = null;
  summaryRead = 0;
  const read = startRead();
  const detail = ok(api.GET("/workspaces/{workspaceId}/conversations/{id}", path(workspaceId, id))).then((d) => {
    showSummary(id, d, read);
    return d;
  });
  try {
    const page = await ok(api.GET("/workspaces/{workspaceId}/conversations/{id}/messages", { params: { path: { workspaceId, id }, query: { limit: PAGE } } }));
    const summary = listed ?? (await detail);
    const inbound = page.messages.filter((m) => m.direction === "in");
    const firstUnread = summary.unreadCount > 0 ? inbound.at(-Math.min(summary.unreadCount, inbound.length))?.externalId ?? null : null;
    // Merged, not replaced: a live frame may have landed while the page loaded.
    update(id, (s) => ({ messages: mergeMessages(s.messages, page.messages), olderCursor: page.nextCursor, loading: false, firstUnread }));
    void loadNotes(workspaceId, id);
    if (summary.unreadCount > 0) markRead(workspaceId, id);
  } catch (e) {
    update(id, () => ({ loading: false, error: (e as Error).message }));
  }
  // A listed conversation stays usable on its list entry if the detail fails.
  await detail.catch(() => undefined);
}

/** The agent is looking at it: their unread count drops to 0 and the customer sees it read. */
export const markRead = (workspaceId: string, id: string) => void api.POST("/workspaces/{workspaceId}/conversations/{id}/read", path(workspaceId, id));

export async function loadNotes(workspaceId: string, id: string) {
  try {
    const { notes } = await ok(api.GET("/workspaces/{workspaceId}/conversations/{id}/notes", path(workspaceId, id)));
    update(id, () => ({ notes }));
  } catch {
    // Notes are an addition to the thread; the messages stay usable without them.
  }
}

export async function loadOlder(workspaceId: string): Promise<void> {
  const t = thread.value;
  if (!t || !t.olderCursor || t.loading) return;
  const id = t.conversationId;
  update(id, () => ({ loading: true }));
  try {
    const page = await ok(
      api.GET("/workspaces/{workspaceId}/conversations/{id}/messages", { params: { path: { workspaceId, id }, query: { limit: PAGE, cursor: t.olderCursor } } }),
    );
    update(id, (s) => ({ messages: mergeMessages(s.messages, page.messages), olderCursor: page.nextCursor, loading: false }));
  } catch (e) {
    update(id, () => ({ loading: false, error: (e as Error).message }));
  }
}

/** Re-reads the newest page (after a reconnect that could not resume). */
export async function refreshThread(workspaceId: string): Promise<void> {
  const t = thread.value;
  if (!t) return;
  const id = t.conversationId;
  const read = startRead();
  const [summary, page] = await Promise.all([
    // A failed detail keeps what is shown now, not what was shown before the request.
    ok(api.GET("/workspaces/{workspaceId}/conversations/{id}", path(workspaceId, id))).catch(() => null),
    ok(api.GET("/workspaces/{workspaceId}/conversations/{id}/messages", { params: { path: { workspaceId, id }, query: { limit: PAGE } } })),
  ]).catch(() => [null, null] as const);
  if (summary) showSummary(id, summary, read);
  if (page) update(id, (s) => ({ messages: mergeMessages(s.messages, page.messages) }));
}

export const upsertMessage = (conversationId: string, message: Message) =>
  update(conversationId, (t) => ({ messages: mergeMessages(t.messages, [message]) }));

export const upsertNote = (conversationId: string, note: Note) =>
  update(conversationId, (t) => ({ notes: [...t.notes.filter((n) => n.id !== note.id), note] }));

/**
 * The open summary comes from D1 reads and from live frames. Of the D1 reads the later-started one
 * wins (read-order.ts). Frames come from the conversation itself, ahead of D1, so even a later read
 * can hold less than the frames showed: what they said is kept with their revision and laid over
 * any D1 copy older than it. A frame with a lower revision than the one before means the
 * conversation was erased and began again: the old frames no longer count.
 */
let summaryRead = 0;
let live: { rev: number; fields: Partial<ConversationSummary> } | null = null;
/** Both belong to the open conversation: openThread starts them afresh, and others' answers are ignored. */
const isOpen = (conversationId: string) => thread.value?.conversationId === conversationId;

/** A summary read from D1 (or answered by a change the agent made) by the read numbered `read`. */
export function showSummary(conversationId: string, summary: ConversationSummary, read: number) {
  if (!isOpen(conversationId) || summaryRead > read) return;
  summaryRead = read;
  update(conversationId, () => ({ summary: live && live.rev > summary.rev ? { ...summary, ...live.fields } : summary }));
}

/** A live frame's summary fields, at the conversation revision `rev`. */
export function applyFrame(conversationId: string, fields: Partial<ConversationSummary>, rev: number) {
  if (!isOpen(conversationId)) return;
  live = { rev, fields: live && rev >= live.rev ? { ...live.fields, ...fields } : fields };
  update(conversationId, (t) => ({ summary: t.summary ? { ...t.summary, ...fields } : null }));
}

/** A socket's greeting: a revision below the frames' means the conversation was erased and began again. */
export function conversationAt(conversationId: string, rev: number) {
  if (isOpen(conversationId) && live && rev < live.rev) live = null;
}
