/**
 * The conversation workflow: statuses (open, pending, snoozed until, resolved — a customer message
 * reopens), assignment, labels, private notes, per-member unread counts, the send window each
 * conversation shows, and the list filters with keyset pagination.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { SERVICE_WINDOW_MS } from "../workers/send-window.ts";
import { api, conversationOf, demoMember, postOk, seedDemoWorkspace, sql, type Agent } from "./helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

const HOUR = 3_600_000;
const customerNumber = (n: number) => `1555300${String(n).padStart(4, "0")}`;
let next = 0;

/** A fresh WhatsApp conversation whose customer wrote `agoMs` ago. */
async function conversationWith(agoMs = 60_000, extra: Record<string, unknown> = {}): Promise<string> {
  const customer = customerNumber(++next);
  const body = whatsappPost([inbound(customer, `wamid.WF_${next}`, Date.now() - agoMs)]);
  Object.assign((body.entry[0]!.changes[0]!.value as unknown as { messages: Record<string, unknown>[] }).messages[0]!, extra);
  await postOk(body);
  return conversationOf("whatsapp", customer);
}

const path = (as: Agent, rest = "") => `/workspaces/${as.workspaceId}/conversations${rest}`;
const patch = (as: Agent, id: string, body: unknown) => api(path(as, `/${id}`), { as, method: "PATCH", body });
const list = async (as: Agent, query: string) => {
  const response = await api(path(as, `?limit=200&${query}`), { as });
  expect(response.status).toBe(200);
  return response.body.conversations as { id: string; status: string; unreadCount: number; labels: string[]; assigneeId: string | null }[];
};
const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

describe("conversation workflow", () => {
  let agent: Agent;
  let admin: Agent;
  beforeAll(async () => {
    await seedDemoWorkspace();
    agent = await demoMember("agent");
    admin = await demoMember("admin");
  });

  it("starts open, moves between pending and resolved, and a customer message reopens a resolved one", async () => {
    const id = await conversationWith();
    expect((await api(path(agent, `/${id}`), { as: agent })).body.status).toBe("open");
    expect((await patch(agent, id, { status: "pending" })).body.status).toBe("pending");
    expect((await patch(agent, id, { status: "resolved" })).body.status).toBe("resolved");
    expect(ids(await list(agent, "status=resolved"))).toContain(id);
    expect(ids(await list(agent, "status=open"))).not.toContain(id);

    const customer = customerNumber(next);
    await postOk(whatsappPost([inbound(customer, "wamid.WF_REOPEN", Date.now())]));
    const reopened = await api(path(agent, `/${id}`), { as: agent });
    expect(reopened.body.status).toBe("open");
    expect(ids(await list(agent, "status=open"))).toContain(id);
  });

  it("snoozes until a time: listed as snoozed before it, as open after it, and reopened early by the customer", async () => {
    const id = await conversationWith();
    const until = Date.now() + HOUR;
    const snoozed = await patch(agent, id, { status: "snoozed", snoozedUntil: until });
    expect(snoozed.status).toBe(200);
    expect(snoozed.body).toMatchObject({ status: "snoozed", snoozedUntil: until });
    expect(ids(await list(agent, "status=snoozed"))).toContain(id);
    // The clock moves past the snooze: D1 still says snoozed, every read says open.
    await sql(`UPDATE conversations SET snoozed_until = ? WHERE id = ?`, Date.now() - 1, id);
    expect(ids(await list(agent, "status=open"))).toContain(id);
    expect(ids(await list(agent, "status=snoozed"))).not.toContain(id);
    expect((await api(path(agent, `/${id}`), { as: agent })).body).toMatchObject({ status: "open", snoozedUntil: null });
  });

  it("refuses a bad change with 400 naming the field, changing nothing", async () => {
    const id = await conversationWith();
    const cases: [unknown, string][] = [
      [{ status: "snoozed" }, "snoozedUntil"],
      [{ status: "open", snoozedUntil: Date.now() + HOUR }, "snoozedUntil"],
      [{ status: "closed" }, "status"],
      [{ labels: ["ok", "x".repeat(41)] }, "labels"],
      [{}, "nothing to change"],
      [{ status: "snoozed", snoozedUntil: Date.now() - HOUR }, "snoozedUntil"],
    ];
    for (const [body, named] of cases) {
      const response = await patch(agent, id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.message).toContain(named);
    }
    expect((await api(path(agent, `/${id}`), { as: agent })).body).toMatchObject({ status: "open", labels: [], assigneeId: null });
  });

  it("assigns to members only, filters by assignee (me, unassigned, a member) and unassigns", async () => {
    const mine = await conversationWith();
    const theirs = await conversationWith();
    expect((await patch(agent, mine, { assigneeId: agent.userId })).body.assigneeId).toBe(agent.userId);
    expect((await patch(agent, theirs, { assigneeId: admin.userId })).status).toBe(200);
    const stranger = await patch(agent, theirs, { assigneeId: "usr_not_a_member" });
    expect(stranger.status).toBe(422);
    expect(stranger.body.error.code).toBe("unknown_assignee");

    expect(ids(await list(agent, "assignee=me"))).toContain(mine);
    expect(ids(await list(agent, "assignee=me"))).not.toContain(theirs);
    expect(ids(await list(agent, `assignee=${admin.userId}`))).toEqual([theirs]);
    expect(ids(await list(agent, "assignee=unassigned"))).not.toContain(mine);
    await patch(agent, mine, { assigneeId: null });
    expect(ids(await list(agent, "assignee=unassigned"))).toContain(mine);
  });

  it("labels conversations (deduplicated) and filters by label", async () => {
    const id = await conversationWith();
    const labelled = await patch(agent, id, { labels: ["vip", "billing", "vip"] });
    expect(labelled.body.labels).toEqual(["billing", "vip"]);
    expect(ids(await list(agent, "label=vip"))).toEqual([id]);
    expect(ids(await list(agent, "label=vi"))).toEqual([]);
  });

  it("counts unread customer messages per member: reading clears them for that member only", async () => {
    const id = await conversationWith();
    const customer = customerNumber(next);
    await postOk(whatsappPost([inbound(customer, "wamid.WF_UNREAD_2", Date.now())]));
    const unreadOf = async (as: Agent) => (await api(path(as, `/${id}`), { as })).body.unreadCount;
    expect(await unreadOf(agent)).toBe(2);
    expect(await unreadOf(admin)).toBe(2);
    expect(ids(await list(agent, "unread=true"))).toContain(id);

    const read = await api(path(agent, `/${id}/read`), { as: agent, body: {} });
    expect(read.status).toBe(200);
    expect(read.body.unreadCount).toBe(0);
    expect(await unreadOf(agent)).toBe(0);
    expect(await unreadOf(admin)).toBe(2);
    expect(ids(await list(agent, "unread=true"))).not.toContain(id);

    await postOk(whatsappPost([inbound(customer, "wamid.WF_UNREAD_3", Date.now())]));
    expect(await unreadOf(agent)).toBe(1);
  });

  it("keeps private notes with their author, in the conversation only — never as a message", async () => {
    const id = await conversationWith();
    const created = await api(path(agent, `/${id}/notes`), { as: agent, body: { text: "  Called them, waiting for the invoice  " } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ authorId: agent.userId, text: "Called them, waiting for the invoice" });
    expect((await api(path(admin, `/${id}/notes`), { as: admin })).body.notes).toEqual([created.body]);
    const messages = (await api(path(agent, `/${id}/messages`), { as: agent })).body.messages as { text: string }[];
    expect(messages.map((m) => m.text)).not.toContain("Called them, waiting for the invoice");
    expect((await api(path(agent, `/${id}/notes`), { as: agent, body: { text: "   " } })).status).toBe(400);
  });

  it("shows each conversation's send window: open 24 h after the customer wrote, 72 h from an ad, then templates only", async () => {
    const fresh = await conversationWith(HOUR);
    const inside = await conversationWith(SERVICE_WINDOW_MS - 60_000);
    const outside = await conversationWith(SERVICE_WINDOW_MS + 60_000);
    const fromAd = await conversationWith(30 * HOUR, { referral: { source_type: "ad", source_id: "120200000000001", source_url: "https://fb.me/ad" } });
    const windowOf = async (id: string) => (await api(path(agent, `/${id}`), { as: agent })).body.window;
    expect(await windowOf(fresh)).toMatchObject({ freeForm: true, templatesOnly: false });
    expect(await windowOf(inside)).toMatchObject({ freeForm: true });
    expect(await windowOf(outside)).toMatchObject({ freeForm: false, templatesOnly: true, until: null });
    const ad = await windowOf(fromAd);
    expect(ad.freeForm).toBe(true);
    expect(ad.until - Date.now()).toBeGreaterThan(41 * HOUR);
  });

  it("pages the filtered list with a cursor, each conversation once, while others keep changing", async () => {
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = await conversationWith(60_000 + i * 1000);
      await patch(agent, id, { labels: ["paging"] });
      created.push(id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const page: { body: { conversations: { id: string }[]; nextCursor: string | null } } = await api(
        path(agent, `?label=paging&limit=2${cursor ? `&cursor=${cursor}` : ""}`),
        { as: agent },
      );
      seen.push(...ids(page.body.conversations));
      cursor = page.body.nextCursor;
      // Meanwhile an unrelated conversation gets a message and jumps to the top.
      if (round++ === 1) await conversationWith(1_000);
    } while (cursor);
    // Each once, newest activity first: exactly the unpaged list.
    expect(seen).toEqual(ids(await list(agent, "label=paging")));
    expect([...seen].sort()).toEqual([...created].sort());
    expect((await api(path(agent, "?cursor=garbage"), { as: agent })).status).toBe(400);
  });
});
