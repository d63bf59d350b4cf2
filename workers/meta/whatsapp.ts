/**
 * @module
 * WhatsApp Cloud API webhooks (object `whatsapp_business_account`). `messages` and `smb_message_echoes`
 * changes become conversation items routed by the phone number (metadata.phone_number_id); every other
 * field concerns the WABA and becomes an account item.
 */
import { z } from "@hono/zod-openapi";
import {
  DeliveryStatus,
  type ConversationChange,
  type Customer,
  type Direction,
  type Media,
  type MessageContent,
  type MetaError,
  type Route,
  type WebhookItem,
} from "../events.ts";
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

export const WHATSAPP_OBJECT = "whatsapp_business_account";

/** Fields whose value carries messages / statuses for one phone number rather than WABA events. */
const CONVERSATION_FIELDS = new Set(["messages", "smb_message_echoes"]);

/** WhatsApp sends epoch seconds, as strings in messages and statuses; the model keeps milliseconds. */
const Seconds = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform((s) => Number(s) * 1000);

const WaError = z
  .object({
    code: z.number().int(),
    title: z.string().optional(),
    message: z.string().optional(),
    error_data: z.object({ details: z.string().optional() }).optional(),
  })
  // Meta documents `message` as equal to `title` and plans to deprecate titles, so either will do.
  .transform(
    (e): MetaError => ({ code: e.code, title: e.title ?? e.message ?? null, details: e.error_data?.details ?? null }),
  );

const WaContact = z.object({
  wa_id: z.string().optional(),
  user_id: z.string().optional(),
  profile: z.object({ name: z.string().optional(), username: z.string().optional() }).optional(),
});
type WaContact = z.infer<typeof WaContact>;

const WaMedia = z
  .object({
    id: Id,
    mime_type: z.string().optional(),
    sha256: z.string().optional(),
    url: z.string().optional(),
    caption: z.string().optional(),
    filename: z.string().optional(),
    voice: z.boolean().optional(),
    animated: z.boolean().optional(),
  })
  .transform(
    (m): Media => ({
      id: m.id,
      mimeType: m.mime_type ?? null,
      sha256: m.sha256 ?? null,
      url: m.url ?? null,
      caption: m.caption ?? null,
      filename: m.filename ?? null,
      voice: m.voice ?? null,
      animated: m.animated ?? null,
    }),
  );

const WaLocation = z
  .object({
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().optional(),
    address: z.string().optional(),
    url: z.string().optional(),
  })
  .transform((l) => ({ ...l, name: l.name ?? null, address: l.address ?? null, url: l.url ?? null }));

const WaContactCard = z
  .object({
    name: z
      .object({
        formatted_name: z.string().optional(),
        first_name: z.string().optional(),
        last_name: z.string().optional(),
      })
      .optional(),
    birthday: z.string().optional(),
    phones: z
      .array(z.object({ phone: z.string(), wa_id: z.string().optional(), type: z.string().optional() }))
      .optional(),
    emails: z.array(z.object({ email: z.string(), type: z.string().optional() })).optional(),
    addresses: z
      .array(
        z.object({
          street: z.string().optional(),
          city: z.string().optional(),
          state: z.string().optional(),
          zip: z.string().optional(),
          country: z.string().optional(),
          country_code: z.string().optional(),
          type: z.string().optional(),
        }),
      )
      .optional(),
    org: z
      .object({ company: z.string().optional(), department: z.string().optional(), title: z.string().optional() })
      .optional(),
    urls: z.array(z.object({ url: z.string(), type: z.string().optional() })).optional(),
  })
  .transform((card) => ({
    name: card.name?.formatted_name ?? null,
    firstName: card.name?.first_name ?? null,
    lastName: card.name?.last_name ?? null,
    birthday: card.birthday ?? null,
    phones: (card.phones ?? []).map((p) => ({ phone: p.phone, waId: p.wa_id ?? null, type: p.type ?? null })),
    emails: (card.emails ?? []).map((e) => ({ email: e.email, type: e.type ?? null })),
    addresses: (card.addresses ?? []).map((a) => ({
      street: a.street ?? null,
      city: a.city ?? null,
      state: a.state ?? null,
      zip: a.zip ?? null,
      country: a.country ?? null,
      countryCode: a.country_code ?? null,
      type: a.type ?? null,
    })),
    organization: card.org
      ? { company: card.org.company ?? null, department: card.org.department ?? null, title: card.org.title ?? null }
      : null,
    urls: (card.urls ?? []).map((u) => ({ url: u.url, type: u.type ?? null })),
  }));

const FlowTokenHolder = z.object({ flow_token: z.string() });

/**
 * Flow replies carry no flow id; the flow_token the business sent, inside the response_json string,
 * is what identifies them. Unreadable JSON only loses the token: the string itself is kept verbatim.
 */
function flowToken(responseJson: string): string | null {
  try {
    return FlowTokenHolder.safeParse(JSON.parse(responseJson)).data?.flow_token ?? null;
  } catch {
    return null;
  }
}

const WaInteractive = z
  .object({
    button_reply: z.object({ id: z.string(), title: z.string() }).optional(),
    list_reply: z.object({ id: z.string(), title: z.string(), description: z.string().optional() }).optional(),
    nfm_reply: z.object({ body: z.string().optional(), response_json: z.string() }).optional(),
  })
  .transform(({ button_reply, list_reply, nfm_reply }) => {
    if (button_reply) return reply({ kind: "button_reply", id: button_reply.id, title: button_reply.title });
    if (list_reply) return reply({ kind: "list_reply", ...list_reply, description: list_reply.description ?? null });
    if (nfm_reply) {
      const responseJson = nfm_reply.response_json;
      return reply({ kind: "flow_reply", id: flowToken(responseJson), title: nfm_reply.body ?? null, responseJson });
    }
    // An interactive reply kind this parser does not know yet: keep the message, without a reply.
    return null;
  });

const WaOrder = z
  .object({
    catalog_id: Id,
    text: z.string().optional(),
    product_items: z.array(
      z.object({ product_retailer_id: Id, quantity: z.number(), item_price: z.number(), currency: z.string() }),
    ),
  })
  .transform((o) => ({
    catalogId: o.catalog_id,
    text: o.text ?? null,
    items: o.product_items.map((i) => ({
      productRetailerId: i.product_retailer_id,
      quantity: i.quantity,
      itemPrice: i.item_price,
      currency: i.currency,
    })),
  }));

const WaSystem = z
  .object({
    type: z.string(),
    body: z.string().optional(),
    wa_id: z.string().optional(),
    user_id: z.string().optional(),
  })
  .transform((s) => ({ kind: s.type, body: s.body ?? null, newWaId: s.wa_id ?? null, newUserId: s.user_id ?? null }));

const WaContext = z
  .object({
    id: z.string().optional(),
    forwarded: z.boolean().optional(),
    frequently_forwarded: z.boolean().optional(),
    referred_product: z.object({ catalog_id: Id, product_retailer_id: Id }).optional(),
  })
  .transform((c) =>
    context({
      replyTo: c.id ?? null,
      forwarded: c.forwarded ?? false,
      frequentlyForwarded: c.frequently_forwarded ?? false,
      referredProduct: c.referred_product
        ? { catalogId: c.referred_product.catalog_id, productRetailerId: c.referred_product.product_retailer_id }
        : null,
    }),
  );

/**
 * Click-to-WhatsApp ad. `source_type` ("ad" or "post") is where the click came from, which is what
 * Messenger's `source` (ADS, SHORTLINK) says, so it maps to `source`; WhatsApp has no counterpart of
 * Messenger's `type` (OPEN_THREAD) or `ref`, which stay null. `source_id` is the ad (or post) id.
 */
const WaReferral = z
  .object({
    source_url: z.string().optional(),
    source_id: Id.optional(),
    source_type: z.string().optional(),
    headline: z.string().optional(),
    body: z.string().optional(),
    media_type: z.string().optional(),
    image_url: z.string().optional(),
    video_url: z.string().optional(),
    ctwa_clid: z.string().optional(),
    welcome_message: z.object({ text: z.string().optional() }).optional(),
  })
  .transform((r) =>
    referral({
      source: r.source_type ?? null,
      adId: r.source_id ?? null,
      sourceUrl: r.source_url ?? null,
      headline: r.headline ?? null,
      body: r.body ?? null,
      mediaType: r.media_type ?? null,
      mediaUrl: r.image_url ?? r.video_url ?? null,
      ctwaClid: r.ctwa_clid ?? null,
      welcomeText: r.welcome_message?.text ?? null,
    }),
  );

/** What every inbound message and business-app echo has, whatever its type. */
const WaMessage = z.object({
  id: z.string(),
  timestamp: Seconds,
  type: z.string(),
  from: z.string().optional(),
  from_user_id: z.string().optional(),
  to: z.string().optional(),
  to_user_id: z.string().optional(),
  context: WaContext.optional(),
  referral: WaReferral.optional(),
  errors: z.array(WaError).optional(),
});
type WaMessage = z.infer<typeof WaMessage>;

/** What a message's type-specific part turns into: message content, or an event about another message. */
type MessageParts = Pick<MessageContent, "type"> & Partial<MessageContent>;
type WaBody =
  | { kind: "message"; parts: MessageParts }
  | { kind: "reaction"; target: string; emoji: string | null }
  | { kind: "deletion"; target: string };

const content = (parts: MessageParts): WaBody => ({ kind: "message", parts });

/** Captions are the text of a media message. */
const mediaContent = (type: MessageParts["type"], media: Media) => content({ type, media, text: media.caption });

/** One schema per known `type`, each reading the sub-object named after it. */
const BODIES = new Map<string, z.ZodType<WaBody>>(
  Object.entries({
    text: z
      .object({ text: z.object({ body: z.string() }) })
      .transform((m) => content({ type: "text", text: m.text.body })),
    image: z.object({ image: WaMedia }).transform((m) => mediaContent("image", m.image)),
    audio: z.object({ audio: WaMedia }).transform((m) => mediaContent("audio", m.audio)),
    video: z.object({ video: WaMedia }).transform((m) => mediaContent("video", m.video)),
    document: z.object({ document: WaMedia }).transform((m) => mediaContent("document", m.document)),
    sticker: z.object({ sticker: WaMedia }).transform((m) => mediaContent("sticker", m.sticker)),
    location: z.object({ location: WaLocation }).transform((m) => content({ type: "location", location: m.location })),
    contacts: z
      .object({ contacts: z.array(WaContactCard) })
      .transform((m) => content({ type: "contacts", contacts: m.contacts })),
    // Meta sometimes omits the sub-object (reporting value.errors instead); the message still happened.
    interactive: z
      .object({ interactive: WaInteractive.optional() })
      .transform((m) => content({ type: "interactive", reply: m.interactive ?? null })),
    button: z
      .object({ button: z.object({ payload: z.string().optional(), text: z.string().optional() }) })
      .transform((m) =>
        content({
          type: "button",
          reply: reply({ kind: "template_button", payload: m.button.payload ?? null, title: m.button.text ?? null }),
        }),
      ),
    order: z.object({ order: WaOrder }).transform((m) => content({ type: "order", order: m.order })),
    system: z.object({ system: WaSystem }).transform((m) => content({ type: "system", system: m.system })),
    unsupported: z
      .object({ unsupported: z.object({ type: z.string() }).optional() })
      .transform((m) => content({ type: "unsupported", unsupportedType: m.unsupported?.type ?? null })),
    // Coexistence edits are announced but not delivered by Meta yet; show them as unsupported.
    edit: z.object({}).transform(() => content({ type: "unsupported", unsupportedType: "edit" })),
    reaction: z
      .object({ reaction: z.object({ message_id: z.string(), emoji: z.string().optional() }) })
      // A removal is an omitted emoji in current payloads and "" in older ones.
      .transform((m): WaBody => ({ kind: "reaction", target: m.reaction.message_id, emoji: m.reaction.emoji || null })),
    revoke: z
      .object({ revoke: z.object({ original_message_id: z.string() }) })
      .transform((m): WaBody => ({ kind: "deletion", target: m.revoke.original_message_id })),
  }),
);

/** Types Meta adds before this parser knows them are kept as unsupported messages, not quarantined. */
function bodySchema(type: string): z.ZodType<WaBody> {
  return BODIES.get(type) ?? z.unknown().transform(() => content({ type: "unsupported", unsupportedType: type }));
}

const WaStatus = z.object({
  id: z.string(),
  status: DeliveryStatus,
  timestamp: Seconds,
  recipient_id: z.string().optional(),
  recipient_user_id: z.string().optional(),
  errors: z.array(WaError).optional(),
});

const MessagesValue = z.object({
  metadata: z.object({ phone_number_id: Id }),
  contacts: z.array(WaContact).default([]),
  messages: z.array(z.unknown()).default([]),
  message_echoes: z.array(z.unknown()).default([]),
  statuses: z.array(z.unknown()).default([]),
  errors: z.array(z.unknown()).default([]),
});

/** Template ids arrive as JSON numbers; the rest of the account payload is passed on as Meta sent it. */
const AccountValue = z.looseObject({ event: z.string().optional(), message_template_id: Id.optional() });

const WaChange = z.object({ field: z.string(), value: z.unknown() });

const WaEntry = z.object({ id: Id, time: Seconds.optional(), changes: z.array(z.unknown()) });
type WaEntry = z.infer<typeof WaEntry>;

/**
 * The customer a message or status is about. The BSUID wins as the key because `wa_id` disappears for
 * users with a username; contacts[] is matched by either id, or taken when it holds a single entry
 * (wa_id and `from` are not always formatted alike).
 */
function waCustomer(waId: string | undefined, bsuid: string | undefined, contacts: WaContact[]): Customer | null {
  const contact =
    contacts.find((c) => (waId !== undefined && c.wa_id === waId) || (bsuid !== undefined && c.user_id === bsuid)) ??
    (contacts.length === 1 ? contacts[0] : undefined);
  const resolvedBsuid = bsuid ?? contact?.user_id ?? null;
  const id = resolvedBsuid ?? waId;
  if (id === undefined) return null;
  return {
    id,
    waId: waId ?? null,
    bsuid: resolvedBsuid,
    name: contact?.profile?.name ?? null,
    username: contact?.profile?.username ?? null,
  };
}

function withCustomer(
  customer: Customer | null,
  scope: Scope,
  payload: unknown,
  use: (customer: Customer) => WebhookItem[],
): WebhookItem[] {
  if (customer) return use(customer);
  const detail = `${formatPath(scope.path)}: no customer identity (no wa_id, BSUID or contacts[].user_id)`;
  return [quarantine("schema_mismatch", detail, scope, payload)];
}

function messageEventChange(message: WaMessage, body: WaBody, direction: Direction): ConversationChange {
  const { id, timestamp } = message;
  switch (body.kind) {
    case "reaction":
      return { kind: "reaction", key: `r:${id}`, target: body.target, actor: direction, emoji: body.emoji, timestamp };
    case "deletion":
      return deletionChange(body.target, timestamp);
    case "message":
      return messageChange({
        externalId: id,
        direction,
        timestamp,
        context: message.context ?? null,
        referral: message.referral ?? null,
        errors: message.errors ?? [],
        // Business-app echoes have no app id or metadata: they were typed on the phone.
        echo: direction === "out" ? { appId: null, metadata: null } : null,
        ...body.parts,
      });
  }
}

function messageItems(
  raw: unknown,
  scope: Scope,
  route: Route,
  contacts: WaContact[],
  direction: Direction,
): WebhookItem[] {
  return parseItem(WaMessage, raw, scope, (message) => {
    const customer =
      direction === "in"
        ? waCustomer(message.from, message.from_user_id, contacts)
        : waCustomer(message.to, message.to_user_id, contacts);
    return withCustomer(customer, scope, raw, (customer) =>
      parseItem(bodySchema(message.type), raw, scope, (body) => [
        conversation(route, customer, messageEventChange(message, body, direction)),
      ]),
    );
  });
}

function statusItems(raw: unknown, scope: Scope, route: Route, contacts: WaContact[]): WebhookItem[] {
  return parseItem(WaStatus, raw, scope, (status) =>
    withCustomer(waCustomer(status.recipient_id, status.recipient_user_id, contacts), scope, raw, (customer) => [
      conversation(
        route,
        customer,
        statusChange({
          target: status.id,
          status: status.status,
          timestamp: status.timestamp,
          error: status.errors?.[0] ?? null,
          cascade: false,
        }),
      ),
    ]),
  );
}

/** A `messages`-like value: its arrays in a fixed order (Meta never mixes them in practice). */
function conversationValueItems(raw: unknown, scope: Scope, field: string, entry: WaEntry): WebhookItem[] {
  return parseItem(MessagesValue, raw, scope, (value) => {
    const route: Route = { product: "whatsapp", accountId: value.metadata.phone_number_id };
    const at = (key: string, index: number): Scope => ({
      ...scope,
      accountId: route.accountId,
      path: [...scope.path, key, index],
    });
    const systemErrors: WebhookItem[] = value.errors.length
      ? [
          {
            kind: "account",
            route,
            by: "account",
            field,
            event: "errors",
            timestamp: entry.time ?? 0,
            payload: value.errors,
          },
        ]
      : [];
    return [
      ...value.messages.flatMap((m, i) => messageItems(m, at("messages", i), route, value.contacts, "in")),
      ...value.message_echoes.flatMap((m, i) => messageItems(m, at("message_echoes", i), route, value.contacts, "out")),
      ...value.statuses.flatMap((s, i) => statusItems(s, at("statuses", i), route, value.contacts)),
      ...systemErrors,
    ];
  });
}

function accountValueItems(raw: unknown, scope: Scope, field: string, entry: WaEntry): WebhookItem[] {
  return parseItem(AccountValue, raw, scope, (payload) => [
    {
      kind: "account",
      route: { product: "whatsapp", accountId: entry.id },
      by: "waba",
      field,
      event: payload.event ?? field,
      timestamp: entry.time ?? 0,
      payload,
    },
  ]);
}

function changeItems(raw: unknown, path: Path, entry: WaEntry): WebhookItem[] {
  return parseItem(WaChange, raw, { object: WHATSAPP_OBJECT, field: null, accountId: entry.id, path }, (change) => {
    const { field, value } = change;
    const scope: Scope = { object: WHATSAPP_OBJECT, field, accountId: entry.id, path: [...path, "value"] };
    return CONVERSATION_FIELDS.has(field)
      ? conversationValueItems(value, scope, field, entry)
      : accountValueItems(value, scope, field, entry);
  });
}

/** Every item of one `entry[]` element, in payload order. */
export function whatsAppEntryItems(raw: unknown, path: Path): WebhookItem[] {
  return parseItem(WaEntry, raw, { object: WHATSAPP_OBJECT, field: null, accountId: null, path }, (entry) =>
    entry.changes.flatMap((change, i) => changeItems(change, [...path, "changes", i], entry)),
  );
}
