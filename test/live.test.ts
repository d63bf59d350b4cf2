/**
 * Real time: the inbox socket hears of list changes, the conversation socket receives messages,
 * status ticks, notes and workflow changes as they happen; a reconnecting browser receives exactly
 * what it missed; tickets are single-use and bound to their socket; losing access closes the sockets.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ACCESS_REVOKED } from "../durable-objects/live-sockets.ts";
import { PASSWORD, api, conversationOf, demoMember, postOk, seedDemoWorkspace, type Agent } from "./helpers.ts";
import { openLive, ticketFor, upgrade, type Frame } from "./live-helpers.ts";
import { echo, inbound, status, whatsappPost } from "./wa-builders.ts";

let next = 0;
const customerNumber = () => `1555400${String(++next).padStart(4, "0")}`;
const isMessage = (externalId: string, statusValue?: string) => (f: Frame) =>
  f.type === "message" && f.message.externalId === externalId && (statusValue === undefined || f.message.status === statusValue);

/** The greeting a conversation's socket opens with (its revision now); the socket is closed again. */
async function greeting(as: Agent, conversationId: string): Promise<Frame> {
  const socket = await openLive(as, { conversationId });
  const hello = (await socket.until((f) => f.type === "hello")).find((f) => f.type === "hello")!;
  socket.close();
  return hello;
}

describe("live updates", () => {
  let agent: Agent;
  let owner: Agent;
  beforeAll(async () => {
    await seedDemoWorkspace();
    agent = await demoMember("agent");
    owner = await demoMember("owner");
  });

  it("tells the inbox socket which conversation changed, once D1 has it", async () => {
    const inbox = await openLive(agent);
    await inbox.until((f) => f.type === "hello");
    const customer = customerNumber();
    await postOk(whatsappPost([inbound(customer, "wamid.LIVE_INBOX", Date.now())]));
    const id = conversationOf("whatsapp", customer);
    const frames = await inbox.until((f) => f.type === "conversation" && f.id === id);
    const event = frames.find((f) => f.type === "conversation" && f.id === id)!;
    // What the browser refetches on the event is already there.
    const listed = await api(`/workspaces/${agent.workspaceId}/conversations/${id}`, { as: agent });
    expect(listed.body.rev).toBeGreaterThanOrEqual(event.rev);
    inbox.close();
  });

  it("resumes the inbox from the last sequence seen: exactly the missed announcements, in order", async () => {
    const first = await openLive(agent);
    const hello = (await first.until((f) => f.type === "hello")).find((f) => f.type === "hello")!;
    first.close();
    const missed = [customerNumber(), customerNumber(), customerNumber()];
    for (const customer of missed) await postOk(whatsappPost([inbound(customer, `wamid.MISSED_${customer}`, Date.now())]));
    const resumed = await openLive(agent, { since: hello.seq });
    const frames = await resumed.until((f) => f.type === "hello");
    const events = frames.filter((f) => f.type === "conversation");
    expect(events.map((f) => f.id)).toEqual(missed.map((c) => conversationOf("whatsapp", c)));
    expect(events.map((f) => f.seq)).toEqual([hello.seq + 1, hello.seq + 2, hello.seq + 3]);
    resumed.close();
  });

  it("streams a conversation's new messages, status ticks, notes and workflow to its viewers", async () => {
    const customer = customerNumber();
    await postOk(whatsappPost([inbound(customer, "wamid.LIVE_FIRST", Date.now())]));
    const id = conversationOf("whatsapp", customer);
    const viewer = await openLive(agent, { conversationId: id });
    const other = await openLive(owner, { conversationId: id });
    await viewer.until((f) => f.type === "hello");

    await postOk(whatsappPost([inbound(customer, "wamid.LIVE_SECOND", Date.now())]));
    await viewer.until(isMessage("wamid.LIVE_SECOND"));
    await other.until(isMessage("wamid.LIVE_SECOND"));

    await postOk(whatsappPost([echo(customer, "wamid.LIVE_OUT", Date.now())]));
    await postOk(whatsappPost([status(customer, "wamid.LIVE_OUT", "delivered", Date.now())]));
    await viewer.until(isMessage("wamid.LIVE_OUT", "delivered"));

    await api(`/workspaces/${agent.workspaceId}/conversations/${id}/notes`, { as: agent, body: { text: "live note" } });
    await other.until((f) => f.type === "note" && f.note.text === "live note");
    await api(`/workspaces/${agent.workspaceId}/conversations/${id}`, { as: agent, method: "PATCH", body: { assigneeId: owner.userId } });
    await other.until((f) => f.type === "conversation" && f.conversation.assigneeId === owner.userId);
    viewer.close();
    other.close();
  });

  it("resumes a conversation from the last revision seen: every change missed, each message in its latest state", async () => {
    const customer = customerNumber();
    await postOk(whatsappPost([inbound(customer, "wamid.RESUME_1", Date.now())]));
    const id = conversationOf("whatsapp", customer);
    const hello = await greeting(agent, id);
    await postOk(whatsappPost([inbound(customer, "wamid.RESUME_2", Date.now()), echo(customer, "wamid.RESUME_3", Date.now())]));
    await postOk(whatsappPost([status(customer, "wamid.RESUME_3", "sent", Date.now()), status(customer, "wamid.RESUME_3", "read", Date.now())]));

    const resumed = await openLive(agent, { conversationId: id, since: hello.rev });
    const frames = await resumed.until((f) => f.type === "hello");
    const messages = frames.filter((f) => f.type === "message").map((f) => [f.message.externalId, f.message.status]);
    expect(messages).toEqual([
      ["wamid.RESUME_2", null],
      ["wamid.RESUME_3", "read"],
    ]);
    expect(frames.at(-1)!.rev).toBeGreaterThan(hello.rev);
    resumed.close();
  });

  it("tells a browser that resumes past the conversation's revision (it saw one erased since) to read it afresh", async () => {
    const customer = customerNumber();
    await postOk(whatsappPost([inbound(customer, "wamid.AHEAD_1", Date.now())]));
    const id = conversationOf("whatsapp", customer);
    const hello = await greeting(agent, id);

    const resumed = await openLive(agent, { conversationId: id, since: hello.rev + 40 });
    const frames = await resumed.until((f) => f.type === "hello");
    expect(frames.map((f) => [f.type, f.rev])).toEqual([
      ["reset", hello.rev],
      ["hello", hello.rev],
    ]);
    resumed.close();
  });

  it("admits only a fresh ticket of this member for this very socket, once, from this site", async () => {
    const customer = customerNumber();
    await postOk(whatsappPost([inbound(customer, "wamid.TICKET", Date.now())]));
    const id = conversationOf("whatsapp", customer);
    const inboxTicket = await ticketFor(agent);
    const conversationPath = `/api/workspaces/${agent.workspaceId}/conversations/${id}/live`;
    // An inbox ticket does not open a conversation socket, nor another member's session.
    expect((await upgrade(agent, conversationPath, { ticket: inboxTicket.ticket })).status).toBe(401);
    expect((await upgrade(owner, inboxTicket.url, { ticket: inboxTicket.ticket })).status).toBe(401);
    expect((await upgrade(agent, inboxTicket.url, { ticket: "not.a.ticket" })).status).toBe(401);
    const foreign = await upgrade(agent, inboxTicket.url, { ticket: inboxTicket.ticket }, { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect((await upgrade(agent, inboxTicket.url, { ticket: inboxTicket.ticket })).status).toBe(101);
    expect((await upgrade(agent, inboxTicket.url, { ticket: inboxTicket.ticket })).status).toBe(401);
    const plain = await api(`/workspaces/${agent.workspaceId}/live?ticket=x`, { as: agent });
    expect(plain.status).toBe(426);
  });

  it("closes a member's sockets (4403) when they are removed, their role changes or they delete their account", async () => {
    const customer = customerNumber();
    await postOk(whatsappPost([inbound(customer, "wamid.REMOVED", Date.now())]));
    const id = conversationOf("whatsapp", customer);
    const leaving = await demoMember("agent");
    const inbox = await openLive(leaving);
    const conversation = await openLive(leaving, { conversationId: id });
    const staying = await openLive(agent);
    await Promise.all([inbox.until((f) => f.type === "hello"), conversation.until((f) => f.type === "hello")]);

    const removed = await api(`/workspaces/${owner.workspaceId}/members/${leaving.userId}`, { as: owner, method: "DELETE" });
    expect(removed.status).toBe(200);
    expect((await inbox.closed).code).toBe(ACCESS_REVOKED);
    expect((await conversation.closed).code).toBe(ACCESS_REVOKED);
    expect((await api(`/workspaces/${leaving.workspaceId}/live-ticket`, { as: leaving, body: {} })).status).toBe(404);

    const promoted = await demoMember("agent");
    const socket = await openLive(promoted);
    await socket.until((f) => f.type === "hello");
    await api(`/workspaces/${owner.workspaceId}/members/${promoted.userId}`, { as: owner, method: "PATCH", body: { role: "admin" } });
    expect((await socket.closed).code).toBe(ACCESS_REVOKED);

    // Deleting one's own account closes every socket at once, whatever the workspace.
    const deleting = await demoMember("agent");
    const theirs = await openLive(deleting);
    await theirs.until((f) => f.type === "hello");
    expect((await api("/me/deletion", { as: deleting, body: { password: PASSWORD } })).status).toBe(202);
    expect((await theirs.closed).code).toBe(ACCESS_REVOKED);

    // Other members stay connected.
    await postOk(whatsappPost([inbound(customer, "wamid.STILL_HERE", Date.now())]));
    await staying.until((f) => f.type === "conversation" && f.id === id);
    staying.close();
  });
});
