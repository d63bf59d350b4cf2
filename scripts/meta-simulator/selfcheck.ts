/**
 * @module
 * Node-side self-check of the simulator (no Worker needed): `node scripts/meta-simulator/selfcheck.ts`.
 * - metaJson reproduces the byte-exact unicode fixture and its README signature vector;
 * - signBody agrees with workers/webhook-signature.ts;
 * - the builders rebuild the fixtures in test/fixtures/meta field for field (same keys, same order);
 * - a generated stream covers every kind and every body survives metaJson → JSON.parse;
 * - the Graph simulator runs in plain Node (as scripts/graph-server.ts serves it): it accepts a send on
 *   each product and its status webhooks have the fixtures' shape.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  adReferral,
  attachment,
  envelope,
  linkReferral,
  mAttachments,
  mDeleted,
  mDelivery,
  mEcho,
  metaJson,
  mPostback,
  mReaction,
  mReadWatermark,
  mReferral,
  mSeen,
  mStoryReply,
  mText,
  mUnsupported,
  signBody,
  WA_ERRORS,
  waAudio,
  waButtonReply,
  waContacts,
  waCtwaReferral,
  waDocument,
  waImage,
  waInteractiveWithValueErrors,
  waListReply,
  waLocation,
  waNfmReply,
  waOrder,
  waReaction,
  waSmbEcho,
  waStatus,
  waSticker,
  waSystemChangedNumber,
  waTemplateButton,
  waText,
  waUnsupported,
  waValueErrors,
  waVideo,
  type MessagingArgs,
  type Product,
  type WaAccount,
  type WaMessageArgs,
  type WebhookItem,
} from "./payloads.ts";
import { ALL_KINDS, batchEvents, generateEvents } from "./stream.ts";
import { createGraphSimulator } from "./graph.ts";
import { hmacHex } from "./graph/context.ts";

const root = path.resolve(import.meta.dirname, "../..");
const fixtureDir = path.join(root, "test/fixtures/meta");
const fixture = (name: string) => readFileSync(path.join(fixtureDir, name));

let checks = 0;
let failures = 0;
async function check(name: string, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
    checks++;
  } catch (e) {
    failures++;
    console.error(`✗ ${name}\n${e instanceof Error ? e.message : String(e)}\n`);
  }
}

// --- serialisation + signature vectors --------------------------------------------------------
const VECTOR_SECRET = "fake_app_secret_do_not_use_0001";
const VECTOR_SIG = "sha256=d1bb41b4565ca201cd7a06737e116b22e99cd45a5bc5c0f0ec850b47d81b4fd2";

await check("metaJson reproduces the unicode fixture byte for byte", () => {
  const raw = fixture("whatsapp-text-unicode-rtl-emoji.json");
  const again = Buffer.from(metaJson(JSON.parse(raw.toString("utf8"))));
  ok(again.equals(raw), `metaJson output differs:\n${again.toString()}\n${raw.toString()}`);
  equal(signBody(again, VECTOR_SECRET), VECTOR_SIG);
  equal(signBody(raw, VECTOR_SECRET), VECTOR_SIG);
});

await check("signBody agrees with workers/webhook-signature.ts", async () => {
  const modulePath = path.join(root, "workers/webhook-signature.ts");
  const mod = (await import(modulePath)) as { signWebhookBody(body: Uint8Array, secret: string): Promise<string> };
  const raw = new Uint8Array(fixture("whatsapp-text-unicode-rtl-emoji.json"));
  equal(await mod.signWebhookBody(raw, VECTOR_SECRET), VECTOR_SIG);
  const other = new TextEncoder().encode(metaJson({ a: "ä/ö", b: "🌸" }));
  equal(await mod.signWebhookBody(other, "dev-app-secret"), signBody(other, "dev-app-secret"));
});

// --- builders rebuild fixtures ----------------------------------------------------------------
const T0 = 1767225600000;
const wa: WaAccount = { wabaId: "100000000000001", phoneNumberId: "200000000000001", displayPhoneNumber: "15550001111" };
const user = { waId: "15550002222", name: "Test User" };
const m = (id: string, extra: Partial<WaMessageArgs> = {}): WaMessageArgs => ({
  account: wa,
  customer: user,
  id: `wamid.FAKE_IN_${id}`,
  ts: T0,
  ...extra,
});
const quote = (n: string) => ({ from: "15550001111", id: `wamid.FAKE_OUT_${n}` });
const ig = (ts = T0): MessagingArgs => ({ product: "instagram", accountId: "17840000000000001", customerId: "5000000000000001", ts });
const fb = (ts = T0): MessagingArgs => ({ product: "messenger", accountId: "300000000000001", customerId: "4000000000000001", ts });
const IGCDN = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=";

const rebuilt: Record<string, WebhookItem> = {
  "whatsapp-text.json": waText(m("000001"), "Does it come in another color?"),
  "whatsapp-text-reply-context.json": waText(m("000003", { context: quote("000001") }), "Yes, the blue one please"),
  "whatsapp-text-forwarded.json": waText(m("000004", { context: { frequently_forwarded: true } }), "Look at this offer!!"),
  "whatsapp-text-ctwa-referral.json": waText(
    m("000005", { referral: waCtwaReferral({ adId: "700000000000001", ctwaClid: "FAKE_CTWA_CLID_0001", sourceUrl: "https://fb.me/FAKEAD01" }) }),
    "Can I get more info about this?",
  ),
  "whatsapp-image.json": waImage(m("000006"), {
    id: "900000000000001",
    caption: "Is this the right part?",
    sha256: "FAKEsha256Base64ImageHashAAAAAAAAAAAAAAAAAAA=",
    url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=FAKE900000000000001",
  }),
  "whatsapp-audio-voice.json": waAudio(m("000007"), {
    id: "900000000000002",
    sha256: "FAKEsha256VoiceNoteAAAAAAAAAAAAAAAAAAAAAAA=",
    voice: true,
  }),
  "whatsapp-video.json": waVideo(m("000008", { context: { forwarded: true } }), {
    id: "900000000000003",
    caption: "Unboxing",
    sha256: "FAKEsha256VideoAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  }),
  "whatsapp-document.json": waDocument(m("000009"), {
    id: "900000000000004",
    caption: "my receipt",
    filename: "receipt 2026–01.pdf",
    sha256: "FAKEsha256DocumentAAAAAAAAAAAAAAAAAAAAAAAAA=",
  }),
  "whatsapp-sticker-animated.json": waSticker(m("000010"), {
    id: "900000000000005",
    sha256: "FAKEsha256StickerAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    animated: true,
  }),
  "whatsapp-location.json": waLocation(m("000011"), {
    address: "1 Fake Street, Springfield",
    latitude: 37.44221496582,
    longitude: -122.16165924072,
    name: "Fake Coffee",
    url: "https://example.com/fake-coffee",
  }),
  "whatsapp-contacts.json": waContacts(
    m("000012"),
    (JSON.parse(fixture("whatsapp-contacts.json").toString()) as { entry: [{ changes: [{ value: { messages: [{ contacts: Record<string, unknown>[] }] } }] }] })
      .entry[0].changes[0].value.messages[0].contacts,
  ),
  "whatsapp-interactive-button-reply.json": waButtonReply({ ...m("000013"), context: quote("000002") }, "cancel-button", "Cancel"),
  "whatsapp-interactive-list-reply.json": waListReply(
    { ...m("000014"), context: quote("000003") },
    "priority_express",
    "Priority Mail Express",
    "Next Day to 2 Days",
  ),
  "whatsapp-button-template-quick-reply.json": waTemplateButton({ ...m("000016"), context: quote("000005") }, "Unsubscribe", "Unsubscribe"),
  "whatsapp-reaction.json": waReaction(m("000017"), "wamid.FAKE_OUT_000001", "👍"),
  "whatsapp-reaction-removed-empty-emoji.json": waReaction(m("000019", { ts: T0 + 31_000 }), "wamid.FAKE_OUT_000001", ""),
  "whatsapp-order.json": waOrder(m("000020"), {
    catalogId: "800000000000001",
    text: "Love these!",
    items: [
      { product_retailer_id: "SKU-RED-M", quantity: 2, item_price: 7.99, currency: "USD" },
      { product_retailer_id: "SKU-BLUE-L", quantity: 1, item_price: 12.5, currency: "USD" },
    ],
  }),
  "whatsapp-system-user-changed-number.json": waSystemChangedNumber(m("000021", { ts: T0 + 40_000 }), "15550008888"),
  "whatsapp-unsupported-with-errors.json": waUnsupported(m("000022"), "poll_update"),
  "whatsapp-interactive-with-value-errors.json": waInteractiveWithValueErrors({ ...m("000023", { ts: T0 + 50_000 }), context: quote("000006") }),
  "whatsapp-value-errors-rate-limit.json": waValueErrors(wa),
  "whatsapp-status-sent.json": waStatus({
    account: wa,
    customer: user,
    id: "wamid.FAKE_OUT_000001",
    status: "sent",
    ts: T0 + 1000,
    conversation: { id: "fakeconversation00000000000001", originType: "marketing", expirationTs: T0 + 86_400_000 },
    pricing: { type: "regular", category: "marketing" },
    bizOpaqueCallbackData: "order-42",
  }),
  "whatsapp-status-delivered.json": waStatus({
    account: wa,
    customer: user,
    id: "wamid.FAKE_OUT_000002",
    status: "delivered",
    ts: T0 + 5000,
    pricing: { type: "free_customer_service", category: "service" },
  }),
  "whatsapp-status-read.json": waStatus({ account: wa, customer: user, id: "wamid.FAKE_OUT_000002", status: "read", ts: T0 + 60_000 }),
  "whatsapp-status-failed-131047.json": waStatus({
    account: wa,
    customer: user,
    id: "wamid.FAKE_OUT_000008",
    status: "failed",
    ts: T0 + 2000,
    errors: [WA_ERRORS.reengagement],
  }),
  "whatsapp-status-failed-131049.json": waStatus({
    account: wa,
    customer: user,
    id: "wamid.FAKE_OUT_000009",
    status: "failed",
    ts: T0 + 3000,
    errors: [WA_ERRORS.ecosystem],
  }),
  "whatsapp-smb-message-echoes.json": waSmbEcho(
    { account: wa, customer: user, id: "wamid.FAKE_ECHO_000001", ts: T0 + 300_000 },
    "text",
    { body: "Sent from the WhatsApp Business app on the phone" },
  ),
  "whatsapp-interactive-nfm-reply.json": waNfmReply({ ...m("000015"), context: quote("000004") }, {
    flow_token: "FAKE_FLOW_TOKEN_1",
    appointment_date: "2026-01-15",
  }),
  "instagram-text.json": mText(ig(), "FAKE_IG_MID_0001", "Hi! Do you ship to Canada? 🇨🇦"),
  "instagram-image-multi-attachments.json": mAttachments(ig(), "FAKE_IG_MID_0002", [
    attachment.media("image", `${IGCDN}FAKE1&signature=FAKE`),
    attachment.media("video", `${IGCDN}FAKE2&signature=FAKE`),
  ]),
  "instagram-story-mention.json": mAttachments(ig(), "FAKE_IG_MID_0003", [attachment.storyMention(`${IGCDN}FAKESTORY1&signature=FAKE`)]),
  "instagram-story-reply.json": mStoryReply(ig(), "FAKE_IG_MID_0004", "Where can I buy this?", {
    url: `${IGCDN}FAKESTORY2&signature=FAKE`,
    id: "18000000000000001",
  }),
  "instagram-reply-to-message.json": mText(ig(), "FAKE_IG_MID_0005", "this one ↑", { replyToMid: "FAKE_IG_MID_0001" }),
  "instagram-echo.json": mEcho(ig(), "FAKE_IG_MID_0006", { text: "Thanks! We ship worldwide." }),
  "instagram-unsupported.json": mUnsupported(ig(), "FAKE_IG_MID_0007"),
  "instagram-quick-reply.json": mText(ig(), "FAKE_IG_MID_0008", "Track my order", { quickReplyPayload: "TRACK_ORDER" }),
  "instagram-ctd-ad-referral.json": mText(ig(), "FAKE_IG_MID_0009", "Is this still available?", {
    referral: {
      ...adReferral("summer_campaign", "700000000000002"),
      ads_context_data: { ad_title: "Summer sale", photo_url: "https://scontent.example.invalid/fake-ig-ad.jpg" },
    },
  }),
  "instagram-postback-icebreaker.json": mPostback(ig(), "FAKE_IG_MID_0010", "What are your opening hours?", "ICEBREAKER_HOURS"),
  "instagram-share-ig-post-transition.json": mAttachments(ig(), "FAKE_IG_MID_0011", [
    attachment.share("18100000000000001", "Post caption text", `${IGCDN}18100000000000001&signature=FAKE`),
    attachment.igPost("18100000000000001", "Post caption text", `${IGCDN}18100000000000001&signature=FAKE`),
  ]),
  "instagram-ig-reel.json": mAttachments(ig(), "FAKE_IG_MID_0012", [
    attachment.igReel("18200000000000001", "Reel caption ✨ #fake", `${IGCDN}18200000000000001&signature=FAKE`),
  ]),
  "instagram-reaction-react.json": mReaction(ig(), "FAKE_IG_MID_0006", { reaction: "love", emoji: "❤️" }),
  "instagram-reaction-unreact.json": mReaction({ ...ig(T0 + 30_000), entryTime: T0 + 700 }, "FAKE_IG_MID_0006"),
  "instagram-seen.json": mSeen(ig(), "FAKE_IG_MID_0006"),
  "instagram-referral-igme.json": mReferral(ig(), linkReferral("qr_store_entrance")),
  "messenger-text.json": mText(fb(), "m_FAKE_MID_0001", "hello, world!"),
  "messenger-quick-reply.json": mText(fb(), "m_FAKE_MID_0003", "Red", { quickReplyPayload: "COLOR_RED" }),
  "messenger-reply-to.json": mText(fb(), "m_FAKE_MID_0004", "yes that one", { replyToMid: "m_FAKE_MID_ECHO_0001" }),
  "messenger-image-attachment.json": mAttachments(fb(), "m_FAKE_MID_0005", [
    attachment.media("image", "https://scontent.example.invalid/fake-image.jpg"),
  ]),
  "messenger-sticker-transition.json": mAttachments(fb(), "m_FAKE_MID_0006", [
    attachment.stickerAsImage("https://scontent.example.invalid/fake-sticker.png", 369239263222822),
    attachment.sticker("https://scontent.example.invalid/fake-sticker.png", 369239263222822),
  ]),
  "messenger-fallback-link-share.json": mAttachments(
    fb(),
    "m_FAKE_MID_0007",
    [attachment.fallback("Example article", "https://example.com/article")],
    "https://example.com/article",
  ),
  "messenger-echo.json": mEcho(fb(), "m_FAKE_MID_ECHO_0001", { text: "We ship in 2 days." }, { appId: 600000000000001, metadata: "agent:42" }),
  "messenger-postback-get-started.json": mPostback(fb(), "m_FAKE_MID_0008", "Get Started", "GET_STARTED", linkReferral("fb_ad_spring")),
  "messenger-referral-mme.json": mReferral(fb(), linkReferral("store_qr_7")),
  "messenger-reaction-react.json": mReaction(fb(), "m_FAKE_MID_ECHO_0001", { reaction: "love", emoji: "❤️" }),
  "messenger-reaction-unreact.json": mReaction({ ...fb(T0 + 40_000), entryTime: T0 + 500 }, "m_FAKE_MID_ECHO_0001"),
  "messenger-delivery.json": mDelivery({ ...fb(T0), entryTime: T0 + 500 }, T0 + 10_000, ["m_FAKE_MID_ECHO_0001"]),
  "messenger-read.json": mReadWatermark({ ...fb(T0 + 21_000), entryTime: T0 + 500 }, T0 + 20_000),
  "messenger-standby.json": mText({ ...fb(), standby: true }, "m_FAKE_MID_0012", "still there?"),
};

for (const [name, item] of Object.entries(rebuilt)) {
  await check(`builder rebuilds ${name}`, () => {
    const expected: unknown = JSON.parse(fixture(name).toString("utf8"));
    const body = envelope(item.product, [item]);
    deepStrictEqual(JSON.parse(metaJson(body)), expected);
    // Same key order as the fixture (pretty-printed compare).
    equal(JSON.stringify(body, null, 2), JSON.stringify(expected, null, 2));
  });
}

await check("deleted + BSUID shapes", () => {
  const del = envelope("instagram", [mDeleted(ig(), "FAKE_IG_MID_0001")]) as unknown as { entry: [{ messaging: [{ message: unknown }] }] };
  deepStrictEqual(del.entry[0].messaging[0].message, { mid: "FAKE_IG_MID_0001", is_deleted: true });
  const onlyBsuid = waText(m("B1", { customer: { bsuid: "US.13491208655302741918", username: "sara.k", name: "Sara" } }), "hi");
  const value = (onlyBsuid.entry.changes as [{ value: { contacts: unknown[]; messages: Record<string, unknown>[] } }])[0].value;
  deepStrictEqual(value.contacts, [{ profile: { name: "Sara", username: "sara.k" }, user_id: "US.13491208655302741918" }]);
  equal(value.messages[0]?.from, undefined);
  equal(value.messages[0]?.from_user_id, "US.13491208655302741918");
});

// --- stream ------------------------------------------------------------------------------------
await check("stream covers every kind, is reproducible and serialisable", () => {
  const opts = { seed: "selfcheck", conversations: 12, count: ALL_KINDS.length * 6, kinds: ["all"], startMs: T0 };
  const events = generateEvents(opts);
  equal(events.length, opts.count);
  const seenKinds = new Set(events.map((e) => e.kind));
  for (const k of ALL_KINDS) ok(seenKinds.has(k), `kind ${k} never generated`);
  deepStrictEqual(generateEvents(opts), events);
  const conversations = new Set(events.map((e) => e.conversation));
  ok(conversations.size <= 12 && conversations.size >= 10, `conversations: ${conversations.size}`);
  const posts = batchEvents(events, 7);
  equal(
    posts.reduce((n, p) => n + p.events.length, 0),
    events.length,
  );
  for (const post of posts) {
    ok(post.events.length <= 7);
    const text = metaJson(post.body);
    ok(/^[\x20-\x7e]*$/.test(text), "non-ASCII or control byte in metaJson output");
    deepStrictEqual(JSON.parse(text), JSON.parse(JSON.stringify(post.body)));
    const products = new Set<Product>(post.events.map((e) => e.product));
    equal(products.size, 1);
  }
  // Per conversation, timestamps never go backwards in generation order.
  const last = new Map<string, number>();
  for (const e of events) {
    ok(e.ts >= (last.get(e.conversation) ?? 0), `time went backwards in ${e.conversation}`);
    last.set(e.conversation, e.ts);
  }
});

// --- Graph simulator: sends and their status webhooks ------------------------------------------
/** Every key path of a JSON value (array items folded), to compare shapes whatever the values. */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => keyPaths(item, `${prefix}[]`));
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value).flatMap(([key, item]) => keyPaths(item, `${prefix}.${key}`));
}
const shape = (value: unknown) => [...new Set(keyPaths(value))].sort();

await check("the Graph simulator answers sends like Meta and emits status webhooks of the fixtures' shape", async () => {
  const emitted: string[] = [];
  const sim = createGraphSimulator({ now: () => T0, statusDelays: { sent: 0, delivered: 0, read: 0 }, webhookSink: async (body) => void emitted.push(body) });
  const post = async (path: string, token: string, secret: string, body: unknown) => {
    const url = `http://graph.simulator/${path}?appsecret_proof=${await hmacHex(secret, token)}`;
    const response = await sim.fetch(new Request(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) }));
    return (await response.json()) as Record<string, unknown>;
  };
  const appSecret = sim.state.app.secret;
  const wa = await post("graph.facebook.com/v25.0/200000000000001/messages", sim.mintToken({ type: "SYSTEM_USER" }).token, appSecret, {
    messaging_product: "whatsapp",
    to: "+1 555-000-2222",
    type: "text",
    text: { body: "hello" },
  });
  deepStrictEqual(wa.contacts, [{ input: "+1 555-000-2222", wa_id: "15550002222" }]);
  const page = await post("graph.facebook.com/v25.0/300000000000001/messages", sim.mintToken({ type: "PAGE" }).token, appSecret, {
    recipient: { id: "4000000000000001" },
    messaging_type: "RESPONSE",
    message: { text: "hello" },
  });
  const igToken = sim.mintToken({ type: "INSTAGRAM" }).token;
  const igSent = await post("graph.instagram.com/v25.0/me/messages", igToken, sim.state.instagramApp.secret, { recipient: { id: "5000000000000001" }, messaging_type: "RESPONSE", message: { text: "hi" } });
  ok(String(page.message_id).startsWith("m_") && typeof igSent.message_id === "string", JSON.stringify([page, igSent]));
  const due = await sim.flushStatuses();
  deepStrictEqual(
    due.map((w) => `${w.product}:${w.status}`),
    ["whatsapp:sent", "whatsapp:delivered", "whatsapp:read", "messenger:delivered", "messenger:read", "instagram:read"],
  );
  equal(emitted.length, due.length);
  const like = (index: number, name: string) => {
    const body = emitted[index]!;
    ok(/^[\x20-\x7e]*$/.test(body), "status webhook not in Meta's wire form");
    deepStrictEqual(shape(JSON.parse(body)), shape(JSON.parse(fixture(name).toString("utf8"))), `${name}: shape differs`);
  };
  like(2, "whatsapp-status-read.json");
  like(3, "messenger-delivery.json");
  like(4, "messenger-read.json");
  like(5, "instagram-seen.json");
});

if (failures) {
  console.error(`selfcheck: ${failures} failed, ${checks} passed`);
  process.exit(1);
}
console.log(`selfcheck: ${checks} checks passed (${Object.keys(rebuilt).length} fixtures rebuilt by the builders)`);
