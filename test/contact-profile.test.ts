/**
 * Contact profiles: identities per channel (one WhatsApp number reached through two of the
 * workspace's numbers is one person), a display name and notes that admins edit and agents read,
 * and that Meta's own profile updates never overwrite.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, conversationOf, demoMember, postOk, seedDemoWorkspace, type Agent } from "./helpers.ts";
import { openLive } from "./live-helpers.ts";
import { OTHER_PHONE_NUMBER_ID, inbound, whatsappPost } from "./wa-builders.ts";

const CUSTOMER = "15556660001";

describe("contact profiles", () => {
  let admin: Agent;
  let agent: Agent;
  let contactId: string;
  beforeAll(async () => {
    await seedDemoWorkspace();
    admin = await demoMember("admin");
    agent = await demoMember("agent");
    await postOk(whatsappPost([inbound(CUSTOMER, "wamid.PROFILE_1", Date.now() - 5_000)]));
    await postOk(whatsappPost([inbound(CUSTOMER, "wamid.PROFILE_2", Date.now())], OTHER_PHONE_NUMBER_ID));
    contactId = `ct_${conversationOf("whatsapp", CUSTOMER)}`;
  });

  const profile = (as: Agent, id = contactId) => api(`/workspaces/${as.workspaceId}/contacts/${id}`, { as });
  const edit = (as: Agent, body: unknown) => api(`/workspaces/${as.workspaceId}/contacts/${contactId}`, { as, method: "PATCH", body });

  it("shows the contact's identities on every channel of the workspace that reached the same number", async () => {
    const { status, body } = await profile(agent);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: contactId, name: `Customer ${CUSTOMER}`, displayName: null, notes: null });
    expect(body.identities.map((i: { channel: { id: string }; waId: string }) => [i.channel.id, i.waId])).toEqual([
      ["ch_demo_wa_1", CUSTOMER],
      ["ch_demo_wa_2", CUSTOMER],
    ]);
  });

  it("lets admins name the contact and keep notes, shown in the list, audited, and live to the inbox", async () => {
    const inbox = await openLive(agent);
    await inbox.until((f) => f.type === "hello");
    const edited = await edit(admin, { displayName: "  Ana (wholesale)  ", notes: "Prefers mornings" });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ name: "Ana (wholesale)", displayName: "Ana (wholesale)", notes: "Prefers mornings", updatedBy: admin.userId });
    const conversation = conversationOf("whatsapp", CUSTOMER);
    await inbox.until((f) => f.type === "conversation" && f.id === conversation);
    const listed = await api(`/workspaces/${agent.workspaceId}/conversations/${conversation}`, { as: agent });
    expect(listed.body.contact.name).toBe("Ana (wholesale)");
    // Meta's next profile update changes Meta's name only.
    await postOk(whatsappPost([inbound(CUSTOMER, "wamid.PROFILE_3", Date.now())]));
    expect((await profile(agent)).body.name).toBe("Ana (wholesale)");
    const audit = await api(`/workspaces/${admin.workspaceId}/audit?limit=5`, { as: admin });
    expect(audit.body.entries[0]).toMatchObject({ action: "contact.profile_updated", targetId: contactId });
    expect((await edit(admin, { displayName: null })).body.name).toBe(`Customer ${CUSTOMER}`);
    inbox.close();
  });

  it("hides a restricted contact from agents' list and sends nothing to them, while admins still see them", async () => {
    const customer = "15556660002";
    await postOk(whatsappPost([inbound(customer, "wamid.RESTRICTED_1", Date.now())]));
    const conversation = conversationOf("whatsapp", customer);
    const restricted = await api(`/workspaces/${admin.workspaceId}/privacy/contacts/ct_${conversation}/restriction`, { as: admin, method: "PUT", body: { restricted: true } });
    expect(restricted.status).toBe(200);
    const listFor = async (as: Agent) => (await api(`/workspaces/${as.workspaceId}/conversations?limit=200`, { as })).body.conversations.map((c: { id: string }) => c.id);
    expect(await listFor(agent)).not.toContain(conversation);
    expect(await listFor(admin)).toContain(conversation);
    const send = await api(`/workspaces/${admin.workspaceId}/conversations/${conversation}/messages`, {
      as: admin,
      body: { idempotencyKey: "restricted-send-1", kind: "text", text: "hello" },
    });
    expect(send.status).toBe(409);
    expect(send.body.error.code).toBe("contact_restricted");
  });

  it("refuses agents (403), strangers (404) and empty or oversized edits (400), changing nothing", async () => {
    expect((await edit(agent, { notes: "agents cannot" })).status).toBe(403);
    expect((await edit(admin, {})).status).toBe(400);
    expect((await edit(admin, { notes: "x".repeat(4001) })).status).toBe(400);
    expect((await profile(agent, `ct_${"0".repeat(64)}`)).status).toBe(404);
    expect((await profile(agent, "not-a-contact")).status).toBe(400);
    expect((await profile(agent)).body.notes).toBe("Prefers mornings");
  });
});
