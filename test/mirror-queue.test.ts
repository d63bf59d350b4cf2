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

/** An environment whose D1 batches each take `ms` longer. */
function slowEnv(ms: number) {
  const DB = new Proxy(env.DB, {
    get: (target, property) =>
      property === "batch"
        ? (statements: D1PreparedStatement[]) => scheduler.wait(ms).then(() => target.batch(statements))
        : Reflect.get(target, property).bind(target),
  }) as D1Database;
  return { ...env, DB };
}

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

    it("writes a lone request's batch at once after a quiet spell", async () => {
      const counter = counted();
      const queue = new MirrorQueue(400, 5_000, 20_000, 60_000, 10);
      await queue.enqueue(counter.env, batch("q10"));
      await scheduler.wait(20);
      const started = Date.now();
      await queue.enqueue(counter.env, batch("q11"));
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(counter.transactions).toBe(2);
    });

    it("lets batches that follow a write closely share the next one, though no request is producing", async () => {
      const counter = counted();
      const queue = new MirrorQueue(400, 5_000, 20_000, 60_000, 200);
      const drain = queue.enqueue(counter.env, batch("q12"));
      await scheduler.wait(50);
      // The drain that wrote q12 lingers and takes both.
      expect(queue.enqueue(counter.env, batch("q13"))).toBeUndefined();
      expect(queue.enqueue(counter.env, batch("q14"))).toBeUndefined();
      await drain;
      expect(counter.transactions).toBe(2);
      const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q12', 'q13', 'q14') ORDER BY id`).all();
      expect(rows.results).toEqual([{ id: "q12" }, { id: "q13" }, { id: "q14" }]);
    });
  });

  it("still writes a batch queued while a drain's last write ran past its budget", async () => {
    // Every D1 write takes 150 ms, longer than the drain's 100 ms budget.
    const slow = slowEnv(150);
    const queue = new MirrorQueue(400, 100, 20_000, 1_000, 10);
    const drain = queue.enqueue(slow, batch("q15"));
    await scheduler.wait(50);
    expect(queue.enqueue(slow, batch("q16"))).toBeUndefined();
    await drain;
    const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q15', 'q16') ORDER BY id`).all();
    expect(rows.results).toEqual([{ id: "q15" }, { id: "q16" }]);
  });

  it("after its budget a drain hands over: a batch queued during its last write starts a drain of its own", async () => {
    const slow = slowEnv(150);
    const queue = new MirrorQueue(400, 100, 20_000, 1_000, 10);
    const first = queue.enqueue(slow, batch("q17"));
    let firstDone = false;
    void first?.then(() => (firstDone = true));
    await scheduler.wait(50);
    queue.enqueue(slow, batch("q18"));
    // q18's write runs from 150 to 300 ms, past the budget: it is the drain's last. At 175 ms the
    // drain is not yet old enough (twice its budget) to count as cancelled.
    await scheduler.wait(125);
    expect(firstDone).toBe(false);
    const second = queue.enqueue(env, batch("q19"));
    expect(second).toBeInstanceOf(Promise);
    await Promise.all([first, second]);
    const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q17', 'q18', 'q19') ORDER BY id`).all();
    expect(rows.results).toEqual([{ id: "q17" }, { id: "q18" }, { id: "q19" }]);
  });
});
