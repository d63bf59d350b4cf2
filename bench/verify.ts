/**
 * @module
 * After load: did D1 receive every acknowledged event exactly once, and how long after the last
 * acknowledgement did it take? Plus whole-database integrity checks and a read-back of a few
 * conversations through the public API.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Miniflare } from "miniflare";

/** The read API's largest page (workers/api-schemas.ts `Limit`). */
const PAGE = 200;

export type D1 = Awaited<ReturnType<Miniflare["getD1Database"]>>;

/**
 * Runs a D1 call through Miniflare's proxy, and again when it failed on the connection. The proxy
 * reuses a keep-alive connection to workerd; on a busy machine a call can be written to a connection
 * workerd has just closed as idle (`ECONNRESET`, "other side closed"), which ended two runs while
 * tests ran alongside. The benchmark's calls are reads and single-row inserts into its own database.
 */
export async function d1<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const cause = String((error as { cause?: unknown }).cause ?? "");
      if (attempt >= 3 || !/ECONNRESET|other side closed/.test(cause)) throw error;
      await sleep(50);
    }
  }
}

export type MirrorCheck = {
  /** Events in acknowledged (2xx) POSTs of the cell, warm-up included. */
  ackedEvents: number;
  /** Rows in D1 with the cell's id prefix, and distinct ids among them. */
  rows: number;
  distinct: number;
  /** Acknowledged events missing from D1 when the check gave up. */
  lost: number;
  /** Rows beyond one per id. */
  duplicated: number;
  /** Events of unacknowledged POSTs (non-2xx or no answer) that were stored anyway. */
  unackedStored: number;
  /** Ids in D1 that the cell never sent (should be impossible). */
  unexpected: number;
  /**
   * Milliseconds from the last acknowledgement until a D1 query answered with every acknowledged
   * event present (null: never). An upper bound: D1 executes queries one at a time, so a poll waits
   * behind the mirror's own writes (and the alarms' reads) before it counts.
   */
  catchUpMs: number | null;
  /** How long D1 took to answer the first poll after load ended (its queue at that moment). */
  firstPollMs: number;
  /** Whether D1 already held everything at the first poll after load ended. */
  caughtUpAtFirstPoll: boolean;
  /** [ms after the last ack, acknowledged events still missing from D1] at each poll (thinned to ≤ 40 points). */
  backlog: [number, number][];
};

/**
 * Polls `count(*)` of D1 `messages` (cheap) until it has grown by the cell's acknowledged events,
 * then checks id by id; keeps polling until every acknowledged id is there or `timeoutMs` passes.
 */
export async function waitForMirror(
  db: D1,
  options: {
    prefix: string;
    acked: ReadonlySet<string>;
    unacked: ReadonlySet<string>;
    /** `count(*)` of messages before the cell started. */
    baseline: number;
    /** performance.now() of the last acknowledgement. */
    loadEnd: number;
    timeoutMs: number;
    pollMs?: number;
  },
): Promise<MirrorCheck> {
  const { prefix, acked, unacked, baseline, loadEnd, timeoutMs } = options;
  const pollMs = options.pollMs ?? 10;
  const deadline = loadEnd + timeoutMs;
  let polls = 0;
  let firstPollMs = 0;
  const backlog: [number, number][] = [];
  const thin = () => {
    const step = Math.max(1, Math.ceil(backlog.length / 40));
    return backlog.filter((_, i) => i % step === 0 || i === backlog.length - 1);
  };
  while (true) {
    polls++;
    const issued = performance.now();
    const row = await d1(() => db.prepare(`SELECT count(*) AS n FROM messages`).first<{ n: number }>());
    const now = performance.now();
    if (polls === 1) firstPollMs = now - issued;
    const grown = (row?.n ?? 0) - baseline;
    backlog.push([Math.round(now - loadEnd), Math.max(0, acked.size - grown)]);
    const timedOut = now > deadline;
    if (grown >= acked.size || timedOut) {
      // The count reached the target at `now`; the id-level check below confirms it was the right rows.
      const check = await compareIds(db, prefix, acked, unacked);
      if (check.lost === 0) {
        return { ...check, catchUpMs: now - loadEnd, firstPollMs, caughtUpAtFirstPoll: polls === 1, backlog: thin() };
      }
      if (timedOut) return { ...check, catchUpMs: null, firstPollMs, caughtUpAtFirstPoll: false, backlog: thin() };
    }
    await sleep(pollMs);
  }
}

async function compareIds(
  db: D1,
  prefix: string,
  acked: ReadonlySet<string>,
  unacked: ReadonlySet<string>,
): Promise<Omit<MirrorCheck, "catchUpMs" | "caughtUpAtFirstPoll" | "backlog" | "firstPollMs">> {
  const { results } = await d1(() =>
    db
      .prepare(`SELECT external_id AS id FROM messages WHERE substr(external_id, 1, ?1) = ?2`)
      .bind(prefix.length, prefix)
      .all<{ id: string }>(),
  );
  const seen = new Set<string>();
  let unackedStored = 0;
  let unexpected = 0;
  for (const { id } of results) {
    if (seen.has(id)) continue;
    seen.add(id);
    if (unacked.has(id)) unackedStored++;
    else if (!acked.has(id)) unexpected++;
  }
  let lost = 0;
  for (const id of acked) if (!seen.has(id)) lost++;
  return {
    ackedEvents: acked.size,
    rows: results.length,
    distinct: seen.size,
    lost,
    duplicated: results.length - seen.size,
    unackedStored,
    unexpected,
  };
}

export async function countMessages(db: D1): Promise<number> {
  return (await d1(() => db.prepare(`SELECT count(*) AS n FROM messages`).first<{ n: number }>()))?.n ?? 0;
}

export type IntegrityCheck = {
  messages: number;
  distinctIds: number;
  conversations: number;
  contacts: number;
  /** Conversations whose D1 rows are not exactly seq 1..n. */
  conversationsWithSeqGaps: number;
  /** Conversations whose `message_count` differs from their rows in D1. */
  conversationsWithCountMismatch: number;
  quarantined: number;
};

export async function integrity(db: D1): Promise<IntegrityCheck> {
  const one = async (sql: string) => (await d1(() => db.prepare(sql).first<{ n: number }>()))?.n ?? 0;
  return {
    messages: await one(`SELECT count(*) AS n FROM messages`),
    distinctIds: await one(`SELECT count(DISTINCT external_id) AS n FROM messages`),
    conversations: await one(`SELECT count(*) AS n FROM conversations`),
    contacts: await one(`SELECT count(*) AS n FROM contacts`),
    conversationsWithSeqGaps: await one(
      `SELECT count(*) AS n FROM (SELECT count(*) AS c, min(seq) AS lo, max(seq) AS hi FROM messages GROUP BY conversation_id)
       WHERE lo != 1 OR hi != c`,
    ),
    conversationsWithCountMismatch: await one(
      `SELECT count(*) AS n FROM conversations AS c
       WHERE c.message_count != (SELECT count(*) FROM messages AS m WHERE m.conversation_id = c.id)`,
    ),
    quarantined: await one(`SELECT count(*) AS n FROM quarantine`),
  };
}

/** The D1 conversation of a WhatsApp customer (the bench sends to one number only), or null. */
export async function conversationOfCustomer(db: D1, waId: string) {
  return d1(() =>
    db
      .prepare(
        `SELECT c.id AS id, c.workspace_id AS ws, c.message_count AS n FROM conversations AS c
         JOIN contacts AS k ON k.id = c.contact_id WHERE k.wa_id = ?1`,
      )
      .bind(waId)
      .first<{ id: string; ws: string; n: number }>(),
  );
}

export type ApiSample = {
  waId: string;
  expected: number;
  conversationId: string | null;
  d1MessageCount: number | null;
  d1Rows: number | null;
  /** Messages read back page by page from GET /api/conversations/{id}/messages (null: not paged, too many). */
  api: number | null;
  apiDistinct: number | null;
  /** Why the API read-back was skipped, if it was. */
  apiNote: string | null;
  ok: boolean;
};

/**
 * Reads a few conversations back: D1's summary and rows, and the Durable Object's history through
 * the read API as a member of the workspace (`headers` carry the session), paging with `nextCursor`.
 */
export async function sampleConversations(
  db: D1,
  baseUrl: URL,
  headers: Record<string, string>,
  expected: ReadonlyMap<string, number>,
  waIds: readonly string[],
  maxPages = 60,
): Promise<ApiSample[]> {
  const samples: ApiSample[] = [];
  for (const waId of waIds) {
    const want = expected.get(waId) ?? 0;
    const conv = await conversationOfCustomer(db, waId);
    if (!conv) {
      samples.push({
        waId,
        expected: want,
        conversationId: null,
        d1MessageCount: null,
        d1Rows: null,
        api: null,
        apiDistinct: null,
        apiNote: null,
        ok: want === 0,
      });
      continue;
    }
    const rows =
      (await d1(() => db.prepare(`SELECT count(*) AS n FROM messages WHERE conversation_id = ?1`).bind(conv.id).first<{ n: number }>()))?.n ?? 0;
    let api: number | null = null;
    let apiDistinct: number | null = null;
    const tooMany = want > maxPages * PAGE;
    let apiNote: string | null = tooMany ? `more than ${maxPages * PAGE} messages, not paged` : null;
    if (apiNote === null) {
      const ids = new Set<string>();
      let count = 0;
      let cursor: string | null = null;
      do {
        const url = new URL(`/api/workspaces/${conv.ws}/conversations/${conv.id}/messages`, baseUrl);
        url.searchParams.set("limit", String(PAGE));
        if (cursor) url.searchParams.set("cursor", cursor);
        const response = await fetch(url, { headers });
        if (!response.ok) {
          apiNote = `read API answered ${response.status}: ${(await response.text()).slice(0, 200)}`;
          break;
        }
        const page = (await response.json()) as { messages: { externalId: string }[]; nextCursor: string | null };
        count += page.messages.length;
        for (const m of page.messages) ids.add(m.externalId);
        cursor = page.nextCursor;
      } while (cursor);
      if (apiNote === null) {
        api = count;
        apiDistinct = ids.size;
      }
    }
    samples.push({
      waId,
      expected: want,
      conversationId: conv.id,
      d1MessageCount: conv.n,
      d1Rows: rows,
      api,
      apiDistinct,
      apiNote,
      ok: conv.n === want && rows === want && (tooMany || (api === want && apiDistinct === want)),
    });
  }
  return samples;
}
