/**
 * @module
 * The conversation thread: messages and private notes in display order, day separators and the
 * "new messages" marker, virtualised and anchored to the newest message (new ones follow while the
 * agent is at the bottom). Scrolling to the top loads older pages.
 */
import { useRef, useState } from "preact/hooks";
import type { Message, Note } from "../api/types.ts";
import { dayKey, formatDay, formatTime } from "../format.ts";
import { retry, newKey, send } from "../state/send.ts";
import { loadOlder, thread } from "../state/thread.ts";
import { Dialog } from "../ui/dialog.tsx";
import { useVirtualizer } from "../ui/virtual.ts";
import { Bubble } from "./bubble.tsx";

type Row =
  | { key: string; kind: "day"; label: string }
  | { key: string; kind: "new" }
  | { key: string; kind: "message"; message: Message }
  | { key: string; kind: "note"; note: Note };

const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

function rowsOf(messages: Message[], notes: Note[], firstUnread: string | null): Row[] {
  const items: ({ at: number; message: Message } | { at: number; note: Note })[] = [
    ...messages.map((message) => ({ at: message.timestamp, message })),
    ...notes.map((note) => ({ at: note.createdAt, note })),
  ].sort((a, b) => a.at - b.at);
  const rows: Row[] = [];
  let day = "";
  for (const item of items) {
    if (dayKey(item.at) !== day) {
      day = dayKey(item.at);
      rows.push({ key: `day:${day}`, kind: "day", label: formatDay(item.at) });
    }
    if ("message" in item) {
      if (item.message.externalId === firstUnread) rows.push({ key: "new", kind: "new" });
      rows.push({ key: item.message.idempotencyKey ?? item.message.externalId, kind: "message", message: item.message });
    } else rows.push({ key: `note:${item.note.id}`, kind: "note", note: item.note });
  }
  return rows;
}

export function ThreadView(props: { workspaceId: string; onReply: (m: Message) => void }) {
  const t = thread.value!;
  const scroller = useRef<HTMLDivElement>(null);
  const [reacting, setReacting] = useState<Message | null>(null);
  const rows = rowsOf(t.messages, t.notes, t.firstUnread);
  const byId = new Map(t.messages.map((m) => [m.externalId, m]));
  const virtualizer = useVirtualizer({
    count: rows.length,
    estimateSize: (i) => (rows[i]?.kind === "message" ? 84 : 40),
    getItemKey: (i) => rows[i]!.key,
    getScrollElement: () => scroller.current,
    anchorTo: "end",
    followOnAppend: true,
  });
  const items = virtualizer.getVirtualItems();
  if (items[0]?.index === 0 && t.olderCursor && !t.loading) void loadOlder(props.workspaceId);
  const mediaSrc = (externalId: string, index?: number) =>
    `/api/workspaces/${encodeURIComponent(props.workspaceId)}/conversations/${t.conversationId}/messages/${encodeURIComponent(externalId)}/media${index === undefined ? "" : `?index=${index}`}`;
  return (
    <div ref={scroller} class="thread" role="log" aria-live="polite" aria-label="Messages" tabIndex={0}>
      {t.loading && t.messages.length === 0 && <p class="loading-line" role="status">Loading messages…</p>}
      {!t.loading && rows.length === 0 && <p class="empty-thread">No messages yet.</p>}
      <div class="virtual-space" style={{ height: `${virtualizer.getTotalSize()}px` }}>
        {items.map((item) => {
          const row = rows[item.index]!;
          return (
            <div key={item.key} data-index={item.index} ref={virtualizer.measureElement} class="thread-row" style={{ transform: `translateY(${item.start}px)` }}>
              {row.kind === "day" && (
                <h3 class="day-separator">
                  <span>{row.label}</span>
                </h3>
              )}
              {row.kind === "new" && (
                <p class="new-marker" role="separator">
                  <span>New messages</span>
                </p>
              )}
              {row.kind === "note" && (
                <aside class="note" aria-label="Private note">
                  <p class="meta-line">🔒 Private note · only your team sees it · {formatTime(row.note.createdAt)}</p>
                  <p>{row.note.text}</p>
                </aside>
              )}
              {row.kind === "message" && (
                <Bubble
                  message={row.message}
                  quoted={row.message.content.context?.replyTo ? byId.get(row.message.content.context.replyTo) : undefined}
                  mediaSrc={mediaSrc}
                  onReply={props.onReply}
                  onReact={setReacting}
                  onRetry={(m) => void retry(props.workspaceId, t.conversationId, m.idempotencyKey!)}
                />
              )}
            </div>
          );
        })}
      </div>
      {reacting && (
        <Dialog title="React" onClose={() => setReacting(null)}>
          <div class="reaction-picker">
            {REACTIONS.map((emoji) => (
              <button
                type="button"
                aria-label={`React with ${emoji}`}
                onClick={() => {
                  void send(props.workspaceId, t.conversationId, { idempotencyKey: newKey(), kind: "reaction", targetExternalId: reacting.externalId, emoji });
                  setReacting(null);
                }}
              >
                {emoji}
              </button>
            ))}
            {reacting.reactions.some((r) => r.actor === "out") && (
              <button
                type="button"
                onClick={() => {
                  void send(props.workspaceId, t.conversationId, { idempotencyKey: newKey(), kind: "reaction", targetExternalId: reacting.externalId, emoji: null });
                  setReacting(null);
                }}
              >
                Remove my reaction
              </button>
            )}
          </div>
        </Dialog>
      )}
    </div>
  );
}
