/// <reference types="vite/client" />
/**
 * normalizeWebhook: the whole normalised result of every Meta fixture, field by field, and the
 * payload shapes no fixture covers (batches, BSUIDs, malformed items, unknown objects and events).
 */
import { describe, expect, it } from "vitest";
import {
  ConversationChange,
  Customer,
  type MessageContent,
  type Route,
  type WebhookItem,
} from "../workers/events.ts";
import { normalizeWebhook } from "../workers/meta/normalize.ts";
import igCtdAdReferral from "./fixtures/meta/instagram-ctd-ad-referral.json";
import igEcho from "./fixtures/meta/instagram-echo.json";
import igReel from "./fixtures/meta/instagram-ig-reel.json";
import igMultiAttachments from "./fixtures/meta/instagram-image-multi-attachments.json";
import igPostbackIcebreaker from "./fixtures/meta/instagram-postback-icebreaker.json";
import igQuickReply from "./fixtures/meta/instagram-quick-reply.json";
import igReactionReact from "./fixtures/meta/instagram-reaction-react.json";
import igReactionUnreact from "./fixtures/meta/instagram-reaction-unreact.json";
import igReferralIgme from "./fixtures/meta/instagram-referral-igme.json";
import igReplyToMessage from "./fixtures/meta/instagram-reply-to-message.json";
import igSeen from "./fixtures/meta/instagram-seen.json";
import igShareIgPostTransition from "./fixtures/meta/instagram-share-ig-post-transition.json";
import igStoryMention from "./fixtures/meta/instagram-story-mention.json";
import igStoryReply from "./fixtures/meta/instagram-story-reply.json";
import igText from "./fixtures/meta/instagram-text.json";
import igUnsupported from "./fixtures/meta/instagram-unsupported.json";
import fbDelivery from "./fixtures/meta/messenger-delivery.json";
import fbEcho from "./fixtures/meta/messenger-echo.json";
import fbFallbackLinkShare from "./fixtures/meta/messenger-fallback-link-share.json";
import fbImageAttachment from "./fixtures/meta/messenger-image-attachment.json";
import fbPostbackGetStarted from "./fixtures/meta/messenger-postback-get-started.json";
import fbQuickReply from "./fixtures/meta/messenger-quick-reply.json";
import fbReactionReact from "./fixtures/meta/messenger-reaction-react.json";
import fbReactionUnreact from "./fixtures/meta/messenger-reaction-unreact.json";
import fbRead from "./fixtures/meta/messenger-read.json";
import fbReferralMme from "./fixtures/meta/messenger-referral-mme.json";
import fbReplyTo from "./fixtures/meta/messenger-reply-to.json";
import fbStandby from "./fixtures/meta/messenger-standby.json";
import fbStickerTransition from "./fixtures/meta/messenger-sticker-transition.json";
import fbText from "./fixtures/meta/messenger-text.json";
import waAccountUpdate from "./fixtures/meta/whatsapp-account-update-partner-app-uninstalled.json";
import waAudioVoice from "./fixtures/meta/whatsapp-audio-voice.json";
import waButtonTemplateQuickReply from "./fixtures/meta/whatsapp-button-template-quick-reply.json";
import waContacts from "./fixtures/meta/whatsapp-contacts.json";
import waDocument from "./fixtures/meta/whatsapp-document.json";
import waImage from "./fixtures/meta/whatsapp-image.json";
import waButtonReply from "./fixtures/meta/whatsapp-interactive-button-reply.json";
import waListReply from "./fixtures/meta/whatsapp-interactive-list-reply.json";
import waNfmReply from "./fixtures/meta/whatsapp-interactive-nfm-reply.json";
import waInteractiveWithValueErrors from "./fixtures/meta/whatsapp-interactive-with-value-errors.json";
import waLocation from "./fixtures/meta/whatsapp-location.json";
import waOrder from "./fixtures/meta/whatsapp-order.json";
import waReactionRemoved from "./fixtures/meta/whatsapp-reaction-removed-empty-emoji.json";
import waReaction from "./fixtures/meta/whatsapp-reaction.json";
import waSmbMessageEchoes from "./fixtures/meta/whatsapp-smb-message-echoes.json";
import waStatusDelivered from "./fixtures/meta/whatsapp-status-delivered.json";
import waStatusFailed131047 from "./fixtures/meta/whatsapp-status-failed-131047.json";
import waStatusFailed131049 from "./fixtures/meta/whatsapp-status-failed-131049.json";
import waStatusRead from "./fixtures/meta/whatsapp-status-read.json";
import waStatusSent from "./fixtures/meta/whatsapp-status-sent.json";
import waStatusUnknownMessage from "./fixtures/meta/whatsapp-status-unknown-message.json";
import waStickerAnimated from "./fixtures/meta/whatsapp-sticker-animated.json";
import waSystemUserChangedNumber from "./fixtures/meta/whatsapp-system-user-changed-number.json";
import waTemplateStatusRejected from "./fixtures/meta/whatsapp-template-status-rejected.json";
import waTextCtwaReferral from "./fixtures/meta/whatsapp-text-ctwa-referral.json";
import waTextForwarded from "./fixtures/meta/whatsapp-text-forwarded.json";
import waTextReplyContext from "./fixtures/meta/whatsapp-text-reply-context.json";
import waTextUnicode from "./fixtures/meta/whatsapp-text-unicode-rtl-emoji.json";
import waText from "./fixtures/meta/whatsapp-text.json";
import waUnsupportedWithErrors from "./fixtures/meta/whatsapp-unsupported-with-errors.json";
import waValueErrorsRateLimit from "./fixtures/meta/whatsapp-value-errors-rate-limit.json";
import waVideo from "./fixtures/meta/whatsapp-video.json";

// ---- Expected-value builders (independent of the normaliser's own defaults) ----

/** 1767225600 s: the time most fixtures use. */
const T = 1767225600000;

type Reply = NonNullable<MessageContent["reply"]>;
type Referral = NonNullable<MessageContent["referral"]>;
type Context = NonNullable<MessageContent["context"]>;
type MessageParts = Pick<MessageContent, "externalId" | "direction" | "type" | "timestamp"> & Partial<MessageContent>;

function message(parts: MessageParts): ConversationChange {
  const absent = {
    text: null,
    media: null,
    attachments: [],
    location: null,
    contacts: [],
    reply: null,
    order: null,
    system: null,
    referral: null,
    context: null,
    errors: [],
    unsupportedType: null,
    echo: null,
    standby: false,
  } satisfies Omit<MessageContent, "externalId" | "direction" | "type" | "timestamp">;
  return { kind: "message", key: `m:${parts.externalId}`, message: { ...absent, ...parts } };
}

/** The most common shape: an inbound text at the fixtures' usual time. */
const inboundText = (externalId: string, text: string) =>
  message({ externalId, direction: "in", type: "text", timestamp: T, text });

const reply = (parts: Pick<Reply, "kind"> & Partial<Reply>): Reply => ({
  id: null,
  title: null,
  description: null,
  payload: null,
  responseJson: null,
  ...parts,
});

const referral = (parts: Partial<Referral>): Referral => ({
  source: null,
  type: null,
  ref: null,
  adId: null,
  sourceUrl: null,
  headline: null,
  body: null,
  mediaType: null,
  mediaUrl: null,
  ctwaClid: null,
  welcomeText: null,
  ...parts,
});

const context = (parts: Partial<Context>): Context => ({
  replyTo: null,
  story: null,
  forwarded: false,
  frequentlyForwarded: false,
  referredProduct: null,
  ...parts,
});

const conversationItem =
  (route: Route, defaultCustomer: Customer) =>
  (change: ConversationChange, customer: Customer = defaultCustomer): WebhookItem => ({
    kind: "conversation",
    route,
    customer,
    change,
  });

const scopedUser = (id: string): Customer => ({ id, waId: null, bsuid: null, name: null, username: null });

const WABA = "100000000000001";
const PHONE_NUMBER_ID = "200000000000001";
const WA_ROUTE: Route = { product: "whatsapp", accountId: PHONE_NUMBER_ID };
const TEST_USER: Customer = { id: "15550002222", waId: "15550002222", bsuid: null, name: "Test User", username: null };
/** Statuses and echoes have no contacts[]: the customer is known by number only. */
const TEST_USER_BY_NUMBER: Customer = { ...TEST_USER, name: null };
const waItem = conversationItem(WA_ROUTE, TEST_USER);

const IG_ACCOUNT = "17840000000000001";
const IGSID = "5000000000000001";
const igItem = conversationItem({ product: "instagram", accountId: IG_ACCOUNT }, scopedUser(IGSID));

const PAGE = "300000000000001";
const PSID = "4000000000000001";
const fbItem = conversationItem({ product: "messenger", accountId: PAGE }, scopedUser(PSID));

function quarantined(parts: Omit<Extract<WebhookItem, { kind: "quarantine" }>, "kind">): WebhookItem {
  return { kind: "quarantine", ...parts };
}

/** A WhatsApp body with one `messages` change holding the given value arrays. */
function waBody(value: Record<string, unknown>, field = "messages") {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: WABA,
        changes: [
          {
            field,
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550001111", phone_number_id: PHONE_NUMBER_ID },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

const waInbound = (id: string, type: string, content: Record<string, unknown>) => ({
  from: "15550002222",
  id,
  timestamp: "1767225600",
  type,
  ...content,
});
const TEST_CONTACTS = [{ profile: { name: "Test User" }, wa_id: "15550002222" }];

/** A Page / Instagram body with one entry holding the given event lists. */
function messagingBody(object: "page" | "instagram", entryId: string, lists: Record<string, unknown[]>) {
  return { object, entry: [{ id: entryId, time: T + 500, ...lists }] };
}
const fbEvent = (event: Record<string, unknown>, timestamp = T) => ({
  sender: { id: PSID },
  recipient: { id: PAGE },
  timestamp,
  ...event,
});
const igEvent = (event: Record<string, unknown>, timestamp = T) => ({
  sender: { id: IGSID },
  recipient: { id: IG_ACCOUNT },
  timestamp,
  ...event,
});

/** One line per item: enough to check order and completeness of a batch. */
function outline(items: WebhookItem[]): string[] {
  return items.map((item) => {
    if (item.kind === "conversation") return `${item.route.accountId} ${item.customer.id} ${item.change.key}`;
    if (item.kind === "account") return `${item.route.accountId} account ${item.field}/${item.event}`;
    return `quarantine ${item.reason} ${item.field}`;
  });
}

// ---- Fixtures ----

const fixtureNames = Object.keys(import.meta.glob("./fixtures/meta/*.json"))
  .map((path) => path.replace(/^.*\//, "").replace(/\.json$/, ""))
  .filter((name) => !name.startsWith("meta-"));
const covered = new Set<string>();

function fixture(name: string, spec: string, body: unknown, expected: WebhookItem[]) {
  covered.add(name);
  it(`${spec} [${name}]`, () => {
    expect(normalizeWebhook(body)).toEqual(expected);
  });
}

describe("WhatsApp fixtures", () => {
  fixture("whatsapp-text", "a text message is an inbound text keyed by its wamid, routed by phone number", waText, [
    waItem(inboundText("wamid.FAKE_IN_000001", "Does it come in another color?")),
  ]);

  fixture(
    "whatsapp-text-unicode-rtl-emoji",
    "escaped unicode (RTL, surrogate pairs, ZWJ emoji) reaches text and the contact name intact",
    waTextUnicode,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000002",
          direction: "in",
          type: "text",
          timestamp: T,
          text: "مرحبا، هل المنتج متوفر؟ \u200f👍🏽 café äöå 👨‍👩‍👧 https://example.com/p/42?x=1&y=2 שלום",
        }),
        { ...TEST_USER, name: "سارة 🌸" },
      ),
    ],
  );

  fixture(
    "whatsapp-text-reply-context",
    "a quoted reply carries the quoted wamid as context.replyTo",
    waTextReplyContext,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000003",
          direction: "in",
          type: "text",
          timestamp: T,
          text: "Yes, the blue one please",
          context: context({ replyTo: "wamid.FAKE_OUT_000001" }),
        }),
      ),
    ],
  );

  fixture("whatsapp-text-forwarded", "a frequently forwarded text is flagged in its context", waTextForwarded, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000004",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "Look at this offer!!",
        context: context({ frequentlyForwarded: true }),
      }),
    ),
  ]);

  fixture(
    "whatsapp-text-ctwa-referral",
    "a click-to-WhatsApp ad referral maps source_type to source and source_id to adId",
    waTextCtwaReferral,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000005",
          direction: "in",
          type: "text",
          timestamp: T,
          text: "Can I get more info about this?",
          referral: referral({
            source: "ad",
            adId: "700000000000001",
            sourceUrl: "https://fb.me/FAKEAD01",
            headline: "Chat with us",
            body: "Summer sale is here!",
            mediaType: "image",
            mediaUrl: "https://scontent.example.invalid/fake-ad.jpg",
            ctwaClid: "FAKE_CTWA_CLID_0001",
            welcomeText: "Hi there! Let us know how we can help!",
          }),
        }),
      ),
    ],
  );

  fixture("whatsapp-image", "an image keeps its media fields and its caption doubles as the text", waImage, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000006",
        direction: "in",
        type: "image",
        timestamp: T,
        text: "Is this the right part?",
        media: {
          id: "900000000000001",
          mimeType: "image/jpeg",
          sha256: "FAKEsha256Base64ImageHashAAAAAAAAAAAAAAAAAAA=",
          url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=FAKE900000000000001",
          caption: "Is this the right part?",
          filename: null,
          voice: null,
          animated: null,
        },
      }),
    ),
  ]);

  fixture("whatsapp-audio-voice", "a voice note is an audio message whose media says voice true", waAudioVoice, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000007",
        direction: "in",
        type: "audio",
        timestamp: T,
        media: {
          id: "900000000000002",
          mimeType: "audio/ogg; codecs=opus",
          sha256: "FAKEsha256VoiceNoteAAAAAAAAAAAAAAAAAAAAAAA=",
          url: null,
          caption: null,
          filename: null,
          voice: true,
          animated: null,
        },
      }),
    ),
  ]);

  fixture("whatsapp-video", "a forwarded video keeps its caption as text and is flagged forwarded", waVideo, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000008",
        direction: "in",
        type: "video",
        timestamp: T,
        text: "Unboxing",
        media: {
          id: "900000000000003",
          mimeType: "video/mp4",
          sha256: "FAKEsha256VideoAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
          url: null,
          caption: "Unboxing",
          filename: null,
          voice: null,
          animated: null,
        },
        context: context({ forwarded: true }),
      }),
    ),
  ]);

  fixture("whatsapp-document", "a document keeps its filename and caption", waDocument, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000009",
        direction: "in",
        type: "document",
        timestamp: T,
        text: "my receipt",
        media: {
          id: "900000000000004",
          mimeType: "application/pdf",
          sha256: "FAKEsha256DocumentAAAAAAAAAAAAAAAAAAAAAAAAA=",
          url: null,
          caption: "my receipt",
          filename: "receipt 2026–01.pdf",
          voice: null,
          animated: null,
        },
      }),
    ),
  ]);

  fixture(
    "whatsapp-sticker-animated",
    "an animated sticker is a sticker message whose media says animated true",
    waStickerAnimated,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000010",
          direction: "in",
          type: "sticker",
          timestamp: T,
          media: {
            id: "900000000000005",
            mimeType: "image/webp",
            sha256: "FAKEsha256StickerAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            url: null,
            caption: null,
            filename: null,
            voice: null,
            animated: true,
          },
        }),
      ),
    ],
  );

  fixture("whatsapp-location", "a location keeps its coordinates, name, address and url", waLocation, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000011",
        direction: "in",
        type: "location",
        timestamp: T,
        location: {
          latitude: 37.44221496582,
          longitude: -122.16165924072,
          name: "Fake Coffee",
          address: "1 Fake Street, Springfield",
          url: "https://example.com/fake-coffee",
        },
      }),
    ),
  ]);

  fixture("whatsapp-contacts", "shared contact cards are mapped field by field, absent parts empty", waContacts, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000012",
        direction: "in",
        type: "contacts",
        timestamp: T,
        contacts: [
          {
            name: "Barbara J. Johnson",
            firstName: "Barbara",
            lastName: "Johnson",
            birthday: "1999-01-23",
            phones: [
              { phone: "+1 (555) 000-5555", waId: "15550005555", type: "CELL" },
              { phone: "+1 555-000-6666", waId: null, type: "HOME" },
            ],
            emails: [{ email: "barbara@example.com", type: "WORK" }],
            addresses: [
              {
                street: "1 Fake Way",
                city: "Springfield",
                state: "CA",
                zip: "99999",
                country: "United States",
                countryCode: "US",
                type: "HOME",
              },
            ],
            organization: { company: "Example Corp", department: "Engineering", title: "Engineer" },
            urls: [{ url: "https://example.com", type: "WORK" }],
          },
          {
            name: "Monica",
            firstName: "Monica",
            lastName: null,
            birthday: null,
            phones: [{ phone: "+1 555-000-7777", waId: null, type: "MAIN" }],
            emails: [],
            addresses: [],
            organization: null,
            urls: [],
          },
        ],
      }),
    ),
  ]);

  fixture(
    "whatsapp-interactive-button-reply",
    "a reply button tap is an interactive message with a button_reply",
    waButtonReply,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000013",
          direction: "in",
          type: "interactive",
          timestamp: T,
          reply: reply({ kind: "button_reply", id: "cancel-button", title: "Cancel" }),
          context: context({ replyTo: "wamid.FAKE_OUT_000002" }),
        }),
      ),
    ],
  );

  fixture("whatsapp-interactive-list-reply", "a list choice is an interactive message with a list_reply", waListReply, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000014",
        direction: "in",
        type: "interactive",
        timestamp: T,
        reply: reply({
          kind: "list_reply",
          id: "priority_express",
          title: "Priority Mail Express",
          description: "Next Day to 2 Days",
        }),
        context: context({ replyTo: "wamid.FAKE_OUT_000003" }),
      }),
    ),
  ]);

  fixture(
    "whatsapp-interactive-nfm-reply",
    "a Flow reply is identified by its flow_token and keeps response_json verbatim",
    waNfmReply,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000015",
          direction: "in",
          type: "interactive",
          timestamp: T,
          reply: reply({
            kind: "flow_reply",
            id: "FAKE_FLOW_TOKEN_1",
            title: "Sent",
            responseJson: '{"flow_token": "FAKE_FLOW_TOKEN_1", "appointment_date": "2026-01-15"}',
          }),
          context: context({ replyTo: "wamid.FAKE_OUT_000004" }),
        }),
      ),
    ],
  );

  fixture(
    "whatsapp-interactive-with-value-errors",
    "an interactive message without its sub-object is kept with reply null, and value.errors become an account item",
    waInteractiveWithValueErrors,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000023",
          direction: "in",
          type: "interactive",
          timestamp: 1767225650000,
          context: context({ replyTo: "wamid.FAKE_OUT_000006" }),
        }),
      ),
      {
        kind: "account",
        route: WA_ROUTE,
        by: "account",
        field: "messages",
        event: "errors",
        timestamp: 0,
        payload: [
          {
            code: 131000,
            title: "Something went wrong",
            message: "Something went wrong",
            error_data: { details: "Unsupported webhook payload" },
          },
        ],
      },
    ],
  );

  fixture(
    "whatsapp-button-template-quick-reply",
    "a template quick-reply button is a button message with a template_button reply",
    waButtonTemplateQuickReply,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000016",
          direction: "in",
          type: "button",
          timestamp: T,
          reply: reply({ kind: "template_button", title: "Unsubscribe", payload: "Unsubscribe" }),
          context: context({ replyTo: "wamid.FAKE_OUT_000005" }),
        }),
      ),
    ],
  );

  fixture(
    "whatsapp-reaction",
    "a reaction is a reaction change on the target message, keyed by its own wamid",
    waReaction,
    [
      waItem({
        kind: "reaction",
        key: "r:wamid.FAKE_IN_000017",
        target: "wamid.FAKE_OUT_000001",
        actor: "in",
        emoji: "👍",
        timestamp: T,
      }),
    ],
  );

  fixture(
    "whatsapp-reaction-removed-empty-emoji",
    "a reaction removal with an empty emoji is a reaction with emoji null",
    waReactionRemoved,
    [
      waItem({
        kind: "reaction",
        key: "r:wamid.FAKE_IN_000019",
        target: "wamid.FAKE_OUT_000001",
        actor: "in",
        emoji: null,
        timestamp: 1767225631000,
      }),
    ],
  );

  fixture("whatsapp-order", "an order keeps its catalog, text and items", waOrder, [
    waItem(
      message({
        externalId: "wamid.FAKE_IN_000020",
        direction: "in",
        type: "order",
        timestamp: T,
        order: {
          catalogId: "800000000000001",
          text: "Love these!",
          items: [
            { productRetailerId: "SKU-RED-M", quantity: 2, itemPrice: 7.99, currency: "USD" },
            { productRetailerId: "SKU-BLUE-L", quantity: 1, itemPrice: 12.5, currency: "USD" },
          ],
        },
      }),
    ),
  ]);

  fixture(
    "whatsapp-system-user-changed-number",
    "a number change is a system message from the old number naming the new one",
    waSystemUserChangedNumber,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000021",
          direction: "in",
          type: "system",
          timestamp: 1767225640000,
          system: {
            kind: "user_changed_number",
            body: "User Test User changed from 15550002222 to 15550008888",
            newWaId: "15550008888",
            newUserId: null,
          },
        }),
        TEST_USER_BY_NUMBER,
      ),
    ],
  );

  fixture(
    "whatsapp-unsupported-with-errors",
    "an unsupported message keeps Meta's original type and its message-level errors",
    waUnsupportedWithErrors,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_IN_000022",
          direction: "in",
          type: "unsupported",
          timestamp: T,
          unsupportedType: "poll_update",
          errors: [
            { code: 131051, title: "Message type unknown", details: "Message type is currently not supported." },
          ],
        }),
      ),
    ],
  );

  fixture(
    "whatsapp-smb-message-echoes",
    "a Business-app echo is an outbound message to the `to` number, with an empty echo",
    waSmbMessageEchoes,
    [
      waItem(
        message({
          externalId: "wamid.FAKE_ECHO_000001",
          direction: "out",
          type: "text",
          timestamp: 1767225900000,
          text: "Sent from the WhatsApp Business app on the phone",
          echo: { appId: null, metadata: null },
        }),
        TEST_USER_BY_NUMBER,
      ),
    ],
  );

  fixture("whatsapp-status-sent", "a sent status is a status change keyed by wamid and status", waStatusSent, [
    waItem(
      {
        kind: "status",
        key: "s:wamid.FAKE_OUT_000001:sent",
        target: "wamid.FAKE_OUT_000001",
        status: "sent",
        timestamp: 1767225601000,
        error: null,
        cascade: false,
      },
      TEST_USER_BY_NUMBER,
    ),
  ]);

  fixture("whatsapp-status-delivered", "a delivered status is a status change in milliseconds", waStatusDelivered, [
    waItem(
      {
        kind: "status",
        key: "s:wamid.FAKE_OUT_000002:delivered",
        target: "wamid.FAKE_OUT_000002",
        status: "delivered",
        timestamp: 1767225605000,
        error: null,
        cascade: false,
      },
      TEST_USER_BY_NUMBER,
    ),
  ]);

  fixture("whatsapp-status-read", "a read status does not cascade (WhatsApp reports each message)", waStatusRead, [
    waItem(
      {
        kind: "status",
        key: "s:wamid.FAKE_OUT_000002:read",
        target: "wamid.FAKE_OUT_000002",
        status: "read",
        timestamp: 1767225660000,
        error: null,
        cascade: false,
      },
      TEST_USER_BY_NUMBER,
    ),
  ]);

  fixture(
    "whatsapp-status-failed-131047",
    "a failed status carries its first error's code, title and details",
    waStatusFailed131047,
    [
      waItem(
        {
          kind: "status",
          key: "s:wamid.FAKE_OUT_000008:failed",
          target: "wamid.FAKE_OUT_000008",
          status: "failed",
          timestamp: 1767225602000,
          error: {
            code: 131047,
            title: "Re-engagement message",
            details:
              "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
          },
          cascade: false,
        },
        TEST_USER_BY_NUMBER,
      ),
    ],
  );

  fixture(
    "whatsapp-status-failed-131049",
    "an ecosystem-engagement failure is a failed status with code 131049",
    waStatusFailed131049,
    [
      waItem(
        {
          kind: "status",
          key: "s:wamid.FAKE_OUT_000009:failed",
          target: "wamid.FAKE_OUT_000009",
          status: "failed",
          timestamp: 1767225603000,
          error: {
            code: 131049,
            title: "This message was not delivered to maintain healthy ecosystem engagement.",
            details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
          },
          cascade: false,
        },
        TEST_USER_BY_NUMBER,
      ),
    ],
  );

  fixture(
    "whatsapp-status-unknown-message",
    "a status for a message never stored is still a plain status change (joining is not the parser's job)",
    waStatusUnknownMessage,
    [
      waItem(
        {
          kind: "status",
          key: "s:wamid.FAKE_OUT_UNKNOWN_999999:delivered",
          target: "wamid.FAKE_OUT_UNKNOWN_999999",
          status: "delivered",
          timestamp: 1767225690000,
          error: null,
          cascade: false,
        },
        { ...TEST_USER_BY_NUMBER, id: "15550004444", waId: "15550004444" },
      ),
    ],
  );

  fixture(
    "whatsapp-value-errors-rate-limit",
    "system-level value.errors are an account item for the phone number, with Meta's errors as payload",
    waValueErrorsRateLimit,
    [
      {
        kind: "account",
        route: WA_ROUTE,
        by: "account",
        field: "messages",
        event: "errors",
        timestamp: 0,
        payload: waValueErrorsRateLimit.entry[0]!.changes[0]!.value.errors,
      },
    ],
  );

  fixture(
    "whatsapp-account-update-partner-app-uninstalled",
    "an account_update is a WABA account item named by its event, timestamped from entry.time",
    waAccountUpdate,
    [
      {
        kind: "account",
        route: { product: "whatsapp", accountId: WABA },
        by: "waba",
        field: "account_update",
        event: "PARTNER_APP_UNINSTALLED",
        timestamp: 1767226000000,
        payload: {
          event: "PARTNER_APP_UNINSTALLED",
          waba_info: { waba_id: WABA, owner_business_id: "110000000000001", partner_app_id: "600000000000001" },
        },
      },
    ],
  );

  fixture(
    "whatsapp-template-status-rejected",
    "a template status update is a WABA account item whose numeric template id becomes a string",
    waTemplateStatusRejected,
    [
      {
        kind: "account",
        route: { product: "whatsapp", accountId: WABA },
        by: "waba",
        field: "message_template_status_update",
        event: "REJECTED",
        timestamp: 1767226100000,
        payload: {
          event: "REJECTED",
          message_template_id: "1000000000000002",
          message_template_name: "abandoned_cart",
          message_template_language: "en",
          reason: "INVALID_FORMAT",
          message_template_category: "MARKETING",
          rejection_info: {
            reason:
              "Your template has parameters placed next to each other without text or punctuation between them.",
            recommendation: "Separate parameters with descriptive text.",
          },
        },
      },
    ],
  );
});

describe("Instagram fixtures", () => {
  fixture("instagram-text", "a DM is an inbound text keyed by its mid, routed by entry.id, timestamp in ms", igText, [
    igItem(inboundText("FAKE_IG_MID_0001", "Hi! Do you ship to Canada? 🇨🇦")),
  ]);

  fixture(
    "instagram-image-multi-attachments",
    "several attachments make an `attachments` message",
    igMultiAttachments,
    [
      igItem(
        message({
          externalId: "FAKE_IG_MID_0002",
          direction: "in",
          type: "attachments",
          timestamp: T,
          attachments: [
            {
              type: "image",
              url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=FAKE1&signature=FAKE",
              title: null,
              mediaId: null,
            },
            {
              type: "video",
              url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=FAKE2&signature=FAKE",
              title: null,
              mediaId: null,
            },
          ],
        }),
      ),
    ],
  );

  fixture("instagram-story-mention", "a story mention keeps the story's CDN url", igStoryMention, [
    igItem(
      message({
        externalId: "FAKE_IG_MID_0003",
        direction: "in",
        type: "story_mention",
        timestamp: T,
        attachments: [
          {
            type: "story_mention",
            url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=FAKESTORY1&signature=FAKE",
            title: null,
            mediaId: null,
          },
        ],
      }),
    ),
  ]);

  fixture("instagram-story-reply", "a story reply carries the story in its context", igStoryReply, [
    igItem(
      message({
        externalId: "FAKE_IG_MID_0004",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "Where can I buy this?",
        context: context({
          story: {
            id: "18000000000000001",
            url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=FAKESTORY2&signature=FAKE",
          },
        }),
      }),
    ),
  ]);

  fixture("instagram-reply-to-message", "an inline reply carries the quoted mid as context.replyTo", igReplyToMessage, [
    igItem(
      message({
        externalId: "FAKE_IG_MID_0005",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "this one ↑",
        context: context({ replyTo: "FAKE_IG_MID_0001" }),
      }),
    ),
  ]);

  fixture("instagram-echo", "an echo is outbound and belongs to the recipient", igEcho, [
    igItem(
      message({
        externalId: "FAKE_IG_MID_0006",
        direction: "out",
        type: "text",
        timestamp: T,
        text: "Thanks! We ship worldwide.",
        echo: { appId: null, metadata: null },
      }),
    ),
  ]);

  fixture("instagram-unsupported", "is_unsupported is an unsupported message", igUnsupported, [
    igItem(message({ externalId: "FAKE_IG_MID_0007", direction: "in", type: "unsupported", timestamp: T })),
  ]);

  fixture("instagram-quick-reply", "a quick reply keeps the text and answers with its payload", igQuickReply, [
    igItem(
      message({
        externalId: "FAKE_IG_MID_0008",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "Track my order",
        reply: reply({ kind: "quick_reply", title: "Track my order", payload: "TRACK_ORDER" }),
      }),
    ),
  ]);

  fixture(
    "instagram-ctd-ad-referral",
    "a click-to-Direct ad referral keeps the ad id, title and photo",
    igCtdAdReferral,
    [
      igItem(
        message({
          externalId: "FAKE_IG_MID_0009",
          direction: "in",
          type: "text",
          timestamp: T,
          text: "Is this still available?",
          referral: referral({
            ref: "summer_campaign",
            source: "ADS",
            type: "OPEN_THREAD",
            adId: "700000000000002",
            headline: "Summer sale",
            mediaUrl: "https://scontent.example.invalid/fake-ig-ad.jpg",
          }),
        }),
      ),
    ],
  );

  fixture(
    "instagram-postback-icebreaker",
    "an ice breaker is a postback message titled by the button",
    igPostbackIcebreaker,
    [
      igItem(
        message({
          externalId: "FAKE_IG_MID_0010",
          direction: "in",
          type: "postback",
          timestamp: T,
          text: "What are your opening hours?",
          reply: reply({ kind: "postback", title: "What are your opening hours?", payload: "ICEBREAKER_HOURS" }),
        }),
      ),
    ],
  );

  fixture(
    "instagram-share-ig-post-transition",
    "a post shared as both share and ig_post is one post with the ig_post attachment",
    igShareIgPostTransition,
    [
      igItem(
        message({
          externalId: "FAKE_IG_MID_0011",
          direction: "in",
          type: "post",
          timestamp: T,
          attachments: [
            {
              type: "ig_post",
              url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18100000000000001&signature=FAKE",
              title: "Post caption text",
              mediaId: "18100000000000001",
            },
          ],
        }),
      ),
    ],
  );

  fixture("instagram-ig-reel", "a shared reel is a reel message with the reel video id as media id", igReel, [
    igItem(
      message({
        externalId: "FAKE_IG_MID_0012",
        direction: "in",
        type: "reel",
        timestamp: T,
        attachments: [
          {
            type: "ig_reel",
            url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18200000000000001&signature=FAKE",
            title: "Reel caption ✨ #fake",
            mediaId: "18200000000000001",
          },
        ],
      }),
    ),
  ]);

  fixture(
    "instagram-reaction-react",
    "a react is a reaction with the emoji, keyed by mid, customer, action and time",
    igReactionReact,
    [
      igItem({
        kind: "reaction",
        key: `r:FAKE_IG_MID_0006:${IGSID}:react:${T}`,
        target: "FAKE_IG_MID_0006",
        actor: "in",
        emoji: "❤️",
        timestamp: T,
      }),
    ],
  );

  fixture("instagram-reaction-unreact", "an unreact is a reaction with emoji null", igReactionUnreact, [
    igItem({
      kind: "reaction",
      key: `r:FAKE_IG_MID_0006:${IGSID}:unreact:1767225630000`,
      target: "FAKE_IG_MID_0006",
      actor: "in",
      emoji: null,
      timestamp: 1767225630000,
    }),
  ]);

  fixture("instagram-seen", "seen is a cascading read status on the mid", igSeen, [
    igItem({
      kind: "status",
      key: "s:FAKE_IG_MID_0006:read",
      target: "FAKE_IG_MID_0006",
      status: "read",
      timestamp: T,
      error: null,
      cascade: true,
    }),
  ]);

  fixture(
    "instagram-referral-igme",
    "an ig.me referral is a referral message keyed by customer and time",
    igReferralIgme,
    [
      igItem(
        message({
          externalId: `referral:${IGSID}:${T}`,
          direction: "in",
          type: "referral",
          timestamp: T,
          referral: referral({ ref: "qr_store_entrance", source: "SHORTLINK", type: "OPEN_THREAD" }),
        }),
      ),
    ],
  );
});

describe("Messenger fixtures", () => {
  fixture("messenger-text", "a Page message is an inbound text keyed by its mid, routed by the Page id", fbText, [
    fbItem(inboundText("m_FAKE_MID_0001", "hello, world!")),
  ]);

  fixture("messenger-quick-reply", "a quick reply keeps the text and answers with its payload", fbQuickReply, [
    fbItem(
      message({
        externalId: "m_FAKE_MID_0003",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "Red",
        reply: reply({ kind: "quick_reply", title: "Red", payload: "COLOR_RED" }),
      }),
    ),
  ]);

  fixture("messenger-reply-to", "a quoted reply carries the quoted mid as context.replyTo", fbReplyTo, [
    fbItem(
      message({
        externalId: "m_FAKE_MID_0004",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "yes that one",
        context: context({ replyTo: "m_FAKE_MID_ECHO_0001" }),
      }),
    ),
  ]);

  fixture("messenger-image-attachment", "one image attachment makes an image message", fbImageAttachment, [
    fbItem(
      message({
        externalId: "m_FAKE_MID_0005",
        direction: "in",
        type: "image",
        timestamp: T,
        attachments: [
          { type: "image", url: "https://scontent.example.invalid/fake-image.jpg", title: null, mediaId: null },
        ],
      }),
    ),
  ]);

  fixture(
    "messenger-sticker-transition",
    "a sticker sent as both image and sticker is one sticker whose numeric sticker_id becomes a string",
    fbStickerTransition,
    [
      fbItem(
        message({
          externalId: "m_FAKE_MID_0006",
          direction: "in",
          type: "sticker",
          timestamp: T,
          attachments: [
            {
              type: "sticker",
              url: "https://scontent.example.invalid/fake-sticker.png",
              title: null,
              mediaId: "369239263222822",
            },
          ],
        }),
      ),
    ],
  );

  fixture(
    "messenger-fallback-link-share",
    "a link share is a fallback message whose attachment takes url and title from the attachment itself",
    fbFallbackLinkShare,
    [
      fbItem(
        message({
          externalId: "m_FAKE_MID_0007",
          direction: "in",
          type: "fallback",
          timestamp: T,
          text: "https://example.com/article",
          attachments: [
            { type: "fallback", url: "https://example.com/article", title: "Example article", mediaId: null },
          ],
        }),
      ),
    ],
  );

  fixture(
    "messenger-postback-get-started",
    "Get Started is a postback message that keeps the m.me referral which opened the thread",
    fbPostbackGetStarted,
    [
      fbItem(
        message({
          externalId: "m_FAKE_MID_0008",
          direction: "in",
          type: "postback",
          timestamp: T,
          text: "Get Started",
          reply: reply({ kind: "postback", title: "Get Started", payload: "GET_STARTED" }),
          referral: referral({ ref: "fb_ad_spring", source: "SHORTLINK", type: "OPEN_THREAD" }),
        }),
      ),
    ],
  );

  fixture(
    "messenger-echo",
    "an echo is outbound to the recipient and keeps app_id (as a string) and metadata",
    fbEcho,
    [
      fbItem(
        message({
          externalId: "m_FAKE_MID_ECHO_0001",
          direction: "out",
          type: "text",
          timestamp: T,
          text: "We ship in 2 days.",
          echo: { appId: "600000000000001", metadata: "agent:42" },
        }),
      ),
    ],
  );

  fixture(
    "messenger-delivery",
    "a delivery without timestamp is a delivered watermark plus a status per mid, timed by the watermark",
    fbDelivery,
    [
      fbItem({ kind: "watermark", key: "w:delivered:1767225610000", status: "delivered", watermark: 1767225610000 }),
      fbItem({
        kind: "status",
        key: "s:m_FAKE_MID_ECHO_0001:delivered",
        target: "m_FAKE_MID_ECHO_0001",
        status: "delivered",
        timestamp: 1767225610000,
        error: null,
        cascade: false,
      }),
    ],
  );

  fixture("messenger-read", "a read is a read watermark", fbRead, [
    fbItem({ kind: "watermark", key: "w:read:1767225620000", status: "read", watermark: 1767225620000 }),
  ]);

  fixture("messenger-reaction-react", "a react is a reaction with the emoji", fbReactionReact, [
    fbItem({
      kind: "reaction",
      key: `r:m_FAKE_MID_ECHO_0001:${PSID}:react:${T}`,
      target: "m_FAKE_MID_ECHO_0001",
      actor: "in",
      emoji: "❤️",
      timestamp: T,
    }),
  ]);

  fixture("messenger-reaction-unreact", "an unreact is a reaction with emoji null", fbReactionUnreact, [
    fbItem({
      kind: "reaction",
      key: `r:m_FAKE_MID_ECHO_0001:${PSID}:unreact:1767225640000`,
      target: "m_FAKE_MID_ECHO_0001",
      actor: "in",
      emoji: null,
      timestamp: 1767225640000,
    }),
  ]);

  fixture("messenger-referral-mme", "an m.me referral in an existing thread is a referral message", fbReferralMme, [
    fbItem(
      message({
        externalId: `referral:${PSID}:${T}`,
        direction: "in",
        type: "referral",
        timestamp: T,
        referral: referral({ ref: "store_qr_7", source: "SHORTLINK", type: "OPEN_THREAD" }),
      }),
    ),
  ]);

  fixture("messenger-standby", "a standby event is handled like messaging, flagged standby", fbStandby, [
    fbItem(
      message({
        externalId: "m_FAKE_MID_0012",
        direction: "in",
        type: "text",
        timestamp: T,
        text: "still there?",
        standby: true,
      }),
    ),
  ]);
});

describe("the fixture set", () => {
  it("has an exact expectation for every webhook fixture", () => {
    expect([...covered].sort()).toEqual([...fixtureNames].sort());
  });

  it("normalises every fixture into items that conform to the event model", () => {
    const bodies = import.meta.glob<unknown>("./fixtures/meta/*.json", { eager: true, import: "default" });
    for (const [path, body] of Object.entries(bodies)) {
      if (path.includes("/meta-")) continue;
      for (const item of normalizeWebhook(body)) {
        expect(item.kind, path).not.toBe("quarantine");
        if (item.kind !== "conversation") continue;
        expect(ConversationChange.parse(item.change), path).toEqual(item.change);
        expect(Customer.parse(item.customer), path).toEqual(item.customer);
      }
    }
  });
});

// ---- Shapes no fixture covers ----

describe("batches", () => {
  it("processes every entry, change and array item of a WhatsApp batch, in payload order", () => {
    const body = {
      object: "whatsapp_business_account",
      entry: [
        {
          id: WABA,
          time: 1767226000,
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550001111", phone_number_id: PHONE_NUMBER_ID },
                contacts: TEST_CONTACTS,
                messages: [
                  waInbound("wamid.A1", "text", { text: { body: "one" } }),
                  waInbound("wamid.A2", "text", { text: { body: "two" } }),
                ],
              },
            },
            { field: "account_update", value: { event: "ACCOUNT_VIOLATION" } },
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550003333", phone_number_id: "200000000000002" },
                statuses: [
                  { id: "wamid.O1", status: "sent", timestamp: "1767225601", recipient_id: "15550002222" },
                  { id: "wamid.O1", status: "delivered", timestamp: "1767225602", recipient_id: "15550002222" },
                ],
              },
            },
          ],
        },
        {
          id: "100000000000002",
          changes: [{ field: "user_preferences", value: { user_preferences: [{ category: "marketing_messages" }] } }],
        },
      ],
    };
    expect(outline(normalizeWebhook(body))).toEqual([
      "200000000000001 15550002222 m:wamid.A1",
      "200000000000001 15550002222 m:wamid.A2",
      `${WABA} account account_update/ACCOUNT_VIOLATION`,
      "200000000000002 15550002222 s:wamid.O1:sent",
      "200000000000002 15550002222 s:wamid.O1:delivered",
      "100000000000002 account user_preferences/user_preferences",
    ]);
  });

  it("processes every entry and event of a Messenger batch, messaging before standby within an entry", () => {
    const body = {
      object: "page",
      entry: [
        {
          id: PAGE,
          time: T,
          messaging: [
            fbEvent({ message: { mid: "m_1", text: "a" } }),
            fbEvent({ message: { mid: "m_2", text: "b" } }),
          ],
          standby: [fbEvent({ message: { mid: "m_3", text: "c" } })],
        },
        {
          id: "300000000000002",
          time: T,
          messaging: [
            {
              sender: { id: "4000000000000009" },
              recipient: { id: "300000000000002" },
              timestamp: T,
              read: { watermark: T },
            },
          ],
        },
      ],
    };
    const items = normalizeWebhook(body);
    expect(outline(items)).toEqual([
      `${PAGE} ${PSID} m:m_1`,
      `${PAGE} ${PSID} m:m_2`,
      `${PAGE} ${PSID} m:m_3`,
      `300000000000002 4000000000000009 w:read:${T}`,
    ]);
    const standby = items.map(
      (i) => i.kind === "conversation" && i.change.kind === "message" && i.change.message.standby,
    );
    expect(standby).toEqual([false, false, true, false]);
  });

  it("quarantines a malformed WhatsApp message in the middle of a batch and keeps its neighbours", () => {
    const malformed = { from: "15550002222", id: "wamid.BAD", type: "text", text: { body: "no timestamp" } };
    const body = waBody({
      contacts: TEST_CONTACTS,
      messages: [
        waInbound("wamid.B1", "text", { text: { body: "before" } }),
        malformed,
        waInbound("wamid.B3", "text", { text: { body: "after" } }),
      ],
    });
    expect(normalizeWebhook(body)).toEqual([
      waItem(inboundText("wamid.B1", "before")),
      quarantined({
        reason: "schema_mismatch",
        detail: expect.stringContaining("entry[0].changes[0].value.messages[1].timestamp"),
        object: "whatsapp_business_account",
        field: "messages",
        accountId: PHONE_NUMBER_ID,
        payload: malformed,
      }),
      waItem(inboundText("wamid.B3", "after")),
    ]);
  });

  it("quarantines a WhatsApp message whose type-specific part is malformed, naming that part", () => {
    const malformed = waInbound("wamid.BAD", "image", { image: { caption: "no id" } });
    const [item] = normalizeWebhook(waBody({ contacts: TEST_CONTACTS, messages: [malformed] }));
    expect(item).toEqual(
      quarantined({
        reason: "schema_mismatch",
        detail: expect.stringContaining("entry[0].changes[0].value.messages[0].image.id"),
        object: "whatsapp_business_account",
        field: "messages",
        accountId: PHONE_NUMBER_ID,
        payload: malformed,
      }),
    );
  });

  it("quarantines a malformed Messenger event in the middle of a batch and keeps its neighbours", () => {
    const malformed = fbEvent({ reaction: { mid: "m_1", action: "wave" } });
    const body = messagingBody("page", PAGE, {
      messaging: [
        fbEvent({ message: { mid: "m_1", text: "a" } }),
        malformed,
        fbEvent({ message: { mid: "m_3", text: "c" } }),
      ],
    });
    expect(normalizeWebhook(body)).toEqual([
      fbItem(inboundText("m_1", "a")),
      quarantined({
        reason: "schema_mismatch",
        detail: expect.stringContaining("entry[0].messaging[1].reaction.action"),
        object: "page",
        field: "reaction",
        accountId: PAGE,
        payload: malformed,
      }),
      fbItem(inboundText("m_3", "c")),
    ]);
  });

  it("quarantines a malformed entry and keeps the other entries", () => {
    const good = { id: PAGE, messaging: [fbEvent({ message: { mid: "m_1" } })] };
    const body = { object: "page", entry: ["not an entry", good] };
    const items = normalizeWebhook(body);
    expect(items[0]).toEqual(
      quarantined({
        reason: "schema_mismatch",
        detail: expect.stringContaining("entry[0]"),
        object: "page",
        field: null,
        accountId: null,
        payload: "not an entry",
      }),
    );
    expect(outline(items.slice(1))).toEqual([`${PAGE} ${PSID} m:m_1`]);
  });

  it("an empty entry list is no items at all", () => {
    expect(normalizeWebhook({ object: "instagram", entry: [] })).toEqual([]);
  });
});

describe("envelopes", () => {
  it.each([
    ["null", null],
    ["an array", [{ object: "page", entry: [] }]],
    ["a string", "hello"],
    ["a body without entry", { object: "page" }],
    ["a body whose entry is not an array", { object: "page", entry: {} }],
    ["a body without object", { entry: [] }],
  ])("%s is one invalid_envelope quarantine carrying the whole body", (_, body) => {
    expect(normalizeWebhook(body)).toEqual([
      quarantined({
        reason: "invalid_envelope",
        detail: expect.any(String),
        object: null,
        field: null,
        accountId: null,
        payload: body,
      }),
    ]);
  });

  it("an unknown object is one unknown_object quarantine for the whole body", () => {
    const body = { object: "user", entry: [{ id: "1", changes: [{ field: "email", value: {} }] }] };
    expect(normalizeWebhook(body)).toEqual([
      quarantined({
        reason: "unknown_object",
        detail: 'unhandled webhook object "user"',
        object: "user",
        field: null,
        accountId: null,
        payload: body,
      }),
    ]);
  });
});

describe("WhatsApp identities", () => {
  const BSUID = "US.13491208655302741918";

  it("a message with only a BSUID (no `from`) is keyed by the BSUID, with the username from contacts", () => {
    const body = waBody({
      contacts: [{ profile: { name: "Ann", username: "@ann" }, user_id: BSUID }],
      messages: [{ from_user_id: BSUID, id: "wamid.U1", timestamp: "1767225600", type: "text", text: { body: "hi" } }],
    });
    expect(normalizeWebhook(body)).toEqual([
      waItem(inboundText("wamid.U1", "hi"), {
        id: BSUID,
        waId: null,
        bsuid: BSUID,
        name: "Ann",
        username: "@ann",
      }),
    ]);
  });

  it("a message with both a BSUID and a wa_id is keyed by the BSUID and keeps the wa_id", () => {
    const body = waBody({
      contacts: [{ profile: { name: "Ann", username: "@ann" }, wa_id: "15550002222", user_id: BSUID }],
      messages: [{ ...waInbound("wamid.U2", "text", { text: { body: "hi" } }), from_user_id: BSUID }],
    });
    expect(normalizeWebhook(body)).toEqual([
      waItem(inboundText("wamid.U2", "hi"), {
        id: BSUID,
        waId: "15550002222",
        bsuid: BSUID,
        name: "Ann",
        username: "@ann",
      }),
    ]);
  });

  it("a BSUID found only in contacts[] (matched by wa_id) still becomes the key", () => {
    const body = waBody({
      contacts: [
        { profile: { name: "Other" }, wa_id: "15550009999", user_id: "US.1" },
        { profile: { name: "Test User" }, wa_id: "15550002222", user_id: BSUID },
      ],
      messages: [waInbound("wamid.U3", "text", { text: { body: "hi" } })],
    });
    const [item] = normalizeWebhook(body);
    expect(item).toMatchObject({ customer: { id: BSUID, waId: "15550002222", bsuid: BSUID, name: "Test User" } });
  });

  it("a status to a BSUID recipient is keyed by recipient_user_id", () => {
    const body = waBody({
      statuses: [
        {
          id: "wamid.O2",
          status: "read",
          timestamp: "1767225600",
          recipient_id: "15550002222",
          recipient_user_id: BSUID,
        },
      ],
    });
    const [item] = normalizeWebhook(body);
    expect(item).toMatchObject({ customer: { id: BSUID, waId: "15550002222", bsuid: BSUID, name: null } });
  });

  it("a message with no identity at all is quarantined as a schema mismatch", () => {
    const anonymous = { id: "wamid.U4", timestamp: "1767225600", type: "text", text: { body: "who?" } };
    expect(normalizeWebhook(waBody({ messages: [anonymous] }))).toEqual([
      quarantined({
        reason: "schema_mismatch",
        detail: expect.stringContaining("entry[0].changes[0].value.messages[0]: no customer identity"),
        object: "whatsapp_business_account",
        field: "messages",
        accountId: PHONE_NUMBER_ID,
        payload: anonymous,
      }),
    ]);
  });
});

describe("WhatsApp message kinds without fixtures", () => {
  const single = (m: Record<string, unknown>) => normalizeWebhook(waBody({ contacts: TEST_CONTACTS, messages: [m] }));

  it("a revoke is a deletion of the original message, keyed by it", () => {
    const revoke = waInbound("wamid.R1", "revoke", { revoke: { original_message_id: "wamid.FAKE_IN_000001" } });
    expect(single(revoke)).toEqual([
      waItem({ kind: "deletion", key: "d:wamid.FAKE_IN_000001", target: "wamid.FAKE_IN_000001", timestamp: T }),
    ]);
  });

  it("an edit is an unsupported message of type edit", () => {
    const edit = waInbound("wamid.E1", "edit", {
      edit: { original_message_id: "wamid.FAKE_IN_000001", message: { type: "text", text: { body: "fixed" } } },
    });
    expect(single(edit)).toEqual([
      waItem(
        message({
          externalId: "wamid.E1",
          direction: "in",
          type: "unsupported",
          timestamp: T,
          unsupportedType: "edit",
        }),
      ),
    ]);
  });

  it("an unknown type is an unsupported message naming that type, not a quarantine", () => {
    expect(single(waInbound("wamid.P1", "poll", { poll: { question: "?" } }))).toEqual([
      waItem(
        message({
          externalId: "wamid.P1",
          direction: "in",
          type: "unsupported",
          timestamp: T,
          unsupportedType: "poll",
        }),
      ),
    ]);
  });

  it("a reaction removal with the emoji omitted is a reaction with emoji null", () => {
    expect(single(waInbound("wamid.X1", "reaction", { reaction: { message_id: "wamid.O1" } }))).toEqual([
      waItem({ kind: "reaction", key: "r:wamid.X1", target: "wamid.O1", actor: "in", emoji: null, timestamp: T }),
    ]);
  });

  it("a Flow reply with unreadable response_json keeps the string and has no id", () => {
    const flow = waInbound("wamid.F1", "interactive", {
      interactive: { type: "nfm_reply", nfm_reply: { name: "flow", body: "Sent", response_json: "{oops" } },
    });
    const [item] = single(flow);
    expect(item).toMatchObject({
      change: { message: { reply: reply({ kind: "flow_reply", title: "Sent", responseJson: "{oops" }) } },
    });
  });

  it("an interactive reply of an unknown kind is an interactive message with reply null", () => {
    const interactive = waInbound("wamid.I1", "interactive", { interactive: { type: "call_permission_reply" } });
    expect(single(interactive)).toEqual([
      waItem(message({ externalId: "wamid.I1", direction: "in", type: "interactive", timestamp: T })),
    ]);
  });

  it("a product inquiry carries the referred product in its context", () => {
    const inquiry = waInbound("wamid.Q1", "text", {
      text: { body: "Is this in stock?" },
      context: {
        from: "15550001111",
        id: "wamid.CAT",
        referred_product: { catalog_id: "8001", product_retailer_id: "SKU-1" },
      },
    });
    const [item] = single(inquiry);
    expect(item).toMatchObject({
      change: {
        message: {
          context: context({
            replyTo: "wamid.CAT",
            referredProduct: { catalogId: "8001", productRetailerId: "SKU-1" },
          }),
        },
      },
    });
  });

  it("an account field without an event is named after the field, timestamped 0 without entry.time", () => {
    const value = { user_preferences: [{ wa_id: "15550002222", category: "marketing_messages", value: "stop" }] };
    const entry = { id: WABA, changes: [{ field: "user_preferences", value }] };
    const body = { object: "whatsapp_business_account", entry: [entry] };
    expect(normalizeWebhook(body)).toEqual([
      {
        kind: "account",
        route: { product: "whatsapp", accountId: WABA },
        by: "waba",
        field: "user_preferences",
        event: "user_preferences",
        timestamp: 0,
        payload: value,
      },
    ]);
  });
});

describe("Instagram and Messenger events without fixtures", () => {
  it("an Instagram comment change is an unknown_field quarantine named after the change field", () => {
    const comment = { field: "comments", value: { id: "17900000000000001", text: "nice!", from: { id: "1" } } };
    const body = { object: "instagram", entry: [{ id: IG_ACCOUNT, time: T, changes: [comment] }] };
    expect(normalizeWebhook(body)).toEqual([
      quarantined({
        reason: "unknown_field",
        detail: 'entry[0].changes[0]: unhandled change field "comments"',
        object: "instagram",
        field: "comments",
        accountId: IG_ACCOUNT,
        payload: comment,
      }),
    ]);
  });

  it("an Instagram Login mention with field/value in the entry is an unknown_field quarantine of the entry", () => {
    const entry = { id: IG_ACCOUNT, time: T, field: "mentions", value: { media_id: "1", comment_id: "2" } };
    expect(normalizeWebhook({ object: "instagram", entry: [entry] })).toEqual([
      quarantined({
        reason: "unknown_field",
        detail: 'entry[0]: unhandled change field "mentions"',
        object: "instagram",
        field: "mentions",
        accountId: IG_ACCOUNT,
        payload: entry,
      }),
    ]);
  });

  it("a Messenger optin is an unknown_field quarantine named after the event key", () => {
    const optin = fbEvent({ optin: { type: "notification_messages", payload: "X", notification_messages_token: "t" } });
    expect(normalizeWebhook(messagingBody("page", PAGE, { messaging: [optin] }))).toEqual([
      quarantined({
        reason: "unknown_field",
        detail: 'entry[0].messaging[0]: unhandled messaging event "optin"',
        object: "page",
        field: "optin",
        accountId: PAGE,
        payload: optin,
      }),
    ]);
  });

  it("a standby reaction is handled like a messaging one", () => {
    const body = messagingBody("page", PAGE, {
      standby: [fbEvent({ reaction: { mid: "m_1", action: "react", reaction: "like" } })],
    });
    expect(normalizeWebhook(body)).toEqual([
      fbItem({
        kind: "reaction",
        key: `r:m_1:${PSID}:react:${T}`,
        target: "m_1",
        actor: "in",
        emoji: "like",
        timestamp: T,
      }),
    ]);
  });

  it("an unsent Instagram message is a deletion of its mid, not a message", () => {
    const body = messagingBody("instagram", IG_ACCOUNT, {
      messaging: [igEvent({ message: { mid: "FAKE_IG_MID_0001", is_deleted: true } })],
    });
    expect(normalizeWebhook(body)).toEqual([
      igItem({ kind: "deletion", key: "d:FAKE_IG_MID_0001", target: "FAKE_IG_MID_0001", timestamp: T }),
    ]);
  });

  it("a postback without mid is keyed by customer and time", () => {
    const postback = fbEvent({ postback: { title: "Menu", payload: "MENU" } });
    const body = messagingBody("page", PAGE, { messaging: [postback] });
    expect(normalizeWebhook(body)).toEqual([
      fbItem(
        message({
          externalId: `postback:${PSID}:${T}`,
          direction: "in",
          type: "postback",
          timestamp: T,
          text: "Menu",
          reply: reply({ kind: "postback", title: "Menu", payload: "MENU" }),
        }),
      ),
    ]);
  });

  it("a delivery with a timestamp and no mids is only a watermark", () => {
    const body = messagingBody("page", PAGE, { messaging: [fbEvent({ delivery: { watermark: T - 5 } })] });
    expect(normalizeWebhook(body)).toEqual([
      fbItem({ kind: "watermark", key: `w:delivered:${T - 5}`, status: "delivered", watermark: T - 5 }),
    ]);
  });

  it("an ephemeral attachment is an unsupported message naming the attachment type", () => {
    const body = messagingBody("instagram", IG_ACCOUNT, {
      messaging: [igEvent({ message: { mid: "FAKE_IG_MID_0100", attachments: [{ type: "ephemeral" }] } })],
    });
    expect(normalizeWebhook(body)).toEqual([
      igItem(
        message({
          externalId: "FAKE_IG_MID_0100",
          direction: "in",
          type: "unsupported",
          timestamp: T,
          attachments: [{ type: "ephemeral", url: null, title: null, mediaId: null }],
          unsupportedType: "ephemeral",
        }),
      ),
    ]);
  });

  it("a file attachment is a document message", () => {
    const file = { type: "file", payload: { url: "https://cdn.example.invalid/a.pdf" } };
    const body = messagingBody("page", PAGE, {
      messaging: [fbEvent({ message: { mid: "m_F", attachments: [file] } })],
    });
    const [item] = normalizeWebhook(body);
    expect(item).toMatchObject({ change: { message: { type: "document" } } });
  });

  it("a legacy share carrying an ig_post_media_id is a post", () => {
    const share = { type: "share", payload: { ig_post_media_id: "181", url: "https://cdn.example.invalid/p" } };
    const body = messagingBody("instagram", IG_ACCOUNT, {
      messaging: [igEvent({ message: { mid: "FAKE_IG_MID_0101", attachments: [share] } })],
    });
    const [item] = normalizeWebhook(body);
    expect(item).toMatchObject({
      change: { message: { type: "post", attachments: [{ type: "share", mediaId: "181" }] } },
    });
  });
});
