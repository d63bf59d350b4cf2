/**
 * Every Meta fixture goes through the real HTTP path (signature, parse, routing, Durable Object,
 * D1 mirror) and what the API then serves is checked field by field.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { normalizeWebhook } from "../workers/meta/normalize.ts";
import { openSecret, sealSecret } from "../workers/vault/vault.ts";
import { apiGet, conversationOf, demoMember, messagesIn, postOk, seedDemoWorkspace, type Agent } from "./helpers.ts";

const fixtures = Object.fromEntries(
  Object.entries(import.meta.glob<string>("./fixtures/meta/*.json", { query: "?raw", import: "default", eager: true }))
    .filter(([path]) => !path.includes("/meta-"))
    .map(([path, raw]) => [path.replace(/^.*\//, "").replace(/\.json$/, ""), raw]),
);

/** Posted last: it revokes the WhatsApp channel the other fixtures use. */
const REVOCATION = "whatsapp-account-update-partner-app-uninstalled";

const WA = () => conversationOf("whatsapp", "15550002222");
const IG = () => conversationOf("instagram", "5000000000000001");
const FB = () => conversationOf("messenger", "4000000000000001");

let member: Agent;

async function apiMessages(conversation: string) {
  const { status, body } = await apiGet(`/workspaces/ws_demo/conversations/${conversation}/messages?limit=200`, member);
  expect(status).toBe(200);
  return body.messages as any[];
}

async function message(conversation: string, externalId: string) {
  const found = (await apiMessages(conversation)).find((m) => m.externalId === externalId);
  expect(found, `message ${externalId}`).toBeDefined();
  return found;
}

describe("ingesting every fixture", () => {
  beforeAll(async () => {
    await seedDemoWorkspace();
    member = await demoMember();
    for (const [name, raw] of Object.entries(fixtures)) {
      if (name === REVOCATION) continue;
      const report = await postOk(raw);
      expect(report.quarantined, name).toBe(0);
    }
  });

  it("covers the fixture set", () => {
    expect(Object.keys(fixtures).length).toBeGreaterThanOrEqual(60);
  });

  it("stores each message exactly as normalised, with Meta's id, direction and timestamp", async () => {
    for (const [name, raw] of Object.entries(fixtures)) {
      for (const item of normalizeWebhook(JSON.parse(raw))) {
        if (item.kind !== "conversation" || item.change.kind !== "message") continue;
        const conversation = conversationOf(item.route.product, item.customer.id);
        const stored = await message(conversation, item.change.message.externalId);
        expect(stored.content, name).toEqual(stored.deleted ? expect.anything() : item.change.message);
        expect(stored).toMatchObject({
          externalId: item.change.message.externalId,
          direction: item.change.message.direction,
          type: item.change.message.type,
          timestamp: item.change.message.timestamp,
          text: item.change.message.text,
        });
      }
    }
  });

  it("serves WhatsApp kinds with their fields", async () => {
    const wa = WA();
    expect(await message(wa, "wamid.FAKE_IN_000001")).toMatchObject({
      direction: "in",
      type: "text",
      text: "Does it come in another color?",
      timestamp: 1767225600000,
      status: null,
      reactions: [],
      deleted: false,
    });
    expect((await message(wa, "wamid.FAKE_IN_000002")).text).toBe(
      "مرحبا، هل المنتج متوفر؟ \u200f👍🏽 café äöå 👨‍👩‍👧 https://example.com/p/42?x=1&y=2 שלום",
    );
    expect((await message(wa, "wamid.FAKE_IN_000003")).content.context).toMatchObject({ replyTo: "wamid.FAKE_OUT_000001" });
    expect((await message(wa, "wamid.FAKE_IN_000004")).content.context).toMatchObject({ frequentlyForwarded: true });
    expect((await message(wa, "wamid.FAKE_IN_000005")).content.referral).toMatchObject({
      ctwaClid: "FAKE_CTWA_CLID_0001",
      sourceUrl: "https://fb.me/FAKEAD01",
      headline: "Chat with us",
    });
    expect(await message(wa, "wamid.FAKE_IN_000006")).toMatchObject({
      type: "image",
      text: "Is this the right part?",
      content: { media: { id: "900000000000001", mimeType: "image/jpeg" } },
    });
    expect((await message(wa, "wamid.FAKE_IN_000007")).content.media).toMatchObject({ voice: true, id: "900000000000002" });
    expect((await message(wa, "wamid.FAKE_IN_000008")).content).toMatchObject({ type: "video", context: { forwarded: true } });
    expect((await message(wa, "wamid.FAKE_IN_000009")).content.media).toMatchObject({ filename: "receipt 2026–01.pdf" });
    expect((await message(wa, "wamid.FAKE_IN_000010")).content.media).toMatchObject({ animated: true });
    expect((await message(wa, "wamid.FAKE_IN_000011")).content.location).toMatchObject({
      latitude: 37.44221496582,
      longitude: -122.16165924072,
      name: "Fake Coffee",
    });
    expect((await message(wa, "wamid.FAKE_IN_000012")).content.contacts[0]).toMatchObject({ name: "Barbara J. Johnson" });
    expect((await message(wa, "wamid.FAKE_IN_000013")).content.reply).toMatchObject({ kind: "button_reply", id: "cancel-button" });
    expect((await message(wa, "wamid.FAKE_IN_000014")).content.reply).toMatchObject({
      kind: "list_reply",
      description: "Next Day to 2 Days",
    });
    expect((await message(wa, "wamid.FAKE_IN_000015")).content.reply).toMatchObject({ kind: "flow_reply", id: "FAKE_FLOW_TOKEN_1" });
    expect((await message(wa, "wamid.FAKE_IN_000016")).content.reply).toMatchObject({ kind: "template_button", payload: "Unsubscribe" });
    expect((await message(wa, "wamid.FAKE_IN_000020")).content.order.items).toHaveLength(2);
    expect((await message(wa, "wamid.FAKE_IN_000021")).content.system).toMatchObject({ newWaId: "15550008888" });
    expect(await message(wa, "wamid.FAKE_IN_000022")).toMatchObject({
      type: "unsupported",
      content: { unsupportedType: "poll_update", errors: [{ code: 131051 }] },
    });
    expect(await message(wa, "wamid.FAKE_IN_000023")).toMatchObject({ type: "interactive", content: { reply: null } });
    expect(await message(wa, "wamid.FAKE_ECHO_000001")).toMatchObject({ direction: "out", type: "text" });
  });

  it("parks WhatsApp statuses and reactions for a business message until it arrives, then applies them", async () => {
    const parked = await messagesIn(WA());
    expect(parked.find((m) => m.content.externalId === "wamid.FAKE_OUT_000001")).toBeUndefined();
    await postOk({
      object: "whatsapp_business_account",
      entry: [
        {
          id: "100000000000001",
          changes: [
            {
              field: "smb_message_echoes",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550001111", phone_number_id: "200000000000001" },
                message_echoes: [
                  {
                    from: "15550001111",
                    to: "15550002222",
                    id: "wamid.FAKE_OUT_000001",
                    timestamp: "1767225500",
                    type: "text",
                    text: { body: "Our summer catalogue" },
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    // sent (parked) applies; 👍 at :00 is removed by the empty-emoji reaction at :31.
    expect(await message(WA(), "wamid.FAKE_OUT_000001")).toMatchObject({ direction: "out", status: "sent", reactions: [] });
  });

  it("keeps a failed status with Meta's code and details", async () => {
    await postOk(
      fixtures["whatsapp-smb-message-echoes"]!.replace("FAKE_ECHO_000001", "FAKE_OUT_000008").replace("1767225900", "1767225599"),
    );
    expect(await message(WA(), "wamid.FAKE_OUT_000008")).toMatchObject({
      status: "failed",
      error: { code: 131047, title: "Re-engagement message", details: expect.stringContaining("24 hours") },
    });
  });

  it("records account-level webhooks of connected accounts", async () => {
    const { results } = await env.DB.prepare(`SELECT field, event FROM channel_events ORDER BY field, event`).all();
    expect(results).toEqual([
      { field: "message_template_status_update", event: "REJECTED" },
      { field: "messages", event: "errors" },
      { field: "messages", event: "errors" },
    ]);
  });

  it("serves Instagram kinds, with reactions, seen and deletion applied to their target", async () => {
    const ig = IG();
    expect(await message(ig, "FAKE_IG_MID_0001")).toMatchObject({ type: "text", text: "Hi! Do you ship to Canada? 🇨🇦" });
    expect((await message(ig, "FAKE_IG_MID_0002")).content.attachments).toHaveLength(2);
    expect(await message(ig, "FAKE_IG_MID_0003")).toMatchObject({ type: "story_mention" });
    expect((await message(ig, "FAKE_IG_MID_0004")).content.context.story).toMatchObject({ id: "18000000000000001" });
    expect((await message(ig, "FAKE_IG_MID_0005")).content.context).toMatchObject({ replyTo: "FAKE_IG_MID_0001" });
    // The echo was reacted to with ❤️ and later unreacted; the customer has seen it.
    expect(await message(ig, "FAKE_IG_MID_0006")).toMatchObject({ direction: "out", status: "read", reactions: [] });
    expect(await message(ig, "FAKE_IG_MID_0007")).toMatchObject({ type: "unsupported" });
    expect((await message(ig, "FAKE_IG_MID_0008")).content.reply).toMatchObject({ kind: "quick_reply", payload: "TRACK_ORDER" });
    expect((await message(ig, "FAKE_IG_MID_0009")).content.referral).toMatchObject({ adId: "700000000000002" });
    expect((await message(ig, "FAKE_IG_MID_0010")).content.reply).toMatchObject({ kind: "postback", payload: "ICEBREAKER_HOURS" });
    expect(await message(ig, "FAKE_IG_MID_0011")).toMatchObject({ type: "post", content: { attachments: [{ type: "ig_post" }] } });
    expect(await message(ig, "FAKE_IG_MID_0012")).toMatchObject({ type: "reel" });
    const referral = (await apiMessages(ig)).find((m) => m.type === "referral");
    expect(referral.content.referral).toMatchObject({ ref: "qr_store_entrance" });
  });

  it("serves Messenger kinds, with delivery and read watermarks applied to the business's messages", async () => {
    const fb = FB();
    expect(await message(fb, "m_FAKE_MID_0001")).toMatchObject({ type: "text", text: "hello, world!" });
    expect((await message(fb, "m_FAKE_MID_0003")).content.reply).toMatchObject({ kind: "quick_reply", payload: "COLOR_RED" });
    expect((await message(fb, "m_FAKE_MID_0004")).content.context).toMatchObject({ replyTo: "m_FAKE_MID_ECHO_0001" });
    expect(await message(fb, "m_FAKE_MID_0005")).toMatchObject({ type: "image" });
    expect(await message(fb, "m_FAKE_MID_0006")).toMatchObject({ type: "sticker", content: { attachments: [{ type: "sticker" }] } });
    expect(await message(fb, "m_FAKE_MID_0007")).toMatchObject({ type: "fallback", text: "https://example.com/article" });
    expect((await message(fb, "m_FAKE_MID_0008")).content).toMatchObject({ type: "postback", reply: { payload: "GET_STARTED" } });
    expect(await message(fb, "m_FAKE_MID_0012")).toMatchObject({ text: "still there?", content: { standby: true } });
    expect(await message(fb, "m_FAKE_MID_ECHO_0001")).toMatchObject({
      direction: "out",
      status: "read",
      reactions: [],
      content: { echo: { appId: "600000000000001", metadata: "agent:42" } },
    });
  });

  it("mirrors every conversation, contact and message to D1", async () => {
    for (const conversation of [WA(), IG(), FB()]) {
      const inDo = await messagesIn(conversation);
      const row = await env.DB.prepare(`SELECT message_count, rev, content_rev FROM conversations WHERE id = ?`)
        .bind(conversation)
        .first<{ message_count: number; rev: number; content_rev: number }>();
      expect(row?.message_count).toBe(inDo.length);
      const { results } = await env.DB.prepare(
        `SELECT external_id, status, deleted_at FROM messages WHERE conversation_id = ? ORDER BY timestamp, seq`,
      )
        .bind(conversation)
        .all<{ external_id: string; status: string | null; deleted_at: number | null }>();
      expect(results).toEqual(
        inDo.map((m) => ({ external_id: m.content.externalId, status: m.status, deleted_at: m.deletedAt })),
      );
    }
    const contact = await env.DB.prepare(`SELECT identity, wa_id, name FROM contacts WHERE id = ?`)
      .bind(`ct_${WA()}`)
      .first();
    expect(contact).toMatchObject({ identity: "15550002222", wa_id: "15550002222" });
  });

  it("revokes the WABA's channels at once when WhatsApp says our app was uninstalled, and quarantines what follows", async () => {
    await sealSecret(env, { workspaceId: "ws_demo", channelId: "ch_demo_wa_1", purpose: "access_token", plaintext: "EAAG-revoked-token" });
    expect(await postOk(fixtures[REVOCATION]!)).toMatchObject({ accountEvents: 1, quarantined: 0 });
    const channel = await env.DB.prepare(`SELECT status, disconnected_at FROM channels WHERE id = 'ch_demo_wa_1'`).first<{ status: string }>();
    expect(channel?.status).toBe("revoked");
    expect(await openSecret(env, { workspaceId: "ws_demo", channelId: "ch_demo_wa_1", purpose: "access_token" })).toEqual({ ok: false, error: "not_found" });
    const audit = await env.DB.prepare(`SELECT action, target_id FROM audit_log WHERE action = 'channel.revoked_by_meta'`).first();
    expect(audit).toEqual({ action: "channel.revoked_by_meta", target_id: "ch_demo_wa_1" });
    // The other number of another WABA is untouched; this one's webhooks are no longer ingested.
    const other = await env.DB.prepare(`SELECT status FROM channels WHERE id = 'ch_demo_wa_2'`).first();
    expect(other).toEqual({ status: "active" });
    expect(await postOk(fixtures["whatsapp-text"]!.replace("FAKE_IN_000001", "FAKE_IN_AFTER_REVOKE"))).toMatchObject({ stored: 0, quarantined: 1 });
  });
});
