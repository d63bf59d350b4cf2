import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Conversation } from "../durable-objects/conversation.ts";
import { channelDirectory } from "../workers/channel-directory.ts";
import { conversationOf, d1Outage, messagesIn, postOk, postWebhook, seedDemoWorkspace, stubOf } from "./helpers.ts";
import { OTHER_PHONE_NUMBER_ID, echo, inbound, status, whatsappPost } from "./wa-builders.ts";

const T0 = Date.UTC(2026, 1, 1);

async function d1Messages(conversation: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    `SELECT external_id FROM messages WHERE conversation_id = ? ORDER BY timestamp, seq`,
  )
    .bind(conversation)
    .all<{ external_id: string }>();
  return results.map((r) => r.external_id);
}

/** Swaps the D1 binding a Durable Object instance uses (its alarm's mirror writes). */
function setDoDatabase(conversation: string, db: D1Database) {
  return runInDurableObject(stubOf(conversation), (instance: Conversation) => {
    (instance as unknown as { env: Cloudflare.Env }).env = { ...env, DB: db };
  });
}

describe("durability", () => {
  beforeAll(seedDemoWorkspace);

  it("acknowledges once durable in the Durable Object while D1 is down, and D1 catches up after it recovers", async () => {
    const customer = "15552220001";
    const conversation = conversationOf("whatsapp", customer);
    await postOk(whatsappPost([inbound(customer, "wamid.D1_BEFORE", T0)]));
    expect(await d1Messages(conversation)).toEqual(["wamid.D1_BEFORE"]);

    await setDoDatabase(conversation, d1Outage);
    const outage = { ...env, DB: d1Outage };
    const during = [
      whatsappPost([inbound(customer, "wamid.D1_DURING_1", T0 + 1000)]),
      whatsappPost([echo(customer, "wamid.D1_DURING_2", T0 + 2000), status(customer, "wamid.D1_DURING_2", "read", T0 + 3000)]),
    ];
    for (const body of during) expect((await postWebhook(body, outage)).status).toBe(200);

    expect((await messagesIn(conversation)).map((m) => [m.content.externalId, m.status])).toEqual([
      ["wamid.D1_BEFORE", null],
      ["wamid.D1_DURING_1", null],
      ["wamid.D1_DURING_2", "read"],
    ]);
    expect(await d1Messages(conversation)).toEqual(["wamid.D1_BEFORE"]);

    // The alarm backstop keeps failing while D1 is down, and keeps itself armed.
    expect(await runDurableObjectAlarm(stubOf(conversation))).toBe(true);
    expect(await d1Messages(conversation)).toEqual(["wamid.D1_BEFORE"]);

    await setDoDatabase(conversation, env.DB);
    expect(await runDurableObjectAlarm(stubOf(conversation))).toBe(true);
    expect(await d1Messages(conversation)).toEqual(["wamid.D1_BEFORE", "wamid.D1_DURING_1", "wamid.D1_DURING_2"]);
    const row = await env.DB.prepare(`SELECT message_count, last_message_preview FROM conversations WHERE id = ?`)
      .bind(conversation)
      .first();
    expect(row).toEqual({ message_count: 3, last_message_preview: "reply wamid.D1_DURING_2" });
    const status_ = await env.DB.prepare(`SELECT status FROM messages WHERE external_id = 'wamid.D1_DURING_2'`).first();
    expect(status_).toEqual({ status: "read" });
  });

  it("answers 503 and stores nothing when it cannot even tell which channel an event is for", async () => {
    channelDirectory.clear();
    const customer = "15552220002";
    const response = await postWebhook(whatsappPost([inbound(customer, "wamid.NO_ROUTE", T0)], OTHER_PHONE_NUMBER_ID), {
      ...env,
      DB: d1Outage,
    });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: { code: "not_durable", message: expect.any(String) } });
    // Meta's retry after recovery is stored normally.
    expect(await postOk(whatsappPost([inbound(customer, "wamid.NO_ROUTE", T0)], OTHER_PHONE_NUMBER_ID))).toMatchObject({
      stored: 1,
    });
  });

  it("answers 5xx when a Durable Object write fails, so Meta retries", async () => {
    const failing = {
      ...env,
      CONVERSATION: new Proxy(env.CONVERSATION, {
        get(target, property) {
          if (property !== "get") return Reflect.get(target, property).bind(target);
          return () => ({
            ingest: () => Promise.reject(new Error("Durable Object reset because its code was updated.")),
          });
        },
      }),
    } as Cloudflare.Env;
    const customer = "15552220003";
    const response = await postWebhook(whatsappPost([inbound(customer, "wamid.DO_DOWN", T0)]), failing);
    expect(response.status).toBe(503);
    expect(await messagesIn(conversationOf("whatsapp", customer))).toEqual([]);
  });

  it("loses nothing when the Durable Object is evicted mid-stream", async () => {
    const customer = "15552220004";
    const conversation = conversationOf("whatsapp", customer);
    const ids = Array.from({ length: 30 }, (_, i) => `wamid.EVICT_${String(i).padStart(2, "0")}`);
    for (const [i, id] of ids.entries()) {
      if (i === 10 || i === 20) await evictDurableObject(stubOf(conversation));
      await postOk(whatsappPost([inbound(customer, id, T0 + i * 1000)]));
      if (i % 3 === 0) await postOk(whatsappPost([inbound(customer, id, T0 + i * 1000)]));
    }
    const messages = await messagesIn(conversation);
    expect(messages.map((m) => m.content.externalId)).toEqual(ids);
    expect(messages.map((m) => m.seq)).toEqual(ids.map((_, i) => i + 1));
    expect(await d1Messages(conversation)).toEqual(ids);
  });
});
