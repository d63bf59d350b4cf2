/**
 * @module
 * Builders for realistic Meta webhook bodies (WhatsApp Cloud API, Instagram messaging, Messenger),
 * shaped like the fixtures in test/fixtures/meta and the Meta references cited in
 * /work/shared/meta/SPEC.md §1–§4, plus Meta's wire serialisation (`metaJson`) and signing (`signBody`).
 *
 * Every builder returns a plain {@link WebhookItem}: one `entry[]` element of one product. Wrap any
 * number of items of the same product into ONE POST body with {@link envelope}; items may belong to
 * different accounts and customers, exactly as Meta batches them.
 *
 * Time: every `ts` parameter is epoch **milliseconds**. WhatsApp builders write it as a string of
 * epoch seconds (`"1767225600"`), Messenger/Instagram as integer milliseconds, as Meta does.
 *
 * Plain Node (no Workers types): runs under `node scripts/...` and in benchmarks.
 */
import { createHmac } from "node:crypto";

export type Product = "whatsapp" | "instagram" | "messenger";
export type MessagingProduct = "instagram" | "messenger";
export type Obj = Record<string, unknown>;

/** The `object` of a POST body per product. */
export const OBJECT_OF: Record<Product, string> = {
  whatsapp: "whatsapp_business_account",
  instagram: "instagram",
  messenger: "page",
};

/** The product a POST body's `object` belongs to (undefined for other Graph topics). */
export function productOfObject(object: unknown): Product | undefined {
  for (const [product, name] of Object.entries(OBJECT_OF)) if (name === object) return product as Product;
  return undefined;
}

/** One `entry[]` element of a webhook POST body, tagged with its product. */
export interface WebhookItem {
  product: Product;
  entry: Obj;
}

export interface WebhookBody {
  object: string;
  entry: Obj[];
}

// ---------------------------------------------------------------------------------------------
// Serialisation and signing
// ---------------------------------------------------------------------------------------------

/**
 * Meta's wire form: compact JSON, every code unit above 0x7E as a lowercase `\uXXXX` escape (emoji
 * become surrogate pairs), and `/` escaped as `\/`. Key order is insertion order, so a
 * `JSON.parse` of a Meta body serialises back to the identical bytes.
 */
export function metaJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError("metaJson: value is not serialisable");
  // `/` and non-ASCII can only occur inside JSON strings, so a textual pass is exact.
  return json.replace(/[\u007f-\uffff/]/g, (c) =>
    c === "/" ? "\\/" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The exact bytes Meta would POST for a body (pure ASCII). */
export function encodeBody(value: unknown): Uint8Array {
  return new TextEncoder().encode(metaJson(value));
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact bytes with the app secret (X-Hub-Signature-256). */
export function signBody(body: Uint8Array | string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Legacy `sha1=<hex>` (X-Hub-Signature), which Meta still sends alongside the SHA-256 header. */
export function signBodySha1(body: Uint8Array | string, secret: string): string {
  return `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`;
}

/** Body bytes plus the headers Meta sends with them; `body` may be an object or raw bytes/text. */
export function signedRequest(
  body: unknown,
  secret: string,
): { body: Uint8Array; headers: Record<string, string> } {
  const bytes =
    body instanceof Uint8Array ? body : typeof body === "string" ? new TextEncoder().encode(body) : encodeBody(body);
  return {
    body: bytes,
    headers: {
      "content-type": "application/json",
      "user-agent": "facebookexternalua",
      "x-hub-signature": signBodySha1(bytes, secret),
      "x-hub-signature-256": signBody(bytes, secret),
    },
  };
}

/**
 * Wraps items into one POST body (`{object, entry:[...]}`). All items must be of `product`.
 * `merge: true` folds WhatsApp items addressed to the same WABA into one entry with several
 * `changes[]` (Meta's "multiple changes … may be batched together"); Messenger/Instagram entries
 * are never merged (`entry.messaging` holds one event).
 */
export function envelope(product: Product, items: readonly WebhookItem[], options: { merge?: boolean } = {}): WebhookBody {
  const entries: Obj[] = [];
  const byWaba = new Map<unknown, Obj>();
  for (const item of items) {
    if (item.product !== product) throw new Error(`envelope(${product}): got a ${item.product} item`);
    if (options.merge && product === "whatsapp") {
      const existing = byWaba.get(item.entry.id);
      if (existing && !("time" in existing) && !("time" in item.entry)) {
        (existing.changes as Obj[]).push(...(item.entry.changes as Obj[]));
        continue;
      }
      const copy = { ...item.entry, changes: [...(item.entry.changes as Obj[])] };
      byWaba.set(item.entry.id, copy);
      entries.push(copy);
      continue;
    }
    entries.push(item.entry);
  }
  return { object: OBJECT_OF[product], entry: entries };
}

/** Removes `undefined` members so optional fields are omitted, not serialised as null. */
function compact<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

const seconds = (ms: number) => String(Math.floor(ms / 1000));

// ---------------------------------------------------------------------------------------------
// WhatsApp Cloud API (object "whatsapp_business_account")
// ---------------------------------------------------------------------------------------------

export interface WaAccount {
  wabaId: string;
  phoneNumberId: string;
  /** Business display number, digits only (`15550001111`). */
  displayPhoneNumber: string;
}

/**
 * A WhatsApp user. Legacy users have only `waId`; with business-scoped user ids (2026) `bsuid` is
 * sent as contacts `user_id` / messages `from_user_id`, and `waId` is omitted for username users
 * Meta withholds the phone number of.
 */
export interface WaCustomer {
  waId?: string;
  bsuid?: string;
  parentBsuid?: string;
  name?: string;
  username?: string;
}

export interface WaError {
  code: number;
  title: string;
  message?: string;
  details?: string;
  href?: string;
}

/** Known error objects, in Meta's shape (`message` == `title`, `error_data.details`). */
export const WA_ERRORS = {
  reengagement: {
    code: 131047,
    title: "Re-engagement message",
    details:
      "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    href: "/documentation/business-messaging/whatsapp/support/error-codes",
  },
  ecosystem: {
    code: 131049,
    title: "This message was not delivered to maintain healthy ecosystem engagement.",
    details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    href: "/documentation/business-messaging/whatsapp/support/error-codes",
  },
  undeliverable: {
    code: 131026,
    title: "Message undeliverable",
    details: "Message Undeliverable.",
    href: "/documentation/business-messaging/whatsapp/support/error-codes",
  },
  unknownType: { code: 131051, title: "Message type unknown", details: "Message type is currently not supported." },
  unavailable: {
    code: 131060,
    title: "This message is currently unavailable",
    details: "This message is currently unavailable.",
  },
  rateLimit: {
    code: 130429,
    title: "Rate limit hit",
    details:
      "Message failed to send because there were too many messages sent from this phone number in a short period of time",
    href: "/documentation/business-messaging/whatsapp/support/error-codes",
  },
  generic: { code: 131000, title: "Something went wrong", details: "Unsupported webhook payload" },
} satisfies Record<string, WaError>;

export function waError(e: WaError): Obj {
  return compact({
    code: e.code,
    title: e.title,
    message: e.message ?? e.title,
    error_data: e.details === undefined ? undefined : { details: e.details },
    href: e.href,
  });
}

/** `contacts[]` element for a customer. */
export function waContact(c: WaCustomer): Obj {
  return compact({
    profile: compact({ name: c.name, username: c.username }),
    wa_id: c.waId,
    user_id: c.bsuid,
    parent_user_id: c.parentBsuid,
  });
}

/** `messages[].context`: a quoted business message, a forward marker or a product inquiry. */
export type WaContext =
  | { from: string; id: string; referred_product?: { catalog_id: string; product_retailer_id: string } }
  | { forwarded: true }
  | { frequently_forwarded: true };

export interface WaMessageArgs {
  account: WaAccount;
  customer: WaCustomer;
  /** wamid. */
  id: string;
  /** Epoch ms. */
  ts: number;
  context?: WaContext;
  /** Click-to-WhatsApp ad referral ({@link waCtwaReferral}). */
  referral?: Obj;
  /** Message-level errors (type `unsupported`). */
  errors?: WaError[];
}

/** The `messages[]` element: `{from, from_user_id, id, timestamp, type, <type>, context, referral, errors}`. */
export function waMessageObject(a: WaMessageArgs, type: string, content?: unknown): Obj {
  return compact({
    from: a.customer.waId,
    from_user_id: a.customer.bsuid,
    id: a.id,
    timestamp: seconds(a.ts),
    type,
    [type]: content,
    context: a.context,
    referral: a.referral,
    errors: a.errors?.map(waError),
  });
}

/** One `entry` with one `changes[]` element. `time` (int seconds) only for account-level fields. */
export function waChange(wabaId: string, field: string, value: Obj, time?: number): WebhookItem {
  return {
    product: "whatsapp",
    entry: compact({ id: wabaId, time, changes: [{ value, field }] }),
  };
}

const waValueHead = (account: WaAccount): Obj => ({
  messaging_product: "whatsapp",
  metadata: { display_phone_number: account.displayPhoneNumber, phone_number_id: account.phoneNumberId },
});

/**
 * A `messages` change carrying inbound messages (possibly of several customers: one contacts[]
 * element per distinct customer, in order). `withContacts: false` for `system` messages.
 */
export function waMessagesItem(
  account: WaAccount,
  messages: { customer: WaCustomer; message: Obj }[],
  options: { withContacts?: boolean; valueErrors?: WaError[] } = {},
): WebhookItem {
  const contacts: Obj[] = [];
  const seen = new Set<string>();
  for (const { customer } of messages) {
    const key = `${customer.waId ?? ""}|${customer.bsuid ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    contacts.push(waContact(customer));
  }
  return waChange(
    account.wabaId,
    "messages",
    compact({
      ...waValueHead(account),
      contacts: options.withContacts === false ? undefined : contacts,
      messages: messages.map((m) => m.message),
      errors: options.valueErrors?.map(waError),
    }),
  );
}

/** One inbound message of any type (`content` is the `<type>` object). */
export function waMessage(a: WaMessageArgs, type: string, content?: unknown): WebhookItem {
  return waMessagesItem(a.account, [{ customer: a.customer, message: waMessageObject(a, type, content) }]);
}

export function waText(a: WaMessageArgs, body: string): WebhookItem {
  return waMessage(a, "text", { body });
}

export interface WaMedia {
  /** Media id (valid 7 days). */
  id: string;
  mimeType?: string;
  sha256?: string;
  caption?: string;
  /** Lookaside URL (rolled out since Nov 2025, may be absent). */
  url?: string;
}

/** The lookaside URL newer media webhooks carry (`<type>.url`). */
export function waLookasideUrl(mediaId: string): string {
  return `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=${mediaId}`;
}

export function waImage(a: WaMessageArgs, m: WaMedia): WebhookItem {
  return waMessage(
    a,
    "image",
    compact({ caption: m.caption, mime_type: m.mimeType ?? "image/jpeg", sha256: m.sha256 ?? fakeSha(m.id), id: m.id, url: m.url }),
  );
}

export function waVideo(a: WaMessageArgs, m: WaMedia): WebhookItem {
  return waMessage(
    a,
    "video",
    compact({ caption: m.caption, mime_type: m.mimeType ?? "video/mp4", sha256: m.sha256 ?? fakeSha(m.id), id: m.id, url: m.url }),
  );
}

/** Audio; `voice: true` is a voice note (later gets a `played` status when the business sends one). */
export function waAudio(a: WaMessageArgs, m: WaMedia & { voice?: boolean }): WebhookItem {
  return waMessage(
    a,
    "audio",
    compact({
      mime_type: m.mimeType ?? (m.voice ? "audio/ogg; codecs=opus" : "audio/mpeg"),
      sha256: m.sha256 ?? fakeSha(m.id),
      id: m.id,
      url: m.url,
      voice: m.voice ?? false,
    }),
  );
}

export function waDocument(a: WaMessageArgs, m: WaMedia & { filename: string }): WebhookItem {
  return waMessage(
    a,
    "document",
    compact({
      caption: m.caption,
      filename: m.filename,
      mime_type: m.mimeType ?? "application/pdf",
      sha256: m.sha256 ?? fakeSha(m.id),
      id: m.id,
      url: m.url,
    }),
  );
}

export function waSticker(a: WaMessageArgs, m: WaMedia & { animated?: boolean }): WebhookItem {
  return waMessage(
    a,
    "sticker",
    compact({ mime_type: "image/webp", sha256: m.sha256 ?? fakeSha(m.id), id: m.id, url: m.url, animated: m.animated ?? false }),
  );
}

/** Location pin; a live "current location" share has only latitude/longitude. */
export function waLocation(
  a: WaMessageArgs,
  l: { latitude: number; longitude: number; name?: string; address?: string; url?: string },
): WebhookItem {
  return waMessage(
    a,
    "location",
    compact({ address: l.address, latitude: l.latitude, longitude: l.longitude, name: l.name, url: l.url }),
  );
}

/** Shared contact cards (most fields optional; phones[].wa_id only when on WhatsApp). */
export function waContacts(a: WaMessageArgs, cards: Obj[]): WebhookItem {
  return waMessage(a, "contacts", cards);
}

/** Interactive replies always quote the business message (`context`). */
export function waButtonReply(a: WaMessageArgs & { context: WaContext }, id: string, title: string): WebhookItem {
  return waMessage(a, "interactive", { type: "button_reply", button_reply: { id, title } });
}

export function waListReply(
  a: WaMessageArgs & { context: WaContext },
  id: string,
  title: string,
  description?: string,
): WebhookItem {
  return waMessage(a, "interactive", { type: "list_reply", list_reply: compact({ id, title, description }) });
}

/**
 * WhatsApp Flow completion: `response_json` is a JSON *string* (carries flow_token). An object is
 * serialised the way Meta's examples show it (`{"flow_token": "…", "k": "v"}`, with spaces).
 */
export function waNfmReply(a: WaMessageArgs & { context: WaContext }, response: Obj | string): WebhookItem {
  const json =
    typeof response === "string"
      ? response
      : `{${Object.entries(response)
          .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
          .join(", ")}}`;
  return waMessage(a, "interactive", {
    type: "nfm_reply",
    nfm_reply: { name: "flow", body: "Sent", response_json: json },
  });
}

/** Quick-reply button tapped on a *template* (type `button`, not `interactive`). */
export function waTemplateButton(a: WaMessageArgs & { context: WaContext }, payload: string, text: string): WebhookItem {
  return waMessage(a, "button", { payload, text });
}

/** Reaction to a message; `emoji: ""` (legacy) or `undefined` (current) removes it. */
export function waReaction(a: WaMessageArgs, messageId: string, emoji: string | undefined): WebhookItem {
  return waMessage(a, "reaction", compact({ message_id: messageId, emoji }));
}

export function waOrder(
  a: WaMessageArgs,
  o: {
    catalogId: string;
    text?: string;
    items: { product_retailer_id: string; quantity: number; item_price: number; currency: string }[];
  },
): WebhookItem {
  return waMessage(a, "order", compact({ catalog_id: o.catalogId, text: o.text, product_items: o.items }));
}

/** `user_changed_number`: no contacts[]; `from` is the OLD number, `system.wa_id` the new one. */
export function waSystemChangedNumber(a: WaMessageArgs, newWaId: string): WebhookItem {
  const who = a.customer.name ?? "User";
  return waMessagesItem(
    a.account,
    [
      {
        customer: a.customer,
        message: waMessageObject(a, "system", {
          body: `User ${who} changed from ${a.customer.waId ?? ""} to ${newWaId}`,
          wa_id: newWaId,
          type: "user_changed_number",
        }),
      },
    ],
    { withContacts: false },
  );
}

/** Unsupported message (`unsupported.type` = the original type) with message-level errors. */
export function waUnsupported(a: WaMessageArgs, originalType: string, errors: WaError[] = [WA_ERRORS.unknownType]): WebhookItem {
  return waMessage({ ...a, errors }, "unsupported", { type: originalType });
}

/**
 * The tricky shape: an `interactive` message WITHOUT its interactive object, with value-level
 * errors in the same change (fixture whatsapp-interactive-with-value-errors.json).
 */
export function waInteractiveWithValueErrors(
  a: WaMessageArgs & { context: WaContext },
  errors: WaError[] = [WA_ERRORS.generic],
): WebhookItem {
  const message = compact({
    context: a.context,
    from: a.customer.waId,
    from_user_id: a.customer.bsuid,
    id: a.id,
    timestamp: seconds(a.ts),
    type: "interactive",
  });
  return waMessagesItem(a.account, [{ customer: a.customer, message }], { valueErrors: errors });
}

/** Value-level errors only (system/app/account problems, e.g. 130429). */
export function waValueErrors(account: WaAccount, errors: WaError[] = [WA_ERRORS.rateLimit]): WebhookItem {
  return waChange(account.wabaId, "messages", { ...waValueHead(account), errors: errors.map(waError) });
}

/** Click-to-WhatsApp ad referral (`ctwa_clid` omitted for Status-ad placements). */
export function waCtwaReferral(r: { adId: string; ctwaClid?: string; headline?: string; body?: string; sourceUrl?: string }): Obj {
  return compact({
    source_url: r.sourceUrl ?? `https://fb.me/${r.adId.slice(-8)}`,
    source_id: r.adId,
    source_type: "ad",
    body: r.body ?? "Summer sale is here!",
    headline: r.headline ?? "Chat with us",
    media_type: "image",
    image_url: "https://scontent.example.invalid/fake-ad.jpg",
    ctwa_clid: r.ctwaClid,
    welcome_message: { text: "Hi there! Let us know how we can help!" },
  });
}

export type WaStatusName = "sent" | "delivered" | "read" | "played" | "failed";

export interface WaStatusArgs {
  account: WaAccount;
  customer: WaCustomer;
  /** wamid of the business-sent message. */
  id: string;
  status: WaStatusName;
  ts: number;
  errors?: WaError[];
  /** Pricing (PMP): present on `sent` and on one of delivered/read. */
  pricing?: { billable?: boolean; type: string; category: string };
  /** Pre-v24 conversation object (sent only carries expiration_timestamp). */
  conversation?: { id: string; originType: string; expirationTs?: number };
  bizOpaqueCallbackData?: string;
}

/** `statuses[]` element. BSUID users get `recipient_user_id`; `recipient_id` only with a phone. */
export function waStatusObject(s: WaStatusArgs): Obj {
  return compact({
    id: s.id,
    status: s.status,
    timestamp: seconds(s.ts),
    recipient_id: s.customer.waId,
    recipient_user_id: s.customer.bsuid,
    conversation: s.conversation
      ? compact({
          id: s.conversation.id,
          expiration_timestamp: s.conversation.expirationTs === undefined ? undefined : seconds(s.conversation.expirationTs),
          origin: { type: s.conversation.originType },
        })
      : undefined,
    pricing: s.pricing
      ? { billable: s.pricing.billable ?? s.pricing.type === "regular", pricing_model: "PMP", type: s.pricing.type, category: s.pricing.category }
      : undefined,
    biz_opaque_callback_data: s.bizOpaqueCallbackData,
    errors: s.errors?.map(waError),
  });
}

/** Status webhook(s) of one phone number. BSUID users also get a contacts[] block (not on failed). */
export function waStatuses(account: WaAccount, statuses: WaStatusArgs[]): WebhookItem {
  const contacts = statuses.filter((s) => s.customer.bsuid && s.status !== "failed").map((s) => waContact(s.customer));
  return waChange(
    account.wabaId,
    "messages",
    compact({
      ...waValueHead(account),
      contacts: contacts.length ? contacts : undefined,
      statuses: statuses.map(waStatusObject),
    }),
  );
}

export function waStatus(s: WaStatusArgs): WebhookItem {
  return waStatuses(s.account, [s]);
}

/** Coexistence `smb_message_echoes`: sent from the WhatsApp Business app; store as outbound. */
export function waSmbEcho(
  a: { account: WaAccount; customer: WaCustomer; id: string; ts: number },
  type: string,
  content: unknown,
): WebhookItem {
  return waChange(a.account.wabaId, "smb_message_echoes", {
    ...waValueHead(a.account),
    message_echoes: [
      compact({
        from: a.account.displayPhoneNumber,
        to: a.customer.waId,
        to_user_id: a.customer.waId ? undefined : a.customer.bsuid,
        id: a.id,
        timestamp: seconds(a.ts),
        type,
        [type]: content,
      }),
    ],
  });
}

function fakeSha(id: string): string {
  // Fixture-style fake base64 sha256 (44 chars).
  return `FAKEsha256${id}`.padEnd(43, "A").slice(0, 43) + "=";
}

// ---------------------------------------------------------------------------------------------
// Messenger (object "page") and Instagram (object "instagram") messaging events
// ---------------------------------------------------------------------------------------------

export interface MessagingArgs {
  product: MessagingProduct;
  /** Page id (Messenger) or Instagram professional account id. */
  accountId: string;
  /** PSID (Messenger) or IGSID (Instagram). */
  customerId: string;
  /** Event timestamp, epoch ms. Omitted when `null` (Messenger delivery example has none). */
  ts: number | null;
  /** entry.time (ms, when Meta sent it); defaults to ts + 500 (Messenger) / + 700 (Instagram). */
  entryTime?: number;
  /** Put the event in entry.standby[] (handover: another app owns the thread). */
  standby?: boolean;
  /** Business → customer (echo): sender and recipient are swapped. */
  fromBusiness?: boolean;
}

/** One messaging event wrapped in its entry (`entry.messaging` holds exactly one event). */
export function messagingEvent(a: MessagingArgs, payload: Obj): WebhookItem {
  const [sender, recipient] = a.fromBusiness ? [a.accountId, a.customerId] : [a.customerId, a.accountId];
  const event = compact({
    sender: { id: sender },
    recipient: { id: recipient },
    timestamp: a.ts ?? undefined,
    ...payload,
  });
  const time = a.entryTime ?? (a.ts ?? Date.now()) + (a.product === "instagram" ? 700 : 500);
  const list = a.standby ? "standby" : "messaging";
  // Key order as in Meta's examples: Messenger {id, time, messaging}, Instagram {time, id, messaging}.
  const entry = a.product === "instagram" ? { time, id: a.accountId, [list]: [event] } : { id: a.accountId, time, [list]: [event] };
  return { product: a.product, entry };
}

/** Any `message` object (caller supplies mid and content). */
export function mMessage(a: MessagingArgs, message: Obj): WebhookItem {
  return messagingEvent(a, { message: compact(message) });
}

export interface MTextExtra {
  quickReplyPayload?: string;
  /** Inline reply to a message (`reply_to.mid`, Messenger adds `is_self_reply`). */
  replyToMid?: string;
  /** Ads / shop referral inside the message (CTD/CTM ad). */
  referral?: Obj;
}

export function mText(a: MessagingArgs, mid: string, text: string, extra: MTextExtra = {}): WebhookItem {
  return mMessage(a, {
    mid,
    text,
    quick_reply: extra.quickReplyPayload === undefined ? undefined : { payload: extra.quickReplyPayload },
    reply_to:
      extra.replyToMid === undefined
        ? undefined
        : a.product === "messenger"
          ? { mid: extra.replyToMid, is_self_reply: false }
          : { mid: extra.replyToMid },
    referral: extra.referral,
  });
}

/** Attachment helpers: `{type, payload}` (fallback: `{type, title, url, payload}`). */
export const attachment = {
  media: (type: "image" | "video" | "audio" | "file", url: string): Obj => ({ type, payload: { url } }),
  /** Messenger sticker during the transition: send both `image` and `sticker` (render once). */
  sticker: (url: string, stickerId: number): Obj => ({ type: "sticker", payload: { url, sticker_id: stickerId } }),
  stickerAsImage: (url: string, stickerId: number): Obj => ({ type: "image", payload: { url, sticker_id: stickerId } }),
  /** Instagram post share; with `transition` Meta also sends an `ig_post` twin for the same post. */
  share: (mediaId: string, title: string, url: string): Obj => ({
    type: "share",
    payload: { ig_post_media_id: mediaId, title, url },
  }),
  igPost: (mediaId: string, title: string, url: string): Obj => ({
    type: "ig_post",
    payload: { ig_post_media_id: mediaId, title, url },
  }),
  storyMention: (url: string): Obj => ({ type: "story_mention", payload: { url } }),
  igReel: (reelVideoId: string, title: string, url: string): Obj => ({
    type: "ig_reel",
    payload: { reel_video_id: reelVideoId, title, url },
  }),
  /** Messenger link share; payload may be null or absent. */
  fallback: (title: string, url: string): Obj => ({ type: "fallback", title, url, payload: null }),
};

export function mAttachments(a: MessagingArgs, mid: string, attachments: Obj[], text?: string): WebhookItem {
  return mMessage(a, { mid, text, attachments });
}

/** Instagram story reply: `reply_to.story {url, id}`. */
export function mStoryReply(a: MessagingArgs, mid: string, text: string, story: { url: string; id: string }): WebhookItem {
  return mMessage(a, { mid, text, reply_to: { story } });
}

/** Echo of a business-sent message (sender = business). Messenger carries app_id/metadata. */
export function mEcho(
  a: MessagingArgs,
  mid: string,
  content: { text?: string; attachments?: Obj[] },
  meta: { appId?: number; metadata?: string } = {},
): WebhookItem {
  const b = { ...a, fromBusiness: true };
  if (a.product === "messenger") {
    return mMessage(b, { is_echo: true, app_id: meta.appId, metadata: meta.metadata, mid, ...content });
  }
  return mMessage(b, { mid, ...content, is_echo: true });
}

/** Instagram: user unsent a message (same mid, no content). */
export function mDeleted(a: MessagingArgs, mid: string): WebhookItem {
  return mMessage(a, { mid, is_deleted: true });
}

/** Instagram: unsupported media (no content). */
export function mUnsupported(a: MessagingArgs, mid: string): WebhookItem {
  return mMessage(a, { mid, is_unsupported: true });
}

export function mPostback(a: MessagingArgs, mid: string, title: string, payload: string, referral?: Obj): WebhookItem {
  return messagingEvent(a, { postback: compact({ mid, title, payload, referral }) });
}

/** messaging_referrals: m.me / ig.me link (or ad) into an existing thread. */
export function mReferral(a: MessagingArgs, referral: Obj): WebhookItem {
  return messagingEvent(a, { referral });
}

export function linkReferral(ref: string, source = "SHORTLINK"): Obj {
  return { ref, source, type: "OPEN_THREAD" };
}

export function adReferral(ref: string, adId: string, title = "Summer sale"): Obj {
  return {
    ref,
    ad_id: adId,
    source: "ADS",
    type: "OPEN_THREAD",
    ads_context_data: { ad_title: title, photo_url: "https://scontent.example.invalid/fake-ad.jpg" },
  };
}

/** react: `reaction` name + emoji; unreact omits both. Key order follows each product's example. */
export function mReaction(a: MessagingArgs, mid: string, reaction?: { reaction: string; emoji: string }): WebhookItem {
  if (!reaction) {
    return messagingEvent(a, { reaction: a.product === "messenger" ? { action: "unreact", mid } : { mid, action: "unreact" } });
  }
  return messagingEvent(a, {
    reaction:
      a.product === "messenger"
        ? { reaction: reaction.reaction, emoji: reaction.emoji, action: "react", mid }
        : { mid, action: "react", reaction: reaction.reaction, emoji: reaction.emoji },
  });
}

/** Instagram messaging_seen: per message. */
export function mSeen(a: MessagingArgs, mid: string): WebhookItem {
  return messagingEvent(a, { read: { mid } });
}

/** Messenger message_reads: everything sent at or before `watermark` (ms) was read. */
export function mReadWatermark(a: MessagingArgs, watermark: number): WebhookItem {
  return messagingEvent(a, { read: { watermark } });
}

/** Messenger message_deliveries: watermark always, mids sometimes; no timestamp in Meta's example. */
export function mDelivery(a: MessagingArgs, watermark: number, mids?: string[]): WebhookItem {
  return messagingEvent({ ...a, ts: null, entryTime: a.entryTime ?? (a.ts ?? Date.now()) + 500 }, {
    delivery: compact({ mids, watermark }),
  });
}
