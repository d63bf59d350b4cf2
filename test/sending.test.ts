/**
 * Agents answering customers, end to end: the API → the conversation's outbox → the Graph API
 * simulator → Meta's status webhooks back through /webhooks/meta. Every send kind, the window edges,
 * idempotent retries, each failure class, and an outage mid-send that recovers with no duplicate.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { envelope, mText } from "../scripts/meta-simulator/payloads.ts";
import { SERVICE_WINDOW_MS } from "../workers/send-window.ts";
import { openSecret, sealSecret } from "../workers/vault/vault.ts";
import { dumpConversationObject, dumpD1 } from "./privacy-helpers.ts";
import { BASE, api, call, channelId, conversationOf, demoMember, postOk, postWebhook, seedDemoWorkspace, sql, stubOf, type Agent } from "./helpers.ts";
import { useGraphSimulator } from "./graph-simulator.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

const graph = useGraphSimulator({ webhookSink: async (body) => void (await postWebhook(body)), statusDelays: { sent: 0, delivered: 0, read: 0 } });
const PAGE = "300000000000001";
const IG = "17840000000000001";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let agent: Agent;
let n = 0;
const key = () => `key-${crypto.randomUUID()}`;

beforeAll(async () => {
  await seedDemoWorkspace();
  agent = await demoMember("agent");
});

/** The demo channels hold tokens the simulator knows, sealed in the vault as a real connection leaves them. */
beforeEach(async () => {
  const tokens = {
    whatsapp: graph.sim.mintToken({ type: "SYSTEM_USER" }).token,
    messenger: graph.sim.mintToken({ type: "PAGE", pageId: PAGE }).token,
    instagram: graph.sim.mintToken({ type: "PAGE", pageId: PAGE }).token,
  };
  for (const kind of ["whatsapp", "messenger", "instagram"] as const) {
    await sealSecret(env, { workspaceId: agent.workspaceId, channelId: channelId(kind), purpose: "access_token", plaintext: tokens[kind] });
  }
  await sql(`UPDATE channels SET status = 'active', health_problem = NULL, send_paused_until = NULL`);
});

async function openToken(channel: string): Promise<string> {
  const opened = await openSecret(env, { workspaceId: agent.workspaceId, channelId: channel, purpose: "access_token" });
  if (!opened.ok) throw new Error(`no token for ${channel}: ${opened.error}`);
  return opened.plaintext;
}

async function whatsappConversation(agoMs = 60_000): Promise<{ id: string; customer: string; inboundId: string }> {
  const customer = `1555500${String(++n).padStart(4, "0")}`;
  const inboundId = `wamid.SEND_IN_${n}`;
  await postOk(whatsappPost([inbound(customer, inboundId, Date.now() - agoMs)]));
  return { id: conversationOf("whatsapp", customer), customer, inboundId };
}

async function messagingConversation(product: "messenger" | "instagram", agoMs = 60_000): Promise<{ id: string; customer: string; inboundId: string }> {
  const customer = `${product === "messenger" ? 40000 : 50000}000000${String(++n).padStart(4, "0")}`;
  const inboundId = `m_SEND_IN_${n}`;
  const accountId = product === "messenger" ? PAGE : IG;
  await postOk(envelope(product, [mText({ product, accountId, customerId: customer, ts: Date.now() - agoMs }, inboundId, "hello")]));
  return { id: conversationOf(product, customer), customer, inboundId };
}

const send = (id: string, body: Record<string, unknown>) => api(`/workspaces/${agent.workspaceId}/conversations/${id}/messages`, { as: agent, body });
const messages = async (id: string) => (await api(`/workspaces/${agent.workspaceId}/conversations/${id}/messages?limit=200`, { as: agent })).body.messages as any[];
const byKey = async (id: string, k: string) => (await messages(id)).find((m) => m.idempotencyKey === k);
/**
 * The outbox's alarm, now, as if every retry delay had passed. A send arms the alarm for "now", so
 * its first attempt may already have run by itself; either way each call makes at most one round.
 */
async function deliver(id: string): Promise<void> {
  await runInDurableObject(stubOf(id), (_, state) => state.storage.sql.exec(`UPDATE outbox SET next_at = 0`));
  await attempt(id);
}
/**
 * Runs the alarm now if it is still scheduled, and waits until its round is over: the next send is not
 * due before the round began, and D1 has what the object has. (The alarm a send arms may already be running by itself.)
 */
async function attempt(id: string): Promise<void> {
  const round = Date.now();
  await runDurableObjectAlarm(stubOf(id));
  await vi.waitFor(
    async () => {
      const [due, rev] = await runInDurableObject(stubOf(id), (_, state) => [
        // Sends leave in order: the round is over when the head is gone or waits for a later one.
        state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM (SELECT next_at FROM outbox ORDER BY seq LIMIT 1) WHERE next_at <= ?`, round).one().n,
        state.storage.sql.exec<{ rev: number }>(`SELECT rev FROM conversation`).one().rev,
      ]);
      expect(due).toBe(0);
      expect(await sql(`SELECT rev FROM conversations WHERE id = ?`, id)).toEqual([{ rev }]);
    },
    { timeout: 10_000, interval: 50 },
  );
}
/** The composer's upload: multipart, straight to Meta through the Worker. */
function uploadFile(id: string, file: File, mediaType: string): Promise<Response> {
  const form = new FormData();
  form.set("file", file);
  form.set("mediaType", mediaType);
  return call(
    new Request(`${BASE}/api/workspaces/${agent.workspaceId}/conversations/${id}/media`, {
      method: "POST",
      headers: { cookie: agent.cookie, "x-csrf-token": agent.csrf, origin: BASE },
      body: form,
    }),
  );
}

/** Every call Meta received whose JSON body contains `text` (refused ones included). */
const callsWith = (text: string) => graph.requests.filter((r) => r.method === "POST" && r.body.includes(text));
const sendsTo = (predicate: (body: any) => boolean) => graph.sim.snapshot().sends.filter((s) => s.externalId && predicate(s.body));

describe("sending on WhatsApp", () => {
  it("answers pending at once, becomes sent with Meta's id, then follows Meta's status webhooks to read", async () => {
    const { id, customer } = await whatsappConversation();
    const k = key();
    const accepted = await send(id, { idempotencyKey: k, kind: "text", text: "Your parcel left today 📦", previewUrl: true });
    expect(accepted.status).toBe(202);
    expect(accepted.body.message).toMatchObject({ status: "pending", direction: "out", text: "Your parcel left today 📦", sentBy: agent.userId, idempotencyKey: k });
    expect(accepted.body.message.externalId).toBe(`out:${k}`);

    await deliver(id);
    const sent = await byKey(id, k);
    expect(sent.status).toBe("sent");
    expect(sent.externalId).toMatch(/^wamid\./);
    expect(graph.sim.snapshot().sends.at(-1)!.body).toMatchObject({ to: customer, type: "text", text: { body: "Your parcel left today 📦", preview_url: true } });
    // D1 has the id too, before any status webhook.
    expect(await sql(`SELECT status FROM messages WHERE external_id = ?`, sent.externalId)).toEqual([{ status: "sent" }]);

    await graph.sim.flushStatuses({ all: true });
    expect((await byKey(id, k)).status).toBe("read");

    // The token was opened for the send and kept nowhere: not in D1, not in the conversation's storage.
    const token = await openToken(channelId("whatsapp"));
    expect(await dumpD1()).not.toContain(token);
    expect(await dumpConversationObject(id)).not.toContain(token);
    expect(graph.requests.every((r) => !r.url.includes(token))).toBe(true);
  });

  it("never sends twice for one idempotency key, whether retried before or after Meta answered", async () => {
    const { id } = await whatsappConversation();
    const k = key();
    const first = await send(id, { idempotencyKey: k, kind: "text", text: "once" });
    const again = await send(id, { idempotencyKey: k, kind: "text", text: "once" });
    expect(again.status).toBe(202);
    expect(again.body.message.seq).toBe(first.body.message.seq);
    await deliver(id);
    const afterSent = await send(id, { idempotencyKey: k, kind: "text", text: "once" });
    expect(afterSent.body.message.status).toBe("sent");
    expect(sendsTo((b) => b.text?.body === "once")).toHaveLength(1);
    expect((await messages(id)).filter((m) => m.idempotencyKey === k)).toHaveLength(1);
  });

  it("quotes the message replied to, sends media by id and templates with their parameters", async () => {
    const { id, inboundId } = await whatsappConversation();
    await send(id, { idempotencyKey: key(), kind: "text", text: "About this:", replyTo: inboundId });
    const upload = await uploadFile(id, new File([new Uint8Array(2048).fill(7)], "photo.jpg", { type: "image/jpeg" }), "image");
    expect(upload.status).toBe(201);
    const { mediaId } = await upload.json<{ mediaId: string }>();
    await send(id, { idempotencyKey: key(), kind: "media", mediaType: "image", mediaId, caption: "Your receipt" });
    const templates = await api(`/workspaces/${agent.workspaceId}/channels/${channelId("whatsapp")}/templates`, { as: agent });
    expect(templates.status).toBe(200);
    expect(templates.body.templates).toContainEqual(expect.objectContaining({ name: "order_update", language: "es", status: "APPROVED" }));
    await send(id, {
      idempotencyKey: key(),
      kind: "template",
      name: "order_update",
      language: "en_US",
      components: [{ type: "body", parameters: [{ type: "text", text: "Ana" }, { type: "text", text: "#1042" }] }],
    });
    await deliver(id);
    const bodies = graph.sim.snapshot().sends.slice(-3).map((s) => s.body as any);
    expect(bodies[0]).toMatchObject({ type: "text", context: { message_id: inboundId } });
    expect(bodies[1]).toMatchObject({ type: "image", image: { id: mediaId, caption: "Your receipt" } });
    expect(bodies[2]).toMatchObject({ type: "template", template: { name: "order_update", language: { code: "en_US" } } });
    const shown = (await messages(id)).slice(-3);
    expect(shown.map((m) => [m.type, m.status])).toEqual([
      ["text", "sent"],
      ["image", "sent"],
      ["template", "sent"],
    ]);
    expect(shown[2].text).toBe("Template order_update (en_US): Ana · #1042");
  });

  it("reacts to a customer's message and removes the reaction", async () => {
    const { id, inboundId } = await whatsappConversation();
    const reacted = await send(id, { idempotencyKey: key(), kind: "reaction", targetExternalId: inboundId, emoji: "👍" });
    expect(reacted.status).toBe(200);
    expect(reacted.body.message.reactions).toEqual([expect.objectContaining({ actor: "out", emoji: "👍" })]);
    expect(graph.sim.snapshot().sends.at(-1)!.body).toMatchObject({ type: "reaction", reaction: { message_id: inboundId, emoji: "👍" } });
    const removed = await send(id, { idempotencyKey: key(), kind: "reaction", targetExternalId: inboundId, emoji: null });
    expect(removed.body.message.reactions).toEqual([]);
  });

  it("marks the customer's messages read at Meta when an agent opens the conversation", async () => {
    const { id, customer } = await whatsappConversation();
    await postOk(whatsappPost([inbound(customer, `wamid.LATER_${n}`, Date.now())]));
    const read = await api(`/workspaces/${agent.workspaceId}/conversations/${id}/read`, { as: agent, body: {} });
    expect(read.body).toEqual({ unreadCount: 0, meta: { ok: true, message: null } });
    expect(graph.sim.snapshot().sends.at(-1)).toMatchObject({ kind: "read", body: { status: "read", message_id: `wamid.LATER_${n}` } });
  });

  it("streams a customer's media from Meta to the member, storing nothing", async () => {
    const { id, customer } = await whatsappConversation();
    const upload = await uploadFile(id, new File([new TextEncoder().encode("%PDF-1.7 invoice")], "invoice.pdf", { type: "application/pdf" }), "document");
    const { mediaId } = await upload.json<{ mediaId: string }>();
    const body = whatsappPost([inbound(customer, `wamid.DOC_${n}`, Date.now())]);
    const message = (body.entry[0]!.changes[0]!.value as unknown as { messages: Record<string, unknown>[] }).messages[0]!;
    Object.assign(message, { type: "document", text: undefined, document: { id: mediaId, mime_type: "application/pdf", sha256: "x", filename: "invoice.pdf" } });
    await postOk(body);
    const response = await call(
      new Request(`${BASE}/api/workspaces/${agent.workspaceId}/conversations/${id}/messages/wamid.DOC_${n}/media`, { headers: { cookie: agent.cookie } }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    expect(await response.text()).toBe("%PDF-1.7 invoice");
    const missing = await api(`/workspaces/${agent.workspaceId}/conversations/${id}/messages/wamid.NOPE/media`, { as: agent });
    expect(missing.status).toBe(404);
  });
});

describe("the send window", () => {
  it("lets free-form text through just inside 24 h and only templates just outside, saying so", async () => {
    const inside = await whatsappConversation(SERVICE_WINDOW_MS - 60_000);
    expect((await send(inside.id, { idempotencyKey: key(), kind: "text", text: "in time" })).status).toBe(202);
    const outside = await whatsappConversation(SERVICE_WINDOW_MS + 60_000);
    const refused = await send(outside.id, { idempotencyKey: key(), kind: "text", text: "too late" });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe("window_closed");
    expect(refused.body.error.message).toContain("template");
    expect((await messages(outside.id)).filter((m) => m.direction === "out")).toEqual([]);
    const template = await send(outside.id, { idempotencyKey: key(), kind: "template", name: "hello_world", language: "en_US" });
    expect(template.status).toBe(202);
  });

  it("on Messenger and Instagram: RESPONSE within 24 h, HUMAN_AGENT up to 7 days when a person answers, nothing after", async () => {
    const fresh = await messagingConversation("messenger", HOUR);
    await send(fresh.id, { idempotencyKey: key(), kind: "text", text: "within a day" });
    await deliver(fresh.id);
    expect(graph.sim.snapshot().sends.at(-1)!.body).toMatchObject({ recipient: { id: fresh.customer }, messaging_type: "RESPONSE", message: { text: "within a day" } });

    const older = await messagingConversation("instagram", 3 * DAY);
    const untagged = await send(older.id, { idempotencyKey: key(), kind: "text", text: "late" });
    expect(untagged.status).toBe(422);
    expect(untagged.body.error.code).toBe("human_agent_required");
    expect((await send(older.id, { idempotencyKey: key(), kind: "text", text: "a person here", humanAgent: true })).status).toBe(202);
    await deliver(older.id);
    expect(graph.sim.snapshot().sends.at(-1)!.body).toMatchObject({ messaging_type: "MESSAGE_TAG", tag: "HUMAN_AGENT", message: { text: "a person here" } });

    const stale = await messagingConversation("messenger", 8 * DAY);
    const closed = await send(stale.id, { idempotencyKey: key(), kind: "text", text: "hello?", humanAgent: true });
    expect(closed.status).toBe(422);
    expect(closed.body.error.code).toBe("window_closed");
    const template = await send(fresh.id, { idempotencyKey: key(), kind: "template", name: "hello_world", language: "en_US" });
    expect(template.body.error.code).toBe("template_not_supported");
    // Messenger's own limit is checked before anything is queued.
    const long = await send(fresh.id, { idempotencyKey: key(), kind: "text", text: "x".repeat(2001) });
    expect(long.status).toBe(422);
    expect(long.body.error).toEqual({ code: "content_not_supported", message: "Messenger messages are limited to 2000 characters." });
  });

  it("sends Messenger attachments uploaded to Meta and quotes the message replied to", async () => {
    const { id, inboundId } = await messagingConversation("messenger");
    const upload = await uploadFile(id, new File([new Uint8Array(4096).fill(1)], "map.png", { type: "image/png" }), "image");
    expect(upload.status).toBe(201);
    const { mediaId } = await upload.json<{ mediaId: string }>();
    await send(id, { idempotencyKey: key(), kind: "media", mediaType: "image", mediaId });
    await send(id, { idempotencyKey: key(), kind: "text", text: "Here is the map", replyTo: inboundId });
    await deliver(id);
    const [media, text] = graph.sim.snapshot().sends.slice(-2).map((s) => s.body as any);
    expect(media).toMatchObject({ messaging_type: "RESPONSE", message: { attachment: { type: "image", payload: { attachment_id: mediaId } } } });
    expect(text).toMatchObject({ message: { text: "Here is the map" }, reply_to: { mid: inboundId } });
    expect((await messages(id)).filter((m) => m.direction === "out").map((m) => [m.type, m.status])).toEqual([
      ["image", "sent"],
      ["text", "sent"],
    ]);
  });

  it("reacts and marks seen on Instagram through the Page", async () => {
    const { id, inboundId } = await messagingConversation("instagram");
    const reacted = await send(id, { idempotencyKey: key(), kind: "reaction", targetExternalId: inboundId, emoji: "❤️" });
    expect(reacted.status).toBe(200);
    expect(graph.sim.snapshot().sends.at(-1)).toMatchObject({ kind: "sender_action", body: { sender_action: "react", payload: { message_id: inboundId } } });
    await api(`/workspaces/${agent.workspaceId}/conversations/${id}/read`, { as: agent, body: {} });
    expect(graph.sim.snapshot().sends.at(-1)).toMatchObject({ kind: "sender_action", body: { sender_action: "mark_seen" } });
  });
});

describe("failures", () => {
  it("ends permanent refusals as failed with Meta's code and what to do, and never retries them", async () => {
    for (const code of [131047, 131026, 100, 368]) {
      const { id } = await whatsappConversation();
      const k = key();
      graph.sim.failSends({ code });
      await send(id, { idempotencyKey: k, kind: "text", text: `refused ${code}` });
      await deliver(id);
      const failed = await byKey(id, k);
      expect(failed.status, String(code)).toBe("failed");
      expect(failed.error.code).toBe(code);
      expect(failed.error.title.length).toBeGreaterThan(20);
      await deliver(id);
      expect(callsWith(`refused ${code}`)).toHaveLength(1);
    }
  });

  it("marks the channel needs-reconnection on 190, and then refuses sends visibly before calling Meta", async () => {
    const { id } = await whatsappConversation();
    const k = key();
    graph.sim.failSends({ code: 190 });
    await send(id, { idempotencyKey: k, kind: "text", text: "token dies" });
    await deliver(id);
    expect((await byKey(id, k)).status).toBe("failed");
    expect(await sql(`SELECT status FROM channels WHERE id = ?`, channelId("whatsapp"))).toEqual([{ status: "needs_reconnection" }]);
    const calls = graph.sim.snapshot().sends.length;
    const blocked = await send(id, { idempotencyKey: key(), kind: "text", text: "after" });
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.code).toBe("channel_needs_reconnection");
    expect(graph.sim.snapshot().sends).toHaveLength(calls);
  });

  it("retries rate limits, 5xx and network failures with backoff, showing why it waits, then sends once", async () => {
    for (const [i, fault] of [{ code: 130429 }, { code: 131056 }, { code: 80007 }, { code: 2, status: 503 }, { code: 131000, status: 500 }, { code: 0, network: true }].entries()) {
      const { id } = await whatsappConversation();
      const k = key();
      graph.sim.failSends(fault as never);
      await send(id, { idempotencyKey: k, kind: "text", text: `retry number ${i}` });
      await attempt(id);
      const waiting = await byKey(id, k);
      expect(waiting.status, JSON.stringify(fault)).toBe("pending");
      expect(waiting.error).not.toBeNull();
      const [row] = await runInDurableObject(stubOf(id), (_, state) => state.storage.sql.exec<{ attempts: number; next_at: number }>(`SELECT attempts, next_at FROM outbox`).toArray());
      expect(row!.attempts).toBe(1);
      expect(row!.next_at).toBeGreaterThan(Date.now());
      await sql(`UPDATE channels SET send_paused_until = NULL`);
      await deliver(id);
      const sent = await byKey(id, k);
      expect(sent.status).toBe("sent");
      expect(sent.error).toBeNull();
      expect(callsWith(`retry number ${i}`)).toHaveLength(2);
    }
  });

  it("paces the whole number after a throughput limit: other conversations wait too", async () => {
    const first = await whatsappConversation();
    const second = await whatsappConversation();
    graph.sim.failSends({ code: 130429 });
    await send(first.id, { idempotencyKey: key(), kind: "text", text: "paced 1" });
    await attempt(first.id);
    const [paused] = await sql<{ send_paused_until: number }>(`SELECT send_paused_until FROM channels WHERE id = ?`, channelId("whatsapp"));
    expect(paused!.send_paused_until).toBeGreaterThan(Date.now());
    const k = key();
    await send(second.id, { idempotencyKey: k, kind: "text", text: "paced 2" });
    await attempt(second.id);
    expect((await byKey(second.id, k)).status).toBe("pending");
    expect(sendsTo((b) => b.text?.body === "paced 2")).toHaveLength(0);
  });

  it("survives a Meta outage mid-send: nothing lost, nothing sent twice, order kept", async () => {
    const { id } = await whatsappConversation();
    const keys = [key(), key(), key()];
    graph.sim.setOutage("refused");
    for (const [i, k] of keys.entries()) await send(id, { idempotencyKey: k, kind: "text", text: `outage ${i}` });
    await deliver(id);
    expect((await messages(id)).filter((m) => m.direction === "out").map((m) => m.status)).toEqual(["pending", "pending", "pending"]);
    graph.sim.setOutage(null);
    await deliver(id);
    const out = (await messages(id)).filter((m) => m.direction === "out");
    expect(out.map((m) => [m.text, m.status])).toEqual([
      ["outage 0", "sent"],
      ["outage 1", "sent"],
      ["outage 2", "sent"],
    ]);
    const delivered = sendsTo((b) => String(b.text?.body).startsWith("outage "));
    expect(delivered.map((s) => (s.body as any).text.body)).toEqual(["outage 0", "outage 1", "outage 2"]);
  });

  it("refuses bad input with 400 naming the field, queueing nothing", async () => {
    const { id } = await whatsappConversation();
    const cases: [Record<string, unknown>, string][] = [
      [{ kind: "text", text: "no key" }, "idempotencyKey"],
      [{ idempotencyKey: "short", kind: "text", text: "x" }, "idempotencyKey"],
      [{ idempotencyKey: key(), kind: "text", text: "   " }, "text"],
      [{ idempotencyKey: key(), kind: "text", text: "x".repeat(4097) }, "text"],
      [{ idempotencyKey: key(), kind: "media", mediaType: "audio", mediaId: "123", caption: "no" }, "caption"],
      [{ idempotencyKey: key(), kind: "fax" }, "kind"],
    ];
    for (const [body, named] of cases) {
      const response = await send(id, body);
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(response.body.error.message).toContain(named);
    }
    const unknownReply = await send(id, { idempotencyKey: key(), kind: "text", text: "x", replyTo: "wamid.NOT_HERE" });
    expect(unknownReply.status).toBe(422);
    expect((await messages(id)).filter((m) => m.direction === "out")).toEqual([]);
  });
});
