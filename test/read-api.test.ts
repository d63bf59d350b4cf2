import { beforeAll, describe, expect, it } from "vitest";
import { OPERATOR_KEY, api, apiGet, conversationOf, demoMember, postOk, seedDemoWorkspace, signUp, type Agent } from "./helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

const T0 = Date.UTC(2026, 2, 1);
const customers = Array.from({ length: 7 }, (_, i) => `1555333000${i}`);

describe("read API", () => {
  let member: Agent;
  const ws = "/workspaces/ws_demo";
  beforeAll(async () => {
    await seedDemoWorkspace();
    member = await demoMember();
    for (const [i, customer] of customers.entries()) {
      await postOk(whatsappPost([inbound(customer, `wamid.API_${i}_A`, T0 + i * 60_000, `first from ${i}`)]));
    }
    // 25 messages in one conversation, for message paging.
    await postOk(
      whatsappPost(Array.from({ length: 25 }, (_, j) => inbound(customers[0]!, `wamid.API_PAGE_${j}`, T0 - 100_000 + j * 1000))),
    );
  });

  it("is never open: without a session it answers 401 with a JSON error", async () => {
    for (const path of [`${ws}/conversations`, `${ws}/conversations/${"a".repeat(64)}/messages`]) {
      const { status, body } = await apiGet(path, null);
      expect(status).toBe(401);
      expect(body).toEqual({ error: { code: "unauthenticated", message: expect.any(String) } });
    }
  });

  it("shows another workspace's conversations to nobody: a member elsewhere gets 404", async () => {
    const stranger = await signUp();
    const conversation = conversationOf("whatsapp", customers[0]!);
    expect((await apiGet(`${ws}/conversations`, stranger)).status).toBe(404);
    expect((await apiGet(`${ws}/conversations/${conversation}/messages`, stranger)).status).toBe(404);
    expect((await apiGet(`/workspaces/${stranger.workspaceId}/conversations/${conversation}/messages`, stranger)).status).toBe(404);
    expect((await apiGet(`/workspaces/${stranger.workspaceId}/conversations`, stranger)).body.conversations).toEqual([]);
  });

  it("lists conversations newest activity first, with keyset pages that cover each exactly once", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : "?limit=3";
      const { status, body } = await apiGet(`${ws}/conversations${query}`, member);
      expect(status).toBe(200);
      expect(body.conversations.length).toBeLessThanOrEqual(3);
      seen.push(...body.conversations.map((c: { id: string }) => c.id));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    const expected = [...customers].reverse().map((c) => conversationOf("whatsapp", c));
    expect(seen).toEqual(expected);
    expect(pages).toBe(3);
  });

  it("describes each conversation with its channel, contact and latest message", async () => {
    const { body } = await apiGet(`${ws}/conversations?limit=1`, member);
    expect(body.conversations[0]).toEqual({
      id: conversationOf("whatsapp", customers[6]!),
      channel: { id: "ch_demo_wa_1", kind: "whatsapp", name: "Demo Shop WhatsApp" },
      contact: {
        id: `ct_${conversationOf("whatsapp", customers[6]!)}`,
        identity: customers[6],
        waId: customers[6],
        bsuid: null,
        name: `Customer ${customers[6]}`,
        username: null,
      },
      lastMessageAt: T0 + 6 * 60_000,
      lastMessagePreview: "first from 6",
      lastDirection: "in",
      messageCount: 1,
      status: "open",
      snoozedUntil: null,
      assigneeId: null,
      labels: [],
      unreadCount: 1,
      window: expect.objectContaining({ freeForm: false, templatesOnly: true }),
      rev: expect.any(Number),
    });
  });

  it("pages a conversation's messages backwards from the newest, each page in display order", async () => {
    const conversation = conversationOf("whatsapp", customers[0]!);
    const first = await apiGet(`${ws}/conversations/${conversation}/messages?limit=10`, member);
    expect(first.body.messages.map((m: { externalId: string }) => m.externalId)).toEqual([
      ...Array.from({ length: 9 }, (_, j) => `wamid.API_PAGE_${16 + j}`),
      "wamid.API_0_A",
    ]);
    const ids: string[] = [];
    let cursor: string | null = first.body.nextCursor;
    while (cursor) {
      const page = await apiGet(`${ws}/conversations/${conversation}/messages?limit=10&cursor=${cursor}`, member);
      ids.unshift(...page.body.messages.map((m: { externalId: string }) => m.externalId));
      cursor = page.body.nextCursor;
    }
    expect(ids).toEqual(Array.from({ length: 16 }, (_, j) => `wamid.API_PAGE_${j}`));
  });

  it("rejects bad parameters with 400 naming the problem, and unknown conversations with 404", async () => {
    expect(await apiGet(`${ws}/conversations?limit=0`, member)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", message: expect.stringContaining("limit") } } });
    expect(await apiGet(`${ws}/conversations?limit=abc`, member)).toMatchObject({ status: 400 });
    expect(await apiGet(`${ws}/conversations?cursor=%%%`, member)).toMatchObject({ status: 400, body: { error: { code: "invalid_cursor" } } });
    expect(await apiGet(`${ws}/conversations/not-an-id/messages`, member)).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining("id") } } });
    expect(await apiGet(`${ws}/conversations/${"0".repeat(64)}/messages`, member)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect(await api("/quarantine?reason=whatever", { bearer: OPERATOR_KEY })).toMatchObject({ status: 400 });
  });

  it("publishes an OpenAPI 3.1 document generated from the same schemas", async () => {
    const { status, body } = await apiGet("/openapi.json", null);
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        "/workspaces/{workspaceId}/conversations",
        "/workspaces/{workspaceId}/conversations/{id}/messages",
        "/quarantine",
        "/auth/signup",
      ]),
    );
    expect(body.components.schemas.MessageContent.properties).toHaveProperty("externalId");
    expect(body.components.schemas.Message.properties.direction.enum).toEqual(["in", "out"]);
    expect(body.components.securitySchemes.operatorKey).toEqual({ type: "http", scheme: "bearer" });
  });
});
