/**
 * Sending on a channel's behalf (workers/meta/send.ts, media.ts) against the Graph API simulator, in
 * workerd: the exact JSON Meta receives for every kind on every product, media both ways, templates,
 * every failure class of SPEC §5.5 and what the outbox should do with it, the secret rules (token only in
 * the Authorization header, never in a URL or an error), and the status webhooks that follow a send.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { hmacHex } from "../workers/hash.ts";
import { fetchInboundMedia, listTemplates, uploadMedia } from "../workers/meta/media.ts";
import { normalizeWebhook } from "../workers/meta/normalize.ts";
import { markRead, sendMessage, type OutboundContent, type SendOptions, type SendTarget } from "../workers/meta/send.ts";
import type { SendFailure } from "../workers/meta/send-failure.ts";
import { GRAPH_SIMULATOR_ORIGIN, useGraphSimulator } from "./graph-simulator.ts";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
let clock = T0;
const webhooks: string[] = [];
const graph = useGraphSimulator({ now: () => clock, webhookSink: async (body) => void webhooks.push(body), statusDelays: { sent: 200, delivered: 1_500, read: 6_000 } });

const WABA = "100000000000001";
const PHONE = "200000000000001";
const PAGE = "300000000000001";
const IG = "17840000000000001";
const WA_ID = "15557654321";
const BSUID = "US.13491208655302741918";
const PSID = "4000000000000001";
const IGSID = "5000000000000001";

const customer = (id: string, wa: { waId?: string; bsuid?: string } = {}) => ({ id, waId: wa.waId ?? null, bsuid: wa.bsuid ?? null });
const whatsapp: SendTarget = { product: "whatsapp", accountId: PHONE, viaPage: null, recipient: customer(WA_ID, { waId: WA_ID }) };
const whatsappBsuid: SendTarget = { ...whatsapp, recipient: customer(BSUID, { bsuid: BSUID }) };
const messenger: SendTarget = { product: "messenger", accountId: PAGE, viaPage: null, recipient: customer(PSID) };
const instagramViaPage: SendTarget = { product: "instagram", accountId: IG, viaPage: PAGE, recipient: customer(IGSID) };
const instagramLogin: SendTarget = { product: "instagram", accountId: IG, viaPage: null, recipient: customer(IGSID) };

const reply: SendOptions = { replyTo: null, messagingType: "RESPONSE", tag: null };
const text = (body: string): OutboundContent => ({ kind: "text", text: body });

let tokens: { whatsapp: string; page: string; instagram: string };
beforeEach(() => {
  clock = T0;
  webhooks.length = 0;
  tokens = {
    whatsapp: graph.sim.mintToken({ type: "SYSTEM_USER" }).token,
    page: graph.sim.mintToken({ type: "PAGE", pageId: PAGE }).token,
    instagram: graph.sim.mintToken({ type: "INSTAGRAM" }).token,
  };
});

const tokenFor = (target: SendTarget) => (target.product === "whatsapp" ? tokens.whatsapp : target.viaPage || target.product === "messenger" ? tokens.page : tokens.instagram);
const send = (target: SendTarget, content: OutboundContent, options: SendOptions = reply) => sendMessage(graph.env, tokenFor(target), target, content, options);

type Outcome = { ok: true; externalId?: string | null } | { ok: false; failure: SendFailure };

function sent(outcome: Outcome): string | null {
  if (!outcome.ok) throw new Error(`expected success, got ${JSON.stringify(outcome.failure)}`);
  return outcome.externalId ?? null;
}

function failure(outcome: Outcome): SendFailure {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.failure;
}

/** What Meta received in the last send call. */
const lastSend = () => graph.sim.snapshot().sends.at(-1)!;
const lastRequest = () => graph.requests.at(-1)!;

describe("WhatsApp messages", () => {
  it("sends text to the phone number with `to`, and answers Meta's wamid", async () => {
    const id = sent(await send(whatsapp, { kind: "text", text: "Your order shipped 📦", previewUrl: true }));
    expect(id).toMatch(/^wamid\./);
    expect(lastSend()).toMatchObject({ product: "whatsapp", node: PHONE, kind: "message", externalId: id });
    expect(lastSend().body).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: WA_ID,
      type: "text",
      text: { preview_url: true, body: "Your order shipped 📦" },
    });
    expect(new URL(lastRequest().url).pathname).toBe(`/graph.facebook.com/v25.0/${PHONE}/messages`);
  });

  it("addresses a customer without a known phone number by BSUID in `recipient`", async () => {
    sent(await send(whatsappBsuid, text("hello")));
    expect(lastSend().body).toMatchObject({ recipient: BSUID, type: "text" });
    expect(lastSend().body).not.toHaveProperty("to");
  });

  it("quotes the replied-to message as context", async () => {
    sent(await send(whatsapp, text("Yes, we do"), { ...reply, replyTo: "wamid.CUSTOMER1" }));
    expect(lastSend().body).toMatchObject({ context: { message_id: "wamid.CUSTOMER1" }, text: { body: "Yes, we do" } });
  });

  it("sends uploaded media by id, with caption and document filename", async () => {
    const image = await uploadMedia(graph.env, tokens.whatsapp, whatsapp, new File([new Uint8Array(2048)], "shoe.jpg", { type: "image/jpeg" }), "image");
    if (!image.ok) throw new Error(image.failure.message);
    sent(await send(whatsapp, { kind: "media", mediaType: "image", mediaId: image.mediaId, caption: "The red one" }));
    expect(lastSend().body).toEqual({ messaging_product: "whatsapp", recipient_type: "individual", to: WA_ID, type: "image", image: { id: image.mediaId, caption: "The red one" } });

    const pdf = await uploadMedia(graph.env, tokens.whatsapp, whatsapp, new File(["%PDF-1.7"], "invoice.pdf", { type: "application/pdf" }), "document");
    if (!pdf.ok) throw new Error(pdf.failure.message);
    sent(await send(whatsapp, { kind: "media", mediaType: "document", mediaId: pdf.mediaId, filename: "Invoice 42.pdf" }));
    expect(lastSend().body).toMatchObject({ type: "document", document: { id: pdf.mediaId, filename: "Invoice 42.pdf" } });
  });

  it("sends an approved template with its parameters", async () => {
    const components = [{ type: "body" as const, parameters: [{ type: "text", text: "Ana" }, { type: "text", text: "#1042" }] }];
    sent(await send(whatsapp, { kind: "template", name: "order_update", language: "es", components }));
    expect(lastSend().body).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: WA_ID,
      type: "template",
      template: { name: "order_update", language: { code: "es" }, components },
    });
  });

  it("refuses templates Meta would refuse: unknown language, wrong parameter count, paused", async () => {
    const unknown = failure(await send(whatsapp, { kind: "template", name: "order_update", language: "fr" }));
    expect(unknown).toMatchObject({ code: 132001, retry: "never", windowClosed: false, reconnect: false });
    expect(unknown.details).toContain("does not exist in fr");

    const oneParameter = [{ type: "body" as const, parameters: [{ type: "text", text: "Ana" }] }];
    const count = failure(await send(whatsapp, { kind: "template", name: "order_update", language: "en_US", components: oneParameter }));
    expect(count).toMatchObject({ code: 132000, retry: "never" });
    expect(count.details).toContain("(1) does not match the expected number of params (2)");

    expect(failure(await send(whatsapp, { kind: "template", name: "spring_sale", language: "en_US" }))).toMatchObject({ code: 132015, retry: "never" });
    expect(failure(await send(whatsapp, { kind: "template", name: "account_alert", language: "en_US" }))).toMatchObject({ code: 132001 });
  });

  it("reacts with a reaction message, and removes it with an empty emoji, never with context", async () => {
    const id = sent(await send(whatsapp, { kind: "reaction", targetExternalId: "wamid.CUSTOMER1", emoji: "👍" }, { ...reply, replyTo: "wamid.OTHER" }));
    expect(id).toMatch(/^wamid\./);
    expect(lastSend().body).toEqual({ messaging_product: "whatsapp", recipient_type: "individual", to: WA_ID, type: "reaction", reaction: { message_id: "wamid.CUSTOMER1", emoji: "👍" } });
    sent(await send(whatsapp, { kind: "reaction", targetExternalId: "wamid.CUSTOMER1", emoji: null }));
    expect(lastSend().body).toMatchObject({ reaction: { message_id: "wamid.CUSTOMER1", emoji: "" } });
  });

  it("marks a message read with a status message", async () => {
    expect(await markRead(graph.env, tokens.whatsapp, whatsapp, "wamid.CUSTOMER1")).toEqual({ ok: true });
    expect(lastSend()).toMatchObject({ kind: "read", body: { messaging_product: "whatsapp", status: "read", message_id: "wamid.CUSTOMER1" } });
  });

  it("ignores Messenger's messaging type and tag", async () => {
    sent(await send(whatsapp, text("hi"), { replyTo: null, messagingType: "MESSAGE_TAG", tag: "HUMAN_AGENT" }));
    expect(lastSend().body).not.toHaveProperty("tag");
    expect(lastSend().body).not.toHaveProperty("messaging_type");
  });
});

describe("Messenger and Instagram messages", () => {
  it("sends Messenger text as a RESPONSE and answers Meta's mid", async () => {
    const id = sent(await send(messenger, text("Hi! How can we help?")));
    expect(id).toMatch(/^m_/);
    expect(lastSend()).toMatchObject({ product: "messenger", node: PAGE, externalId: id });
    expect(lastSend().body).toEqual({ recipient: { id: PSID }, messaging_type: "RESPONSE", message: { text: "Hi! How can we help?" } });
  });

  it("answers after the window with the HUMAN_AGENT tag, as a reply to the customer's message", async () => {
    sent(await send(messenger, text("Sorry for the wait"), { replyTo: "m_CUSTOMER1", messagingType: "MESSAGE_TAG", tag: "HUMAN_AGENT" }));
    expect(lastSend().body).toEqual({
      recipient: { id: PSID },
      messaging_type: "MESSAGE_TAG",
      tag: "HUMAN_AGENT",
      reply_to: { mid: "m_CUSTOMER1" },
      message: { text: "Sorry for the wait" },
    });
  });

  it("uploads a reusable attachment and sends it by attachment_id (documents as `file`)", async () => {
    const upload = await uploadMedia(graph.env, tokens.page, messenger, new File(["%PDF"], "menu.pdf", { type: "application/pdf" }), "document");
    if (!upload.ok) throw new Error(upload.failure.message);
    const form = lastRequest();
    expect(new URL(form.url).pathname).toBe(`/graph.facebook.com/v25.0/${PAGE}/message_attachments`);
    expect(form.body).toContain(JSON.stringify({ attachment: { type: "file", payload: { is_reusable: true } } }));
    expect(form.body).toContain('name="filedata"; filename="menu.pdf"');
    sent(await send(messenger, { kind: "media", mediaType: "document", mediaId: upload.mediaId }));
    expect(lastSend().body).toEqual({ recipient: { id: PSID }, messaging_type: "RESPONSE", message: { attachment: { type: "file", payload: { attachment_id: upload.mediaId } } } });
  });

  it("uploads Instagram attachments through the Page with platform=instagram", async () => {
    const upload = await uploadMedia(graph.env, tokens.page, instagramViaPage, new File(["\x89PNG"], "look.png", { type: "image/png" }), "image");
    if (!upload.ok) throw new Error(upload.failure.message);
    expect(lastRequest().body).toMatch(/name="platform"\r\n\r\ninstagram/);
    expect(graph.sim.snapshot().media).toContainEqual(expect.objectContaining({ id: upload.mediaId, product: "instagram", ownerId: IG }));
    sent(await send(instagramViaPage, { kind: "media", mediaType: "image", mediaId: upload.mediaId }));
    expect(lastSend().body).toEqual({ recipient: { id: IGSID }, messaging_type: "RESPONSE", message: { attachment: { type: "image", payload: { attachment_id: upload.mediaId } } } });
  });

  it("reacts and unreacts with sender actions, which have no message id", async () => {
    expect(await send(messenger, { kind: "reaction", targetExternalId: "m_CUSTOMER1", emoji: "❤️" })).toEqual({ ok: true, externalId: null });
    expect(lastSend()).toMatchObject({ kind: "sender_action", body: { recipient: { id: PSID }, sender_action: "react", payload: { message_id: "m_CUSTOMER1", reaction: "❤️" } } });
    expect(await send(messenger, { kind: "reaction", targetExternalId: "m_CUSTOMER1", emoji: null })).toEqual({ ok: true, externalId: null });
    expect(lastSend().body).toEqual({ recipient: { id: PSID }, sender_action: "unreact", payload: { message_id: "m_CUSTOMER1" } });
  });

  it("marks the thread seen", async () => {
    expect(await markRead(graph.env, tokens.page, messenger, "m_CUSTOMER1")).toEqual({ ok: true });
    expect(lastSend()).toMatchObject({ kind: "sender_action", body: { recipient: { id: PSID }, sender_action: "mark_seen" } });
  });

  it("sends Instagram through the linked Page with the Page token", async () => {
    const id = sent(await send(instagramViaPage, text("Thanks for the follow!")));
    expect(lastSend()).toMatchObject({ product: "instagram", host: "facebook", node: PAGE, externalId: id });
    expect(new URL(lastRequest().url).pathname).toBe(`/graph.facebook.com/v25.0/${PAGE}/messages`);
    expect(lastRequest().headers.authorization).toBe(`Bearer ${tokens.page}`);
  });

  it("accepts the Instagram account's own node on graph.facebook.com with the linked Page's token", async () => {
    const response = await fetch(`${graph.env.GRAPH_API_BASE}/${IG}/messages?appsecret_proof=${await hmacHex(graph.env.META_APP_SECRET, tokens.page)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.page}`, "content-type": "application/json" },
      body: JSON.stringify({ recipient: { id: IGSID }, messaging_type: "RESPONSE", message: { text: "hi" } }),
    });
    expect(await response.json()).toEqual({ recipient_id: IGSID, message_id: expect.any(String) });
    expect(lastSend()).toMatchObject({ product: "instagram", host: "facebook", node: IG });
  });

  it("sends Instagram Login accounts through graph.instagram.com with the Instagram app's proof", async () => {
    sent(await send(instagramLogin, text("Hello from Instagram")));
    const request = lastRequest();
    expect(new URL(request.url).pathname).toBe(`/graph.instagram.com/v25.0/${IG}/messages`);
    expect(new URL(request.url).searchParams.get("appsecret_proof")).toBe(await hmacHex(graph.env.INSTAGRAM_APP_SECRET, tokens.instagram));
    expect(lastSend()).toMatchObject({ product: "instagram", host: "instagram", body: { recipient: { id: IGSID }, messaging_type: "RESPONSE", message: { text: "Hello from Instagram" } } });
  });

  it("reacts on Instagram with its one reaction, love", async () => {
    expect(await send(instagramLogin, { kind: "reaction", targetExternalId: "aWdfMID", emoji: "🔥" })).toEqual({ ok: true, externalId: null });
    expect(lastSend().body).toEqual({ recipient: { id: IGSID }, sender_action: "react", payload: { message_id: "aWdfMID", reaction: "love" } });
  });
});

describe("refused before anything reaches Meta", () => {
  const cases: [string, SendTarget, OutboundContent, RegExp][] = [
    ["a caption on audio", whatsapp, { kind: "media", mediaType: "audio", mediaId: "123", caption: "listen" }, /caption/i],
    ["text over 4096 characters", whatsapp, text("x".repeat(4097)), /4096/],
    ["a blank text", whatsapp, text("   "), /blank/],
    ["a template on Messenger", messenger, { kind: "template", name: "hello_world", language: "en_US" }, /WhatsApp only/],
    ["a sticker on Instagram", instagramLogin, { kind: "media", mediaType: "sticker", mediaId: "123" }, /Stickers/],
    ["Instagram text over 1000 bytes", instagramLogin, text("é".repeat(501)), /1000 bytes/],
    ["Messenger text over 2000 characters", messenger, text("x".repeat(2001)), /2000 characters/],
  ];
  it.each(cases)("%s", async (_, target, content, message) => {
    const refused = failure(await send(target, content));
    expect(refused).toMatchObject({ code: 0, retry: "never", reconnect: false, windowClosed: false });
    expect(`${refused.title} ${refused.message}`).toMatch(message);
    expect(graph.requests).toHaveLength(0);
  });

  it("never puts a malformed account id into a URL", async () => {
    const refused = failure(await send({ ...whatsapp, accountId: "../me" }, text("hi")));
    expect(refused.message).toBe("An account id must be Meta's numeric id.");
    expect(graph.requests).toHaveLength(0);
  });
});

describe("failures, classified by Meta's code", () => {
  type Expectation = Partial<SendFailure>;
  const cases: [string, SendTarget, Parameters<typeof graph.sim.failSends>[0], Expectation][] = [
    ["131047 outside the window: never, switch to a template", whatsapp, { code: 131047 }, { code: 131047, retry: "never", windowClosed: true, reconnect: false }],
    ["Messenger 10/2018278 outside the window", messenger, { code: 10, subcode: 2018278 }, { code: 10, subcode: 2018278, retry: "never", windowClosed: true, reconnect: false }],
    ["Instagram 10/2534022 outside the window", instagramLogin, { code: 10, subcode: 2534022 }, { retry: "never", windowClosed: true, reconnect: false }],
    ["131026 undeliverable: never", whatsapp, { code: 131026 }, { code: 131026, retry: "never", windowClosed: false, reconnect: false }],
    ["100 invalid parameter: never", whatsapp, { code: 100 }, { code: 100, retry: "never", reconnect: false }],
    ["368 policy block: never, no reconnection", whatsapp, { code: 368 }, { code: 368, retry: "never", reconnect: false }],
    ["10 missing permission: reconnect", messenger, { code: 10 }, { code: 10, retry: "never", reconnect: true }],
    ["130429 throughput: pace the number, Meta's estimate", whatsapp, { code: 130429 }, { code: 130429, retry: "pace_number", retryAfterMs: 300_000 }],
    ["131056 pair rate: pace the recipient", whatsapp, { code: 131056 }, { code: 131056, retry: "pace_recipient", retryAfterMs: 6_000 }],
    ["80007 WABA rate limit: back off, Meta's estimate", whatsapp, { code: 80007 }, { code: 80007, retry: "backoff", retryAfterMs: 300_000 }],
    ["613 Page rate limit: back off", messenger, { code: 613 }, { code: 613, retry: "backoff", retryAfterMs: 300_000 }],
    ["131057 maintenance: retry after a minute", whatsapp, { code: 131057 }, { code: 131057, retry: "backoff", retryAfterMs: 60_000 }],
    ["1 with HTTP 500: back off", whatsapp, { code: 1, status: 500 }, { code: 1, retry: "backoff", reconnect: false }],
    ["131000 something went wrong: back off", whatsapp, { code: 131000 }, { code: 131000, retry: "backoff" }],
    ["a dropped connection: back off", whatsapp, { network: true }, { code: 0, retry: "backoff", details: "The request to Meta failed." }],
    ["a dropped connection on Instagram: back off", instagramLogin, { network: true }, { code: 0, retry: "backoff" }],
  ];
  it.each(cases)("%s", async (_, target, fault, expected) => {
    graph.sim.failSends(fault);
    const failed = failure(await send(target, text("hello")));
    expect(failed).toMatchObject(expected);
    expect(failed.title.length).toBeGreaterThan(3);
    expect(failed.message.length).toBeGreaterThan(30);
    // The next send goes through: faults are consumed, nothing else is broken.
    sent(await send(target, text("hello again")));
  });

  it("keeps WhatsApp's error details for people and support", async () => {
    graph.sim.failSends({ code: 131047 });
    const failed = failure(await send(whatsapp, text("hello")));
    expect(failed.details).toBe("Message failed to send because more than 24 hours have passed since the customer last replied to this number.");
    expect(failed.message).toMatch(/template/);
  });

  it("classifies by code, not HTTP status: a 131047 answered with HTTP 200 is still a closed window", async () => {
    graph.sim.failSends({ code: 131047, status: 200 });
    expect(failure(await send(whatsapp, text("hello")))).toMatchObject({ code: 131047, windowClosed: true, retry: "never" });
  });

  it("asks for reconnection when the token was revoked (190), and never retries", async () => {
    graph.sim.revokeToken(tokens.whatsapp);
    const failed = failure(await send(whatsapp, text("hello")));
    expect(failed).toMatchObject({ code: 190, subcode: 458, retry: "never", reconnect: true, windowClosed: false });
    expect(failed.message).toMatch(/Reconnect/);
  });

  it("paces the second message to the same WhatsApp user within 6 seconds, not other users", async () => {
    graph.sim.configureSending({ pairRateLimit: true });
    sent(await send(whatsapp, text("one")));
    clock += 2_000;
    expect(failure(await send(whatsapp, text("two")))).toMatchObject({ code: 131056, retry: "pace_recipient" });
    sent(await send(whatsappBsuid, text("someone else")));
    clock += 6_000;
    sent(await send(whatsapp, text("two, later")));
  });

  it("backs off while Meta is down (refused or 503 without a Graph body), and sends once it is back", async () => {
    graph.sim.setOutage("refused");
    expect(failure(await send(messenger, text("hello")))).toMatchObject({ code: 0, retry: "backoff", reconnect: false });
    graph.sim.setOutage("unavailable");
    const unavailable = failure(await send(messenger, text("hello")));
    expect(unavailable).toMatchObject({ code: 0, retry: "backoff", details: "Meta answered HTTP 503 without an error body." });
    graph.sim.setOutage(null);
    sent(await send(messenger, text("hello")));
  });

  it("never puts a token into a URL or a failure", async () => {
    graph.sim.failSends({ code: 100, message: `(#100) Invalid parameter near ${tokens.whatsapp}` });
    const failed = failure(await send(whatsapp, text("hello")));
    expect(failed.details).toContain("[redacted]");
    graph.sim.revokeToken(tokens.page);
    const revoked = failure(await send(messenger, text("hello")));
    sent(await send(instagramLogin, text("hello")));
    await fetchInboundMedia(graph.env, tokens.whatsapp, "whatsapp", { id: "999" });
    for (const secret of [tokens.whatsapp, tokens.page, tokens.instagram, graph.env.META_APP_SECRET, graph.env.INSTAGRAM_APP_SECRET]) {
      expect(JSON.stringify([failed, revoked])).not.toContain(secret);
      for (const request of graph.requests) expect(request.url).not.toContain(secret);
    }
    for (const request of graph.requests.filter((r) => r.url.includes("/graph."))) {
      const token = request.headers.authorization!.replace(/^Bearer /, "");
      const secret = request.url.includes("graph.instagram.com") ? graph.env.INSTAGRAM_APP_SECRET : graph.env.META_APP_SECRET;
      expect(new URL(request.url).searchParams.get("appsecret_proof")).toBe(await hmacHex(secret, token));
    }
  });
});

describe("media", () => {
  it("uploads WhatsApp media as multipart with messaging_product and type", async () => {
    const upload = await uploadMedia(graph.env, tokens.whatsapp, whatsapp, new File(["OggS"], "voice.ogg", { type: "audio/ogg" }), "audio");
    if (!upload.ok) throw new Error(upload.failure.message);
    expect(new URL(lastRequest().url).pathname).toBe(`/graph.facebook.com/v25.0/${PHONE}/media`);
    expect(lastRequest().body).toMatch(/name="messaging_product"\r\n\r\nwhatsapp/);
    expect(lastRequest().body).toMatch(/name="type"\r\n\r\naudio\/ogg/);
    expect(graph.sim.snapshot().media).toContainEqual(expect.objectContaining({ id: upload.mediaId, product: "whatsapp", ownerId: PHONE, mimeType: "audio/ogg", size: 4 }));
  });

  it("refuses files over Meta's limits or of the wrong type before uploading", async () => {
    const big = failure(await uploadMedia(graph.env, tokens.whatsapp, whatsapp, new File([new Uint8Array(5 * 1024 * 1024 + 1)], "big.png", { type: "image/png" }), "image"));
    expect(big).toMatchObject({ title: "File too large", retry: "never" });
    expect(big.message).toBe("WhatsApp accepts image files up to 5 MB; this one is 5 MB.");
    const webp = failure(await uploadMedia(graph.env, tokens.instagram, instagramLogin, new File(["RIFF"], "a.webp", { type: "image/webp" }), "image"));
    expect(webp.title).toBe("Unsupported file type");
    expect(webp.message).toBe("Instagram accepts image files of type image/jpeg, image/png, image/gif; this file is image/webp.");
    const sticker = failure(await uploadMedia(graph.env, tokens.page, messenger, new File(["RIFF"], "a.webp", { type: "image/webp" }), "sticker"));
    expect(sticker.message).toBe("Messenger cannot send stickers.");
    expect(graph.requests).toHaveLength(0);
  });

  it("streams a customer's WhatsApp media: media id → 5-minute URL → download with the token", async () => {
    const bytes = new Uint8Array(new TextEncoder().encode("\xff\xd8 a jpeg"));
    const { id } = await graph.sim.addInboundMedia({ product: "whatsapp", bytes, mimeType: "image/jpeg" });
    const fetched = await fetchInboundMedia(graph.env, tokens.whatsapp, "whatsapp", { id });
    if (!fetched.ok) throw new Error(fetched.failure.message);
    expect(fetched.response.headers.get("content-type")).toBe("image/jpeg");
    expect(fetched.response.headers.get("cache-control")).toBe("private, no-store");
    expect(new Uint8Array(await fetched.response.arrayBuffer())).toEqual(bytes);
    const download = lastRequest();
    expect(new URL(download.url).pathname).toBe("/lookaside.fbsbx.com/whatsapp_business/attachments/");
    expect(download.headers.authorization).toBe(`Bearer ${tokens.whatsapp}`);
  });

  it("downloads a WhatsApp webhook's own media URL with the token, but never sends the token elsewhere", async () => {
    const { url } = await graph.sim.addInboundMedia({ product: "whatsapp", bytes: new Uint8Array([4, 2]), mimeType: "audio/ogg" });
    const fetched = await fetchInboundMedia(graph.env, tokens.whatsapp, "whatsapp", { url });
    if (!fetched.ok) throw new Error(fetched.failure.message);
    expect(new Uint8Array(await fetched.response.arrayBuffer())).toEqual(new Uint8Array([4, 2]));
    const elsewhere = failure(await fetchInboundMedia(graph.env, tokens.whatsapp, "whatsapp", { url: "https://evil.example/steal" }));
    expect(elsewhere.title).toBe("Media not available");
    expect(graph.requests.map((r) => new URL(r.url).hostname)).toEqual(["graph.simulator"]);
  });

  it("WhatsApp download URLs need the token and expire after 5 minutes", async () => {
    const { url } = await graph.sim.addInboundMedia({ product: "whatsapp", bytes: new Uint8Array([1, 2, 3]) });
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${tokens.whatsapp}` } })).status).toBe(200);
    clock += 301_000;
    expect((await fetch(url, { headers: { authorization: `Bearer ${tokens.whatsapp}` } })).status).toBe(404);
  });

  it("fetches Messenger and Instagram CDN media without our token", async () => {
    const { url } = await graph.sim.addInboundMedia({ product: "instagram", bytes: new Uint8Array([7, 7]), mimeType: "video/mp4" });
    const fetched = await fetchInboundMedia(graph.env, tokens.instagram, "instagram", { url });
    if (!fetched.ok) throw new Error(fetched.failure.message);
    expect(fetched.response.headers.get("content-type")).toBe("video/mp4");
    expect(new Uint8Array(await fetched.response.arrayBuffer())).toEqual(new Uint8Array([7, 7]));
    expect(lastRequest().headers.authorization).toBeUndefined();
  });

  it("fetches Messenger and Instagram media only from Meta's hosts, whatever address a payload names", async () => {
    const before = graph.requests.length;
    const elsewhere = failure(await fetchInboundMedia(graph.env, tokens.page, "messenger", { url: "https://scontent.example.invalid/fake-image.jpg" }));
    expect(elsewhere.title).toBe("Media not available");
    expect(graph.requests.length).toBe(before);
  });

  it("reaches Meta's media hosts at META_MEDIA_BASE, so a recorded webhook's CDN address stays on the machine in dev", async () => {
    const { url } = await graph.sim.addInboundMedia({ product: "instagram", bytes: new Uint8Array([4, 2]), mimeType: "image/png" });
    // As Meta's webhook carries it: https on Meta's own host.
    const asMetaSends = url.replace(`${GRAPH_SIMULATOR_ORIGIN}/`, "https://");
    expect(asMetaSends).toMatch(/^https:\/\/lookaside\.fbsbx\.com\//);
    const fetched = await fetchInboundMedia(graph.env, tokens.instagram, "instagram", { url: asMetaSends });
    if (!fetched.ok) throw new Error(fetched.failure.message);
    expect(new Uint8Array(await fetched.response.arrayBuffer())).toEqual(new Uint8Array([4, 2]));
    expect(lastRequest().url).toBe(url);
  });

  it("says clearly when media is gone: expired CDN URL, unknown WhatsApp media id", async () => {
    const { url } = await graph.sim.addInboundMedia({ product: "messenger", bytes: new Uint8Array([1]) });
    clock += 600_000;
    const expired = failure(await fetchInboundMedia(graph.env, tokens.page, "messenger", { url }));
    expect(expired).toMatchObject({ title: "Media no longer available", retry: "never" });
    expect(expired.message).toMatch(/no longer has this media/);
    const unknown = failure(await fetchInboundMedia(graph.env, tokens.whatsapp, "whatsapp", { id: "1234567890" }));
    expect(unknown).toMatchObject({ code: 100, subcode: 33, retry: "never" });
  });
});

describe("templates", () => {
  it("lists every template of the WABA with status, category and components", async () => {
    const listed = await listTemplates(graph.env, tokens.whatsapp, WABA);
    if (!listed.ok) throw new Error(listed.failure.message);
    expect(listed.templates.map((t) => `${t.name}/${t.language}/${t.status}`)).toEqual([
      "hello_world/en_US/APPROVED",
      "order_update/en_US/APPROVED",
      "order_update/es/APPROVED",
      "order_update/pt_BR/APPROVED",
      "we_miss_you/en_US/APPROVED",
      "spring_sale/en_US/PAUSED",
      "account_alert/en_US/REJECTED",
    ]);
    expect(listed.templates[1]).toMatchObject({ category: "UTILITY", components: [{ type: "BODY", text: "Hi {{1}}, your order {{2}} has shipped." }, { type: "BUTTONS" }] });
  });

  it("follows the cursor over several pages, never Meta's next link with the token in it", async () => {
    for (let i = 0; i < 120; i++) graph.sim.addTemplate({ wabaId: WABA, name: `promo_${i}`, language: "en_US" });
    const listed = await listTemplates(graph.env, tokens.whatsapp, WABA);
    if (!listed.ok) throw new Error(listed.failure.message);
    expect(listed.templates).toHaveLength(127);
    expect(graph.requests).toHaveLength(2);
    expect(new URL(graph.requests[1]!.url).searchParams.get("after")).toBeTruthy();
    for (const request of graph.requests) expect(request.url).not.toContain(tokens.whatsapp);
  });

  it("needs a token that reaches the WABA", async () => {
    const other = graph.sim.mintToken({ type: "SYSTEM_USER", wabaIds: ["100000000000002"] }).token;
    expect(failure(await listTemplates(graph.env, other, WABA))).toMatchObject({ code: 100, subcode: 33, retry: "never" });
  });
});

describe("status webhooks after a send", () => {
  const due = async () => (await graph.sim.flushStatuses()).map((w) => w.status);
  const bodies = () => webhooks.map((body) => JSON.parse(body) as { object: string; entry: Record<string, unknown>[] });

  it("WhatsApp: sent, delivered, read on the business number, each when due", async () => {
    const id = sent(await send(whatsapp, text("hello")));
    expect(await due()).toEqual([]);
    clock += 200;
    expect(await due()).toEqual(["sent"]);
    clock += 1_300;
    expect(await due()).toEqual(["delivered"]);
    clock += 4_499;
    expect(await due()).toEqual([]);
    clock += 1;
    expect(await due()).toEqual(["read"]);

    const statuses = bodies().map((b) => {
      const value = (b.entry[0]!.changes as { value: Record<string, unknown> }[])[0]!.value;
      expect(value.metadata).toEqual({ display_phone_number: "15550001111", phone_number_id: PHONE });
      return (value.statuses as Record<string, unknown>[])[0]!;
    });
    expect(statuses.map((s) => [s.id, s.status, s.recipient_id])).toEqual([
      [id, "sent", WA_ID],
      [id, "delivered", WA_ID],
      [id, "read", WA_ID],
    ]);
    expect(statuses[0]!.timestamp).toBe(String(Math.floor((T0 + 200) / 1000)));
    // The Worker understands every one of them as a status of that message.
    for (const body of bodies()) {
      expect(normalizeWebhook(body)).toEqual([expect.objectContaining({ kind: "conversation", change: expect.objectContaining({ kind: "status", target: id }) })]);
    }
  });

  it("WhatsApp reactions only ever get `sent`", async () => {
    sent(await send(whatsapp, { kind: "reaction", targetExternalId: "wamid.CUSTOMER1", emoji: "👍" }));
    expect((await graph.sim.flushStatuses({ all: true })).map((w) => w.status)).toEqual(["sent"]);
  });

  it("Messenger: a delivery then a read watermark; Instagram: seen", async () => {
    const mid = sent(await send(messenger, text("hello")));
    const igMid = sent(await send(instagramLogin, text("hello")));
    clock += 10_000;
    expect((await graph.sim.flushStatuses()).map((w) => [w.product, w.status, w.externalId])).toEqual([
      ["messenger", "delivered", mid],
      ["messenger", "read", mid],
      ["instagram", "read", igMid],
    ]);
    const [delivery, read, seen] = bodies().map((b) => [b.object, (b.entry[0]!.messaging as Record<string, unknown>[])[0]!] as const);
    expect(delivery).toEqual(["page", expect.objectContaining({ sender: { id: PSID }, recipient: { id: PAGE }, delivery: { mids: [mid], watermark: T0 } })]);
    expect(read).toEqual(["page", expect.objectContaining({ read: { watermark: T0 } })]);
    expect(seen).toEqual(["instagram", expect.objectContaining({ sender: { id: IGSID }, recipient: { id: IG }, read: { mid: igMid } })]);
    for (const body of bodies()) expect(normalizeWebhook(body).every((item) => item.kind === "conversation")).toBe(true);
  });

  it("sends nothing for refused messages, and delays are configurable (null = never)", async () => {
    graph.sim.failSends({ code: 131047 });
    failure(await send(whatsapp, text("late")));
    graph.sim.configureSending({ statusDelays: { sent: 0, delivered: 0, read: null } });
    sent(await send(whatsapp, text("now")));
    expect(await due()).toEqual(["sent", "delivered"]);
    expect(graph.sim.snapshot().scheduledWebhooks).toEqual([]);
  });
});

describe("the simulator's control API for sending", () => {
  const control = (method: string, path: string, body?: unknown) =>
    fetch(`http://graph.simulator/__simulator/${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

  it("fails the next N sends, takes Meta down and back, and emits due statuses over HTTP", async () => {
    expect((await control("POST", "send-faults", { code: 131026, times: 2 })).status).toBe(201);
    expect(failure(await send(whatsapp, text("one"))).code).toBe(131026);
    expect(failure(await send(whatsapp, text("two"))).code).toBe(131026);
    sent(await send(whatsapp, text("three")));

    await control("POST", "outage", { mode: "refused" });
    expect(failure(await send(whatsapp, text("down")))).toMatchObject({ code: 0, retry: "backoff" });
    await control("POST", "outage", { mode: null });

    expect((await control("PUT", "sending", { statusDelays: { sent: 0, delivered: null, read: null } })).status).toBe(200);
    sent(await send(whatsapp, text("four")));
    clock += 60_000;
    expect(await (await control("POST", "statuses/flush", {})).json()).toEqual({ emitted: 4 });
    expect(webhooks).toHaveLength(4);
    expect((await control("POST", "outage", { mode: "sideways" })).status).toBe(400);
  });

  it("lets read receipts and typing indicators through a send fault: only what reaches the customer fails", async () => {
    expect((await control("POST", "send-faults", { code: 131026, times: 1 })).status).toBe(201);
    expect(await markRead(graph.env, tokens.whatsapp, whatsapp, "wamid.CUSTOMER1")).toEqual({ ok: true });
    expect(await markRead(graph.env, tokens.page, messenger, "m_CUSTOMER1")).toEqual({ ok: true });
    const typing = await fetch(`${graph.env.GRAPH_API_BASE}/${PAGE}/messages?appsecret_proof=${await hmacHex(graph.env.META_APP_SECRET, tokens.page)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.page}`, "content-type": "application/json" },
      body: JSON.stringify({ recipient: { id: PSID }, sender_action: "typing_on" }),
    });
    expect(typing.status).toBe(200);
    expect(failure(await send(whatsapp, text("fails"))).code).toBe(131026);
    sent(await send(whatsapp, text("passes")));
  });

  it("adds inbound media and templates over HTTP", async () => {
    const media = (await (await control("POST", "media", { product: "messenger", base64: btoa("hello"), mimeType: "text/plain" })).json()) as { id: string; url: string };
    const fetched = await fetchInboundMedia(graph.env, tokens.page, "messenger", { url: media.url });
    if (!fetched.ok) throw new Error(fetched.failure.message);
    expect(await fetched.response.text()).toBe("hello");

    expect((await control("POST", "templates", { wabaId: WABA, name: "flash_sale", language: "de", components: [{ type: "BODY", text: "Heute {{1}} Rabatt" }] })).status).toBe(201);
    sent(await send(whatsapp, { kind: "template", name: "flash_sale", language: "de", components: [{ type: "body", parameters: [{ type: "text", text: "20 %" }] }] }));
  });
});
