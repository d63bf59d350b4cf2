/**
 * @module
 * The virtualised conversation list. Keyboard: focus the list, ↑/↓ (Home/End, PageUp/PageDown) move,
 * Enter opens; the active row is announced through aria-activedescendant, so focus never lands on a
 * row that scrolling may remove.
 */
import { useRef, useState } from "preact/hooks";
import type { ConversationSummary } from "../api/types.ts";
import { formatListTime } from "../format.ts";
import { navigate } from "../router.ts";
import { useVirtualizer } from "../ui/virtual.ts";
import { conversations, listState, loadConversations } from "../state/inbox.ts";
import { WindowChip } from "./window-state.tsx";

const ROW = 76;
const CHANNEL = { whatsapp: "WhatsApp", instagram: "Instagram", messenger: "Messenger" } as const;

export const contactName = (c: Pick<ConversationSummary, "contact">) =>
  c.contact.name ?? (c.contact.username ? `@${c.contact.username}` : c.contact.waId ? `+${c.contact.waId}` : c.contact.identity);

export function ConversationList(props: { workspaceId: string; openId: string | null }) {
  const scroller = useRef<HTMLDivElement>(null);
  const items = conversations.value;
  const [active, setActive] = useState(0);
  const virtualizer = useVirtualizer({
    count: items.length,
    estimateSize: () => ROW,
    getItemKey: (i) => items[i]!.id,
    getScrollElement: () => scroller.current,
  });
  const rows = virtualizer.getVirtualItems();
  const last = rows.at(-1);
  if (last && last.index >= items.length - 20 && listState.value.nextCursor && !listState.value.loading) {
    void loadConversations(props.workspaceId, true);
  }
  const current = Math.min(active, items.length - 1);
  const open = (i: number) => items[i] && navigate(`/w/${props.workspaceId}/inbox/${items[i]!.id}`);
  const move = (i: number) => {
    const next = Math.max(0, Math.min(items.length - 1, i));
    setActive(next);
    virtualizer.scrollToIndex(next, { align: "auto" });
  };
  const onKey = (e: KeyboardEvent) => {
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? ROW) / ROW) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(current + 1),
      ArrowUp: () => move(current - 1),
      PageDown: () => move(current + page),
      PageUp: () => move(current - page),
      Home: () => move(0),
      End: () => move(items.length - 1),
      Enter: () => open(current),
    };
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  };
  return (
    <div
      ref={scroller}
      class="conversation-list"
      role="listbox"
      tabIndex={0}
      aria-label={`Conversations, ${items.length}${listState.value.nextCursor ? " loaded" : ""}`}
      aria-activedescendant={items[current] ? `conv-${items[current]!.id}` : undefined}
      onKeyDown={onKey}
    >
      <div style={{ height: `${virtualizer.getTotalSize()}px` }} class="virtual-space">
        {rows.map((row) => {
          const c = items[row.index]!;
          return (
            <div
              key={row.key}
              id={`conv-${c.id}`}
              role="option"
              aria-selected={c.id === props.openId}
              class={`conversation-row${row.index === current ? " active" : ""}${c.id === props.openId ? " open" : ""}`}
              style={{ transform: `translateY(${row.start}px)`, height: `${ROW}px` }}
              onClick={() => {
                setActive(row.index);
                open(row.index);
              }}
            >
              <span class={`avatar ${c.channel.kind}`} aria-hidden="true">
                {contactName(c).replace(/^[@+]/, "").slice(0, 1).toUpperCase()}
              </span>
              <span class="row-main">
                <span class="row-top">
                  <strong class="name">{contactName(c)}</strong>
                  <time dateTime={new Date(c.lastMessageAt).toISOString()}>{formatListTime(c.lastMessageAt)}</time>
                </span>
                <span class="row-preview">
                  {c.lastDirection === "out" && <span class="you">You: </span>}
                  {c.lastMessagePreview ?? "No messages yet"}
                </span>
                <span class="row-meta">
                  <span class="chip">{CHANNEL[c.channel.kind]}</span>
                  <WindowChip window={c.window} />
                  {c.status && c.status !== "open" && <span class="chip">{c.status}</span>}
                  {c.unreadCount > 0 && (
                    <span class="badge" aria-label={`${c.unreadCount} unread`}>
                      {c.unreadCount}
                    </span>
                  )}
                </span>
              </span>
            </div>
          );
        })}
      </div>
    </div>
  );
}
