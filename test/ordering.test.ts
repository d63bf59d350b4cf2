import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { conversationId } from "../workers/ingest.ts";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { countRows, conversationOf, messagesIn, postOk, seedDemoWorkspace, stubOf } from "./helpers.ts";
import { OTHER_PHONE_NUMBER_ID, echo, inbound, reaction, status, whatsappPost, type WaValue } from "./wa-builders.ts";

const T0 = Date.UTC(2026, 0, 1);

describe("dedup and ordering in the conversation Durable Object", () => {
  beforeAll(seedDemoWorkspace);

  it("stores a POST delivered three times once, and says the repeats were duplicates", async () => {
    const body = whatsappPost([inbound("15551110001", "wamid.DUP_1", T0)]);
    const reports = [await postOk(body), await postOk(body), await postOk(body)];
    expect(reports.map((r) => [r.stored, r.duplicates])).toEqual([
      [1, 0],
      [0, 1],
      [0, 1],
    ]);
    const conversation = conversationOf("whatsapp", "15551110001");
    expect(await messagesIn(conversation)).toHaveLength(1);
    const row = await env.DB.prepare(`SELECT count(*) AS n FROM messages WHERE conversation_id = ?`).bind(conversation).first();
    expect(row).toEqual({ n: 1 });
  });

  it("processes every entry, change and item of a batch, never only the first", async () => {
    const customer = "15551110002";
    const body = whatsappPost([
      inbound(customer, "wamid.BATCH_1", T0 + 1000),
      inbound("15551110003", "wamid.BATCH_OTHER", T0 + 1500),
      echo(customer, "wamid.BATCH_OUT", T0 + 2000),
      status(customer, "wamid.BATCH_OUT", "delivered", T0 + 3000),
    ]);
    // Two items in one change as well.
    const change = body.entry[0]!.changes[0]!.value as unknown as { messages: unknown[] };
    change.messages.push((inbound(customer, "wamid.BATCH_2", T0 + 1200).messages as unknown[])[0]);
    const report = await postOk(body);
    expect(report).toMatchObject({ received: 5, stored: 5, duplicates: 0, quarantined: 0 });
    const messages = await messagesIn(conversationOf("whatsapp", customer));
    expect(messages.map((m) => [m.content.externalId, m.status])).toEqual([
      ["wamid.BATCH_1", null],
      ["wamid.BATCH_2", null],
      ["wamid.BATCH_OUT", "delivered"],
    ]);
    expect(await messagesIn(conversationOf("whatsapp", "15551110003"))).toHaveLength(1);
  });

  it("numbers messages gap-free by arrival and shows them by Meta time, slotting a late arrival into place", async () => {
    const customer = "15551110004";
    for (const [id, at] of [
      ["wamid.ORDER_C", T0 + 3000],
      ["wamid.ORDER_A", T0 + 1000],
      ["wamid.ORDER_D", T0 + 4000],
      ["wamid.ORDER_B", T0 + 2000],
    ] as const) {
      await postOk(whatsappPost([inbound(customer, id, at)]));
    }
    const messages = await messagesIn(conversationOf("whatsapp", customer));
    expect(messages.map((m) => [m.content.externalId, m.seq])).toEqual([
      ["wamid.ORDER_A", 2],
      ["wamid.ORDER_B", 4],
      ["wamid.ORDER_C", 1],
      ["wamid.ORDER_D", 3],
    ]);
  });

  it("breaks ties of Meta time by arrival", async () => {
    const customer = "15551110005";
    await postOk(whatsappPost([inbound(customer, "wamid.TIE_Z", T0), inbound(customer, "wamid.TIE_A", T0)]));
    const messages = await messagesIn(conversationOf("whatsapp", customer));
    expect(messages.map((m) => m.content.externalId)).toEqual(["wamid.TIE_Z", "wamid.TIE_A"]);
  });

  it("moves statuses only forward, whatever order they arrive in, and parks those that come first", async () => {
    const customer = "15551110006";
    const id = "wamid.STATUS_FWD";
    await postOk(whatsappPost([status(customer, id, "read", T0 + 3000)]));
    await postOk(whatsappPost([status(customer, id, "sent", T0 + 1000)]));
    await postOk(whatsappPost([status(customer, id, "delivered", T0 + 2000)]));
    const conversation = conversationOf("whatsapp", customer);
    expect(await messagesIn(conversation)).toHaveLength(0);
    await postOk(whatsappPost([echo(customer, id, T0)]));
    expect((await messagesIn(conversation))[0]).toMatchObject({ status: "read", error: null });
    await postOk(whatsappPost([status(customer, id, "played", T0 + 4000)]));
    await postOk(whatsappPost([status(customer, id, "delivered", T0 + 5000)]));
    expect((await messagesIn(conversation))[0]).toMatchObject({ status: "played" });
  });

  it("keeps a failure's code and details, unless the message was delivered after all", async () => {
    const customer = "15551110007";
    await postOk(whatsappPost([echo(customer, "wamid.FAIL_1", T0), echo(customer, "wamid.FAIL_2", T0 + 1)]));
    await postOk(whatsappPost([status(customer, "wamid.FAIL_1", "sent", T0 + 10), status(customer, "wamid.FAIL_1", "failed", T0 + 20, 131026)]));
    await postOk(whatsappPost([status(customer, "wamid.FAIL_2", "failed", T0 + 10, 131049), status(customer, "wamid.FAIL_2", "delivered", T0 + 20)]));
    const [first, second] = await messagesIn(conversationOf("whatsapp", customer));
    expect(first).toMatchObject({ status: "failed", error: { code: 131026, title: "error 131026", details: "details 131026" } });
    expect(second).toMatchObject({ status: "delivered", error: { code: 131049 } });
  });

  it("dedupes a reaction by its own id, not its target's, and keeps only each side's latest", async () => {
    const customer = "15551110008";
    await postOk(whatsappPost([inbound(customer, "wamid.REACT_TARGET", T0)]));
    const later = reaction(customer, "wamid.REACT_2", "wamid.REACT_OUT", T0 + 2000, "🎉");
    const earlier = reaction(customer, "wamid.REACT_1", "wamid.REACT_OUT", T0 + 1000, "👍");
    expect(await postOk(whatsappPost([later, earlier, later]))).toMatchObject({ stored: 2, duplicates: 1 });
    await postOk(whatsappPost([echo(customer, "wamid.REACT_OUT", T0 + 500)]));
    const messages = await messagesIn(conversationOf("whatsapp", customer));
    expect(messages.map((m) => m.content.externalId)).toEqual(["wamid.REACT_TARGET", "wamid.REACT_OUT"]);
    expect(messages[1]!.reactions).toEqual([{ actor: "in", emoji: "🎉", timestamp: T0 + 2000 }]);
  });

  it("ends 200 events over 20 conversations in the same state whatever order and duplication they arrive in", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 8 }), async (seed, batchSize) => {
        run++;
        const events = generateEvents(seed, run);
        const shuffled = shuffle(events, seed).flatMap((e, i) => (i % 7 === 0 ? [e, e] : [e]));
        for (let i = 0; i < events.length; i += 10) await postOk(whatsappPost(events.slice(i, i + 10)));
        for (let i = 0; i < shuffled.length; i += batchSize) {
          await postOk(whatsappPost(shuffled.slice(i, i + batchSize), OTHER_PHONE_NUMBER_ID));
        }
        for (const customer of customersOf(run)) {
          const inOrder = await stateOf("ch_demo_wa_1", customer);
          const shuffledState = await stateOf("ch_demo_wa_2", customer);
          expect(shuffledState).toEqual(inOrder);
          expect(inOrder.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2 },
    );
    expect(await countRows("quarantine")).toBe(0);
  }, 600_000);
});

const customersOf = (run: number) => Array.from({ length: 20 }, (_, i) => `1555${String(run).padStart(3, "0")}${String(i).padStart(4, "0")}`);

async function stateOf(channel: string, customer: string) {
  const messages = await messagesIn(conversationId(env.CONVERSATION, channel, customer));
  return messages.map(({ content, status, error, reactions, deletedAt }) => ({ content, status, error, reactions, deletedAt }));
}

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], seed: number): T[] {
  const random = mulberry32(seed ^ 0x5bd1e995);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** 200 events: messages both ways (distinct Meta times), statuses, reactions and their removal. */
function generateEvents(seed: number, run: number): WaValue[] {
  const random = mulberry32(seed);
  const customers = customersOf(run);
  const events: WaValue[] = [];
  const sent: { customer: string; id: string }[] = [];
  const all: { customer: string; id: string }[] = [];
  let clock = T0;
  for (let n = 0; events.length < 200; n++) {
    clock += 1000 + Math.floor(random() * 5000);
    const customer = customers[Math.floor(random() * customers.length)]!;
    const roll = random();
    // Every customer writes at least once, so no conversation compares empty with empty.
    if (roll < 0.35 || !all.some((m) => m.customer === customer)) {
      const id = `wamid.P${run}_IN_${n}`;
      events.push(inbound(customer, id, clock));
      all.push({ customer, id });
    } else if (roll < 0.6) {
      const id = `wamid.P${run}_OUT_${n}`;
      events.push(echo(customer, id, clock));
      sent.push({ customer, id });
      all.push({ customer, id });
    } else if (roll < 0.85 && sent.length > 0) {
      const target = sent[Math.floor(random() * sent.length)]!;
      const value = (["sent", "delivered", "read", "failed"] as const)[Math.floor(random() * 4)]!;
      events.push(status(target.customer, target.id, value, clock, value === "failed" ? 131026 : undefined));
    } else {
      const target = all[Math.floor(random() * all.length)]!;
      const emoji = random() < 0.3 ? "" : ["👍", "❤️", "😮"][Math.floor(random() * 3)]!;
      events.push(reaction(target.customer, `wamid.P${run}_R_${n}`, target.id, clock, emoji));
    }
  }
  return events;
}

describe("the customer's profile", () => {
  it("follows the newest message that carried it, across POSTs", async () => {
    await seedDemoWorkspace();
    const customer = "15551110099";
    const named = (name: string, id: string, at: number) => {
      const value = inbound(customer, id, at);
      (value.contacts as { profile: { name: string } }[])[0]!.profile.name = name;
      return value;
    };
    await postOk(whatsappPost([named("Old Name", "wamid.PROFILE_1", T0)]));
    await postOk(whatsappPost([named("New Name", "wamid.PROFILE_2", T0 + 1000)]));
    await postOk(whatsappPost([named("Stale Name", "wamid.PROFILE_0", T0 - 1000)]));
    const state = await runInDurableObject(stubOf(conversationOf("whatsapp", customer)), (_, ctx) =>
      ctx.storage.sql.exec<{ customer: string }>(`SELECT customer FROM conversation`).one(),
    );
    expect(JSON.parse(state.customer).name).toBe("New Name");
    // D1's contact row is only rewritten when the profile changes, and then it must follow.
    await postOk(whatsappPost([named("New Name", "wamid.PROFILE_3", T0 + 2000)]));
    const contact = await env.DB.prepare(`SELECT name FROM contacts WHERE id = ?`).bind(`ct_${conversationOf("whatsapp", customer)}`).first();
    expect(contact).toEqual({ name: "New Name" });
  });
});
