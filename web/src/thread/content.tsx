/**
 * @module
 * The body of one message, for every kind the ingestion core stores (workers/events.ts): text, media,
 * attachments, locations, shared contacts, interactive replies, orders, system notices, referrals,
 * shares, story mentions and replies, and what could not be shown. Media and attachments are loaded
 * through our own API (never from Meta's CDN directly), so the browser makes no third-party request.
 */
import type { Message } from "../api/types.ts";

type Content = Message["content"];
type Media = NonNullable<Content["media"]>;

function MediaView(props: { media: Media; kind: string; src: string }) {
  const { media, kind, src } = props;
  const label = media.caption ?? media.filename ?? `${kind} from the customer`;
  if (kind === "image" || kind === "sticker") return <img class={kind} src={src} alt={media.caption ?? (kind === "sticker" ? "Sticker" : "Image")} loading="lazy" />;
  if (kind === "video") return <video class="video" src={src} controls preload="none" aria-label={label} />;
  if (kind === "audio") return <audio src={src} controls preload="none" aria-label={media.voice ? "Voice message" : label} />;
  return (
    <a class="document" href={src} download={media.filename ?? undefined}>
      📄 {media.filename ?? "Document"} {media.mimeType && <small>({media.mimeType})</small>}
    </a>
  );
}

/** Instagram / Messenger attachments, streamed through our API like WhatsApp media. */
function AttachmentView(props: { a: Content["attachments"][number]; src: string }) {
  const { a, src } = props;
  const names: Record<string, string> = {
    image: "Image", video: "Video", audio: "Audio", file: "File", ig_reel: "Reel", reel: "Reel", share: "Shared post",
    story_mention: "Story mention", ig_post: "Instagram post", sticker: "Sticker", fallback: "Link", template: "Template", animated_image_share: "GIF",
  };
  const name = names[a.type] ?? `Attachment (${a.type})`;
  if (a.url && ["image", "sticker", "animated_image_share"].includes(a.type)) return <img class="image" src={src} alt={a.title ?? name} loading="lazy" />;
  if (a.url && a.type === "video") return <video class="video" src={src} controls preload="none" aria-label={a.title ?? name} />;
  if (a.url && a.type === "audio") return <audio src={src} controls preload="none" aria-label={a.title ?? name} />;
  return (
    <div class="attachment">
      <span class="chip">{name}</span> {a.title && <span>{a.title}</span>}{" "}
      {a.url && (
        <a href={src} download>
          Open
        </a>
      )}
    </div>
  );
}

export function MessageContentView(props: { message: Message; mediaSrc: (externalId: string, index?: number) => string }) {
  const { message: m, mediaSrc } = props;
  const c = m.content;
  const parts = [];
  if (c.context?.story) {
    parts.push(
      <p class="meta-line">
        {m.type === "story_mention" ? "Mentioned you in their story" : "Replied to your story"}{" "}
        <small>(stories expire after 24 hours)</small>
      </p>,
    );
  }
  if (m.type === "story_mention" && !c.context?.story) parts.push(<p class="meta-line">Mentioned you in their story</p>);
  if (c.media) parts.push(<MediaView media={c.media} kind={m.type} src={mediaSrc(m.externalId)} />);
  c.attachments.forEach((a, index) => parts.push(<AttachmentView a={a} src={mediaSrc(m.externalId, index)} />));
  if (c.location) {
    const { latitude, longitude, name, address } = c.location;
    parts.push(
      <p class="location">
        📍 <strong>{name ?? "Shared location"}</strong> {address && <span>{address}</span>}{" "}
        <small>
          {latitude.toFixed(5)}, {longitude.toFixed(5)}
        </small>
      </p>,
    );
  }
  for (const card of c.contacts) {
    parts.push(
      <div class="contact-card">
        👤 <strong>{card.name ?? [card.firstName, card.lastName].filter(Boolean).join(" ")}</strong>
        {card.organization?.company && <span> · {card.organization.company}</span>}
        {card.phones.map((p) => (
          <div>
            {p.type ?? "Phone"}: {p.phone}
          </div>
        ))}
        {card.emails.map((e) => (
          <div>
            {e.type ?? "Email"}: {e.email}
          </div>
        ))}
      </div>,
    );
  }
  if (c.reply) {
    const kinds = { button_reply: "Tapped", list_reply: "Chose", flow_reply: "Completed a form", template_button: "Tapped", quick_reply: "Tapped", postback: "Tapped" };
    parts.push(
      <p class="reply-choice">
        {kinds[c.reply.kind]}: <strong>{c.reply.title ?? c.reply.payload ?? c.reply.id}</strong>
        {c.reply.description && <span> — {c.reply.description}</span>}
      </p>,
    );
  }
  if (c.order) {
    parts.push(
      <div class="order">
        🛒 Order from catalogue {c.order.catalogId}
        <ul>
          {c.order.items.map((i) => (
            <li>
              {i.quantity} × {i.productRetailerId} at {i.itemPrice} {i.currency}
            </li>
          ))}
        </ul>
      </div>,
    );
  }
  if (c.referral) {
    const r = c.referral;
    parts.push(
      <p class="meta-line">
        Came from {r.source ?? "a link"}
        {r.headline ? `: “${r.headline}”` : ""} {r.ref && <small>(ref {r.ref})</small>}
      </p>,
    );
  }
  if (c.context?.referredProduct) parts.push(<p class="meta-line">Asked about product {c.context.referredProduct.productRetailerId}</p>);
  const text = m.text ?? c.text ?? c.order?.text ?? null;
  if (text && !(m.type === "system")) parts.push(<p class="text">{text}</p>);
  if (c.system) parts.push(<p class="system-text">{c.system.body ?? `Account change: ${c.system.kind}`}</p>);
  if (m.type === "unsupported" || c.unsupportedType) {
    parts.push(
      <p class="notice">
        This message ({c.unsupportedType ?? "unknown kind"}) cannot be shown here. Ask the customer to send it another way, or open it on
        their platform.
      </p>,
    );
  }
  for (const e of c.errors) {
    parts.push(
      <p class="notice">
        Meta reported a problem with this message: {e.details ?? e.title ?? "no details"} (code {e.code}).
      </p>,
    );
  }
  // Meta sometimes reports a message and puts its content's error elsewhere (value-level errors).
  if (parts.length === 0) parts.push(<p class="notice">Meta sent this {m.type} message without its content. Ask the customer to send it again if it matters.</p>);
  return <>{parts}</>;
}
