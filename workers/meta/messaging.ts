/**
 * @module
 * Messenger (object `page`) and Instagram (object `instagram`) webhooks. Both deliver the same events in
 * `entry[].messaging[]`, or in `entry[].standby[]` while another app owns the thread (handover). They
 * are routed by entry.id (Page / Instagram account) and keyed by the customer's PSID / IGSID.
 */
import { z } from "@hono/zod-openapi";
import type { Attachment, ConversationChange, MessageType, Product, Route, WebhookItem } from "../events.ts";
import {
  Id,
  context,
  conversation,
  deletionChange,
  formatPath,
  messageChange,
  parseItem,
  quarantine,
  referral,
  reply,
  statusChange,
  type Path,
  type Scope,
} from "./common.ts";

/** Webhook `object` → product. */
const MESSAGING_PRODUCTS = { instagram: "instagram", page: "messenger" } satisfies Record<string, Product>;
export type MessagingObject = keyof typeof MESSAGING_PRODUCTS;

export function isMessagingObject(object: string): object is MessagingObject {
  return Object.hasOwn(MESSAGING_PRODUCTS, object);
}

/** Epoch milliseconds, as Messenger and Instagram send them. */
const Millis = z.number().int().nonnegative();

const Party = z.object({ id: Id });

const EventBase = z.object({ sender: Party, recipient: Party, timestamp: Millis });

const MessagingReferral = z
  .object({
    ref: z.string().optional(),
    source: z.string().optional(),
    type: z.string().optional(),
    ad_id: Id.optional(),
    ads_context_data: z
      .object({ ad_title: z.string().optional(), photo_url: z.string().optional(), video_url: z.string().optional() })
      .optional(),
  })
  .transform((r) =>
    referral({
      ref: r.ref ?? null,
      source: r.source ?? null,
      type: r.type ?? null,
      adId: r.ad_id ?? null,
      headline: r.ads_context_data?.ad_title ?? null,
      mediaUrl: r.ads_context_data?.photo_url ?? r.ads_context_data?.video_url ?? null,
    }),
  );

const MessagingAttachment = z
  .object({
    type: z.string(),
    // Link shares (`fallback`) carry url/title on the attachment, with a null or missing payload.
    url: z.string().nullish(),
    title: z.string().nullish(),
    payload: z
      .object({
        url: z.string().nullish(),
        title: z.string().nullish(),
        ig_post_media_id: Id.optional(),
        reel_video_id: Id.optional(),
        sticker_id: Id.optional(),
      })
      .nullish(),
  })
  .transform(
    (a): Attachment => ({
      type: a.type,
      url: a.payload?.url ?? a.url ?? null,
      title: a.payload?.title ?? a.title ?? null,
      mediaId: a.payload?.ig_post_media_id ?? a.payload?.reel_video_id ?? a.payload?.sticker_id ?? null,
    }),
  );

const MessagingMessage = z.object({
  mid: z.string(),
  text: z.string().optional(),
  attachments: z.array(MessagingAttachment).optional(),
  quick_reply: z.object({ payload: z.string() }).optional(),
  reply_to: z
    .object({
      mid: z.string().optional(),
      story: z.object({ id: Id.optional(), url: z.string().optional() }).optional(),
    })
    .optional(),
  referral: MessagingReferral.optional(),
  is_echo: z.boolean().optional(),
  app_id: Id.optional(),
  metadata: z.string().optional(),
  is_deleted: z.boolean().optional(),
  is_unsupported: z.boolean().optional(),
});
type MessagingMessage = z.infer<typeof MessagingMessage>;

/**
 * During Meta's format migrations one item arrives twice, under its legacy and its new type
 * (Messenger stickers as image + sticker, Instagram posts as share + ig_post): the new type wins.
 */
const LEGACY_TYPE = new Map([
  ["sticker", "image"],
  ["ig_post", "share"],
]);

function collapseTransitionDuplicates(attachments: Attachment[]): Attachment[] {
  return attachments.filter(
    (a) =>
      !attachments.some((b) => b.mediaId !== null && b.mediaId === a.mediaId && LEGACY_TYPE.get(b.type) === a.type),
  );
}

const ATTACHMENT_MESSAGE_TYPES = new Map<string, MessageType>([
  ["image", "image"],
  ["video", "video"],
  ["audio", "audio"],
  ["file", "document"],
  ["sticker", "sticker"],
  ["reel", "reel"],
  ["ig_reel", "reel"],
  ["post", "post"],
  ["ig_post", "post"],
  ["share", "share"],
  ["story_mention", "story_mention"],
  ["fallback", "fallback"],
]);

/** The message type, and for content this parser cannot show (ephemeral, templates…) what Meta called it. */
function classify(
  message: MessagingMessage,
  attachments: Attachment[],
): { type: MessageType; unsupportedType: string | null } {
  const [only, ...more] = attachments;
  if (message.is_unsupported) return { type: "unsupported", unsupportedType: null };
  if (!only) return { type: "text", unsupportedType: null };
  if (more.length) return { type: "attachments", unsupportedType: null };
  // A share's only media id is ig_post_media_id: a shared post, whatever the attachment is called.
  if (only.type === "share" && only.mediaId !== null) return { type: "post", unsupportedType: null };
  const type = ATTACHMENT_MESSAGE_TYPES.get(only.type);
  return type ? { type, unsupportedType: null } : { type: "unsupported", unsupportedType: only.type };
}

/** One schema per event kind: what an entry.messaging[] / entry.standby[] element carries besides the parties. */
const MessageEvent = EventBase.extend({ message: MessagingMessage });
const PostbackEvent = EventBase.extend({
  postback: z.object({
    mid: z.string().optional(),
    title: z.string().optional(),
    payload: z.string().optional(),
    referral: MessagingReferral.optional(),
  }),
});
const ReactionEvent = EventBase.extend({
  reaction: z.object({
    mid: z.string(),
    action: z.enum(["react", "unreact"]),
    reaction: z.string().optional(),
    emoji: z.string().optional(),
  }),
});
/** Instagram reports "seen" per message, Messenger as a watermark. */
const ReadEvent = EventBase.extend({ read: z.union([z.object({ mid: z.string() }), z.object({ watermark: Millis })]) });
const DeliveryEvent = EventBase.extend({
  timestamp: Millis.optional(),
  delivery: z.object({ watermark: Millis, mids: z.array(z.string()).optional() }),
});
const ReferralEvent = EventBase.extend({ referral: MessagingReferral });

type EventContext = { product: Product; accountId: string; standby: boolean };

/** What one event means: the changes, and the customer (PSID / IGSID) they belong to. */
type Outcome = { customerId: string; changes: ConversationChange[] };

function messageOutcome(event: z.infer<typeof MessageEvent>, ctx: EventContext): Outcome {
  const { message, timestamp } = event;
  // Echoes swap the parties: the business is the sender.
  const customerId = message.is_echo ? event.recipient.id : event.sender.id;
  // An unsent message reuses the original mid and carries no content.
  if (message.is_deleted) return { customerId, changes: [deletionChange(message.mid, timestamp)] };
  const attachments = collapseTransitionDuplicates(message.attachments ?? []);
  const story = message.reply_to?.story;
  const change = messageChange({
    externalId: message.mid,
    direction: message.is_echo ? "out" : "in",
    timestamp,
    ...classify(message, attachments),
    text: message.text ?? null,
    attachments,
    reply: message.quick_reply
      ? reply({ kind: "quick_reply", payload: message.quick_reply.payload, title: message.text ?? null })
      : null,
    referral: message.referral ?? null,
    context: message.reply_to
      ? context({
          replyTo: message.reply_to.mid ?? null,
          story: story ? { id: story.id ?? null, url: story.url ?? null } : null,
        })
      : null,
    echo: message.is_echo ? { appId: message.app_id ?? null, metadata: message.metadata ?? null } : null,
    standby: ctx.standby,
  });
  return { customerId, changes: [change] };
}

function postbackOutcome(event: z.infer<typeof PostbackEvent>, ctx: EventContext): Outcome {
  const { postback, timestamp } = event;
  const customerId = event.sender.id;
  const change = messageChange({
    // Postbacks only have a mid from Graph v11 on; without one, customer + time identifies the tap.
    externalId: postback.mid ?? `postback:${customerId}:${timestamp}`,
    direction: "in",
    type: "postback",
    timestamp,
    text: postback.title ?? null,
    reply: reply({ kind: "postback", title: postback.title ?? null, payload: postback.payload ?? null }),
    referral: postback.referral ?? null,
    standby: ctx.standby,
  });
  return { customerId, changes: [change] };
}

function referralOutcome(event: z.infer<typeof ReferralEvent>, ctx: EventContext): Outcome {
  const customerId = event.sender.id;
  const change = messageChange({
    // Referrals have no id; customer + time identifies the click.
    externalId: `referral:${customerId}:${event.timestamp}`,
    direction: "in",
    type: "referral",
    timestamp: event.timestamp,
    referral: event.referral,
    standby: ctx.standby,
  });
  return { customerId, changes: [change] };
}

function reactionOutcome(event: z.infer<typeof ReactionEvent>): Outcome {
  const { reaction, timestamp } = event;
  const customerId = event.sender.id;
  const change: ConversationChange = {
    kind: "reaction",
    // A reaction has no id of its own; the same customer can react and unreact to one message many times.
    key: `r:${reaction.mid}:${customerId}:${reaction.action}:${timestamp}`,
    target: reaction.mid,
    actor: "in",
    emoji: reaction.action === "react" ? (reaction.emoji ?? reaction.reaction ?? null) : null,
    timestamp,
  };
  return { customerId, changes: [change] };
}

function readOutcome(event: z.infer<typeof ReadEvent>): Outcome {
  const { read, timestamp } = event;
  const change: ConversationChange =
    "mid" in read
      ? statusChange({ target: read.mid, status: "read", timestamp, error: null, cascade: true })
      : { kind: "watermark", key: `w:read:${read.watermark}`, status: "read", watermark: read.watermark };
  return { customerId: event.sender.id, changes: [change] };
}

function deliveryOutcome(event: z.infer<typeof DeliveryEvent>): Outcome {
  const { watermark, mids = [] } = event.delivery;
  // Deliveries may come without a timestamp; everything up to the watermark was delivered by then.
  const timestamp = event.timestamp ?? watermark;
  const changes: ConversationChange[] = [
    { kind: "watermark", key: `w:delivered:${watermark}`, status: "delivered", watermark },
    ...mids.map((mid) => statusChange({ target: mid, status: "delivered", timestamp, error: null, cascade: false })),
  ];
  return { customerId: event.sender.id, changes };
}

/** Pairs an event schema with its meaning, giving every handler the same (raw, scope, ctx) signature. */
function on<S extends z.ZodType>(schema: S, outcome: (event: z.output<S>, ctx: EventContext) => Outcome) {
  return (raw: unknown, scope: Scope, ctx: EventContext): WebhookItem[] =>
    parseItem(schema, raw, scope, (event) => {
      const { customerId, changes } = outcome(event, ctx);
      const route: Route = { product: ctx.product, accountId: ctx.accountId };
      const customer = { id: customerId, waId: null, bsuid: null, name: null, username: null };
      return changes.map((change) => conversation(route, customer, change));
    });
}

/** Checked in this order: the first key an event has decides what it is. */
const EVENT_HANDLERS = {
  message: on(MessageEvent, messageOutcome),
  postback: on(PostbackEvent, postbackOutcome),
  reaction: on(ReactionEvent, reactionOutcome),
  read: on(ReadEvent, readOutcome),
  delivery: on(DeliveryEvent, deliveryOutcome),
  referral: on(ReferralEvent, referralOutcome),
};
const EVENT_KEYS = Object.keys(EVENT_HANDLERS) as (keyof typeof EVENT_HANDLERS)[];
const ENVELOPE_KEYS = new Set(["sender", "recipient", "timestamp"]);

/** Optins, handovers, policy enforcement, edits…: kept for a human, never guessed at. */
function eventItems(raw: unknown, scope: Scope, ctx: EventContext): WebhookItem[] {
  return parseItem(z.record(z.string(), z.unknown()), raw, scope, (event) => {
    const key = EVENT_KEYS.find((k) => Object.hasOwn(event, k));
    if (key) return EVENT_HANDLERS[key](raw, { ...scope, field: key }, ctx);
    const field = Object.keys(event).find((k) => !ENVELOPE_KEYS.has(k)) ?? null;
    const what = field === null ? "(no event key)" : `"${field}"`;
    const detail = `${formatPath(scope.path)}: unhandled messaging event ${what}`;
    return [quarantine("unknown_field", detail, { ...scope, field }, raw)];
  });
}

/** Comments, mentions, feed…: changes on these objects are outside messaging. */
function unhandledChange(field: string, scope: Scope, payload: unknown): WebhookItem {
  const detail = `${formatPath(scope.path)}: unhandled change field "${field}"`;
  return quarantine("unknown_field", detail, { ...scope, field }, payload);
}

function changeItems(raw: unknown, scope: Scope): WebhookItem[] {
  return parseItem(z.object({ field: z.string() }), raw, scope, ({ field }) => [unhandledChange(field, scope, raw)]);
}

const MessagingEntry = z.object({
  id: Id,
  messaging: z.array(z.unknown()).default([]),
  standby: z.array(z.unknown()).default([]),
  changes: z.array(z.unknown()).default([]),
  // Instagram Login puts a single change's field/value directly in the entry.
  field: z.string().optional(),
});

/** Every item of one `entry[]` element, in payload order. */
export function messagingEntryItems(object: MessagingObject, raw: unknown, path: Path): WebhookItem[] {
  return parseItem(MessagingEntry, raw, { object, field: null, accountId: null, path }, (entry) => {
    const product = MESSAGING_PRODUCTS[object];
    const entryScope: Scope = { object, field: null, accountId: entry.id, path };
    const at = (key: string, index: number): Scope => ({ ...entryScope, path: [...path, key, index] });
    const events = (key: "messaging" | "standby") =>
      entry[key].flatMap((event, i) =>
        eventItems(event, at(key, i), { product, accountId: entry.id, standby: key === "standby" }),
      );
    const inlineChange = entry.field === undefined ? [] : [unhandledChange(entry.field, entryScope, raw)];
    return [
      ...events("messaging"),
      ...events("standby"),
      ...entry.changes.flatMap((change, i) => changeItems(change, at("changes", i))),
      ...inlineChange,
    ];
  });
}
