/**
 * @module
 * The inbox: filters and the conversation list beside the open conversation and its contact panel.
 * One live connection follows the workspace (list, unread counts) and one the open conversation
 * (messages, ticks, notes, assignment). Below 900 px only one pane shows at a time.
 */
import { effect, untracked } from "@preact/signals";
import { useEffect, useState } from "preact/hooks";
import type { ConversationSummary, Message, Note } from "../api/types.ts";
import { conversations, filters, listState, loadConversations, refreshConversation, refreshConversations } from "../state/inbox.ts";
import { connectLive } from "../state/live.ts";
import { me } from "../state/session.ts";
import { applyFrame, conversationAt, markRead, openThread, refreshThread, thread, upsertMessage, upsertNote } from "../state/thread.ts";
import { Composer } from "../thread/composer.tsx";
import { ThreadView } from "../thread/thread-view.tsx";
import { Boundary } from "../ui/boundary.tsx";
import { Empty } from "../ui/empty.tsx";
import { ContactPanel } from "./contact-panel.tsx";
import { ConversationList, contactName } from "./conversation-list.tsx";
import { FilterBar } from "./filters.tsx";

function useWorkspaceLive(workspaceId: string) {
  useEffect(() => {
    const userId = me.value!.user.id;
    const stopFilters = effect(() => {
      void filters.value;
      // Only the filters re-run this: the load itself reads the list state it updates.
      untracked(() => void loadConversations(workspaceId));
    });
    const stopLive = connectLive({
      workspaceId,
      onEvent: (event) => {
        if (event.type === "conversation" && typeof event.id === "string") void refreshConversation(workspaceId, event.id, userId);
      },
      refresh: () => void refreshConversations(workspaceId, userId),
    });
    return () => {
      stopFilters();
      stopLive();
    };
  }, [workspaceId]);
}

function useConversationLive(workspaceId: string, conversationId: string | null) {
  useEffect(() => {
    if (!conversationId) return;
    void openThread(workspaceId, conversationId, conversations.peek().find((c) => c.id === conversationId));
    return connectLive({
      workspaceId,
      conversationId,
      onEvent: (event) => {
        if (event.type === "message") {
          const message = event.message as Message;
          const isNew = !thread.peek()?.messages.some((m) => m.externalId === message.externalId);
          upsertMessage(conversationId, message);
          // A new customer message in the open conversation is read; a later receipt for it is not news.
          if (isNew && message.direction === "in" && document.visibilityState === "visible") markRead(workspaceId, conversationId);
        }
        else if (event.type === "note") upsertNote(conversationId, event.note as Note);
        else if (event.type === "conversation" && typeof event.rev === "number") {
          applyFrame(conversationId, (event.conversation ?? {}) as Partial<ConversationSummary>, event.rev);
        } else if (event.type === "hello" && typeof event.rev === "number") conversationAt(conversationId, event.rev);
      },
      refresh: () => void refreshThread(workspaceId),
    });
  }, [workspaceId, conversationId]);
}

export function Inbox(props: { workspaceId: string; conversationId: string | null }) {
  const { workspaceId, conversationId } = props;
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  useWorkspaceLive(workspaceId);
  useConversationLive(workspaceId, conversationId);
  useEffect(() => setReplyTo(null), [conversationId]);
  const t = thread.value;
  const open = conversationId && t?.conversationId === conversationId ? t : null;
  const state = listState.value;
  return (
    <div class={`inbox${conversationId ? " has-open" : ""}${open?.summary ? " has-panel" : ""}`}>
      <section class="list-pane" aria-label="Conversations">
        <h1 class="visually-hidden">Inbox</h1>
        <FilterBar workspaceId={workspaceId} />
        {state.error && (
          <p class="error" role="alert">
            {state.error} <button onClick={() => void loadConversations(workspaceId)}>Try again</button>
          </p>
        )}
        {state.loading && conversations.value.length === 0 && <p class="loading-line" role="status">Loading conversations…</p>}
        {!state.loading && !state.error && conversations.value.length === 0 ? (
          <Empty title="No conversations here">
            <p>
              When customers write to a connected WhatsApp number, Instagram account or Facebook Page, their conversations appear here at once.
              Connect a channel in <a href={`/w/${workspaceId}/settings/channels`}>Settings → Channels</a>, or change the filters above.
            </p>
          </Empty>
        ) : (
          <ConversationList workspaceId={workspaceId} openId={conversationId} />
        )}
      </section>
      <section class="thread-pane" aria-label={open?.summary ? `Conversation with ${contactName(open.summary)}` : "Conversation"}>
        {!conversationId && (
          <Empty title="Pick a conversation">
            <p>Choose one on the left (↑/↓ and Enter work too). Replies, notes and assignment happen here.</p>
          </Empty>
        )}
        {open && (
          <>
            <header class="thread-head">
              <a class="back" href={`/w/${workspaceId}/inbox`}>
                ← Conversations
              </a>
              <h2>{open.summary ? contactName(open.summary) : "…"}</h2>
            </header>
            {open.error && (
              <p class="error" role="alert">
                {open.error}
              </p>
            )}
            <Boundary what="conversation">
              <ThreadView workspaceId={workspaceId} onReply={setReplyTo} />
            </Boundary>
            {open.summary && (
              <Boundary what="composer">
                <Composer workspaceId={workspaceId} conversation={open.summary} replyTo={replyTo} clearReply={() => setReplyTo(null)} />
              </Boundary>
            )}
          </>
        )}
      </section>
      {open?.summary && (
        <Boundary what="contact panel">
          <ContactPanel workspaceId={workspaceId} conversation={open.summary} ready={!(open.loading && open.messages.length === 0)} />
        </Boundary>
      )}
    </div>
  );
}
