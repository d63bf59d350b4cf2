/**
 * @module
 * One message in the thread: its content, what it replies to, forwarded marks, reactions, deletion
 * tombstone, time and delivery ticks (failed ones say why and offer a retry).
 */
import type { Message } from "../api/types.ts";
import { formatTime } from "../format.ts";
import { MessageContentView } from "./content.tsx";
import { failureText } from "./failure.ts";
import { canRetry } from "../state/send.ts";

const TICKS = {
  pending: { icon: "🕓", label: "Sending" },
  sent: { icon: "✓", label: "Sent" },
  delivered: { icon: "✓✓", label: "Delivered" },
  read: { icon: "✓✓", label: "Read" },
  played: { icon: "▶✓✓", label: "Played" },
  failed: { icon: "⚠", label: "Not sent" },
} as const;

export function Ticks(props: { message: Message }) {
  const status = props.message.status;
  if (!status || props.message.direction !== "out") return null;
  const tick = TICKS[status];
  return (
    <span class={`ticks ${status}`} data-status={status} title={tick.label}>
      <span aria-hidden="true">{tick.icon}</span>
      <span class="visually-hidden">{tick.label}</span>
    </span>
  );
}

export function Bubble(props: {
  message: Message;
  quoted: Message | undefined;
  mediaSrc: (externalId: string, index?: number) => string;
  onReply: (m: Message) => void;
  onReact: (m: Message) => void;
  onRetry: (m: Message) => void;
}) {
  const { message: m, quoted } = props;
  const side = m.direction === "in" ? "in" : "out";
  const ctx = m.content.context;
  return (
    <article class={`bubble ${side}${m.status === "failed" ? " failed" : ""}`} aria-label={`${side === "in" ? "Customer" : "You"}, ${formatTime(m.timestamp)}`}>
      {(ctx?.forwarded || ctx?.frequentlyForwarded) && <p class="forwarded">{ctx.frequentlyForwarded ? "↪↪ Forwarded many times" : "↪ Forwarded"}</p>}
      {ctx?.replyTo && (
        <blockquote class="quoted">
          {quoted ? (quoted.text ?? quoted.content.reply?.title ?? `${quoted.type} message`) : "Replying to an earlier message"}
        </blockquote>
      )}
      {m.deleted ? (
        <p class="notice tombstone">🚫 {side === "in" ? "The customer deleted this message" : "This message was deleted"}</p>
      ) : (
        <MessageContentView message={m} mediaSrc={props.mediaSrc} />
      )}
      {m.content.echo && <p class="meta-line">Sent from another app{m.content.echo.appId ? ` (${m.content.echo.appId})` : ""}</p>}
      {m.content.standby && <p class="meta-line">Received while another app handled this conversation</p>}
      {m.reactions.length > 0 && (
        <p class="reactions" aria-label="Reactions">
          {m.reactions.map((r) => (
            <span title={r.actor === "in" ? "Customer" : "You"}>{r.emoji}</span>
          ))}
        </p>
      )}
      <footer>
        <time dateTime={new Date(m.timestamp).toISOString()}>{formatTime(m.timestamp)}</time>
        <Ticks message={m} />
        {!m.deleted && (
          <span class="bubble-actions">
            <button type="button" class="link" onClick={() => props.onReply(m)} aria-label="Reply to this message">
              Reply
            </button>
            <button type="button" class="link" onClick={() => props.onReact(m)} aria-label="React to this message">
              React
            </button>
          </span>
        )}
      </footer>
      {m.status === "failed" && (
        <div class="failure" role="alert">
          <p>{failureText(m.error)}</p>
          {canRetry(m.idempotencyKey) && (
            <button type="button" onClick={() => props.onRetry(m)}>
              Retry
            </button>
          )}
        </div>
      )}
    </article>
  );
}
