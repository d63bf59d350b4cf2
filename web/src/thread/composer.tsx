/**
 * @module
 * The composer: a reply (text, a file, reply-to) or a private note. Enter sends, Shift+Enter adds a
 * line. When the window is closed it says why and offers what is allowed: a template on WhatsApp,
 * the HUMAN_AGENT tag on Instagram and Messenger within 7 days.
 */
import { useRef, useState } from "preact/hooks";
import { api, ok } from "../api/client.ts";
import type { ConversationSummary, MediaType, Message, SendDraft } from "../api/types.ts";
import { formatDuration } from "../format.ts";
import { newKey, send } from "../state/send.ts";
import { upsertNote } from "../state/thread.ts";
import { ErrorLine, messageOf } from "../ui/form.tsx";
import { TemplatePicker } from "./template-picker.tsx";

const mediaTypeOf = (file: File): MediaType =>
  file.type.startsWith("image/webp") ? "sticker" : file.type.startsWith("image/") ? "image" : file.type.startsWith("video/") ? "video" : file.type.startsWith("audio/") ? "audio" : "document";

export function Composer(props: {
  workspaceId: string;
  conversation: ConversationSummary;
  replyTo: Message | null;
  clearReply: () => void;
}) {
  const { workspaceId, conversation: c } = props;
  const [mode, setMode] = useState<"reply" | "note">("reply");
  const [text, setText] = useState("");
  const [picker, setPicker] = useState(false);
  const [humanAgent, setHumanAgent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [uploading, setUploading] = useState(false);
  const file = useRef<HTMLInputElement>(null);
  const w = c.window;
  const isWhatsApp = c.channel.kind === "whatsapp";
  const mustTemplate = mode === "reply" && !w.freeForm && !w.humanAgent;
  const needsHumanAgent = mode === "reply" && !w.freeForm && !isWhatsApp && w.humanAgent;
  const path = { params: { path: { workspaceId, id: c.id } } };

  const dispatch = async (body: SendDraft) => {
    setError(null);
    const full = {
      idempotencyKey: newKey(),
      ...body,
      ...(props.replyTo && body.kind !== "template" ? { replyTo: props.replyTo.externalId } : {}),
      ...(needsHumanAgent ? { humanAgent: true } : {}),
    };
    props.clearReply();
    const refused = await send(workspaceId, c.id, full);
    if (refused === "window_closed") setPicker(true);
  };

  const submit = async () => {
    const value = text.trim();
    if (!value) return;
    if (mode === "note") {
      try {
        const note = await ok(api.POST("/workspaces/{workspaceId}/conversations/{id}/notes", { ...path, body: { text: value } }));
        upsertNote(c.id, note);
        setText("");
      } catch (e) {
        setError(messageOf(e));
      }
      return;
    }
    setText("");
    await dispatch({ kind: "text", text: value, previewUrl: /https?:\/\//.test(value) });
  };

  const upload = async (chosen: File) => {
    setUploading(true);
    setError(null);
    try {
      const answer = await ok(
        api.POST("/workspaces/{workspaceId}/conversations/{id}/media", {
          ...path,
          body: { mediaType: mediaTypeOf(chosen) },
          // Multipart: the generated type names the file part, the browser's File fills it.
          bodySerializer: ({ mediaType }) => {
            const form = new FormData();
            form.set("file", chosen);
            form.set("mediaType", mediaType);
            return form;
          },
        }),
      );
      const { mediaType } = answer;
      await dispatch({
        kind: "media",
        mediaId: answer.mediaId,
        mediaType,
        ...(text.trim() ? { caption: text.trim() } : {}),
        ...(mediaType === "document" ? { filename: chosen.name } : {}),
      });
      setText("");
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setUploading(false);
    }
  };

  return (
    <section class={`composer ${mode}`} aria-label="Composer">
      <div role="tablist" aria-label="Write" class="composer-tabs">
        {(["reply", "note"] as const).map((m) => (
          <button type="button" role="tab" aria-selected={mode === m} onClick={() => setMode(m)}>
            {m === "reply" ? "Reply" : "Private note"}
          </button>
        ))}
      </div>
      {props.replyTo && mode === "reply" && (
        <p class="replying">
          Replying to: <q>{props.replyTo.text ?? `${props.replyTo.type} message`}</q>{" "}
          <button type="button" class="link" onClick={props.clearReply}>
            Cancel reply
          </button>
        </p>
      )}
      {mustTemplate ? (
        <div class="window-closed" role="note">
          <p>
            {isWhatsApp
              ? "More than 24 hours have passed since the customer's last message, so WhatsApp only allows an approved template. Their next reply reopens the conversation."
              : "More than 7 days have passed since the customer's last message: Instagram and Messenger allow no reply until they write again."}
          </p>
          {isWhatsApp && (
            <button type="button" class="primary" onClick={() => setPicker(true)}>
              Choose a template
            </button>
          )}
        </div>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          {needsHumanAgent && (
            <p class="human-agent" role="note">
              The 24-hour window has closed. For {formatDuration((w.humanAgentUntil ?? Date.now()) - Date.now())} more, a person may still answer with
              Meta's HUMAN_AGENT tag — only for replies written by you, never automated ones.{" "}
              <label>
                <input type="checkbox" checked={humanAgent} onChange={(e) => setHumanAgent(e.currentTarget.checked)} required /> I am writing this
                myself
              </label>
            </p>
          )}
          <label for="composer-text" class="visually-hidden">
            {mode === "note" ? "Private note (only your team sees it)" : "Message to the customer"}
          </label>
          <textarea
            id="composer-text"
            rows={2}
            value={text}
            placeholder={mode === "note" ? "Private note — only your team sees it" : "Write a reply…"}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void submit();
              }
            }}
          />
          <div class="composer-actions">
            {mode === "reply" && (
              <>
                <input
                  ref={file}
                  type="file"
                  class="visually-hidden"
                  id="composer-file"
                  tabIndex={-1}
                  onChange={(e) => {
                    const chosen = e.currentTarget.files?.[0];
                    e.currentTarget.value = "";
                    if (chosen) void upload(chosen);
                  }}
                />
                <button type="button" onClick={() => file.current?.click()} disabled={uploading}>
                  {uploading ? "Uploading…" : "Attach file"}
                </button>
                {isWhatsApp && (
                  <button type="button" onClick={() => setPicker(true)}>
                    Template
                  </button>
                )}
              </>
            )}
            <button class="primary" disabled={!text.trim() || (needsHumanAgent && !humanAgent)}>
              {mode === "note" ? "Add note" : "Send"}
            </button>
          </div>
        </form>
      )}
      <ErrorLine error={error} />
      {picker && (
        <TemplatePicker
          workspaceId={workspaceId}
          channelId={c.channel.id}
          onClose={() => setPicker(false)}
          onSend={(template) => {
            setPicker(false);
            void dispatch({ kind: "template", ...template });
          }}
        />
      )}
    </section>
  );
}
