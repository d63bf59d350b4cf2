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

async function d1Status(conversation: string): Promise<string | undefined> {
  const row = await env.DB.prepare(`SELECT status FROM conversations WHERE id = ?`).bind(conversation).first<{ status: string }>();
  return row?.status;
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

  it("brings D1 up to a workflow change whose own mirror write never happened", async () => {
    const customer = "15552220005";
    const conversation = conversationOf("whatsapp", customer);
    const stub = stubOf(conversation);
    await postOk(whatsappPost([inbound(customer, "wamid.WORKFLOW_1", T0)]));
    // The message's check finds D1 complete and leaves no alarm behind.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(false);

    // The route writes the change to D1 after the object made it; here that write is lost.
    expect((await stub.updateWorkflow({ status: "resolved" })).ok).toBe(true);
    expect(await d1Status(conversation)).toBe("open");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await d1Status(conversation)).toBe("resolved");
  });

  it("leaves a change made while a mirror check waited on D1 to that change's own check, 30 s on", async () => {
    const customer = "15552220006";
    const conversation = conversationOf("whatsapp", customer);
    const stub = stubOf(conversation);
    const outage = { ...env, DB: d1Outage };
    await postOk(whatsappPost([inbound(customer, "wamid.RACE_1", T0)]));
    // The Worker's flush of this one fails, so the check has to send it itself.
    expect((await postWebhook(whatsappPost([inbound(customer, "wamid.RACE_2", T0 + 1000)]), outage)).status).toBe(200);

    // Flags, not promises: each side waits on its own timers, as I/O may not follow a wait on a
    // promise that the other side (the object, the test) settles.
    const write = { started: false, released: false };
    const holdingDB = new Proxy(env.DB, {
      get: (target, property) =>
        property === "batch"
          ? async (statements: D1PreparedStatement[]) => {
              write.started = true;
              while (!write.released) await scheduler.wait(5);
              return target.batch(statements);
            }
          : Reflect.get(target, property).bind(target),
    }) as D1Database;
    await setDoDatabase(conversation, holdingDB);
    const check = runDurableObjectAlarm(stub);
    while (!write.started) await scheduler.wait(5);
    // A message arrives while the check's write is on its way; the Worker's flush of it is lost too.
    expect((await postWebhook(whatsappPost([inbound(customer, "wamid.RACE_3", T0 + 2000)]), outage)).status).toBe(200);
    write.released = true;
    expect(await check).toBe(true);
    expect(await d1Messages(conversation)).toEqual(["wamid.RACE_1", "wamid.RACE_2"]);

    const next = await runInDurableObject(stub, (_: Conversation, state: DurableObjectState) => state.storage.getAlarm());
    expect(next).toBeGreaterThan(Date.now() + 20_000);
    await setDoDatabase(conversation, env.DB);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await d1Messages(conversation)).toEqual(["wamid.RACE_1", "wamid.RACE_2", "wamid.RACE_3"]);
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
