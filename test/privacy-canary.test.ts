/**
 * The canary scan: a user and contacts carrying unique marker values are erased — the user through
 * "delete my account", a contact of another workspace through its admin's erasure tool — the
 * scheduled run is triggered like the Cron Trigger does, and then every D1 table and the affected
 * Durable Objects' storage are dumped: no marker may remain anywhere.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import messengerText from "./fixtures/meta/messenger-text.json";
import { finishEmbeddedSignup, useGraphSimulator } from "./graph-simulator.ts";
import { PASSWORD, api, conversationOf, demoMember, postOk, seedDemoWorkspace, signUp, sql } from "./helpers.ts";
import { DAY, dumpConversationObject, dumpD1, runRetentionCron } from "./privacy-helpers.ts";
import { whatsappPost } from "./wa-builders.ts";

const graph = useGraphSimulator();

const digits = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b % 10).join("");

describe("canary scan", () => {
  it("finds no marker of an erased user or contact in any D1 table or Durable Object", async () => {
    const tag = digits(8);
    const markers = {
      userName: `Canaryuser${tag}`,
      email: `canary-${tag}@example.com`,
      phone: `+4915${tag}`,
      contactName: `Canarycontact${tag}`,
      contactPhone: `4917${tag}`,
      messageText: `canary-message-${tag}`,
      replyText: `canary-reply-${tag}`,
      psid: `49${tag}77`,
      messengerText: `canary-messenger-${tag}`,
    };

    // The user: a workspace of their own with a WhatsApp channel, a customer, an export, a consent.
    const user = await signUp({ name: markers.userName, email: markers.email, phone: markers.phone });
    expect((await finishEmbeddedSignup(graph, user)).status).toBe(201);
    const at = Date.now() - DAY;
    await postOk(
      whatsappPost([
        {
          contacts: [{ profile: { name: markers.contactName }, wa_id: markers.contactPhone }],
          messages: [{ from: markers.contactPhone, id: `wamid.CANARY_${tag}`, timestamp: String(Math.floor(at / 1000)), type: "text", text: { body: markers.messageText } }],
        },
        { message_echoes: [{ from: "15550001111", to: markers.contactPhone, id: `wamid.CANARY_ECHO_${tag}`, timestamp: String(Math.floor(at / 1000) + 5), type: "text", text: { body: markers.replyText } }] },
      ]),
    );
    await api("/consent", { as: user, method: "PUT", body: { analytics: true, preferences: false } });
    await api("/me/exports", { as: user, body: {} });
    await api("/me/privacy", { as: user, method: "PUT", body: { analyticsObjection: true } });
    const userConversation = conversationOf("whatsapp", markers.contactPhone);

    // A contact of another workspace (Messenger), erased by that workspace's admin.
    await seedDemoWorkspace();
    const admin = await demoMember("admin");
    const message = structuredClone(messengerText);
    message.entry[0]!.messaging[0]!.sender.id = markers.psid;
    message.entry[0]!.messaging[0]!.message.mid = `m_CANARY_${tag}`;
    message.entry[0]!.messaging[0]!.message.text = markers.messengerText;
    await postOk(message);
    const contactConversation = conversationOf("messenger", markers.psid);
    const before = await dumpD1();
    for (const marker of Object.values(markers)) expect(before + (await dumpConversationObject(userConversation)) + (await dumpConversationObject(contactConversation))).toContain(marker);

    const [contact] = (await api(`/workspaces/${admin.workspaceId}/privacy/contacts?q=${markers.psid}`, { as: admin })).body.contacts;
    expect((await api(`/workspaces/${admin.workspaceId}/privacy/contacts/${contact.id}/erasure`, { as: admin, body: {} })).status).toBe(200);
    expect((await api("/me/deletion", { as: user, body: { password: PASSWORD } })).status).toBe(202);
    // The customer writes again after the channel was disconnected: the webhook waits in quarantine.
    const late = await postOk(whatsappPost([{ contacts: [{ profile: { name: markers.contactName }, wa_id: markers.contactPhone }], messages: [{ from: markers.contactPhone, id: `wamid.CANARY_LATE_${tag}`, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: markers.messageText } }] }]));
    expect(late.quarantined).toBe(1);
    await runRetentionCron(Date.now() + 8 * DAY);

    const everything = [await dumpD1(), await dumpConversationObject(userConversation), await dumpConversationObject(contactConversation)].join("\n");
    const left = Object.entries(markers).filter(([, marker]) => everything.toLowerCase().includes(marker.toLowerCase()));
    expect(left).toEqual([]);
    // What remains is the ledger with its receipts, which name categories and counts only.
    const receipts = await sql<{ kind: string; receipt: string }>(`SELECT kind, receipt FROM rights_requests WHERE kind IN ('erasure', 'contact_erasure') AND status = 'completed'`);
    expect(receipts.map((r) => r.kind).sort()).toEqual(["contact_erasure", "erasure"]);
    expect(await env.DB.prepare(`SELECT count(*) AS n FROM users WHERE id = ?`).bind(user.userId).first()).toEqual({ n: 0 });
  });
});
