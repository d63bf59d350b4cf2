/**
 * @module
 * The one normalised event model every Meta webhook item is turned into, whatever product sent it.
 * The zod schemas are the single source of truth: the normaliser produces these shapes, the
 * conversation Durable Object stores them, and the read API documents them in OpenAPI.
 */
import { z } from "@hono/zod-openapi";

export const Product = z.enum(["whatsapp", "instagram", "messenger"]);
export type Product = z.infer<typeof Product>;

export const Direction = z.enum(["in", "out"]);
export type Direction = z.infer<typeof Direction>;

export const MessageType = z.enum([
  "text",
  "image",
  "audio",
  "video",
  "document",
  "sticker",
  "location",
  "contacts",
  "interactive",
  "button",
  "order",
  "system",
  "postback",
  "referral",
  "attachments",
  "share",
  "story_mention",
  "reel",
  "post",
  "fallback",
  "unsupported",
  /** A WhatsApp template the business sent from WeChatting. */
  "template",
]);
export type MessageType = z.infer<typeof MessageType>;

export const MetaError = z
  .object({
    code: z.number().int(),
    title: z.string().nullable(),
    details: z.string().nullable(),
  })
  .openapi("MetaError");
export type MetaError = z.infer<typeof MetaError>;

/** WhatsApp media sent by id (image, audio, video, document, sticker). */
export const Media = z.object({
  id: z.string(),
  mimeType: z.string().nullable(),
  sha256: z.string().nullable(),
  url: z.string().nullable(),
  caption: z.string().nullable(),
  filename: z.string().nullable(),
  voice: z.boolean().nullable(),
  animated: z.boolean().nullable(),
});
export type Media = z.infer<typeof Media>;

/** Instagram / Messenger attachment (CDN URL based). */
export const Attachment = z.object({
  type: z.string(),
  url: z.string().nullable(),
  title: z.string().nullable(),
  /** ig_post / share media id, reel video id or Messenger sticker id. */
  mediaId: z.string().nullable(),
});
export type Attachment = z.infer<typeof Attachment>;

export const Location = z.object({
  latitude: z.number(),
  longitude: z.number(),
  name: z.string().nullable(),
  address: z.string().nullable(),
  url: z.string().nullable(),
});

export const SharedContact = z.object({
  name: z.string().nullable(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  birthday: z.string().nullable(),
  phones: z.array(z.object({ phone: z.string(), waId: z.string().nullable(), type: z.string().nullable() })),
  emails: z.array(z.object({ email: z.string(), type: z.string().nullable() })),
  addresses: z.array(
    z.object({
      street: z.string().nullable(),
      city: z.string().nullable(),
      state: z.string().nullable(),
      zip: z.string().nullable(),
      country: z.string().nullable(),
      countryCode: z.string().nullable(),
      type: z.string().nullable(),
    }),
  ),
  organization: z
    .object({ company: z.string().nullable(), department: z.string().nullable(), title: z.string().nullable() })
    .nullable(),
  urls: z.array(z.object({ url: z.string(), type: z.string().nullable() })),
});

/** Interactive replies, template buttons, quick replies and postbacks: what the customer answered. */
export const Reply = z.object({
  kind: z.enum(["button_reply", "list_reply", "flow_reply", "template_button", "quick_reply", "postback"]),
  id: z.string().nullable(),
  title: z.string().nullable(),
  description: z.string().nullable(),
  payload: z.string().nullable(),
  /** Flow replies: response_json exactly as Meta sent it (a JSON string; its flow_token is `id`). */
  responseJson: z.string().nullable(),
});

export const Order = z.object({
  catalogId: z.string(),
  text: z.string().nullable(),
  items: z.array(
    z.object({ productRetailerId: z.string(), quantity: z.number(), itemPrice: z.number(), currency: z.string() }),
  ),
});

export const SystemNotice = z.object({
  kind: z.string(),
  body: z.string().nullable(),
  newWaId: z.string().nullable(),
  newUserId: z.string().nullable(),
});

export const Referral = z.object({
  source: z.string().nullable(),
  type: z.string().nullable(),
  ref: z.string().nullable(),
  adId: z.string().nullable(),
  sourceUrl: z.string().nullable(),
  headline: z.string().nullable(),
  body: z.string().nullable(),
  mediaType: z.string().nullable(),
  mediaUrl: z.string().nullable(),
  ctwaClid: z.string().nullable(),
  welcomeText: z.string().nullable(),
});

export const Context = z.object({
  /** Meta id of the message this one quotes / replies to. */
  replyTo: z.string().nullable(),
  /** Instagram story the customer replied to. */
  story: z.object({ id: z.string().nullable(), url: z.string().nullable() }).nullable(),
  forwarded: z.boolean(),
  frequentlyForwarded: z.boolean(),
  /** WhatsApp product inquiry ("Message business" on a product). */
  referredProduct: z.object({ catalogId: z.string(), productRetailerId: z.string() }).nullable(),
});

/** The content of one message, as stored and as served by the API. Absent parts are null. */
export const MessageContent = z
  .object({
    externalId: z.string(),
    direction: Direction,
    type: MessageType,
    /** Meta's timestamp of the message, epoch milliseconds. */
    timestamp: z.number().int(),
    text: z.string().nullable(),
    media: Media.nullable(),
    attachments: z.array(Attachment),
    location: Location.nullable(),
    contacts: z.array(SharedContact),
    reply: Reply.nullable(),
    order: Order.nullable(),
    system: SystemNotice.nullable(),
    referral: Referral.nullable(),
    context: Context.nullable(),
    /** Message-level errors Meta attached (unsupported content and the like). */
    errors: z.array(MetaError),
    /** Set when Meta could not deliver the content: the original type it reported. */
    unsupportedType: z.string().nullable(),
    /** Echo of a message the business sent outside WeChatting (Page inbox, Business app, other apps). */
    echo: z.object({ appId: z.string().nullable(), metadata: z.string().nullable() }).nullable(),
    /** Messenger handover: another app owned the thread when this arrived. */
    standby: z.boolean(),
  })
  .openapi("MessageContent");
export type MessageContent = z.infer<typeof MessageContent>;

export const DeliveryStatus = z.enum(["sent", "delivered", "read", "played", "failed"]);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

/** The customer side of a conversation. `id` is what conversations are keyed by. */
export const Customer = z.object({
  /** BSUID when present, else wa_id / IGSID / PSID. */
  id: z.string(),
  waId: z.string().nullable(),
  bsuid: z.string().nullable(),
  name: z.string().nullable(),
  username: z.string().nullable(),
});
export type Customer = z.infer<typeof Customer>;

/** The customer as the newer of two sightings describes them (newer fields win, absent ones keep). */
export function mergeCustomer(into: Customer, from: Customer): Customer {
  return {
    id: into.id,
    waId: from.waId ?? into.waId,
    bsuid: from.bsuid ?? into.bsuid,
    name: from.name ?? into.name,
    username: from.username ?? into.username,
  };
}

/** Which connected Meta account an item is addressed to. */
export const Route = z.object({
  product: Product,
  /** phone_number_id, Page id or Instagram account id (entry.id / metadata.phone_number_id). */
  accountId: z.string(),
});
export type Route = z.infer<typeof Route>;

/**
 * What happens in a conversation. `key` is the dedup key of the event itself (a reaction, a status
 * or a deletion has its own, never the target message's id).
 */
export const ConversationChange = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("message"), key: z.string(), message: MessageContent }),
  z.object({
    kind: z.literal("status"),
    key: z.string(),
    target: z.string(),
    status: DeliveryStatus,
    timestamp: z.number().int(),
    error: MetaError.nullable(),
    /** Instagram "seen": this and every earlier business message has been read. */
    cascade: z.boolean(),
  }),
  z.object({
    kind: z.literal("reaction"),
    key: z.string(),
    target: z.string(),
    actor: Direction,
    /** null = reaction removed. */
    emoji: z.string().nullable(),
    timestamp: z.number().int(),
  }),
  z.object({ kind: z.literal("deletion"), key: z.string(), target: z.string(), timestamp: z.number().int() }),
  /** Messenger delivery / read watermark: every business message at or before it. */
  z.object({
    kind: z.literal("watermark"),
    key: z.string(),
    status: z.enum(["delivered", "read"]),
    watermark: z.number().int(),
  }),
]);
export type ConversationChange = z.infer<typeof ConversationChange>;

export const QuarantineReason = z.enum([
  "invalid_envelope",
  "unknown_object",
  "unknown_field",
  "schema_mismatch",
  "unknown_account",
]);
export type QuarantineReason = z.infer<typeof QuarantineReason>;

/** One understood-or-not item of a webhook POST, in the order Meta sent them. */
export type WebhookItem =
  | { kind: "conversation"; route: Route; customer: Customer; change: ConversationChange }
  | {
      kind: "account";
      route: Route;
      /** WhatsApp account-level fields are addressed to the WABA, not a phone number. */
      by: "account" | "waba";
      field: string;
      event: string;
      timestamp: number;
      payload: unknown;
    }
  | {
      kind: "quarantine";
      reason: QuarantineReason;
      detail: string;
      object: string | null;
      field: string | null;
      accountId: string | null;
      payload: unknown;
    };
