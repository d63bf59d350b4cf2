/**
 * A workspace answering its own customers' requests: find a contact across channels, export
 * everything about them, restrict them (hidden from agents, flagged for the send route), erase them
 * from D1 and their Durable Object — each audited and recorded with a receipt.
 */
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isContactRestricted } from "../workers/privacy/contacts.ts";
import messengerText from "./fixtures/meta/messenger-text.json";
import { api, conversationOf, demoMember, postOk, seedDemoWorkspace, signUp, sql, type Agent } from "./helpers.ts";
import { dumpConversationObject, dumpD1 } from "./privacy-helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

let WA_ID: string;
const PSID = messengerText.entry[0]!.messaging[0]!.sender.id;
let admin: Agent;
let agent: Agent;

const contacts = (as: Agent, q: string) => api(`/workspaces/${as.workspaceId}/privacy/contacts?q=${encodeURIComponent(q)}`, { as });
const contactPath = (as: Agent, id: string, action: string) => `/workspaces/${as.workspaceId}/privacy/contacts/${id}/${action}`;

beforeAll(async () => {
  await seedDemoWorkspace();
  admin = await demoMember("admin");
  agent = await demoMember("agent");
  await postOk(messengerText);
});

// A customer of their own per test: a Durable Object keeps what it stored across tests of a file.
beforeEach(async () => {
  await sql(`DELETE FROM rights_requests`);
  WA_ID = `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
  await postOk(whatsappPost([inbound(WA_ID, `wamid.CONTACT_${WA_ID}`, Date.UTC(2026, 6, 1), `contact-marker-${WA_ID}`)]));
});

describe("contact tools", () => {
  it("finds a contact across channels by name, wa_id or Meta id, for owners and admins only", async () => {
    expect((await contacts(agent, "Customer")).status).toBe(403);
    const byName = await contacts(admin, `Customer ${WA_ID.slice(0, 9)}`);
    expect(byName.status).toBe(200);
    expect(byName.body.contacts).toEqual([expect.objectContaining({ waId: WA_ID, channelKind: "whatsapp", restricted: false })]);
    expect((await contacts(admin, WA_ID)).body.contacts).toHaveLength(1);
    expect((await contacts(admin, PSID)).body.contacts).toEqual([expect.objectContaining({ identity: PSID, channelKind: "messenger" })]);
    expect((await contacts(admin, "%%")).body.contacts).toEqual([]);
    expect((await contacts(admin, "x")).status).toBe(400);
    // Another workspace sees none of them.
    const stranger = await signUp();
    expect((await contacts(stranger, WA_ID)).body.contacts).toEqual([]);
  });

  it("exports everything about a contact: profile, conversation and messages; audited", async () => {
    const [contact] = (await contacts(admin, WA_ID)).body.contacts;
    const { status, body } = await api(contactPath(admin, contact.id, "export"), { as: admin });
    expect(status).toBe(200);
    expect(body).toMatchObject({ format: "wechatting-contact-export/1", contact: { waId: WA_ID }, conversation: { id: contact.conversationId, messageCount: 1 } });
    expect(body.messages).toEqual([expect.objectContaining({ text: `contact-marker-${WA_ID}`, direction: "in" })]);
    expect(await sql(`SELECT action FROM audit_log WHERE action = 'privacy.contact_exported' AND actor_user_id = ?`, admin.userId)).toHaveLength(1);
    expect(await sql(`SELECT kind, status FROM rights_requests WHERE subject_id = ?`, contact.id)).toEqual([{ kind: "contact_access", status: "completed" }]);
    expect((await api(contactPath(admin, "ct_nope", "export"), { as: admin })).status).toBe(404);
  });

  it("restricts a contact: hidden from agents at once, still reachable by admins, flagged for sending; reversible", async () => {
    const [contact] = (await contacts(admin, WA_ID)).body.contacts;
    const messages = (as: Agent) => api(`/workspaces/${as.workspaceId}/conversations/${contact.conversationId}/messages`, { as });
    expect((await messages(agent)).status).toBe(200);
    const { status, body } = await api(contactPath(admin, contact.id, "restriction"), { as: admin, method: "PUT", body: { restricted: true } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ restricted: true });
    expect(await isContactRestricted(env.DB, contact.id)).toBe(true);
    expect((await messages(agent)).status).toBe(404);
    expect((await messages(admin)).status).toBe(200);
    expect((await contacts(admin, WA_ID)).body.contacts[0].restricted).toBe(true);
    expect(await sql(`SELECT action FROM audit_log WHERE action = 'privacy.contact_restricted' AND target_id = ?`, contact.id)).toHaveLength(1);

    await api(contactPath(admin, contact.id, "restriction"), { as: admin, method: "PUT", body: { restricted: false } });
    expect(await isContactRestricted(env.DB, contact.id)).toBe(false);
    expect((await messages(agent)).status).toBe(200);
    expect((await sql(`SELECT outcome FROM rights_requests WHERE kind = 'contact_restriction' ORDER BY received_at`)).map((r) => r.outcome)).toEqual(["Restricted", "Restriction lifted"]);
  });

  it("erases a contact from D1 and the conversation's Durable Object and answers with a receipt free of personal data", async () => {
    const [contact] = (await contacts(admin, WA_ID)).body.contacts;
    const conversation = conversationOf("whatsapp", WA_ID);
    expect(contact.conversationId).toBe(conversation);
    expect((await api(contactPath(agent, contact.id, "erasure"), { as: agent, body: {} })).status).toBe(403);

    // A webhook about them that could not be routed keeps Meta's payload in quarantine: it goes too.
    const quarantined = (id: string, payload: object) =>
      sql(`INSERT INTO quarantine (id, dedupe_key, received_at, reason, detail, payload) VALUES (?1, ?1, ?2, 'unknown_account', 'test', ?3)`, id, Date.now(), JSON.stringify(payload));
    await quarantined(`q-${WA_ID}`, { from: WA_ID, text: `contact-marker-${WA_ID}` });
    const unrelated = `q-${crypto.randomUUID()}`;
    await quarantined(unrelated, { from: "15550009999" });

    const { status, body: receipt } = await api(contactPath(admin, contact.id, "erasure"), { as: admin, body: {} });
    expect(status).toBe(200);
    expect(receipt).toMatchObject({ categories: expect.arrayContaining(["contact_profile", "messages"]), messagesErased: 1, quarantinedPayloadsErased: 1, places: ["d1", "durable_object"] });
    expect(await sql(`SELECT id FROM quarantine WHERE id IN (?, ?)`, `q-${WA_ID}`, unrelated)).toEqual([{ id: unrelated }]);
    const text = JSON.stringify(receipt);
    for (const personal of [WA_ID, "Customer", contact.id]) expect(text).not.toContain(personal);

    const d1 = await dumpD1();
    expect(d1).not.toContain(WA_ID);
    const object = await dumpConversationObject(conversation);
    expect(object).not.toContain(WA_ID);
    expect((await contacts(admin, WA_ID)).body.contacts).toEqual([]);
    // The other channel's contact is untouched.
    expect((await contacts(admin, PSID)).body.contacts).toHaveLength(1);
    expect(await sql(`SELECT kind, subject_id, status FROM rights_requests WHERE kind = 'contact_erasure'`)).toEqual([{ kind: "contact_erasure", subject_id: null, status: "completed" }]);
    expect(await sql(`SELECT action FROM audit_log WHERE action = 'privacy.contact_erased' AND actor_user_id = ?`, admin.userId)).toHaveLength(1);
    expect((await api(contactPath(admin, contact.id, "erasure"), { as: admin, body: {} })).status).toBe(404);
  });
});
