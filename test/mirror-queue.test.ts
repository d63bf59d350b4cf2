import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MirrorQueue, type MirrorBatch } from "../workers/mirror.ts";

function batch(id: string, rev = 1): MirrorBatch {
  const now = Date.now();
  return {
    conversation: { id, workspaceId: "ws_q", channelId: "ch_q", contactId: `ct_${id}`, lastMessageAt: now, lastMessagePreview: "hi", lastDirection: "in", messageCount: 1, inboundCount: 1, lastInboundAt: now, freeEntryUntil: null, status: "open", snoozedUntil: null, assigneeId: null, labels: [], rev, fromRev: 0, updatedAt: now },
    contact: { id: `ct_${id}`, workspaceId: "ws_q", channelId: "ch_q", identity: id, waId: id, bsuid: null, name: null, username: null, rev, updatedAt: now },
    messages: [],
  };
}

/** A D1 binding whose batch() never settles: a drain cancelled with its request looks like this. */
const hangingDB = new Proxy(env.DB, {
  get: (target, property) => (property === "batch" ? () => new Promise(() => {}) : Reflect.get(target, property).bind(target)),
}) as D1Database;
const hanging = { ...env, DB: hangingDB };

describe("the isolate's D1 mirror queue", () => {
  it("writes what concurrent requests queued, the first request draining for all", async () => {
    const queue = new MirrorQueue();
    const drain = queue.enqueue(env, batch("q1"));
    expect(drain).toBeInstanceOf(Promise);
    expect(queue.enqueue(env, batch("q2"))).toBeUndefined();
    await drain;
    const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q1', 'q2') ORDER BY id`).all();
    expect(rows.results).toEqual([{ id: "q1" }, { id: "q2" }]);
  });

  it("never stays stuck behind a drain that was cancelled: a later request takes over", async () => {
    const queue = new MirrorQueue(400, 1_000);
    const now = Date.now();
    expect(queue.enqueue(hanging, batch("q3"), now)).toBeInstanceOf(Promise);
    expect(queue.enqueue(env, batch("q4"), now + 500)).toBeUndefined();
    const takeover = queue.enqueue(env, batch("q5"), now + 2_500);
    expect(takeover).toBeInstanceOf(Promise);
    await takeover;
    const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q4', 'q5') ORDER BY id`).all();
    expect(rows.results).toEqual([{ id: "q4" }, { id: "q5" }]);
  });

  describe("groups D1 writes while requests are still producing batches", () => {
    function counted() {
      const counter = { transactions: 0, env: env };
      counter.env = {
        ...env,
        DB: new Proxy(env.DB, {
          get: (target, property) =>
            property === "batch"
              ? (statements: D1PreparedStatement[]) => (counter.transactions++, target.batch(statements))
              : Reflect.get(target, property).bind(target),
        }) as D1Database,
      };
      return counter;
    }

    it("under load writes what arrived during one interval in a single D1 transaction", async () => {
      const counter = counted();
      const queue = new MirrorQueue(400, 5_000, 20_000, 1_000);
      const drains: (Promise<void> | undefined)[] = [];
      // Three requests in flight, finishing one after another while the first batch is written.
      const inFlight = ["q7", "q8", "q9"].map((id, i) =>
        queue.producing(async () => {
          await scheduler.wait(50 * (i + 1));
          drains.push(queue.enqueue(counter.env, batch(id)));
        }),
      );
      drains.push(queue.enqueue(counter.env, batch("q6")));
      await Promise.all(inFlight);
      await Promise.all(drains);
      expect(counter.transactions).toBe(2);
      const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q6', 'q7', 'q8', 'q9') ORDER BY id`).all();
      expect(rows.results).toEqual([{ id: "q6" }, { id: "q7" }, { id: "q8" }, { id: "q9" }]);
    });

    it("writes a lone request's batch at once, even right after another write", async () => {
      const counter = counted();
      const queue = new MirrorQueue(400, 5_000, 20_000, 60_000);
      await queue.enqueue(counter.env, batch("q10"));
      const second = queue.enqueue(counter.env, batch("q11"));
      const first = await Promise.race([second!.then(() => "written"), scheduler.wait(5_000).then(() => "waiting")]);
      expect(first).toBe("written");
      expect(counter.transactions).toBe(2);
    });
  });
});
