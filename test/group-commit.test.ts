import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { ConversationHeader, IngestCounts, IngestSegment } from "../durable-objects/conversation.ts";
import { GroupCommit } from "../workers/group-commit.ts";
import { conversationOf, messagesIn, postOk, postWebhook, seedDemoWorkspace, stubOf } from "./helpers.ts";
import { inbound, whatsappPost } from "./wa-builders.ts";

const T0 = Date.UTC(2026, 2, 1);

/** The real conversation namespace, recording the segments of every ingest call (or failing them). */
function recordingCalls(fail = false) {
  const calls: IngestSegment[][] = [];
  const inFlight = { now: 0, most: 0 };
  const bindings = {
    ...env,
    CONVERSATION: new Proxy(env.CONVERSATION, {
      get(target, property) {
        if (property !== "get") return Reflect.get(target, property).bind(target);
        return (id: DurableObjectId) => {
          const stub = target.get(id);
          return {
            ingest: (header: Parameters<typeof stub.ingest>[0], segments: IngestSegment[]) => {
              calls.push(segments);
              inFlight.most = Math.max(inFlight.most, ++inFlight.now);
              const call = fail
                ? // Failing after a while, as a call in flight does, so that other POSTs queue behind it.
                  scheduler.wait(20).then(() => Promise.reject(new Error("Durable Object storage is down")))
                : stub.ingest(header, segments);
              return call.finally(() => inFlight.now--);
            },
          };
        };
      },
    }),
  } as Cloudflare.Env;
  return { calls, inFlight, bindings };
}

async function reportOf(response: Response) {
  expect(response.status).toBe(200);
  return (await response.json()) as { stored: number; duplicates: number };
}

describe("group commit: concurrent POSTs for one conversation", () => {
  beforeAll(seedDemoWorkspace);

  it("go to its Durable Object together while a call is in flight, each answered with its own counts", async () => {
    const customer = "15553330001";
    const { calls, inFlight, bindings } = recordingCalls();
    const bodies = Array.from({ length: 10 }, (_, i) => whatsappPost([inbound(customer, `wamid.GROUP_${i}`, T0 + i)]));
    // The same message twice in flight: stored once, the other POST told it was a duplicate.
    bodies.push(whatsappPost([inbound(customer, "wamid.GROUP_3", T0 + 3)]));

    const reports = await Promise.all(bodies.map(async (body) => reportOf(await postWebhook(body, bindings))));

    expect(calls.length).toBeGreaterThan(1);
    expect(calls.length).toBeLessThan(bodies.length);
    expect(calls.flat()).toHaveLength(bodies.length);
    // One call at a time: a batch goes only after the call ahead of it has returned.
    expect(inFlight.most).toBe(1);
    expect(reports.reduce((n, r) => n + r.stored, 0)).toBe(10);
    expect(reports.reduce((n, r) => n + r.duplicates, 0)).toBe(1);
    expect(reports.every((r) => r.stored + r.duplicates === 1)).toBe(true);
    const messages = await messagesIn(conversationOf("whatsapp", customer));
    expect(messages.map((m) => m.content.externalId)).toEqual(bodies.slice(0, 10).map((_, i) => `wamid.GROUP_${i}`));
    expect(messages.map((m) => m.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });

  it("keep the customer's newest profile when their POSTs share a call", async () => {
    const customer = "15553330002";
    const { calls, bindings } = recordingCalls();
    const named = (name: string, i: number) => {
      const body = whatsappPost([inbound(customer, `wamid.PROFILE_${i}`, T0 + i)]);
      const value = body.entry[0]!.changes[0]!.value as unknown as { contacts: { profile: { name: string } }[] };
      value.contacts[0]!.profile.name = name;
      return body;
    };
    await Promise.all([named("First", 1), named("Second", 2), named("Third", 3)].map((b) => postWebhook(b, bindings)));
    expect(calls.length).toBeLessThan(3);
    expect((await stubOf(conversationOf("whatsapp", customer)).customer())?.name).toBe("Third");
  });

  it("all answer 503 when the call carrying them fails, and a later POST is stored normally", async () => {
    const customer = "15553330003";
    const { calls, bindings } = recordingCalls(true);
    const bodies = Array.from({ length: 5 }, (_, i) => whatsappPost([inbound(customer, `wamid.GROUP_FAIL_${i}`, T0 + i)]));
    const statuses = await Promise.all(bodies.map(async (body) => (await postWebhook(body, bindings)).status));
    expect(statuses).toEqual([503, 503, 503, 503, 503]);
    expect(calls.length).toBeLessThan(bodies.length);
    expect(await messagesIn(conversationOf("whatsapp", customer))).toEqual([]);

    expect(await postOk(bodies[0]!)).toMatchObject({ stored: 1, duplicates: 0 });
  });
});

describe("group commit: a waiting batch", () => {
  const header: ConversationHeader = {
    conversationId: "conversation-poll-limit",
    workspaceId: "ws_demo",
    channelId: "channel",
    product: "whatsapp",
    customer: { id: "15553330004", waId: "15553330004", bsuid: null, name: null, username: null },
  };
  const segment = (): IngestSegment => ({ changes: [], arrivedAt: T0 });

  it("goes anyway once the poll limit has passed when the call ahead never returns", async () => {
    const commit = new GroupCommit(50);
    const sent: IngestSegment[][] = [];
    // A call whose request was cancelled: it never settles.
    const never = (_: ConversationHeader, segments: IngestSegment[]) => (sent.push(segments), new Promise<IngestCounts[]>(() => undefined));
    const answer = async (_: ConversationHeader, segments: IngestSegment[]) => (sent.push(segments), segments.map(() => ({ stored: 1, duplicates: 0 })));

    void commit.submit(header, segment(), never, () => undefined);
    const waiting = commit.submit(header, segment(), answer, () => undefined);

    expect(await waiting).toEqual({ stored: 1, duplicates: 0 });
    expect(sent).toHaveLength(2);
  });
});
