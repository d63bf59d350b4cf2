/**
 * @module
 * Sending on a channel's behalf (SPEC §5.1, §5.4): text, media, templates and reactions to one customer
 * on WhatsApp, Messenger or Instagram, and marking their messages read. Every call answers a value, never
 * throws for what Meta or the network does: the new message's id, or a {@link SendFailure} that says
 * whether to retry, pace, reconnect or switch to a template.
 *
 * The content schemas carry Meta's limits, so a request the API route accepted is one Meta can take.
 */
import { z } from "@hono/zod-openapi";
import type { GraphEnv } from "./graph-client.ts";
import { checkIds, graphCall, hostOf, senderNode, unexpectedAnswer, type Channel, type Failed } from "./graph-http.ts";
import { localFailure, type Product } from "./send-failure.ts";

export { SendFailure } from "./send-failure.ts";
/** `Channel` is what media.ts's uploads need (a SendTarget without its recipient). */
export type { Channel, GraphEnv };

// ---------------------------------------------------------------------------------------------------------
// What can be sent

export const MediaType = z.enum(["image", "video", "audio", "document", "sticker"]);
export type MediaType = z.infer<typeof MediaType>;

/** WhatsApp's limit; Messenger's 2000 characters and Instagram's 1000 bytes are checked per product when sending. */
export const MessageText = z.string().regex(/\S/, "must not be blank").max(4096);
export const Caption = z.string().regex(/\S/, "must not be blank").max(1024);
/** One emoji (WhatsApp and Messenger send it as is; Instagram knows only "love"). */
export const Emoji = z.string().min(1).max(16);
/** Meta's message ids: wamid.… on WhatsApp, m_… / base64 on Messenger and Instagram. */
export const ExternalId = z.string().min(1).max(512);

/** `{{n}}` parameters and media of a template, in Meta's own shape (passed through as Meta defines them). */
export const TemplateComponent = z.looseObject({
  type: z.enum(["header", "body", "button", "carousel", "limited_time_offer"]),
  sub_type: z.string().optional(),
  index: z.union([z.number().int().min(0).max(9), z.string().regex(/^\d$/)]).optional(),
  parameters: z.array(z.looseObject({ type: z.string() })).max(100).optional(),
});

export const TemplateMessage = z.object({
  /** Meta's template names: lowercase letters, digits and underscores. */
  name: z.string().regex(/^[a-z0-9_]{1,512}$/),
  /** Meta's language codes: `en`, `en_US`, `pt_BR`, `zh_CN`… */
  language: z.string().regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/),
  components: z.array(TemplateComponent).max(20).optional(),
});

const captionless = new Set<MediaType>(["audio", "sticker"]);

const MediaFields = z.object({
  mediaType: MediaType,
  /** From uploadMedia: a WhatsApp media id or a Messenger/Instagram attachment_id. */
  mediaId: z.string().regex(/^[A-Za-z0-9_.:-]{1,256}$/),
  caption: Caption.optional(),
  /** Documents only: the name the customer sees. */
  filename: z.string().regex(/\S/).max(240).optional(),
});

function checkMedia(media: z.infer<typeof MediaFields>, ctx: z.RefinementCtx): void {
  if (media.caption && captionless.has(media.mediaType)) ctx.addIssue({ code: "custom", message: "Audio and stickers cannot have a caption.", path: ["caption"] });
  if (media.filename && media.mediaType !== "document") ctx.addIssue({ code: "custom", message: "Only documents have a filename.", path: ["filename"] });
}

export const MediaMessage = MediaFields.superRefine(checkMedia);

export const OutboundContent = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("text"), text: MessageText, previewUrl: z.boolean().optional() }),
    MediaFields.extend({ kind: z.literal("media") }),
    TemplateMessage.extend({ kind: z.literal("template") }),
    /** `emoji: null` removes the business's reaction. */
    z.object({ kind: z.literal("reaction"), targetExternalId: ExternalId, emoji: Emoji.nullable() }),
  ])
  .superRefine((content, ctx) => {
    if (content.kind === "media") checkMedia(content, ctx);
  });
export type OutboundContent = z.infer<typeof OutboundContent>;

export const SendOptions = z.object({
  /** Quote this message (its Meta id). Not for reactions. */
  replyTo: ExternalId.nullable(),
  /** Messenger/Instagram: RESPONSE inside the 24-hour window, MESSAGE_TAG with HUMAN_AGENT up to 7 days. WhatsApp ignores both. */
  messagingType: z.enum(["RESPONSE", "MESSAGE_TAG"]),
  tag: z.literal("HUMAN_AGENT").nullable(),
});
export type SendOptions = z.infer<typeof SendOptions>;

export type SendTarget = Channel & {
  /**
   * The customer: `id` is the conversation's identity (WhatsApp BSUID or wa_id, PSID, IGSID). On
   * WhatsApp `to` is the phone number (waId) when known, else `recipient` is the BSUID.
   */
  recipient: { id: string; waId: string | null; bsuid: string | null };
};

export type SendOutcome =
  /** `externalId` is null only for Messenger/Instagram reactions: Meta answers sender actions without a message id. */
  | { ok: true; externalId: string | null }
  | Failed;

export type ReadOutcome = { ok: true } | Failed;

// ---------------------------------------------------------------------------------------------------------
// Meta's request bodies

type Json = Record<string, unknown>;

/** Messenger/Instagram attachment types (WhatsApp's `type` is the media kind itself); stickers have none. */
export const ATTACHMENT_TYPE: Partial<Record<MediaType, string>> = { image: "image", video: "video", audio: "audio", document: "file" };

function whatsappAddress(target: SendTarget): Json | null {
  const { waId, bsuid } = target.recipient;
  if (waId) return { to: waId };
  return bsuid ? { recipient: bsuid } : null;
}

type Body = { ok: true; json: Json };
const body = (json: Json): Body => ({ ok: true, json });
const refuse = (title: string, message: string): Failed => ({ ok: false, failure: localFailure(title, message) });

function whatsappBody(target: SendTarget, content: OutboundContent, options: SendOptions): Body | Failed {
  const address = whatsappAddress(target);
  if (!address) return refuse("No recipient", "This WhatsApp customer has neither a phone number nor a business-scoped user id to send to.");
  const head = { messaging_product: "whatsapp", recipient_type: "individual", ...address };
  const context = options.replyTo && content.kind !== "reaction" ? { context: { message_id: options.replyTo } } : {};
  switch (content.kind) {
    case "text":
      return body({ ...head, ...context, type: "text", text: { preview_url: content.previewUrl ?? false, body: content.text } });
    case "media": {
      const media = { id: content.mediaId, caption: content.caption, filename: content.filename };
      return body({ ...head, ...context, type: content.mediaType, [content.mediaType]: media });
    }
    case "template":
      return body({ ...head, ...context, type: "template", template: { name: content.name, language: { code: content.language }, components: content.components } });
    case "reaction":
      // An empty emoji removes the reaction (SPEC §5.1 notes it as legacy behaviour Meta still honours).
      return body({ ...head, type: "reaction", reaction: { message_id: content.targetExternalId, emoji: content.emoji ?? "" } });
  }
}

/**
 * Why a product cannot take this content at all (too long for Messenger/Instagram, a sticker there),
 * or null: checked before a send is queued, so an agent hears it at once.
 */
export function contentProblem(product: Product, content: OutboundContent): { title: string; message: string } | null {
  if (product === "whatsapp") return null;
  if (content.kind === "text" && !withinTextLimit({ product, accountId: "", viaPage: null }, content.text)) {
    return { title: "Message too long", message: product === "instagram" ? "Instagram messages are limited to 1000 bytes of text." : "Messenger messages are limited to 2000 characters." };
  }
  const name = product === "instagram" ? "Instagram" : "Messenger";
  if (content.kind === "media" && !ATTACHMENT_TYPE[content.mediaType]) return { title: "Not supported", message: `Stickers cannot be sent on ${name}.` };
  // Meta would drop a caption or filename silently; refusing keeps the person's words from vanishing.
  if (content.kind === "media" && (content.caption || content.filename)) {
    return { title: "Not supported", message: `${name} attachments have no caption or filename; send the text as its own message.` };
  }
  if (content.kind === "template") return { title: "Not supported", message: `Templates are WhatsApp only; ${name} has no template messages.` };
  return null;
}

function messagingMessage(target: SendTarget, content: OutboundContent): { ok: true; message: Json } | Failed {
  const problem = contentProblem(target.product, content);
  if (problem) return refuse(problem.title, problem.message);
  switch (content.kind) {
    case "text":
      return { ok: true, message: { text: content.text } };
    case "media":
      return { ok: true, message: { attachment: { type: ATTACHMENT_TYPE[content.mediaType]!, payload: { attachment_id: content.mediaId } } } };
    default:
      return refuse("Not supported", "Only text, media and reactions can be sent on Messenger and Instagram.");
  }
}

function messagingBody(target: SendTarget, content: OutboundContent, options: SendOptions): Body | Failed {
  const recipient = { recipient: { id: target.recipient.id } };
  if (content.kind === "reaction") {
    const payload = { message_id: content.targetExternalId };
    if (content.emoji === null) return body({ ...recipient, sender_action: "unreact", payload });
    // Instagram documents a single reaction, "love"; Messenger takes the emoji itself.
    return body({ ...recipient, sender_action: "react", payload: { ...payload, reaction: target.product === "instagram" ? "love" : content.emoji } });
  }
  const built = messagingMessage(target, content);
  if (!built.ok) return built;
  return body({
    ...recipient,
    messaging_type: options.messagingType,
    ...(options.messagingType === "MESSAGE_TAG" && options.tag ? { tag: options.tag } : {}),
    ...(options.replyTo ? { reply_to: { mid: options.replyTo } } : {}),
    message: built.message,
  });
}

/** The Send API's own limits, below WhatsApp's 4096: Messenger 2000 characters, Instagram 1000 bytes. */
const withinTextLimit = (target: Channel, text: string) =>
  target.product === "instagram" ? new TextEncoder().encode(text).byteLength <= 1000 : text.length <= 2000;


// ---------------------------------------------------------------------------------------------------------
// Meta's answers

const WhatsAppAccepted = z.object({
  messaging_product: z.literal("whatsapp"),
  contacts: z.array(z.looseObject({ input: z.string().optional(), wa_id: z.string().optional() })).optional(),
  messages: z.tuple([z.looseObject({ id: z.string().min(1) })], z.looseObject({ id: z.string() })),
});
const MessagingAccepted = z.object({ recipient_id: z.string().optional(), message_id: z.string().min(1).optional() });
const Success = z.object({ success: z.literal(true) });

// ---------------------------------------------------------------------------------------------------------
// The calls

function invalid(error: z.ZodError): Failed {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, failure: localFailure("Invalid message", `${where}${issue?.message ?? "invalid content"}`) };
}

function validRecipient(target: SendTarget): Failed | null {
  return target.recipient.id.length > 0 && target.recipient.id.length <= 128 ? null : { ok: false, failure: localFailure("No recipient", "The customer's id is missing.") };
}

/** Sends one message (or, on Messenger/Instagram, a reaction) to one customer. Never throws. */
export async function sendMessage(env: GraphEnv, token: string, target: SendTarget, content: OutboundContent, options: SendOptions): Promise<SendOutcome> {
  const checked = OutboundContent.safeParse(content);
  if (!checked.success) return invalid(checked.error);
  const checkedOptions = SendOptions.safeParse(options);
  if (!checkedOptions.success) return invalid(checkedOptions.error);
  const problem = checkIds(target.accountId, ...(target.viaPage ? [target.viaPage] : [])) ?? validRecipient(target);
  if (problem) return problem;

  const whatsapp = target.product === "whatsapp";
  const request = whatsapp ? whatsappBody(target, checked.data, checkedOptions.data) : messagingBody(target, checked.data, checkedOptions.data);
  if (!request.ok) return request;

  const result = await graphCall(hostOf(env, target), target.product, token, { method: "POST", path: `${senderNode(target)}/messages`, json: request.json });
  if (!result.ok) return result;
  if (whatsapp) {
    const accepted = WhatsAppAccepted.safeParse(result.body);
    return accepted.success ? { ok: true, externalId: accepted.data.messages[0].id } : unexpectedAnswer("message");
  }
  const accepted = MessagingAccepted.safeParse(result.body);
  if (!accepted.success) return unexpectedAnswer("message");
  if (checked.data.kind === "reaction") return { ok: true, externalId: null };
  return accepted.data.message_id ? { ok: true, externalId: accepted.data.message_id } : unexpectedAnswer("message");
}

/** WhatsApp: marks the message (and every earlier one) read. Messenger/Instagram: `mark_seen` on the thread. */
export async function markRead(env: GraphEnv, token: string, target: SendTarget, externalId: string): Promise<ReadOutcome> {
  const problem = checkIds(target.accountId, ...(target.viaPage ? [target.viaPage] : [])) ?? validRecipient(target);
  if (problem) return problem;
  if (!ExternalId.safeParse(externalId).success) return { ok: false, failure: localFailure("Invalid message", "The message id is missing.") };
  const whatsapp = target.product === "whatsapp";
  const json = whatsapp ? { messaging_product: "whatsapp", status: "read", message_id: externalId } : { recipient: { id: target.recipient.id }, sender_action: "mark_seen" };
  const result = await graphCall(hostOf(env, target), target.product, token, { method: "POST", path: `${senderNode(target)}/messages`, json });
  if (!result.ok) return result;
  const answer = whatsapp ? Success.safeParse(result.body) : MessagingAccepted.safeParse(result.body);
  return answer.success ? { ok: true } : unexpectedAnswer("read receipt");
}
