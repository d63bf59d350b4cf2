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

/** An environment whose D1 batches each take `ms` longer; `started` resolves as the n-th (from 1) begins. */
function slowEnv(ms: number) {
  const waiting = new Map<number, () => void>();
  let calls = 0;
  const DB = new Proxy(env.DB, {
    get: (target, property) =>
      property === "batch"
        ? (statements: D1PreparedStatement[]) => {
            waiting.get(++calls)?.();
            return scheduler.wait(ms).then(() => target.batch(statements));
          }
        : Reflect.get(target, property).bind(target),
  }) as D1Database;
  const started = (n: number) => new Promise<void>((resolve) => (calls >= n ? resolve() : waiting.set(n, resolve)));
  return { env: { ...env, DB }, started };
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

  describe("groups D1 writes that follow each other closely", () => {
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

    it("writes what is queued within an interval of a write together, in the next write", async () => {
      const counter = counted();
      const queue = new MirrorQueue(400, 5_000, 20_000, 500);
      // The first batch is written at once; three more follow it closely, one after another.
      const drain = queue.enqueue(counter.env, batch("q6"));
      for (const id of ["q7", "q8", "q9"]) {
        await scheduler.wait(50);
        expect(queue.enqueue(counter.env, batch(id))).toBeUndefined();
      }
      expect(counter.transactions).toBe(1);
      await drain;
      expect(counter.transactions).toBe(2);
      const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q6', 'q7', 'q8', 'q9') ORDER BY id`).all();
      expect(rows.results).toEqual([{ id: "q6" }, { id: "q7" }, { id: "q8" }, { id: "q9" }]);
    });

    it("writes a lone request's batch at once after a quiet interval", async () => {
      const counter = counted();
      const queue = new MirrorQueue(400, 5_000, 20_000, 300);
      await queue.enqueue(counter.env, batch("q10"));
      await scheduler.wait(400);
      const drain = queue.enqueue(counter.env, batch("q11"));
      // The interval (300 ms) has passed since the last write, so nothing delays it.
      await scheduler.wait(150);
      expect(counter.transactions).toBe(2);
      await drain;
    });
  });

  it("still writes a batch queued while a drain's last write ran past its budget", async () => {
    // Every D1 write takes 150 ms, longer than the drain's 100 ms budget.
    const slow = slowEnv(150);
    const queue = new MirrorQueue(400, 100, 20_000, 10);
    const drain = queue.enqueue(slow.env, batch("q15"));
    await slow.started(1);
    expect(queue.enqueue(slow.env, batch("q16"))).toBeUndefined();
    await drain;
    const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q15', 'q16') ORDER BY id`).all();
    expect(rows.results).toEqual([{ id: "q15" }, { id: "q16" }]);
  });

  it("after its budget a drain hands over: a batch queued during its last write starts a drain of its own", async () => {
    const slow = slowEnv(150);
    const queue = new MirrorQueue(400, 100, 20_000, 10);
    const startedAt = Date.now();
    const first = queue.enqueue(slow.env, batch("q17"), startedAt);
    let firstDone = false;
    void first?.then(() => (firstDone = true));
    await slow.started(1);
    queue.enqueue(slow.env, batch("q18"));
    // q18's write starts once q17's has taken 150 ms, past the budget: it is the drain's last.
    await slow.started(2);
    expect(firstDone).toBe(false);
    // Given as 150 ms after the drain began: not old enough (twice its budget) to count as cancelled.
    const second = queue.enqueue(env, batch("q19"), startedAt + 150);
    expect(second).toBeInstanceOf(Promise);
    await Promise.all([first, second]);
    const rows = await env.DB.prepare(`SELECT id FROM conversations WHERE id IN ('q17', 'q18', 'q19') ORDER BY id`).all();
    expect(rows.results).toEqual([{ id: "q17" }, { id: "q18" }, { id: "q19" }]);
  });
});
